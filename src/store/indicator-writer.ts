/**
 * Batches indicator values into store writes, like the CandleWriter: `close` and `correction` events are
 * coalesced per (series, open time, name), the latest wins, and flushed every `flushMs` in one upsert. Values
 * over the forming candle (`update`) are never stored. A failed write is counted
 * (`candlestack_store_errors_total{operation="upsert_indicators"}`), logged, and its rows are kept for the
 * next flush under any newer ones, so nothing is lost to a transient error.
 */
import type { Clock, Timer } from '../core/clock.js';
import type { IndicatorEvent } from '../core/types.js';
import type { Logger } from '../telemetry/logger.js';
import type { HotCounter } from '../telemetry/hot.js';
import type { StoreMetrics } from '../telemetry/metrics.js';
import type { IndicatorRow, Store } from './store.js';
import type { Service } from '../core/service.js';

export interface IndicatorWriterOptions {
  store: Pick<Store, 'kind' | 'upsertIndicators'>;
  clock: Clock;
  metrics: StoreMetrics;
  log: Logger;
  flushMs?: number;
  /** Flush early when this many rows are waiting. */
  maxBatch?: number;
}

/** What the writer has counted (`IndicatorWriter.status()`): the same numbers its metrics expose. */
export interface IndicatorWriterStatus {
  /** Failed batch writes. */
  errors: number;
  /** Rows waiting for the next write. */
  queueDepth: number;
}

export class IndicatorWriter implements Service {
  readonly name = 'indicator-writer';
  private pending = new Map<string, IndicatorRow>();
  private timer: Timer | null = null;
  private flushing: Promise<void> | null = null;
  private readonly errors: HotCounter;

  constructor(private readonly o: IndicatorWriterOptions) {
    this.errors = o.metrics.hot.storeErrors.counter(o.metrics.storeErrors, o.store.kind, 'upsert_indicators');
  }

  start(): void {
    this.timer = this.o.clock.setInterval(() => void this.flush(), this.o.flushMs ?? 1000);
  }

  onEvent = (e: IndicatorEvent): void => {
    if (e.kind === 'update') return;
    const prefix = `${e.exchange}\u0000${e.symbol}\u0000${e.timeframe}\u0000${e.openTime}\u0000`;
    for (const [name, values] of Object.entries(e.values)) {
      this.pending.set(prefix + name, { exchange: e.exchange, symbol: e.symbol, timeframe: e.timeframe, openTime: e.openTime, name, values });
    }
    if (this.pending.size >= (this.o.maxBatch ?? 5000)) void this.flush();
  };

  get depth(): number {
    return this.pending.size;
  }

  status(): IndicatorWriterStatus {
    return { errors: this.errors.value, queueDepth: this.pending.size };
  }

  async flush(): Promise<void> {
    if (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = this.o.store
      .upsertIndicators([...batch.values()])
      .catch((err: unknown) => {
        this.errors.inc();
        this.o.log.error({ err, rows: batch.size }, 'indicator write failed; rows kept for the next flush');
        for (const [k, v] of batch) if (!this.pending.has(k)) this.pending.set(k, v);
      })
      .finally(() => {
        this.flushing = null;
      });
    await this.flushing;
  }

  async stop(): Promise<void> {
    this.timer?.cancel();
    this.timer = null;
    await this.flush();
  }
}
