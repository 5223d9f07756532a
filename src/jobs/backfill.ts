/**
 * Gap backfill: every gap (reconnect, trade-id jump, restart) names the periods it touches; once such a
 * period has closed (end + grace + settle), its kline is fetched from the exchange's REST API and replaces
 * our candle (source `backfill`, published as a correction). A failed fetch is retried with backoff.
 * Pending gaps live in memory: a restart of run/demo raises its own `startup` gap instead. Periods older than the exchange's
 * REST history reaches (`klineHistoryPeriods`) are counted as unrecoverable and not asked for.
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

  constructor(private readonly o: BackfillOptions) {
    this.timeframes = sortTimeframes(o.timeframes);
    this.settleMs = o.settleMs ?? DEFAULT_SETTLE_MS;
    // Unrecoverable periods start at an explicit 0 per exchange and timeframe, so "none lost" is a series.
    for (const [exchange, { adapter }] of o.sources) {
      for (const tf of this.timeframes) if (adapter.klineTimeframes.includes(tf)) o.metrics.candles.backfillUnrecoverable.labels(exchange, tf).inc(0);
    }
  }

  start(): void {
    this.timer = this.o.clock.setInterval(() => void this.runDue(), this.o.checkEveryMs ?? DEFAULT_CHECK_EVERY_MS);
  }

  /** Stops checking; a run in flight (REST fetches, candles replaced in the engine) finishes first. */
  async stop(): Promise<void> {
    this.timer?.cancel();
    await this.inFlight;
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
        same.first = Math.min(same.first, first);
        same.last = Math.max(same.last, last);
        same.readyAt = same.last + ms + this.o.graceMs + this.settleMs;
      } else {
        this.work.push({ exchange: g.exchange, symbol: g.symbol, timeframe: tf, first, last, readyAt: last + ms + this.o.graceMs + this.settleMs, attempts: 0, partial: 0 });
      }
    }
    this.o.metrics.candles.backfillPending.labels(g.exchange).set(this.countFor(g.exchange));
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
          w.readyAt = this.o.clock.now() + backoffDelay(w.partial - 1, { initialMs: 5_000, maxMs: 60_000 });
          return undefined;
        }
        log.warn({ ...ctx, missing: asked - received.size }, 'gap partly backfilled: the exchange has no kline for some periods after retries; they stay marked as gaps');
      } else {
        log.info(ctx, 'gap backfilled');
      }
      this.work.splice(this.work.indexOf(w), 1);
      metrics.candles.backfillPending.labels(w.exchange).set(this.countFor(w.exchange));
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
      this.work.splice(this.work.indexOf(w), 1);
      this.o.metrics.candles.backfillPending.labels(w.exchange).set(this.countFor(w.exchange));
      return false;
    }
    w.first = oldest;
    return true;
  }

  /** The breaker is open: no request is made; the due work waits for the end of the open period. */
  private holdWhileOpen(due: PendingWork[], breaker: CircuitBreaker): void {
    const retryAt = breaker.retryAt;
    for (const w of due) w.readyAt = Math.max(w.readyAt, retryAt);
    this.o.log.warn({ pending: this.work.length, held: due.length, retryAt: new Date(retryAt).toISOString() }, 'backfill paused: the backfill_rest circuit is open; pending work waits and is retried when it half-opens');
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
