/**
 * The read API's cache. A route describes a request as a `ReadPlan` (its series, the open-time range, a key
 * made of the parsed parameters, and how to load the body from the store); `ReadCache.serve` answers it:
 *
 * - cacheable only when the range is closed and settled: `to` is given and its period ended at least
 *   `settleMs` ago (the forming candle is never cached), no correction in the range arrived within the last
 *   `settleMs` (the store's writer may not have written it yet), and every candle of the body is closed;
 * - a hit sends the cached text as it is (the same bytes on every instance); a miss loads from the store,
 *   sends, then stores the text unless a correction of the series arrived meanwhile;
 * - any cache failure (Redis down, slow, breaker open) is a miss answered from the store, never an error.
 *
 * Invalidation: a `correction` candle or indicator event (late trade, REST backfill), or a `close` of a
 * period old enough to have been cached, drops exactly the entries of that series whose range contains the
 * event's open time. Events are batched per series in a microtask (a backfill corrects many candles at once).
 * Every serve instance receives the same events (the local bus, or the Kafka import), so every instance drops
 * the same keys. Hits, misses, invalidated keys, evictions, size, errors and latency: catalogue/cache.ts.
 */
import type { ServerResponse } from 'node:http';
import type { Clock } from '../../core/clock.js';
import type { ExchangeId } from '../../core/exchange-id.js';
import { timeframeMs, type Timeframe } from '../../core/timeframe.js';
import type { CandleEvent, IndicatorEvent } from '../../core/types.js';
import type { Logger } from '../../telemetry/logger.js';
import type { CacheMetrics } from '../../telemetry/metrics.js';
import { sendMaybeCompressed } from '../compress.js';
import type { CacheBackend } from './backend.js';

export interface ReadPlan<B = unknown> {
  exchange: ExchangeId;
  symbol: string;
  timeframe: Timeframe;
  /** Inclusive open-time bounds as the request gave them (undefined: open). */
  from?: number | undefined;
  to?: number | undefined;
  /** Everything else that shapes the body (limit, names, ...), already parsed and canonical. */
  variant: string;
  load(): Promise<B>;
  /** Whether a loaded body may be cached (e.g. every candle in it closed); default yes. */
  cacheableBody?(body: B): boolean;
}

export type PlanRoute = (url: URL) => ReadPlan;

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

export interface ReadCacheOptions {
  backend: CacheBackend;
  clock: Clock;
  metrics: CacheMetrics;
  log: Logger;
  ttlMs: number;
  settleMs: number;
}

export class ReadCache {
  /** Bumped by every invalidation of a series: a load that saw another generation does not store its body. */
  private readonly generation = new Map<string, number>();
  /** Recent corrections per series (open time, when it arrived), for the settle window. */
  private readonly recent = new Map<string, { t: number; at: number }[]>();
  private readonly pending = new Map<string, Set<number>>();
  private flushing = false;
  private readonly children = new Map<string, { hit: { inc(): void }; miss: { inc(): void } }>();

  constructor(private readonly o: ReadCacheOptions) {
    o.metrics.cacheSize.set(0);
    o.metrics.cacheEvictions.inc(0);
    o.metrics.cacheInvalidations.inc(0);
    // Read at scrape time (prom-client calls a metric's collect() before serializing it).
    (o.metrics.cacheSize as unknown as { collect: () => void }).collect = () => o.metrics.cacheSize.set(o.backend.sizeBytes());
  }

  get kind(): string {
    return this.o.backend.kind;
  }

  /** Wraps a route that describes its reads as plans into a handler that answers through the cache. */
  route(name: string, plan: PlanRoute): (url: URL, res: ServerResponse) => Promise<void> {
    return (url, res) => this.serve(name, plan(url), res);
  }

