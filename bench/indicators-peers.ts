/**
 * Bench 3: candlestack's streaming SMA/EMA/RSI/MACD/Bollinger against trading-signals and technicalindicators,
 * all three used the same way (one closed candle at a time: ours `next`, trading-signals `update(x, false)`,
 * technicalindicators `nextValue`) on the same candles. First checks the values are equal to 1e-9 (relative)
 * where the libraries share our definition (see test/indicators-reference.test.ts for which), then measures
 * candles/s per indicator.
 */
import ti from 'technicalindicators';
import { BollingerBands as TsBollinger, EMA as TsEma, MACD as TsMacd, RSI as TsRsi, SMA as TsSma } from 'trading-signals';
import type { Bar } from '../src/pipeline/indicators/indicator.js';
import { createIndicator, type IndicatorSpec } from '../src/pipeline/indicators/specs.js';
import { mulberry32 } from './workload.js';

type Values = Record<string, number | null | undefined>;
/**
 * A streaming implementation: returns a function taking one close (or bar) and returning what the library
 * returns, as a user gets it (a bare number from the peers' SMA/EMA/RSI, their own objects for MACD/Bollinger,
 * our reused record): that is what is timed. `normalize` turns it into named values for the comparison only.
 */
type Streamer = () => (bar: Bar) => unknown;

interface Case {
  name: string;
  ours: IndicatorSpec;
  /**
   * Ours as a streamer, written out per case like the peers' (each case its own call site: one shared
   * `(b) => ind.next(b)` would see all five indicator classes and go megamorphic, which the peers' per-case
   * closures do not).
   */
  candlestack: Streamer;
  tradingSignals: Streamer;
  technicalIndicators: Streamer;
  /** A peer's MACD/Bollinger object as our value names (for the comparison; default: a number is `value`). */
  normalize?: (raw: unknown) => Values | null;
  /** Which peers share our definition (compared value by value). */
  compareWith: ('trading-signals' | 'technicalindicators')[];
}

/** A BTC-like random walk of closed 1m candles. */
export function makeBars(n: number, seed = 7): Bar[] {
  const rnd = mulberry32(seed);
  const bars: Bar[] = new Array(n);
  let price = 43_000;
  for (let i = 0; i < n; i++) {
    const open = price;
    price = Math.max(1, price * (1 + (rnd() - 0.5) * 0.004));
    const close = Math.round(price * 100) / 100;
    bars[i] = { openTime: 1_700_000_000_000 + i * 60_000, open, high: Math.max(open, close) + rnd() * 5, low: Math.min(open, close) - rnd() * 5, close, volume: rnd() * 10, closeText: close.toFixed(2) };
  }
  return bars;
}

const asValues = (raw: unknown): Values | null => (raw === null || raw === undefined ? null : typeof raw === 'number' ? { value: raw } : (raw as Values));

const CASES: Case[] = [
  {
    name: 'SMA(20)',
    ours: { kind: 'sma', period: 20 },
    candlestack: () => { const ind = createIndicator({ kind: 'sma', period: 20 }); return (b) => ind.next(b) },
    tradingSignals: () => { const s = new TsSma(20); return (b) => s.update(b.close, false); },
    technicalIndicators: () => { const s = new ti.SMA({ period: 20, values: [] }); return (b) => s.nextValue(b.close); },
    compareWith: ['trading-signals', 'technicalindicators'],
  },
  {
    name: 'EMA(20)',
    ours: { kind: 'ema', period: 20 },
    candlestack: () => { const ind = createIndicator({ kind: 'ema', period: 20 }); return (b) => ind.next(b) },
    tradingSignals: () => { const s = new TsEma(20); return (b) => s.update(b.close, false); },
    technicalIndicators: () => { const s = new ti.EMA({ period: 20, values: [] }); return (b) => s.nextValue(b.close); },
    compareWith: ['technicalindicators'], // trading-signals seeds with the first close, we (and TA-Lib) with an SMA
  },
  {
    name: 'RSI(14)',
    ours: { kind: 'rsi', period: 14 },
    candlestack: () => { const ind = createIndicator({ kind: 'rsi', period: 14 }); return (b) => ind.next(b) },
    tradingSignals: () => { const s = new TsRsi(14); return (b) => s.update(b.close, false); },
    technicalIndicators: () => { const s = new ti.RSI({ period: 14, values: [] }); return (b) => s.nextValue(b.close); },
    compareWith: ['trading-signals'], // technicalindicators rounds RSI to 2 decimals
  },
  {
    name: 'MACD(12,26,9)',
    ours: { kind: 'macd', fast: 12, slow: 26, signal: 9 },
    candlestack: () => { const ind = createIndicator({ kind: 'macd', fast: 12, slow: 26, signal: 9 }); return (b) => ind.next(b) },
    tradingSignals: () => { const s = new TsMacd(new TsEma(12), new TsEma(26), new TsEma(9)); return (b) => s.update(b.close, false); },
    technicalIndicators: () => {
      const s = new ti.MACD({ values: [], fastPeriod: 12, slowPeriod: 26, signalPeriod: 9, SimpleMAOscillator: false, SimpleMASignal: false });
      return (b) => s.nextValue(b.close);
    },
    normalize: (raw) => {
      const r = raw as { MACD?: number; signal?: number; histogram?: number } | undefined;
      return r && r.signal !== undefined ? { macd: r.MACD, signal: r.signal, histogram: r.histogram } : r ? { macd: r.MACD } : null;
    },
    compareWith: ['technicalindicators'], // trading-signals' EMAs are seeded differently
  },
  {
    name: 'Bollinger(20, 2)',
    ours: { kind: 'bollinger', period: 20, stdDev: 2 },
    candlestack: () => { const ind = createIndicator({ kind: 'bollinger', period: 20, stdDev: 2 }); return (b) => ind.next(b) },
    tradingSignals: () => { const s = new TsBollinger(20, 2); return (b) => s.update(b.close, false); },
    technicalIndicators: () => { const s = new ti.BollingerBands({ period: 20, stdDev: 2, values: [] }); return (b) => s.nextValue(b.close); },
    normalize: (raw) => {
      const r = raw as { middle: number; upper: number; lower: number } | undefined;
      return r ? { middle: r.middle, upper: r.upper, lower: r.lower } : null;
    },
    compareWith: ['trading-signals', 'technicalindicators'],
  },
];

