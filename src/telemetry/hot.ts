/**
 * Counted series: prom-client hashes and validates the label set on every `inc()`/`set()` of a label
 * child, which costs more than the work being counted when it happens per exchange message. A counted series
 * is a plain number bumped by the component and handed to prom-client when the metric is scraped (from the
 * metric's `collect` hook), so scrapes see exact values and the per-message cost is one addition.
 *
 * The same number is what the component reports in its `status()` (`HotCounter.value`), so /metrics and
 * /api/health read one count, never two. Create one per label set and cache it (per symbol, connection,
 * topic...) the way a label child is cached: each `counter()`/`gauge()` call adds a flush to every scrape.
 */
import type { Counter, Gauge } from 'prom-client';

/** A counter's running total since start; prom-client is given the increase at each scrape. */
export class HotCounter {
  private n = 0;

  inc(n = 1): void {
    this.n += n;
  }

  get value(): number {
    return this.n;
  }
}

/** A gauge's last value (0 until set); prom-client is given it at scrape once it has been set. */
export class HotGauge {
  private v = 0;
  /** Set since the last scrape. */
  dirty = false;

  set(v: number): void {
    this.v = v;
    this.dirty = true;
  }

  get value(): number {
    return this.v;
  }
}

type Flush = () => void;

/** The flush hooks of the counted series of one metric; pass `collect` as the metric's `collect` option. */
export class HotSeries {
  private readonly flushes: Flush[] = [];

  readonly collect = (): void => {
    for (const f of this.flushes) f();
  };

  counter<T extends string>(metric: Counter<T>, ...labels: string[]): HotCounter {
    return this.adopt(metric, new HotCounter(), ...labels);
  }

  /** Flushes a count that already exists (kept by a component built before the registry, such as the log sink), its whole total included. */
  adopt<T extends string>(metric: Counter<T>, c: HotCounter, ...labels: string[]): HotCounter {
    const child = metric.labels(...labels);
    let flushed = 0;
    this.flushes.push(() => {
      const total = c.value;
      if (total === flushed) return;
      child.inc(total - flushed);
      flushed = total;
    });
    return c;
  }

  /**
   * Flushes a count a component keeps in a field of its own per-key record (`read` returns its running total):
   * the same as `counter`, without a HotCounter object of its own, so a hot path touches one object fewer.
   */
  counted<T extends string>(metric: Counter<T>, read: () => number, ...labels: string[]): void {
    const child = metric.labels(...labels);
    let flushed = 0;
    this.flushes.push(() => {
      const total = read();
      if (total === flushed) return;
      child.inc(total - flushed);
      flushed = total;
    });
  }

  /**
   * Flushes a gauge a component keeps in a field of its own per-key record (`read` returns its value, 0 until
   * set): like `gauge`, without a HotGauge object; the child is set when the value differs from the last flushed.
   */
  gauged<T extends string>(metric: Gauge<T>, read: () => number, ...labels: string[]): void {
    const child = metric.labels(...labels);
    let flushed = 0;
    this.flushes.push(() => {
      const v = read();
      if (v === flushed) return;
      child.set(v);
      flushed = v;
    });
  }

  gauge<T extends string>(metric: Gauge<T>, ...labels: string[]): HotGauge {
    const child = metric.labels(...labels);
    const g = new HotGauge();
    this.flushes.push(() => {
      if (!g.dirty) return;
      child.set(g.value);
      g.dirty = false;
    });
    return g;
  }
}
