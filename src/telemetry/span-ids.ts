/**
 * The active span's ids for a log line: only @opentelemetry/api (small), so the logger stays cheap to load for
 * the offline commands; the SDK (tracing.ts) loads with the roles.
 */
import { context, INVALID_SPAN_CONTEXT, trace } from '@opentelemetry/api';

/** The active span's ids, or undefined outside a valid span (and always with tracing off: no context manager). */
export function activeSpanIds(): { trace_id: string; span_id: string; trace_flags: string } | undefined {
  const span = trace.getSpan(context.active());
  if (!span) return undefined;
  const sc = span.spanContext();
  if (sc.traceId === INVALID_SPAN_CONTEXT.traceId) return undefined;
  return { trace_id: sc.traceId, span_id: sc.spanId, trace_flags: `0${sc.traceFlags.toString(16)}` };
}
