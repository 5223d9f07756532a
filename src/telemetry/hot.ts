/**
 * Hot-path series: prom-client hashes and validates the label set on every `inc()`/`set()` of a label
 * child, which costs more than the work being counted when it happens per exchange message. A hot series
 * is a plain number bumped on the hot path and handed to prom-client when it is scraped (from the
 * metric's `collect` hook), so scrapes see exact values and the per-message cost is one addition.
 */
import type { Counter, Gauge } from 'prom-client';

export interface HotCounter {
  inc(n?: number): void;
}

export interface HotGauge {
  set(v: number): void;
}

type Flush = () => void;

/** The flush hooks of the hot series of one metric; pass `collect` as the metric's `collect` option. */
export class HotSeries {
  private readonly flushes: Flush[] = [];

  readonly collect = (): void => {
    for (const f of this.flushes) f();
  };

  counter<T extends string>(metric: Counter<T>, ...labels: string[]): HotCounter {
    const child = metric.labels(...labels);
    let pending = 0;
    this.flushes.push(() => {
      if (pending === 0) return;
      child.inc(pending);
      pending = 0;
    });
    return { inc: (n = 1) => void (pending += n) };
  }

  gauge<T extends string>(metric: Gauge<T>, ...labels: string[]): HotGauge {
    const child = metric.labels(...labels);
    let value = 0;
    let dirty = false;
    this.flushes.push(() => {
      if (!dirty) return;
      child.set(value);
      dirty = false;
    });
    return {
      set: (v: number) => {
        value = v;
        dirty = true;
      },
    };
  }
}
