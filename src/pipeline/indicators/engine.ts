/**
 * The indicator engine: every configured indicator for every exchange/symbol/timeframe series, fed by candle
 * events and publishing `indicator` events.
 *
 * - `close`: each indicator commits the candle (O(1)); one `close` event carries all of the series' values.
 * - `update` (forming candle, when `forming` is on): each indicator peeks, nothing is committed; `update` event.
 * - `correction` (a late trade or a REST backfill amended a closed candle): the candle is replaced in the series'
 *   history of the last `history` closed candles and the indicators are rebuilt by replaying that history; every
 *   value from the corrected candle on is re-published as a `correction`. Corrections arriving together (a
 *   backfill batch) are replayed once. A correction older than the history is counted (`too_old`) and ignored.
 * - Warm-up: after a restart `warmUp` replays the last `history` stored closed candles of each series without
 *   publishing, so values continue where they stopped.
 */
import { performance } from 'node:perf_hooks';
import type { Candle, CandleEvent, IndicatorEvent, IndicatorEventKind, IndicatorValues } from '../../core/types.js';
import type { Timeframe } from '../../core/timeframe.js';
import type { CandleQuery } from '../../store/store.js';
import type { Logger } from '../../telemetry/logger.js';
import type { IndicatorMetrics } from '../../telemetry/metrics.js';
import { toBar, type Bar, type IndicatorKind, type StreamingIndicator } from './indicator.js';
import { createIndicators, type IndicatorSpec } from './specs.js';
import { BarHistory } from './bar-history.js';
import type { ExchangeId } from '../../core/exchange-id.js';

export interface IndicatorEngineOptions {
  specs: readonly IndicatorSpec[];
  /** Publish values over the forming candle too. */
  forming: boolean;
  /** Closed candles kept per series for warm-up and correction replay. */
  history: number;
  metrics: IndicatorMetrics;
  log: Logger;
  emit: (event: IndicatorEvent) => void;
  /**
   * Compute forming values only for the series `setWatched` says someone watches live. In run/demo the /ws
   * clients are their only readers (they are not stored): computing them for every series at every tick was
   * most of the indicators' cost at 2,000 symbols. The process role computes them all (serve's /ws clients
   * are not known to it).
   */
  formingWatchedOnly?: boolean;
}

export interface SeriesKey {
  exchange: ExchangeId;
  symbol: string;
  timeframe: Timeframe;
}

interface Series extends SeriesKey {
  indicators: StreamingIndicator[];
  /** Closed candles, oldest first, at most `history`. */
  bars: BarHistory;
  last: number;
  /** Earliest corrected open time waiting for a replay. */
  replayFrom: number | null;
}

interface KindMetrics {
  duration: { observe(v: number): void };
  features: { inc(): void };
}

export class IndicatorEngine {
  private readonly series = new Map<string, Series>();
  /** Series watched live (formingWatchedOnly), by seriesKey. */
  private readonly watched = new Set<string>();
  private readonly pending = new Set<Series>();
  private scheduled = false;
  private readonly m: Map<IndicatorKind, KindMetrics>;
  private readonly replayed;
  private readonly tooOld;

  constructor(private readonly o: IndicatorEngineOptions) {
    this.m = new Map(
      o.specs.map((s) => [s.kind, { duration: o.metrics.indicatorCalculationDuration.labels(s.kind), features: o.metrics.indicatorValuesCalculated.labels(s.kind) }]),
    );
    this.replayed = o.metrics.indicatorRecalculations.labels('replayed');
    this.tooOld = o.metrics.indicatorRecalculations.labels('too_old');
  }

  /** Indicator names, in configuration order. */
  get names(): string[] {
    return createIndicators(this.o.specs).map((i) => i.name);
  }

  /** A series gained its first live subscriber (true) or lost its last one (false). */
  setWatched(exchange: ExchangeId, symbol: string, timeframe: Timeframe, watched: boolean): void {
    const key = seriesKey({ exchange, symbol, timeframe });
    if (watched) this.watched.add(key);
    else this.watched.delete(key);
  }

  onCandle = (e: CandleEvent): void => {
    const c = e.candle;
    // nobody reads this series' forming values (a pending correction replay still runs in its microtask)
    if (e.kind === 'update' && this.o.formingWatchedOnly && !this.watched.has(seriesKey(c))) return;
    const s = this.get(c);
    if (e.kind === 'correction') return this.correct(s, c);
    // A pending replay (corrections just before) runs first, so values stay in candle order.
    if (s.replayFrom !== null) this.replay(s);
    if (e.kind === 'close') {
      if (c.openTime > s.last) this.commit(s, toBar(c), 'close');
      else this.correct(s, c);
    } else if (this.o.forming && c.openTime > s.last) {
      this.publish(s, 'update', c.openTime, this.compute(s.indicators, toBar(c), true, true));
    }
  };

