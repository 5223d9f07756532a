/**
 * The feature engine on a role's local bus: every `close` candle event -> one feature vector
 * (features.ts, O(1) per candle), handed to its listeners (the LiveHub pushes it on /ws) and batched into the
 * store's `features` table every flush interval. Warmed up at start from the last stored closed candles of
 * every series, so vectors are complete right after a restart. Corrections of closed candles are not
 * recomputed (the vector of a corrected candle keeps its first values; see ARCHITECTURE.md "Features").
 *
 * Metrics: candlestack_features_calculated_total{timeframe} and
 * candlestack_feature_calculation_duration_seconds, one clock read pair per closed candle (never per trade).
 */
import { performance } from 'node:perf_hooks';
import type { Clock, Timer } from '../core/clock.js';
import type { Service } from '../core/service.js';
import { timeframeMs, type Timeframe } from '../core/timeframe.js';
import type { CandleEvent } from '../core/types.js';
import type { ExchangeId } from '../core/exchange-id.js';
import type { AssistantStore, FeatureRow } from '../store/assistant-store.js';
import type { CandleQuery } from '../store/store.js';
import type { Candle } from '../core/types.js';
import type { Logger } from '../telemetry/logger.js';
import type { AssistantMetrics } from '../telemetry/metrics.js';
import { FeatureCalculator, type FeatureVector } from './features.js';

export interface SeriesKey {
  exchange: ExchangeId;
  symbol: string;
  timeframe: Timeframe;
}

export interface FeatureEngineOptions {
  store: { query(q: CandleQuery): Promise<Candle[]>; assistant?: AssistantStore };
  clock: Clock;
  metrics: Pick<AssistantMetrics, 'featuresCalculated' | 'featureCalculationDuration'>;
  log: Logger;
  timeframes: readonly Timeframe[];
  flushMs?: number;
  /** Closed candles replayed per series at warm-up. */
  warmupCandles?: number;
}

/** Rows kept across failed writes at most (the oldest go first). */
const MAX_PENDING = 100_000;

export type FeatureListener = (v: FeatureVector) => void;

export class FeatureEngine implements Service {
  readonly name = 'features';
  private readonly calc = new FeatureCalculator();
  private readonly latestByKey = new Map<string, FeatureVector>();
  private readonly listeners: FeatureListener[] = [];
  private pending: FeatureRow[] = [];
  private timer: Timer | null = null;
  private readonly counters;

  constructor(private readonly o: FeatureEngineOptions) {
    this.counters = new Map(o.timeframes.map((tf) => [tf, o.metrics.featuresCalculated.labels(tf)]));
    for (const c of this.counters.values()) c.inc(0);
  }

  onFeature(listener: FeatureListener): void {
    this.listeners.push(listener);
  }

  /** The latest vector of a series (a FeatureLookup for the decision service). */
  latest = (exchange: ExchangeId, symbol: string, timeframe: Timeframe): FeatureVector | null => this.latestByKey.get(`${exchange}|${symbol}|${timeframe}`) ?? null;

  onCandle = (e: CandleEvent): void => {
    if (e.kind !== 'close') return;
    const c = e.candle;
    const t0 = performance.now();
    const v = this.calc.next(c, timeframeMs(c.timeframe));
    if (!v) return;
    this.o.metrics.featureCalculationDuration.observe((performance.now() - t0) / 1000);
    (this.counters.get(c.timeframe) ?? this.o.metrics.featuresCalculated.labels(c.timeframe)).inc();
    this.latestByKey.set(`${c.exchange}|${c.symbol}|${c.timeframe}`, v);
    if (this.o.store.assistant) this.pending.push(v);
    for (const l of this.listeners) l(v);
  };

  /**
   * Creates every series' state (allocated up front, so the heap does not grow as each timeframe closes for
   * the first time) and replays the last stored closed candles of each (nothing is published nor stored).
   */
  async warmUp(keys: readonly SeriesKey[], now: number): Promise<void> {
    this.calc.prepare(keys);
    let total = 0;
    const limit = this.o.warmupCandles ?? 300;
    const series = await Promise.all(keys.map((k) => this.o.store.query({ ...k, to: now, limit })));
    // Oldest first across series, so the cross-exchange spread sees its peers in time order.
    const all = series.flat().filter((c) => c.closed).sort((a, b) => a.openTime - b.openTime);
    for (const c of all) {
      const v = this.calc.next(c, timeframeMs(c.timeframe));
      if (v) {
        this.latestByKey.set(`${c.exchange}|${c.symbol}|${c.timeframe}`, v);
        total++;
      }
    }
    if (total > 0) this.o.log.info({ candles: total, series: keys.length }, 'features warmed up from stored candles');
  }

  start(): void {
    this.timer = this.o.clock.setInterval(() => void this.flush(), this.o.flushMs ?? 1000);
  }

  async flush(): Promise<void> {
    const store = this.o.store.assistant;
    if (!store || this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    try {
      await store.upsertFeatures(batch);
    } catch (err) {
      this.o.log.error({ err, rows: batch.length }, 'feature write failed; rows kept for the next flush');
      this.pending = batch.concat(this.pending).slice(-MAX_PENDING);
    }
  }

  async stop(): Promise<void> {
    this.timer?.cancel();
    this.timer = null;
    await this.flush();
  }
}
