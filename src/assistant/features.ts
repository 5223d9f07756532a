/**
 * The feature vector of one closed candle, computed streaming in O(1) per candle from the candle and the
 * series' indicator state (the streaming RSI, MACD, Bollinger and ATR of src/pipeline/indicators/, plus fixed
 * ring buffers). Definitions (ARCHITECTURE.md, "Features"), c = close, v = volume, t = this candle:
 *
 *   ret1, ret5, ret15  ln(c_t / c_{t-k})                                  null until k + 1 candles
 *   vol20              population std. dev. of the last 20 ret1 values    null until 21 candles
 *   rsi14              Wilder RSI(14) (src/pipeline/indicators/rsi.ts)
 *   macdHist           MACD(12, 26, 9) histogram (macd.ts)
 *   bbPctB             (c - lower) / (upper - lower) of Bollinger(20, 2); null when the bands are flat
 *   atrRatio           Wilder ATR(14) / c
 *   volumeZ20          (v_t - mean) / std over the last 20 volumes (t included, population std); 0 when std is 0
 *   vwapDistance       c / sessionVwap - 1, sessionVwap = Σ quoteVolume / Σ volume of the candles of t's UTC day
 *                      so far (t included); null while the session has no volume
 *   takerBuyRatio      takerBuyVolume / v; null when v is 0
 *   spreadBps          (c / mean(c of the other exchanges) - 1) × 1e4, over the same symbol and timeframe's last
 *                      closed candle on each other exchange opened at t or the period before; null when none
 *
 * A value is null while it warms up (never a guess); the vector itself has every name.
 */
import type { Candle } from '../core/types.js';
import type { Timeframe } from '../core/timeframe.js';
import type { ExchangeId } from '../core/exchange-id.js';
import { Atr } from '../pipeline/indicators/atr.js';
import { Bollinger } from '../pipeline/indicators/bollinger.js';
import { toBar } from '../pipeline/indicators/indicator.js';
import { Macd } from '../pipeline/indicators/macd.js';
import { Rsi } from '../pipeline/indicators/rsi.js';

export const FEATURE_NAMES = ['ret1', 'ret5', 'ret15', 'vol20', 'rsi14', 'macdHist', 'bbPctB', 'atrRatio', 'volumeZ20', 'vwapDistance', 'takerBuyRatio', 'spreadBps'] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];
export type FeatureValues = Record<FeatureName, number | null>;

/** Features of one series at one closed candle. */
export interface FeatureVector {
  readonly exchange: ExchangeId;
  readonly symbol: string;
  readonly timeframe: Timeframe;
  readonly openTime: number;
  readonly close: number;
  readonly values: FeatureValues;
}

/** Closed candles a series needs before every feature but spreadBps has a value (MACD's signal line). */
export const FEATURE_WARMUP = 34;

const DAY_MS = 86_400_000;
const WINDOW = 20;

/** A fixed ring of the last `size` numbers; mean and variance are computed over the window (constant work, no drift). */
class Ring {
  private readonly values: Float64Array;
  private count = 0;
  private head = 0;
  constructor(readonly size: number) {
    this.values = new Float64Array(size);
  }
  get full(): boolean {
    return this.count === this.size;
  }
  get length(): number {
    return this.count;
  }
  /** The value `back` pushes ago (0: the last one); undefined when not there yet. */
  at(back: number): number | undefined {
    if (back >= this.count) return undefined;
    return this.values[(this.head - 1 - back + this.size * 2) % this.size];
  }
  push(x: number): void {
    if (this.count < this.size) this.count++;
    this.values[this.head] = x;
    this.head = (this.head + 1) % this.size;
  }
  /** Population variance of the values held. */
  variance(): number {
    const mean = this.mean();
    let s = 0;
    for (let i = 0; i < this.count; i++) {
      const d = this.values[i]! - mean;
      s += d * d;
    }
    return s / this.count;
  }
  mean(): number {
    let s = 0;
    for (let i = 0; i < this.count; i++) s += this.values[i]!;
    return s / this.count;
  }
}

/** The streaming state of one series. `next` takes each closed candle once, in order. */
export class SeriesFeatures {
  private readonly closes = new Ring(16);
  private readonly returns = new Ring(WINDOW);
  private readonly volumes = new Ring(WINDOW);
  private readonly rsi = new Rsi(14);
  private readonly macd = new Macd(12, 26, 9);
  private readonly bb = new Bollinger(20, 2);
  private readonly atr = new Atr(14);
  private sessionDay = Number.NaN;
  private sessionQuote = 0;
  private sessionVolume = 0;
  /** openTime of the last candle taken. */
  last = Number.NEGATIVE_INFINITY;

