/**
 * Batches candle events into store writes: events are coalesced per candle (the latest wins) and flushed
 * every `flushMs` in one upsert, so a busy market costs one transaction per interval, not one per event
 * (and each forming candle one row per interval; only closed candles past `maxBatch` flush early).
 * A failed write is counted and logged, and its rows are kept for the next flush (merged under newer
 * events), so nothing is lost to a transient error.
 *
 * Writes go through the `store_write` circuit breaker when one is given. While it is open no write is
 * attempted: rows stay buffered. The buffer is bounded (`maxBufferedRows`): beyond the bound the OLDEST
 * forming-candle updates are dropped first (the candle's next update or its close supersedes them anyway);
 * closed candles are never dropped, even past the bound (they are logged as over the bound instead).
 * Every dropped row is counted (`candlestack_store_rows_dropped_total`) and logged.
 *
 * `candlestack_store_queue_depth` counts every row not yet written: those queued plus the batch being written,
 * updated on every flush tick, so a write blocked on a lock shows as a growing queue rather than 0. `stall()`
 * says when rows are waiting and no write has completed for `stallAfterFlushes` flush intervals: /readyz then
 * reports the store not ready (issue 19: a locked table stalled the store invisibly).
 */
import type { CircuitBreaker } from '../core/circuit-breaker.js';
import type { Clock, Timer } from '../core/clock.js';
import type { Candle, CandleEvent } from '../core/types.js';
import type { Logger } from '../telemetry/logger.js';
import type { StoreMetrics } from '../telemetry/metrics.js';
import type { Store } from './store.js';
import type { Service } from '../core/service.js';
import type { ExchangeId } from '../core/exchange-id.js';
import { ROOT_CONTEXT, SpanKind, trace, type Context, type Link } from '@opentelemetry/api';
import type { Tracing } from '../telemetry/tracing.js';
import { activeTraceExemplar, TracedHistogram, type TraceExemplar } from '../telemetry/exemplars.js';
import { ATTR_DB_COLLECTION_NAME, ATTR_DB_OPERATION_BATCH_SIZE, ATTR_DB_OPERATION_NAME, ATTR_DB_SYSTEM_NAME, dbSystemName } from '../telemetry/semconv.js';

/** Links kept on a write span (other traces whose candles the batch carries). */
const MAX_LINKS = 32;

export interface CandleWriterOptions {
  store: Store;
  clock: Clock;
  metrics: StoreMetrics;
  log: Logger;
  flushMs?: number;
  /**
   * Flush early when this many closed candles are waiting (a backfill's burst). Forming-candle rows do not
   * count: they are coalesced per candle and bounded by the number of series, and flushing them early only
   * wrote the same candles again (2,000 symbols x 6 timeframes updated at every 250 ms tick reached 5,000 rows
   * four times a second: each forming candle written ~4 times per flush interval instead of once).
   */
  maxBatch?: number;
  /** The `store_write` breaker; without one every flush tries the store. */
  breaker?: CircuitBreaker;
  /** Rows held while the store cannot be written before forming-candle updates are dropped. Default 100 000. */
  maxBufferedRows?: number;
  /**
   * Traces: each write is one CLIENT span `upsert candles` (one per batch, never per row), a child of the first
   * traced context that queued a row since the last write (a Kafka batch's CONSUMER span, a backfill run),
   * with links to the other traces in the batch.
   */
  tracing?: Tracing;
  /** Rows waiting and no write completed for this many flush intervals: `stall()` reports it. Default 10. */
  stallAfterFlushes?: number;
}

/** The writer has rows waiting and has not completed a write for `sinceMs`. */
export interface WriteStall {
  rows: number;
  sinceMs: number;
}

/** What the writer has counted (`CandleWriter.status()`): the same numbers its metrics expose. */
export interface CandleWriterStatus {
  rowsWritten: number;
  /** Failed batch writes. */
  errors: number;
  /** Rows not yet written: queued plus the batch being written. */
  queueDepth: number;
}

/** How often (at most) the writer logs about dropping rows or holding closed rows past the bound. */
const DROP_LOG_EVERY_MS = 10_000;

export class CandleWriter implements Service {
  readonly name = 'candle-writer';
  /** Closed candles (and corrections) waiting, in arrival order. */
  private closedRows = new Map<string, Candle>();
  /** Forming-candle updates waiting, least recently updated first. */
  private formingRows = new Map<string, Candle>();
  private timer: Timer | null = null;
  private flushing: Promise<void> | null = null;
  /** Rows of the write in progress. */
  private inFlight = 0;
  /** When a write last completed, or the writer last found nothing waiting. */
  private progressAt: number;
  private readonly stallMs: number;
  private readonly flushMs: number;
  private readonly maxBatch: number;
  private readonly maxBuffered: number;
  private droppedSinceLog = 0;
  private lastDropLogAt = Number.NEGATIVE_INFINITY;
  private refusedSinceOpen = false;
  private readonly m;
  /** The traced contexts that queued rows since the last write: the first is the write's parent. */
  private parent: Context | null = null;
  private links: Link[] = [];
  private lastLinked = '';
  /** The active context of the last event noted: the events of one consumed batch share it, so it is looked at once. */
  private seen: Context | null = null;

