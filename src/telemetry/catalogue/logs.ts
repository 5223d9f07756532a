/** Logs slice: the Loki log sink (src/telemetry/loki-logs.ts, when log.loki.url is set). */
import { Counter, type Registry } from 'prom-client';
import { HotSeries } from '../hot.js';

export function logMetrics(registry: Registry) {
  const r = [registry];
  /** Counted series (hot.ts): the sink counts these from the process's start (it is built before the registry); its stats read the same numbers. */
  const hot = {
    lokiPushes: new HotSeries(),
    lokiLinesSent: new HotSeries(),
    lokiLinesDropped: new HotSeries(),
  };
  return {
    hot,
    lokiPushes: new Counter({
      name: 'candlestack_loki_pushes_total',
      help: 'Batches of log lines pushed to Loki\'s push API, by outcome: sent (2xx) or failed (no answer or an HTTP error; a 5xx or 429 is sent again, another 4xx dropped).',
      labelNames: ['outcome'] as const,
      registers: r,
      collect: hot.lokiPushes.collect,
    }),
    lokiLinesSent: new Counter({
      name: 'candlestack_loki_lines_sent_total',
      help: 'Log lines Loki accepted.',
      registers: r,
      collect: hot.lokiLinesSent.collect,
    }),
    lokiLinesDropped: new Counter({
      name: 'candlestack_loki_lines_dropped_total',
      help: 'Log lines given up on, by reason: refused (a 4xx other than 429), queue_full (the oldest, past the sink\'s capacity while Loki failed), shutdown (still unsent when the process stopped).',
      labelNames: ['reason'] as const,
      registers: r,
      collect: hot.lokiLinesDropped.collect,
    }),
  };
}

export type LogMetrics = ReturnType<typeof logMetrics>;
