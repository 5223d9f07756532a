/**
 * OpenTelemetry traces of one role: a tracer provider with the role's resource (service.name
 * `candlestack-<role>`, service.version, service.instance.id), a batch span processor and an OTLP/HTTP
 * exporter (protobuf or JSON), built from `config.tracing` (the OTEL_* variables included).
 *
 * `Tracing` is passed in like the logger and the metrics: nothing is registered as the global tracer
 * provider, so two roles in one process (tests) keep their own service.name. The one process-wide piece is the
 * async-local-storage context manager (`context.active()` must follow async calls); it is installed once, by
 * the first enabled Tracing.
 *
 * Off (no endpoint): no SDK is built; `span()` runs its function with a non-recording span and no context
 * switch, `inject` writes nothing: a branch per call.
 *
 * The API others use:
 *   tracing.span(name, { kind, attributes }, async (span) => ...)  a child of the active span; ERROR status
 *                                                                  and the exception recorded on a throw
 *   tracing.inject(headers) / tracing.extract(headers)              W3C traceparent/tracestate carriers
 *   tracedFetch(tracing, url, init)  (http-tracing.ts)              an outgoing HTTP call as a CLIENT span
 *   traceRequest(tracing, req, res, route, handle) (http-tracing.ts) a served request as a SERVER span
 *   tracing.service()                                               registered first on a Lifecycle: flushed last
 */
import { randomUUID } from 'node:crypto';
import {
  context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  INVALID_SPAN_CONTEXT,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type Link,
  type Tracer,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
import { ProtobufTraceSerializer, TraceExporterMetricsHelper } from '@opentelemetry/otlp-transformer';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION, ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';
import { tracesUrl, type TracingConfig } from '../config/tracing-config.js';
import { service, type Service } from '../core/service.js';

export { SpanKind, SpanStatusCode, ROOT_CONTEXT, trace, type Span, type Context, type Attributes, type Link };

/** Incubating semantic-convention names (copied, as the semantic-conventions package advises). */
export const ATTR_SERVICE_INSTANCE_ID = 'service.instance.id';
export const ATTR_SERVICE_NAMESPACE = 'service.namespace';

export interface TracingIdentity {
  /** The role: collect, process, serve, decide, notify, run, demo, job, backfill... */
  role: string;
  version: string;
  /** service.instance.id (default a random UUID per process start). */
  instanceId?: string;
}

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** Other contexts this span is about (the rest of a batch's producers). */
  links?: Link[];
  /** The parent (an extracted remote context); default the active context. */
  parent?: Context;
  /** Start time (ms since epoch), for a span about work that began before the call. */
  startTime?: number;
}

const propagator = new W3CTraceContextPropagator();
const NOOP_SPAN = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
/**
 * The context manager the first enabled Tracing installed as the global one (null until then, or when another was
 * installed first). `activeContext()` asks it directly: through the API, `context.active()` also looks the global
 * up and checks its version on every call, which the candle writer pays once per candle event.
 */
let installedContextManager: AsyncLocalStorageContextManager | null = null;

/** Carrier reads for headers whose values may be strings, string arrays or Buffers (Kafka, node:http). */
const headerGetter: TextMapGetter<Record<string, unknown>> = {
  keys: (c) => Object.keys(c),
  get: (c, key) => {
    const v = c[key];
    if (v === undefined || v === null) return undefined;
    if (Array.isArray(v)) return v.map((x) => String(x));
    return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  },
};

export class Tracing {
  /** A Tracing that records nothing (tests, tools, and every role without an endpoint). */
  static off(): Tracing {
    return new Tracing(null, null, resourceAttributesOf(null, { role: 'none', version: '0' }));
  }

  /** From config: off without an endpoint; otherwise an OTLP/HTTP exporter at the configured URL. */
  static fromConfig(config: TracingConfig, identity: TracingIdentity): Tracing {
    const url = tracesUrl(config);
    if (!url) return new Tracing(null, null, resourceAttributesOf(config, identity));
    const exporter = config.protocol === 'http/json' ? new OTLPTraceExporter({ url }) : protobufTraceExporter(url);
    return Tracing.withExporter(exporter, config, identity);
  }

  /** An enabled Tracing around any exporter (the OTLP one above; an in-memory one in unit tests). */
  static withExporter(exporter: SpanExporter, config: Pick<TracingConfig, 'sampler' | 'samplerArg' | 'serviceName' | 'resourceAttributes'>, identity: TracingIdentity): Tracing {
    const attributes = resourceAttributesOf(config, identity);
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes(attributes),
      sampler: samplerOf(config.sampler, config.samplerArg),
      // Spans leave in batches off the hot path; a full queue drops spans rather than grow.
      spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 4096, maxExportBatchSize: 512, scheduledDelayMillis: 1000 })],
    });
    if (installedContextManager === null) {
      const manager = new AsyncLocalStorageContextManager().enable();
      if (context.setGlobalContextManager(manager)) installedContextManager = manager;
    }
    return new Tracing(provider, provider.getTracer('candlestack', identity.version), attributes);
  }

  private constructor(
    private readonly provider: BasicTracerProvider | null,
    private readonly tracerOrNull: Tracer | null,
    /** The resource attributes (service.name, ...), shared with the OTLP logs of the role. */
    readonly resourceAttributes: Readonly<Record<string, string>>,
  ) {}

  get enabled(): boolean {
    return this.tracerOrNull !== null;
  }

  /** The underlying tracer (a no-op one when off), for spans that `span()` does not fit. */
  get tracer(): Tracer {
    return this.tracerOrNull ?? trace.getTracer('candlestack-off');
  }

  /**
   * Runs `fn` inside a new span (a child of `options.parent` or the active context) and ends the span when `fn`
   * returns or its promise settles. A throw or rejection records the exception, sets ERROR status and
   * `error.type`, and propagates. Off: `fn` gets a non-recording span.
   */
  span<T>(name: string, options: SpanOptions, fn: (span: Span) => T): T {
    const tracer = this.tracerOrNull;
    if (tracer === null) return fn(NOOP_SPAN);
    const parent = options.parent ?? context.active();
    const s = tracer.startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes, startTime: options.startTime, links: options.links }, parent);
    const ctx = trace.setSpan(parent, s);
    let result: T;
    try {
      result = context.with(ctx, fn, undefined, s);
    } catch (err) {
      failSpan(s, err);
      s.end();
      throw err;
    }
    if (isPromiseLike(result)) {
      return Promise.resolve(result).then(
        (v) => {
          s.end();
          return v;
        },
        (err: unknown) => {
          failSpan(s, err);
          s.end();
          throw err;
        },
      ) as T;
    }
    s.end();
    return result;
  }

  /** Starts a span the caller ends (for work whose end is an event: a response's `finish`). */
  startSpan(name: string, options: SpanOptions): { span: Span; context: Context } {
    const tracer = this.tracerOrNull;
    if (tracer === null) return { span: NOOP_SPAN, context: ROOT_CONTEXT };
    const parent = options.parent ?? context.active();
    const s = tracer.startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes, startTime: options.startTime, links: options.links }, parent);
    return { span: s, context: trace.setSpan(parent, s) };
  }

  /** Runs `fn` with `ctx` active (a span from `startSpan`). */
  with<T>(ctx: Context, fn: () => T): T {
    return this.tracerOrNull === null ? fn() : context.with(ctx, fn);
  }

  /** The active context (the root one outside any span); null when off. For callers that skip the work when it is the one they saw last. */
  activeContext(): Context | null {
    if (this.tracerOrNull === null) return null;
    return installedContextManager !== null ? installedContextManager.active() : context.active();
  }

  /** The active context (or `ctx`) when it holds a valid span (a parent worth keeping for later batched work), else null; null when off. */
  activeParent(ctx: Context | null = this.activeContext()): Context | null {
    if (this.tracerOrNull === null || ctx === null) return null;
    const span = trace.getSpan(ctx);
    return span && span.spanContext().traceId !== INVALID_SPAN_CONTEXT.traceId ? ctx : null;
  }

  /**
   * Marks the active span failed (the exception, ERROR status, `error.type`) for work that recovered (a degraded
   * answer) but whose trace must show what failed. Nothing when off or outside a span.
   */
  failActive(err: unknown): void {
    if (this.tracerOrNull === null) return;
    const s = trace.getSpan(context.active());
    if (s && s.isRecording()) failSpan(s, err);
  }

  /** Writes `traceparent` (and `tracestate`) of `ctx` (default the active context) into `headers`; nothing when off or outside a span. */
  inject(headers: Record<string, string>, ctx?: Context): void {
    if (this.tracerOrNull === null) return;
    propagator.inject(ctx ?? context.active(), headers, { set: (c, k, v) => ((c as Record<string, string>)[k] = v) });
  }

  /** The remote parent carried in `headers` (HTTP or Kafka), or the root context when none is valid. */
  extract(headers: Record<string, unknown> | undefined): Context {
    if (this.tracerOrNull === null || !headers) return ROOT_CONTEXT;
    return propagator.extract(ROOT_CONTEXT, headers, headerGetter);
  }

  /** Exports the spans ended so far. */
  async flush(): Promise<void> {
    await this.provider?.forceFlush();
  }

  /** Flushes and stops the exporter; spans after this are dropped. */
  async shutdown(): Promise<void> {
    await this.provider?.shutdown();
  }

  /** The lifecycle service: registered first on a role's Lifecycle, so it stops (flushes) last. */
  service(): Service {
    return service('tracing', () => {}, () => this.shutdown());
  }
}