  async serve(route: string, plan: ReadPlan, res: ServerResponse): Promise<void> {
    const series = `${plan.exchange}|${plan.symbol}|${plan.timeframe}`;
    const from = plan.from ?? null;
    const to = plan.to;
    const cacheable = to !== undefined && this.settled(series, plan.timeframe, from, to);
    if (!cacheable) return send(res, JSON.stringify(await plan.load()), null);
    const key = `${route}|${series}|${from ?? ''}|${to}|${plan.variant}`;
    const c = this.counters(route);
    let cached: string | null = null;
    const timeGet = this.o.metrics.cacheOperationDuration.startTimer({ operation: 'get' });
    try {
      cached = await this.o.backend.get(key);
    } catch {
      // counted by the backend's link; answered from the store
    } finally {
      timeGet();
    }
    if (cached !== null) {
      c.hit.inc();
      return send(res, cached, 'hit');
    }
    c.miss.inc();
    const gen = this.generation.get(series) ?? 0;
    const body = await plan.load();
    const text = JSON.stringify(body);
    send(res, text, 'miss');
    if (plan.cacheableBody && !plan.cacheableBody(body)) return;
    if ((this.generation.get(series) ?? 0) !== gen || !this.settled(series, plan.timeframe, from, to)) return;
    const timeSet = this.o.metrics.cacheOperationDuration.startTimer({ operation: 'set' });
    this.o.backend.set(key, text, { series, from, to }, this.o.ttlMs).then(() => timeSet(), () => timeSet());
  }

  /** The candle events of the local bus (run/demo: the pipeline's; serve: the Kafka import's). */
  onCandle = (e: CandleEvent): void => {
    if (e.kind === 'update') return;
    const c = e.candle;
    if (e.kind === 'close' && c.openTime + timeframeMs(c.timeframe) + this.o.settleMs > this.o.clock.now()) return; // fresh: never cached
    this.invalidate(`${c.exchange}|${c.symbol}|${c.timeframe}`, c.openTime);
  };

  onIndicator = (e: IndicatorEvent): void => {
    if (e.kind !== 'correction') return;
    this.invalidate(`${e.exchange}|${e.symbol}|${e.timeframe}`, e.openTime);
  };

  /** Drops (soon) the cached ranges of `series` that contain `openTime`. */
  invalidate(series: string, openTime: number): void {
    const now = this.o.clock.now();
    this.generation.set(series, (this.generation.get(series) ?? 0) + 1);
    let r = this.recent.get(series);
    if (!r) this.recent.set(series, (r = []));
    r.push({ t: openTime, at: now });
    let p = this.pending.get(series);
    if (!p) this.pending.set(series, (p = new Set()));
    p.add(openTime);
    if (!this.flushing) {
      this.flushing = true;
      queueMicrotask(() => void this.flush());
    }
  }

  /** Resolves once the queued invalidations reached the backend (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.flushing || this.pending.size > 0) await new Promise((r) => setImmediate(r));
  }

  private async flush(): Promise<void> {
    try {
      while (this.pending.size > 0) {
        const batch = [...this.pending];
        this.pending.clear();
        for (const [series, times] of batch) {
          const timeInvalidate = this.o.metrics.cacheOperationDuration.startTimer({ operation: 'invalidate' });
          try {
            const dropped = await this.o.backend.invalidate(series, [...times].sort((a, b) => a - b));
            if (dropped > 0) this.o.metrics.cacheInvalidations.inc(dropped);
          } catch (err) {
            // Redis unreachable: its entries expire by TTL; the settle window keeps the corrected range out meanwhile.
            this.o.log.warn({ err, series }, 'cache invalidation failed');
          } finally {
            timeInvalidate();
          }
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /** The range's last period ended settleMs ago and no correction inside it arrived within settleMs. */
  private settled(series: string, timeframe: Timeframe, from: number | null, to: number): boolean {
    const now = this.o.clock.now();
    if (to + timeframeMs(timeframe) + this.o.settleMs > now) return false;
    const r = this.recent.get(series);
    if (!r) return true;
    const live = r.filter((x) => x.at + this.o.settleMs > now);
    if (live.length === 0) this.recent.delete(series);
    else if (live.length !== r.length) this.recent.set(series, live);
    return !live.some((x) => x.t >= (from ?? -Infinity) && x.t <= to);
  }

  private counters(route: string) {
    let c = this.children.get(route);
    if (!c) this.children.set(route, (c = { hit: this.o.metrics.cacheHits.labels(route), miss: this.o.metrics.cacheMisses.labels(route) }));
    return c;
  }
}

function send(res: ServerResponse, text: string, cache: 'hit' | 'miss' | null): void {
  sendMaybeCompressed(res, 200, cache ? { ...JSON_HEADERS, 'x-cache': cache } : JSON_HEADERS, text);
}
