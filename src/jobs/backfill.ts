/**
 * Gap backfill: every gap (reconnect, trade-id jump, restart) names the periods it touches; once such a
 * period has closed (end + grace + settle), its kline is fetched from the exchange's REST API and replaces
 * our candle (source `backfill`, published as a correction). A failed fetch is retried with backoff.
 * Pending work is kept in the store too when `repairs` is given (run/demo): each piece is saved as it is queued or
 * its range changes, and removed once its candles are written; `restore()` re-queues what an earlier process left
 * (it was killed before the repair ran). Without it (the process role: its gaps come back from Kafka) pending
 * work lives in memory. Periods older than the exchange's REST history reaches (`klineHistoryPeriods`) are counted
 * as unrecoverable and not asked for.
 *
 * REST calls go through the `backfill_rest` circuit breaker when one is given. While it is open no request
 * is made: due work waits (nothing is dropped) until the breaker lets a probe through, then runs again.
 */
import type { CircuitBreaker } from '../core/circuit-breaker.js';
import type { Clock, Timer } from '../core/clock.js';
import { klineToCandle } from '../core/kline.js';
import { periodStart, sortTimeframes, timeframeMs, type Timeframe } from '../core/timeframe.js';
import type { GapEvent } from '../core/types.js';
import type { Endpoints, ExchangeAdapter } from '../exchanges/adapter.js';
import { backoffDelay } from '../feed/backoff.js';
import type { RestClient } from '../feed/rest-client.js';
import type { CandleEngine } from '../pipeline/candle-engine.js';
import type { Logger } from '../telemetry/logger.js';
import type { HotCounter } from '../telemetry/hot.js';
import type { Metrics } from '../telemetry/metrics.js';
import { runJob } from './job.js';
import type { Service } from '../core/service.js';
import type { ExchangeId } from '../core/exchange-id.js';
import type { Tracing } from '../telemetry/tracing.js';
import type { PendingRepair, RepairStore } from '../store/repair-store.js';
import { LogThrottle } from '../telemetry/log-throttle.js';
import { randomUUID } from 'node:crypto';

export interface BackfillSource {
  adapter: ExchangeAdapter;
  endpoints: Endpoints;
  rest: RestClient;
}

export interface BackfillOptions {
  sources: ReadonlyMap<string, BackfillSource>;
  engine: CandleEngine;
  timeframes: readonly Timeframe[];
  graceMs: number;
  /** Extra wait after a period's grace before asking the exchange, so its kline is final. Default 2 s. */
  settleMs?: number;
  /** How often pending gaps are checked. Default 1 s. */
  checkEveryMs?: number;
  clock: Clock;
  /** Backfill metrics (candles); failed fetches also count as feed collector errors (kind backfill), runs as a job. */
  metrics: Pick<Metrics, 'candles' | 'feed' | 'jobs'>;
  log: Logger;
  /** The `backfill_rest` breaker around every REST fetch. */
  breaker?: CircuitBreaker;
  /** Traces: each run is a span `job backfill`, parent of its REST calls and (through the writer) the store write of its candles. */
  tracing?: Tracing;
  /**
   * Pending work kept in the store (see the top of this file). `written` resolves true once every candle
   * published so far is in the store (the CandleWriter's flush): only then is a completed repair removed.
   */
  repairs?: { store: RepairStore; written: () => Promise<boolean> };
}

/** What the backfiller has counted (`Backfiller.status()`): the same numbers its metrics expose. */
export interface BackfillStatus {
  /** Closed candles replaced by exchange klines. */
  candles: number;
  runsOk: number;
  runsFailed: number;
  /** Gaps waiting for their periods to close (or for a retry). */
  pending: number;
}

/** The counters of one exchange. */
interface Counts {
  ok: HotCounter;
  error: HotCounter;
  /** Per timeframe. */
  candles: Map<Timeframe, HotCounter>;
}

interface PendingWork {
  /** The work's row in the store's pending repairs. */
  id: string;
  /** The stored row has the current range (or there is no store). */
  saved: boolean;
  exchange: ExchangeId;
  symbol: string;
  timeframe: Timeframe;
  /** First and last period start to fetch. */
  first: number;
  last: number;
  readyAt: number;
  attempts: number;
  /** Fetches that returned fewer periods than asked (the rest is asked again, up to PARTIAL_RETRIES times). */
  partial: number;
}

/**
 * How often the periods a REST answer lacked are asked for again before they are given up (reported, left
 * marked by their gap): an exchange may have no kline for a period without trades (Coinbase, Kraken), or may
 * have answered short under load.
 */
export const PARTIAL_RETRIES = 2;
/** Default wait after a period's grace before its kline is asked for (`settleMs`). */
export const DEFAULT_SETTLE_MS = 2_000;
/** Default interval between two looks at the pending gaps (`checkEveryMs`). */
export const DEFAULT_CHECK_EVERY_MS = 1_000;

