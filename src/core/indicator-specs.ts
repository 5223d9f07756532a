/**
 * Which indicators run, with which periods: the parsed `indicators:` config section and its defaults. Pure
 * data, so config can validate it without importing the indicator implementations (src/pipeline/indicators/).
 */
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

/**
 * Closed candles an indicator needs before its first complete value (every output, MACD's signal line
 * included). Each implementation's `warmup` agrees (test/config-schema.test.ts checks it).
 */
export function indicatorWarmup(spec: IndicatorSpec): number {
  switch (spec.kind) {
    case 'sma':
    case 'ema':
    case 'bollinger':
      return spec.period;
    case 'rsi':
    case 'atr':
      return spec.period + 1;
    case 'macd':
      return spec.slow + spec.signal;
    case 'vwap':
      return 1;
  }
}

/** Closed candles the slowest indicator needs before its first complete value. */
export function longestWarmup(specs: readonly IndicatorSpec[]): number {
  return Math.max(1, ...specs.map(indicatorWarmup));
}