  constructor(private readonly o: CandleWriterOptions) {
    this.flushMs = o.flushMs ?? 1000;
    this.maxBatch = o.maxBatch ?? 5000;
    this.maxBuffered = Math.max(1, o.maxBufferedRows ?? 100_000);
    this.stallMs = this.flushMs * Math.max(1, o.stallAfterFlushes ?? 10);
    this.progressAt = o.clock.now();
    const kind = o.store.kind;
    this.m = {
      duration: new TracedHistogram(o.metrics.storeWriteDuration, { store: kind }),
      rows: o.metrics.hot.storeRowsWritten.counter(o.metrics.storeRowsWritten, kind),
      errors: o.metrics.hot.storeErrors.counter(o.metrics.storeErrors, kind, 'upsert'),
      depth: o.metrics.storeQueueDepth.labels(kind),
      droppedFull: o.metrics.storeRowsDropped.labels(kind, 'buffer_full'),
      droppedShutdown: o.metrics.storeRowsDropped.labels(kind, 'shutdown'),
    };
  }

  start(): void {
    this.progressAt = this.o.clock.now();
    this.timer = this.o.clock.setInterval(this.tick, this.flushMs);
  }

  /** Every flush interval: a write, or (one still in progress) the gauge brought up to date. */
  private readonly tick = (): void => {
    if (this.flushing) this.m.depth.set(this.pending);
    else void this.flush();
  };

  onEvent = (e: CandleEvent): void => {
    const c = e.candle;
    const key = `${c.exchange}\u0000${c.symbol}\u0000${c.timeframe}\u0000${c.openTime}`;
    if (c.closed) {
      this.formingRows.delete(key);
      this.closedRows.set(key, c);
    } else if (!this.closedRows.has(key)) {
      // delete + set moves the key to the end: the map stays ordered by last update, oldest first
      this.formingRows.delete(key);
      this.formingRows.set(key, c);
    }
    if (this.o.tracing?.enabled) this.noteContext(this.o.tracing);
    const depth = this.depth;
    if (depth > this.maxBuffered) this.shed();
    else if (this.closedRows.size >= this.maxBatch && this.o.breaker?.state !== 'open') void this.flush();
  };

  /** Drops the pending rows of one symbol (its partition moved to another process, which now writes it). */
  discard(exchange: ExchangeId, symbol: string): void {
    const prefix = `${exchange}\u0000${symbol}\u0000`;
    for (const rows of [this.closedRows, this.formingRows]) for (const k of rows.keys()) if (k.startsWith(prefix)) rows.delete(k);
  }

  /** Rows queued for the next write (not counting the batch being written). */
  get depth(): number {
    return this.closedRows.size + this.formingRows.size;
  }

  /** Rows not yet written: queued plus the batch being written (what the queue gauge shows). */
  get pending(): number {
    return this.depth + this.inFlight;
  }

  /** Rows waiting while no write has completed for `stallAfterFlushes` flush intervals; null otherwise. */
  stall(): WriteStall | null {
    const rows = this.pending;
    if (rows === 0) return null;
    const sinceMs = this.o.clock.now() - this.progressAt;
    return sinceMs > this.stallMs ? { rows, sinceMs } : null;
  }

  status(): CandleWriterStatus {
    return { rowsWritten: this.m.rows.value, errors: this.m.errors.value, queueDepth: this.pending };
  }

  /**
   * Writes everything pending; resolves true when written, false when the write failed or the breaker refused
   * it (the rows stay buffered for the next flush). The process role commits Kafka offsets only after true.
   */
  async flush(force = false): Promise<boolean> {
    // a loop: several callers may wait on the same write, and only one of them starts the next
    while (this.flushing) await this.flushing;
    if (this.depth === 0) {
      this.progressAt = this.o.clock.now();
      this.m.depth.set(0);
      return true;
    }
    const breaker = this.o.breaker;
    if (breaker && !force && !breaker.tryAcquire()) {
      this.m.depth.set(this.depth);
      if (!this.refusedSinceOpen) {
        this.refusedSinceOpen = true;
        this.o.log.warn({ rows: this.depth, retryAt: new Date(breaker.retryAt).toISOString(), bound: this.maxBuffered }, 'store writes paused while the store_write circuit is open; rows stay buffered');
      }
      return false;
    }
    this.refusedSinceOpen = false;
    const closed = this.closedRows;
    const forming = this.formingRows;
    this.closedRows = new Map();
    this.formingRows = new Map();
    const rows = [...closed.values(), ...forming.values()];
    let ok = false;
    this.inFlight = rows.length;
    this.m.depth.set(this.pending);
    const stop = this.m.duration.startTimer();
    this.flushing = this.write(rows)
      .then((exemplar) => {
        stop(exemplar);
        breaker?.success();
        ok = true;
        this.progressAt = this.o.clock.now();
        this.m.rows.inc(rows.length);
        if (this.droppedSinceLog > 0) this.logDrops();
      })
      .catch((err: unknown) => {
        breaker?.failure(err);
        this.m.errors.inc();
        this.o.log.error({ err, rows: rows.length }, 'store write failed; rows kept for the next flush');
        this.requeue(closed, forming);
      })
      .finally(() => {
        this.flushing = null;
        this.inFlight = 0;
        this.m.depth.set(this.depth);
      });
    await this.flushing;
    return ok;
  }