/** How long after a period ends the backfiller may still not have repaired it, with the default timings. */
export function repairWindowMs(graceMs: number): number {
  return graceMs + DEFAULT_SETTLE_MS + DEFAULT_CHECK_EVERY_MS;
}

export class Backfiller implements Service {
  readonly name = 'backfill';
  private readonly work: PendingWork[] = [];
  private timer: Timer | null = null;
  private running = false;
  private inFlight: Promise<unknown> | null = null;
  private readonly timeframes: Timeframe[];
  private readonly settleMs: number;
  private readonly counts = new Map<string, Counts>();
  /** Ids of completed (or given up) work still stored: removed once the candles they produced are written. */
  private done: string[] = [];
  private syncing: Promise<void> | null = null;
  private readonly syncLog: LogThrottle;

  constructor(private readonly o: BackfillOptions) {
    this.syncLog = new LogThrottle(() => o.clock.now(), 60_000);
    this.timeframes = sortTimeframes(o.timeframes);
    this.settleMs = o.settleMs ?? DEFAULT_SETTLE_MS;
    // Unrecoverable periods start at an explicit 0 per exchange and timeframe, so "none lost" is a series.
    for (const [exchange, { adapter }] of o.sources) {
      for (const tf of this.timeframes) if (adapter.klineTimeframes.includes(tf)) o.metrics.candles.backfillUnrecoverable.labels(exchange, tf).inc(0);
    }
  }

  start(): void {
    this.timer = this.o.clock.setInterval(() => {
      void this.sync();
      void this.runDue();
    }, this.o.checkEveryMs ?? DEFAULT_CHECK_EVERY_MS);
  }

  /** Stops checking; a run in flight (REST fetches, candles replaced in the engine) finishes first, then the stored repairs are brought up to date. */
  async stop(): Promise<void> {
    this.timer?.cancel();
    await this.inFlight;
    await this.sync();
  }

  /**
   * Re-queues the repairs an earlier process stored and did not complete (run/demo, at start, before the
   * collectors connect); their candles are marked incomplete in the engine. Returns how many were queued.
   * Repairs of an exchange or timeframe not configured now stay stored, untouched.
   */
  async restore(): Promise<number> {
    const stored = this.o.repairs ? await this.o.repairs.store.pendingRepairs() : [];
    let queued = 0;
    for (const r of stored) {
      const source = this.o.sources.get(r.exchange);
      if (!source || !this.timeframes.includes(r.timeframe) || !source.adapter.klineTimeframes.includes(r.timeframe)) continue;
      const ms = timeframeMs(r.timeframe);
      this.work.push({ id: r.id, saved: true, exchange: r.exchange, symbol: r.symbol, timeframe: r.timeframe, first: r.first, last: r.last, readyAt: r.last + ms + this.o.graceMs + this.settleMs, attempts: 0, partial: 0 });
      this.o.engine.markGap(r.exchange, r.symbol, r.first, r.last + ms - 1);
      queued++;
    }
    for (const exchange of new Set(stored.map((r) => r.exchange))) this.o.metrics.candles.backfillPending.labels(exchange).set(this.countFor(exchange));
    if (stored.length > 0) this.o.log.info({ stored: stored.length, queued }, 'pending repairs of an earlier run re-queued');
    return queued;
  }

  /**
   * Brings the stored repairs up to date: saves queued work whose range is not stored yet, and removes completed
   * work once `written` says its candles are in the store. One sync at a time; a failure is logged (at most once
   * a minute) and tried again on the next check. Resolves when done (never rejects).
   */
  async sync(): Promise<void> {
    const repairs = this.o.repairs;
    if (!repairs) return;
    while (this.syncing) await this.syncing;
    const unsaved = this.work.filter((w) => !w.saved);
    const done = this.done;
    if (unsaved.length === 0 && done.length === 0) return;
    this.syncing = this.syncOnce(repairs, unsaved, done);
    try {
      await this.syncing;
    } finally {
      this.syncing = null;
    }
  }

  private async syncOnce(repairs: NonNullable<BackfillOptions['repairs']>, unsaved: PendingWork[], done: string[]): Promise<void> {
    try {
      if (unsaved.length > 0) {
        for (const w of unsaved) w.saved = true;
        const rows: PendingRepair[] = unsaved.map((w) => ({ id: w.id, exchange: w.exchange, symbol: w.symbol, timeframe: w.timeframe, first: w.first, last: w.last }));
        try {
          await repairs.store.saveRepairs(rows);
        } catch (err) {
          for (const w of unsaved) w.saved = false;
          throw err;
        }
      }
      if (done.length > 0 && (await repairs.written())) {
        await repairs.store.removeRepairs(done);
        this.done = this.done.filter((id) => !done.includes(id));
      }
    } catch (err) {
      const suppressed = this.syncLog.take('sync');
      if (suppressed >= 0) this.o.log.warn({ err, suppressed }, 'pending repairs could not be stored; kept in memory and tried again');
    }
  }

