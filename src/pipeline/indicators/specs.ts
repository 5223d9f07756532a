/** Which indicators run, with which periods: the parsed `indicators:` config section, and the factory. */
import { Atr } from './atr.js';
import { Bollinger } from './bollinger.js';
import { Ema } from './ema.js';
import type { StreamingIndicator } from './indicator.js';
import { Macd } from './macd.js';
import { Rsi } from './rsi.js';
import { Sma } from './sma.js';
import { Vwap } from './vwap.js';

export type IndicatorSpec =
  | { kind: 'sma' | 'ema' | 'rsi' | 'atr'; period: number }
  | { kind: 'macd'; fast: number; slow: number; signal: number }
  | { kind: 'bollinger'; period: number; stdDev: number }
  | { kind: 'vwap' };

export interface IndicatorsConfig {
  enabled: boolean;
  /** Also compute (and publish, not store) the values over the forming candle. */
  forming: boolean;
  /** Closed candles kept per series: warm-up after a restart and replay after a correction. */
  history: number;
  specs: IndicatorSpec[];
}

export const DEFAULT_INDICATOR_SPECS: readonly IndicatorSpec[] = [
  { kind: 'sma', period: 20 },
  { kind: 'ema', period: 20 },
  { kind: 'rsi', period: 14 },
  { kind: 'macd', fast: 12, slow: 26, signal: 9 },
  { kind: 'bollinger', period: 20, stdDev: 2 },
  { kind: 'atr', period: 14 },
  { kind: 'vwap' },
];

export function defaultIndicatorsConfig(): IndicatorsConfig {
  return { enabled: true, forming: true, history: 500, specs: DEFAULT_INDICATOR_SPECS.map((s) => ({ ...s })) };
}

export function createIndicator(spec: IndicatorSpec): StreamingIndicator {
  switch (spec.kind) {
    case 'sma':
      return new Sma(spec.period);
    case 'ema':
      return new Ema(spec.period);
    case 'rsi':
      return new Rsi(spec.period);
    case 'atr':
      return new Atr(spec.period);
    case 'macd':
      return new Macd(spec.fast, spec.slow, spec.signal);
    case 'bollinger':
      return new Bollinger(spec.period, spec.stdDev);
    case 'vwap':
      return new Vwap();
  }
}

export function createIndicators(specs: readonly IndicatorSpec[]): StreamingIndicator[] {
  return specs.map(createIndicator);
}

/** Series names of a configuration, in order (`sma20`, `macd12_26_9`, ...). */
export function indicatorNames(specs: readonly IndicatorSpec[]): string[] {
  return createIndicators(specs).map((i) => i.name);
}

/** Closed candles the slowest indicator needs before its first complete value. */
export function longestWarmup(specs: readonly IndicatorSpec[]): number {
  return Math.max(1, ...specs.map((s) => (s.kind === 'macd' ? s.slow + s.signal : createIndicator(s).warmup)));
}

