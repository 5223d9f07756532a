/**
 * Exemplars: a latency observation made inside a sampled span carries `{trace_id="..."}`, so a Grafana panel
 * links a slow bucket to its trace in Tempo. Prometheus stores them when it scrapes OpenMetrics
 * (exposition.ts) with exemplar storage on.
 *
 * The histograms that carry them are built by `exemplarHistogram` (src/telemetry/catalogue/). Their
 * hot callers keep a cached label child and go through `TracedHistogram`: without an active sampled span an
 * observation is the label child's plain `observe` plus one context lookup (with tracing off, the no-op
 * context manager's constant); only a traced observation pays prom-client's exemplar path (label hashing, the
 * exemplar object). Only @opentelemetry/api is loaded here (the offline commands stay light).
 *
 * Note: `observe(value)` on an exemplar-enabled histogram itself is prom-client's object form
 * (`observe({ labels, value, exemplarLabels })`); always observe through a label child or `TracedHistogram`.
 */
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { Histogram, type HistogramConfiguration, type LabelValues, type Registry } from 'prom-client';

/**
 * A histogram that keeps exemplars, registered on `registry`. prom-client refuses `enableExemplars` on a
 * registry whose content type is the classic one; candlestack's registries stay classic (every other reader
 * of `registry.metrics()` gets the classic text, where prom-client leaves exemplars out) and OpenMetrics is
 * rendered per scrape by exposition.ts, so the histogram is built unregistered and then registered.
 */
export function exemplarHistogram<T extends string>(registry: Registry, config: Omit<HistogramConfiguration<T>, 'registers' | 'enableExemplars'>): Histogram<T> {
  const h = new Histogram<T>({ ...config, enableExemplars: true, registers: [] });
  registry.registerMetric(h);
  return h;
}

/** The exemplar label set of one observation. */
export interface TraceExemplar {
  trace_id: string;
}

/** `{ trace_id }` of the active span when it is sampled (recorded and exported), else undefined. */
export function activeTraceExemplar(): TraceExemplar | undefined {
  const span = trace.getSpan(context.active());
  if (span === undefined) return undefined;
  const sc = span.spanContext();
  // An unsampled span (the sampler said no) has a valid trace id that Tempo will never hold: no exemplar.
  if ((sc.traceFlags & TraceFlags.SAMPLED) === 0) return undefined;
  return { trace_id: sc.traceId };
}

/** One observation of an exemplar-enabled histogram: with the exemplar when there is one, else the plain path. */
export function observeTraced<T extends string>(histogram: Histogram<T>, labels: LabelValues<T>, value: number, exemplar: TraceExemplar | undefined): void {
  if (exemplar === undefined) histogram.labels(labels).observe(value);
  else histogram.observe({ labels, value, exemplarLabels: exemplar as unknown as LabelValues<T> });
}

/** One label set of an exemplar-enabled histogram; create it once and cache it like a label child. */
export class TracedHistogram<T extends string = string> {
  private readonly child: { observe(value: number): void };

  constructor(
    private readonly histogram: Histogram<T>,
    private readonly labels: LabelValues<T>,
  ) {
    this.child = histogram.labels(labels);
  }

  /** Observes `value`, with `exemplar` (default: the active sampled span's) when there is one. */
  observe(value: number, exemplar: TraceExemplar | undefined = activeTraceExemplar()): void {
    if (exemplar === undefined) this.child.observe(value);
    else this.histogram.observe({ labels: this.labels, value, exemplarLabels: exemplar as unknown as LabelValues<T> });
  }

  /**
   * Starts timing now; the returned function observes the seconds elapsed (and returns them), with the
   * exemplar it is given, else the one of the span active when it is called.
   */
  startTimer(): (exemplar?: TraceExemplar) => number {
    const t0 = performance.now();
    return (exemplar = activeTraceExemplar()) => {
      const seconds = (performance.now() - t0) / 1000;
      this.observe(seconds, exemplar);
      return seconds;
    };
  }
}