  /**
   * Seeds series from stored candles (oldest first, closed ones only) without publishing anything.
   * Call before live candles flow. Returns the number of candles replayed.
   */
  async warmUp(store: { query(q: CandleQuery): Promise<Candle[]> }, keys: readonly SeriesKey[], now: number): Promise<number> {
    let total = 0;
    for (const k of keys) {
      const candles = (await store.query({ ...k, to: now, limit: this.o.history })).filter((c) => c.closed);
      const s = this.get(k);
      for (const c of candles) {
        if (c.openTime <= s.last) continue;
        const bar = toBar(c);
        this.remember(s, bar);
        this.compute(s.indicators, bar, false, false);
        s.last = c.openTime;
      }
      total += candles.length;
    }
    if (total > 0) this.o.log.info({ candles: total, series: keys.length }, 'indicators warmed up from stored candles');
    return total;
  }

  /** Runs pending correction replays now (they otherwise run in a microtask, or before the series' next event). */
  flush(): void {
    this.scheduled = false;
    for (const s of this.pending) if (s.replayFrom !== null) this.replay(s);
    this.pending.clear();
  }

  private commit(s: Series, bar: Bar, kind: IndicatorEventKind): void {
    this.remember(s, bar);
    s.last = bar.openTime;
    this.publish(s, kind, bar.openTime, this.compute(s.indicators, bar, false, true));
  }

  private correct(s: Series, c: Candle): void {
    const bar = toBar(c);
    const bars = s.bars;
    if (bars.length === 0 || c.openTime > s.last) return this.commit(s, bar, 'close');
    if (c.openTime < bars.openTimeAt(0) && bars.length >= this.o.history) {
      this.tooOld.inc();
      this.o.log.debug({ exchange: s.exchange, symbol: s.symbol, timeframe: s.timeframe, openTime: c.openTime }, 'correction older than the indicator history ignored');
      return;
    }
    let i = bars.length - 1;
    while (i >= 0 && bars.openTimeAt(i) > c.openTime) i--;
    if (i >= 0 && bars.openTimeAt(i) === c.openTime) bars.set(i, bar);
    else bars.insert(i + 1, bar);
    if (bars.length > this.o.history) bars.shift();
    s.replayFrom = Math.min(s.replayFrom ?? Number.POSITIVE_INFINITY, c.openTime);
    this.pending.add(s);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  private replay(s: Series): void {
    const from = s.replayFrom!;
    s.replayFrom = null;
    this.pending.delete(s);
    const fresh = createIndicators(this.o.specs);
    for (let i = 0; i < s.bars.length; i++) {
      const bar = s.bars.at(i);
      const values = this.compute(fresh, bar, false, false);
      if (bar.openTime >= from) this.publish(s, 'correction', bar.openTime, values);
    }
    s.indicators = fresh;
    this.replayed.inc();
  }

  private compute(indicators: readonly StreamingIndicator[], bar: Bar, peek: boolean, measure: boolean): Record<string, IndicatorValues> {
    const values: Record<string, IndicatorValues> = {};
    for (const ind of indicators) {
      const m = this.m.get(ind.kind)!;
      const t0 = measure ? performance.now() : 0;
      const v = peek ? ind.peek(bar) : ind.next(bar);
      if (measure && !peek) m.duration.observe((performance.now() - t0) / 1000);
      if (v !== null) {
        // A copy: an indicator may reuse the record it returns (StreamingIndicator), the event keeps it.
        values[ind.name] = { ...v };
        if (measure) m.features.inc();
      }
    }
    return values;
  }

  private publish(s: Series, kind: IndicatorEventKind, openTime: number, values: Record<string, IndicatorValues>): void {
    for (const _ in values) {
      this.o.emit({ type: 'indicator', kind, exchange: s.exchange, symbol: s.symbol, timeframe: s.timeframe, openTime, values });
      return;
    }
  }

  private remember(s: Series, bar: Bar): void {
    s.bars.push(bar);
    if (s.bars.length > this.o.history) s.bars.shift();
  }

  private get(k: SeriesKey): Series {
    const key = seriesKey(k);
    let s = this.series.get(key);
    if (!s) {
      s = { exchange: k.exchange, symbol: k.symbol, timeframe: k.timeframe, indicators: createIndicators(this.o.specs), bars: new BarHistory(this.o.history), last: Number.NEGATIVE_INFINITY, replayFrom: null };
      this.series.set(key, s);
    }
    return s;
  }
}

function seriesKey(k: SeriesKey): string {
  return `${k.exchange}\u0000${k.symbol}\u0000${k.timeframe}`;
}