  private noteContext(tracing: Tracing): void {
    const active = tracing.activeContext();
    if (active === this.seen) return;
    this.seen = active;
    const ctx = tracing.activeParent(active);
    if (ctx === null) return;
    if (this.parent === null) {
      this.parent = ctx;
      return;
    }
    const sc = trace.getSpanContext(ctx)!;
    if (this.links.length >= MAX_LINKS || sc.spanId === this.lastLinked || sc.spanId === trace.getSpanContext(this.parent)!.spanId) return;
    this.lastLinked = sc.spanId;
    this.links.push({ context: sc });
  }

  /** The store upsert, with tracing inside its CLIENT span; resolves with that span's exemplar (none when untraced). */
  private async write(rows: Candle[]): Promise<TraceExemplar | undefined> {
    const tracing = this.o.tracing;
    if (!tracing?.enabled) {
      await this.o.store.upsert(rows);
      return undefined;
    }
    const parent = this.parent ?? ROOT_CONTEXT;
    const links = this.links;
    this.parent = null;
    this.links = [];
    this.lastLinked = '';
    this.seen = null;
    const attributes = { [ATTR_DB_SYSTEM_NAME]: dbSystemName(this.o.store.kind), [ATTR_DB_OPERATION_NAME]: 'upsert', [ATTR_DB_COLLECTION_NAME]: 'candles', [ATTR_DB_OPERATION_BATCH_SIZE]: rows.length };
    return tracing.span('upsert candles', { kind: SpanKind.CLIENT, parent, links, attributes }, async () => {
      await this.o.store.upsert(rows);
      return activeTraceExemplar();
    });
  }

  /** Stops the timer and writes what is left (even with the breaker open); what cannot be written is counted. */
  async stop(): Promise<void> {
    this.timer?.cancel();
    this.timer = null;
    await this.flush(true);
    const left = this.depth;
    if (left > 0) {
      this.m.droppedShutdown.inc(left);
      this.o.log.error({ rows: left, closed: this.closedRows.size, forming: this.formingRows.size }, 'store unavailable at shutdown: candle rows not written (the next start backfills from the last stored candle)');
      this.closedRows.clear();
      this.formingRows.clear();
      this.m.depth.set(0);
    }
  }

  /** Puts a failed batch back under anything newer that arrived meanwhile, oldest first, then enforces the bound. */
  private requeue(closed: Map<string, Candle>, forming: Map<string, Candle>): void {
    const newerClosed = this.closedRows;
    const newerForming = this.formingRows;
    this.closedRows = new Map([...closed].filter(([k]) => !newerClosed.has(k)));
    for (const [k, v] of newerClosed) this.closedRows.set(k, v);
    this.formingRows = new Map([...forming].filter(([k]) => !newerForming.has(k) && !this.closedRows.has(k)));
    for (const [k, v] of newerForming) this.formingRows.set(k, v);
    if (this.depth > this.maxBuffered) this.shed();
  }

  /** Over the bound: drops the least recently updated forming-candle rows; never closed ones. */
  private shed(): void {
    let dropped = 0;
    for (const k of this.formingRows.keys()) {
      if (this.depth <= this.maxBuffered) break;
      this.formingRows.delete(k);
      dropped++;
    }
    if (dropped > 0) {
      this.m.droppedFull.inc(dropped);
      this.droppedSinceLog += dropped;
    }
    if (this.o.clock.now() - this.lastDropLogAt < DROP_LOG_EVERY_MS) return;
    if (this.droppedSinceLog > 0 || this.depth > this.maxBuffered) this.logDrops();
  }

  private logDrops(): void {
    this.lastDropLogAt = this.o.clock.now();
    const ctx = { bound: this.maxBuffered, rows: this.depth, closedRows: this.closedRows.size, droppedFormingUpdates: this.droppedSinceLog };
    if (this.depth > this.maxBuffered) this.o.log.error(ctx, 'store write buffer holds more closed candles than its bound; they are kept (never dropped)');
    else this.o.log.warn(ctx, 'store write buffer full: dropped the oldest forming-candle updates (their candles are written when they close)');
    this.droppedSinceLog = 0;
  }
}