export { activeSpanIds } from './span-ids.js';

/** Marks a span failed: the exception event, ERROR status, `error.type`. */
export function failSpan(span: Span, err: unknown): void {
  const e = err instanceof Error ? err : new Error(String(err));
  span.recordException(e);
  span.setAttribute(ATTR_ERROR_TYPE, e.name);
  span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

function resourceAttributesOf(config: Pick<TracingConfig, 'serviceName' | 'resourceAttributes'> | null, identity: TracingIdentity): Record<string, string> {
  return {
    [ATTR_SERVICE_NAMESPACE]: 'candlestack',
    ...config?.resourceAttributes,
    [ATTR_SERVICE_NAME]: config?.serviceName ?? `candlestack-${identity.role}`,
    [ATTR_SERVICE_VERSION]: identity.version,
    [ATTR_SERVICE_INSTANCE_ID]: identity.instanceId ?? randomUUID(),
    'candlestack.role': identity.role,
  };
}

function samplerOf(name: TracingConfig['sampler'], ratio: number): Sampler {
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/** OTLP/HTTP with protobuf bodies (the OpenTelemetry default protocol), from the same parts as the JSON exporter. */
function protobufTraceExporter(url: string): SpanExporter {
  const options = convertLegacyHttpOptions({ url }, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' });
  return new OTLPExporterBase(createOtlpHttpExportDelegate(options, ProtobufTraceSerializer, 'otlp_http_span_exporter', TraceExporterMetricsHelper, undefined)) as unknown as SpanExporter;
}