  /** Features at this closed candle; `others` are the other exchanges' closes for spreadBps (empty: null). */
  next(c: Candle, others: readonly number[] = []): FeatureValues {
    this.last = c.openTime;
    const bar = toBar(c);
    const close = bar.close;
    const prev = this.closes.at(0);
    const ret = (k: number): number | null => {
      const then = this.closes.at(k - 1);
      return then === undefined ? null : Math.log(close / then);
    };
    const ret1 = ret(1);
    const ret5 = ret(5);
    const ret15 = ret(15);
    this.closes.push(close);
    if (prev !== undefined && ret1 !== null) this.returns.push(ret1);
    const volume = bar.volume;
    this.volumes.push(volume);

    const rsi = this.rsi.next(bar)?.value ?? null;
    const macdHist = this.macd.next(bar)?.histogram ?? null;
    const bands = this.bb.next(bar);
    const atr = this.atr.next(bar)?.value ?? null;

    const day = Math.floor(c.openTime / DAY_MS);
    if (day !== this.sessionDay) {
      this.sessionDay = day;
      this.sessionQuote = 0;
      this.sessionVolume = 0;
    }
    this.sessionQuote += Number(c.quoteVolume);
    this.sessionVolume += volume;

    let bbPctB: number | null = null;
    if (bands && bands.upper !== null && bands.lower !== null && bands.upper !== undefined && bands.lower !== undefined && bands.upper > bands.lower) bbPctB = (close - bands.lower) / (bands.upper - bands.lower);
    let volumeZ20: number | null = null;
    if (this.volumes.full) {
      const std = Math.sqrt(this.volumes.variance());
      volumeZ20 = std === 0 ? 0 : (volume - this.volumes.mean()) / std;
    }
    const otherMean = others.length > 0 ? others.reduce((a, b) => a + b, 0) / others.length : 0;
    return {
      ret1,
      ret5,
      ret15,
      vol20: this.returns.full ? Math.sqrt(this.returns.variance()) : null,
      rsi14: rsi,
      macdHist,
      bbPctB,
      atrRatio: atr === null ? null : atr / close,
      volumeZ20,
      vwapDistance: this.sessionVolume > 0 ? close / (this.sessionQuote / this.sessionVolume) - 1 : null,
      takerBuyRatio: volume > 0 ? Number(c.takerBuyVolume) / volume : null,
      spreadBps: others.length > 0 && otherMean > 0 ? (close / otherMean - 1) * 1e4 : null,
    };
  }
}

/** The feature state of every series seen, and the last close of each for the cross-exchange spread. */
export class FeatureCalculator {
  private readonly series = new Map<string, SeriesFeatures>();
  /** `${symbol}|${timeframe}` -> exchange -> { openTime, close } of its last closed candle. */
  private readonly lastCloses = new Map<string, Map<string, { openTime: number; close: number }>>();

  /**
   * Creates the state of these series now (~3 KB of heap each) instead of at each one's first close: the
   * 1h/4h/1d series of a market otherwise add theirs hours or a day after the start, and the heap grows
   * until the longest timeframe has closed once.
   */
  prepare(keys: readonly { exchange: string; symbol: string; timeframe: string }[]): void {
    for (const k of keys) {
      const key = `${k.exchange}|${k.symbol}|${k.timeframe}`;
      if (!this.series.has(key)) this.series.set(key, new SeriesFeatures());
      const peersKey = `${k.symbol}|${k.timeframe}`;
      if (!this.lastCloses.has(peersKey)) this.lastCloses.set(peersKey, new Map());
    }
  }

  /** Takes a closed candle; a candle not after its series' last one (a correction, a replay) gives null. */
  next(c: Candle, tfMs: number): FeatureVector | null {
    const key = `${c.exchange}|${c.symbol}|${c.timeframe}`;
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = new SeriesFeatures()));
    if (c.openTime <= s.last) return null;
    const peersKey = `${c.symbol}|${c.timeframe}`;
    let peers = this.lastCloses.get(peersKey);
    if (!peers) this.lastCloses.set(peersKey, (peers = new Map()));
    const others: number[] = [];
    for (const [exchange, p] of peers) if (exchange !== c.exchange && p.openTime >= c.openTime - tfMs && p.openTime <= c.openTime) others.push(p.close);
    const close = Number(c.close);
    const values = s.next(c, others);
    peers.set(c.exchange, { openTime: c.openTime, close });
    return { exchange: c.exchange, symbol: c.symbol, timeframe: c.timeframe, openTime: c.openTime, close, values };
  }
}