/** null when every value the reference has is equal to ours to 1e-9 relative, else the first difference. */
function compare(bars: readonly Bar[], spec: IndicatorSpec, reference: Streamer, normalize: (raw: unknown) => Values | null): string | null {
  const ours = createIndicator(spec);
  const ref = reference();
  let compared = 0;
  for (let i = 0; i < bars.length; i++) {
    const a = ours.next(bars[i]!);
    const b = normalize(ref(bars[i]!));
    if (!b) continue;
    for (const [line, want] of Object.entries(b)) {
      if (typeof want !== 'number') continue;
      const got = a?.[line];
      if (typeof got !== 'number' || Math.abs(got - want) > 1e-9 * Math.max(Math.abs(want), 1e-3)) return `bar ${i} ${line}: ${got} vs ${want}`;
      compared++;
    }
  }
  return compared > bars.length / 2 ? null : `only ${compared} values compared`;
}

export interface IndicatorPeerResult {
  name: string;
  equal: Record<string, string>;
  rates: { candlestack: number; 'trading-signals': number; technicalindicators: number };
  ratio: number;
}

/**
 * Each case: `rounds` rounds, each timing ours, trading-signals and technicalindicators once over all candles
 * (a fresh streamer each, after one untimed warm-up pass per library), interleaved so that a burst of load
 * from other work on the machine hits all three alike; each library's rate is its fastest round (load from
 * other work only ever slows a round down, so the fastest is the least disturbed reading of its own cost).
 */
export function benchIndicatorPeers(count = 50_000, rounds = 15): IndicatorPeerResult[] {
  const bars = makeBars(count);
  let sink = 0;
  const pass = (make: () => (b: Bar) => unknown): number => {
    const f = make();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < bars.length; i++) if (f(bars[i]!) != null) sink++;
    return count / (Number(process.hrtime.bigint() - t0) / 1e9);
  };
  const results = CASES.map((c) => {
    const equal: Record<string, string> = {};
    for (const peer of c.compareWith) equal[peer] = compare(bars, c.ours, peer === 'trading-signals' ? c.tradingSignals : c.technicalIndicators, (raw) => (typeof raw === 'object' && raw !== null && c.normalize && peer === 'technicalindicators' ? c.normalize(raw) : asValues(raw))) ?? 'yes';
    const streamers = [c.candlestack, c.tradingSignals, c.technicalIndicators];
    for (const s of streamers) pass(s);
    const runs: number[][] = [[], [], []];
    for (let r = 0; r < rounds; r++) streamers.forEach((s, i) => runs[i]!.push(pass(s)));
    const rates = { candlestack: Math.max(...runs[0]!), 'trading-signals': Math.max(...runs[1]!), technicalindicators: Math.max(...runs[2]!) };
    return { name: c.name, equal, rates, ratio: rates.candlestack / Math.max(rates['trading-signals'], rates.technicalindicators) };
  });
  if (sink === -1) console.log('unreachable');
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of benchIndicatorPeers()) console.log(JSON.stringify(r));
}
