/**
 * Batches candle events into store writes: events are coalesced per candle (the latest wins) and flushed
 * every `flushMs` in one upsert, so a busy market costs one transaction per interval, not one per event.
 * A failed write is counted and logged, and its rows are kept for the next flush (merged under newer
 * events), so nothing is lost to a transient error.
 */
import type { Clock, Timer } from '../core/clock.js';
import type { Candle, CandleEvent } from '../core/types.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Store } from './store.js';

export interface CandleWriterOptions {
  store: Store;
  clock: Clock;
  metrics: Metrics;
  log: Logger;
  flushMs?: number;
  /** Flush early when this many rows are waiting. */
  maxBatch?: number;
}

export class CandleWriter {
  private pending = new Map<string, Candle>();
  private timer: Timer | null = null;
  private flushing: Promise<void> | null = null;
  private readonly flushMs: number;
  private readonly maxBatch: number;
  private readonly m;

  constructor(private readonly o: CandleWriterOptions) {
    this.flushMs = o.flushMs ?? 1000;
    this.maxBatch = o.maxBatch ?? 5000;
    const kind = o.store.kind;
    this.m = {
      duration: o.metrics.storeWriteDuration.labels(kind),
      rows: o.metrics.storeRowsWritten.labels(kind),
      errors: o.metrics.storeErrors.labels(kind, 'upsert'),
      depth: o.metrics.storeQueueDepth.labels(kind),
    };
  }

  start(): void {
    this.timer = this.o.clock.setInterval(() => void this.flush(), this.flushMs);
  }

  onEvent = (e: CandleEvent): void => {
    const c = e.candle;
    this.pending.set(`${c.exchange}\u0000${c.symbol}\u0000${c.timeframe}\u0000${c.openTime}`, c);
    if (this.pending.size >= this.maxBatch) void this.flush();
  };

  /** Drops the pending rows of one symbol (its partition moved to another process, which now writes it). */
  discard(exchange: string, symbol: string): void {
    const prefix = `${exchange}\u0000${symbol}\u0000`;
    for (const k of this.pending.keys()) if (k.startsWith(prefix)) this.pending.delete(k);
  }

  get depth(): number {
    return this.pending.size;
  }

  /**
   * Writes everything pending; resolves when written (true) or failed and kept for the next flush (false).
   */
  async flush(): Promise<boolean> {
    if (this.flushing) await this.flushing;
    if (this.pending.size === 0) {
      this.m.depth.set(0);
      return true;
    }
    let ok = false;
    const batch = this.pending;
    this.pending = new Map();
    const stop = this.m.duration.startTimer();
    this.flushing = this.o.store
      .upsert([...batch.values()])
      .then(() => {
        stop();
        ok = true;
        this.m.rows.inc(batch.size);
      })
      .catch((err: unknown) => {
        this.m.errors.inc();
        this.o.log.error({ err, rows: batch.size }, 'store write failed; rows kept for the next flush');
        for (const [k, v] of batch) if (!this.pending.has(k)) this.pending.set(k, v);
      })
      .finally(() => {
        this.flushing = null;
        this.m.depth.set(this.pending.size);
      });
    await this.flushing;
    return ok;
  }

  async stop(): Promise<void> {
    this.timer?.cancel();
    this.timer = null;
    await this.flush();
  }
}