  get pending(): number {
    return this.work.length;
  }

  /** What the backfiller has counted, over every exchange. */
  status(): BackfillStatus {
    let candles = 0;
    let runsOk = 0;
    let runsFailed = 0;
    for (const c of this.counts.values()) {
      runsOk += c.ok.value;
      runsFailed += c.error.value;
      for (const n of c.candles.values()) candles += n.value;
    }
    return { candles, runsOk, runsFailed, pending: this.work.length };
  }

  onGap = (g: GapEvent): void => {
    const source = this.o.sources.get(g.exchange);
    if (!source) return;
    for (const tf of this.timeframes) {
      if (!source.adapter.klineTimeframes.includes(tf)) continue;
      const ms = timeframeMs(tf);
      const first = periodStart(g.from, ms);
      const last = periodStart(g.to, ms);
      const same = this.work.find((w) => w.exchange === g.exchange && w.symbol === g.symbol && w.timeframe === tf && w.attempts === 0 && w.partial === 0 && first <= w.last + ms && last >= w.first - ms);
      if (same) {
        if (first < same.first || last > same.last) same.saved = false;
        same.first = Math.min(same.first, first);
        same.last = Math.max(same.last, last);
        same.readyAt = same.last + ms + this.o.graceMs + this.settleMs;
      } else {
        this.work.push({ id: randomUUID(), saved: false, exchange: g.exchange, symbol: g.symbol, timeframe: tf, first, last, readyAt: last + ms + this.o.graceMs + this.settleMs, attempts: 0, partial: 0 });
      }
    }
    this.o.metrics.candles.backfillPending.labels(g.exchange).set(this.countFor(g.exchange));
    void this.sync();
  };

  /**
   * Runs every piece of work whose periods have closed, as one `backfill` job run. When an exchange fails,
   * its remaining due work is postponed with the same backoff instead of failing once per item.
   */
  async runDue(now: number = this.o.clock.now()): Promise<void> {
    if (this.running) return;
    // (two passes: dropUnreachable may remove work from this.work)
    const due = this.work.filter((x) => x.readyAt <= now).filter((x) => this.dropUnreachable(x, now));
    if (due.length === 0) return;
    const breaker = this.o.breaker;
    if (breaker && breaker.state === 'open' && !breaker.tryAcquire()) {
      this.holdWhileOpen(due, breaker);
      return;
    }
    this.running = true;
    try {
      await (this.inFlight = runJob('backfill', { clock: this.o.clock, metrics: this.o.metrics.jobs, log: this.o.log, tracing: this.o.tracing }, async () => {
        const failed = new Map<string, unknown>();
        for (const w of due) {
          const err = failed.get(w.exchange);
          if (err !== undefined) this.postpone(w);
          else if (breaker && !breaker.tryAcquire()) {
            if (breaker.state === 'open') w.readyAt = breaker.retryAt; // else half-open: retried on the next check
          } else {
            const error = await this.fill(w);
            if (error !== undefined) failed.set(w.exchange, error);
          }
        }
        if (failed.size > 0) {
          const [exchange, err] = [...failed][0]!;
          throw new Error(`backfill from ${exchange} failed; will retry: ${(err as Error)?.message ?? String(err)}`, { cause: err });
        }
      }));
    } finally {
      this.running = false;
      this.inFlight = null;
    }
  }

  /** Fetches and applies one piece of work; returns the error if it failed (the work is then postponed). */
  private async fill(w: PendingWork): Promise<unknown> {
    const source = this.o.sources.get(w.exchange)!;
    const { metrics, log, engine } = this.o;
    const counts = this.countsOf(w.exchange);
    const ms = timeframeMs(w.timeframe);
    try {
      const klines = await source.adapter.fetchKlines(source.rest, source.endpoints, w.symbol, w.timeframe, w.first, w.last + ms - 1);
      let applied = 0;
      const received = new Set<number>();
      for (const k of klines) {
        if (k.openTime < w.first || k.openTime > w.last) continue;
        received.add(k.openTime);
        if (engine.applyBackfill(klineToCandle({ ...k, closed: true }, 'backfill'))) applied++;
      }
      this.o.breaker?.success();
      this.candleCounter(counts, w).inc(applied);
      counts.ok.inc();
      const asked = (w.last - w.first) / ms + 1;
      const ctx = { exchange: w.exchange, symbol: w.symbol, timeframe: w.timeframe, from: w.first, to: w.last, asked, received: received.size, candles: applied };
      if (received.size < asked) {
        let firstMissing = Number.POSITIVE_INFINITY;
        let lastMissing = Number.NEGATIVE_INFINITY;
        for (let t = w.first; t <= w.last; t += ms) {
          if (received.has(t)) continue;
          if (t < firstMissing) firstMissing = t;
          lastMissing = t;
        }
        if (w.partial < PARTIAL_RETRIES) {
          log.warn({ ...ctx, retry: { from: firstMissing, to: lastMissing } }, 'gap partly backfilled: the exchange returned fewer periods than asked; the rest is asked again');
          w.partial++;
          w.first = firstMissing;
          w.last = lastMissing;
          w.saved = false;
          w.readyAt = this.o.clock.now() + backoffDelay(w.partial - 1, { initialMs: 5_000, maxMs: 60_000 });
          return undefined;
        }
        log.warn({ ...ctx, missing: asked - received.size }, 'gap partly backfilled: the exchange has no kline for some periods after retries; they stay marked as gaps');
      } else {
        log.info(ctx, 'gap backfilled');
      }
      this.finish(w);
      return undefined;
    } catch (err) {
      this.o.breaker?.failure(err);
      metrics.feed.collectorErrors.labels(w.exchange, 'backfill').inc();
      this.postpone(w);
      return err ?? new Error('unknown error');
    }
  }

  /**
   * Counts and drops the periods of `w` older than the exchange's REST history reaches (they would come back
   * empty, and a retry cannot change that). Returns false when nothing of `w` is left to fetch (it is then
   * removed from the pending work).
   */
  private dropUnreachable(w: PendingWork, now: number): boolean {
    const depth = this.o.sources.get(w.exchange)!.adapter.klineHistoryPeriods;
    if (depth === undefined) return true;
    const ms = timeframeMs(w.timeframe);
    const oldest = periodStart(now, ms) - (depth - 1) * ms;
    if (w.first >= oldest) return true;
    const lost = (Math.min(w.last, oldest - ms) - w.first) / ms + 1;
    this.o.metrics.candles.backfillUnrecoverable.labels(w.exchange, w.timeframe).inc(lost);
    this.o.log.warn(
      { exchange: w.exchange, symbol: w.symbol, timeframe: w.timeframe, from: w.first, to: Math.min(w.last, oldest - ms), periods: lost, historyPeriods: depth },
      `gap ${w.last < oldest ? 'entirely' : 'partly'} unrecoverable: ${w.exchange} serves only its ${depth} most recent ${w.timeframe} klines; older periods stay marked as gaps`,
    );
    if (w.last < oldest) {
      this.finish(w);
      return false;
    }
    w.first = oldest;
    w.saved = false;
    return true;
  }

  /** The breaker is open: no request is made; the due work waits for the end of the open period. */
  private holdWhileOpen(due: PendingWork[], breaker: CircuitBreaker): void {
    const retryAt = breaker.retryAt;
    for (const w of due) w.readyAt = Math.max(w.readyAt, retryAt);
    this.o.log.warn({ pending: this.work.length, held: due.length, retryAt: new Date(retryAt).toISOString() }, 'backfill paused: the backfill_rest circuit is open; pending work waits and is retried when it half-opens');
  }

  /** Work done (or nothing of it left to fetch): out of the pending work; its stored row goes at the next sync. */
  private finish(w: PendingWork): void {
    this.work.splice(this.work.indexOf(w), 1);
    if (this.o.repairs) this.done.push(w.id);
    this.o.metrics.candles.backfillPending.labels(w.exchange).set(this.countFor(w.exchange));
  }

  private postpone(w: PendingWork): void {
    this.countsOf(w.exchange).error.inc();
    w.readyAt = this.o.clock.now() + backoffDelay(w.attempts++, { initialMs: 5_000, maxMs: 300_000 });
  }

  private countsOf(exchange: ExchangeId): Counts {
    let c = this.counts.get(exchange);
    if (!c) {
      const { hot, backfillRuns } = this.o.metrics.candles;
      c = { ok: hot.backfillRuns.counter(backfillRuns, exchange, 'ok'), error: hot.backfillRuns.counter(backfillRuns, exchange, 'error'), candles: new Map() };
      this.counts.set(exchange, c);
    }
    return c;
  }

  private candleCounter(c: Counts, w: PendingWork): HotCounter {
    let n = c.candles.get(w.timeframe);
    if (!n) {
      const { hot, backfillCandles } = this.o.metrics.candles;
      c.candles.set(w.timeframe, (n = hot.backfillCandles.counter(backfillCandles, w.exchange, w.timeframe)));
      // A successful fill exposes its series even when it replaced nothing (at 0), as an inc(0) on the metric did.
      backfillCandles.labels(w.exchange, w.timeframe).inc(0);
    }
    return n;
  }

  private countFor(exchange: ExchangeId): number {
    return this.work.reduce((n, w) => n + (w.exchange === exchange ? 1 : 0), 0);
  }
}
