/**
 * The streaming indicator contract. Every indicator is O(1) per update: `next(bar)` commits a closed candle and
 * returns the value at that candle (null while warming up); `peek(bar)` returns the value the indicator would
 * have if `bar` (the forming candle) closed now, without changing any state.
 */
import type { Candle, IndicatorValues } from '../../core/types.js';

export const INDICATOR_KINDS = ['sma', 'ema', 'rsi', 'macd', 'bollinger', 'atr', 'vwap'] as const;
export type IndicatorKind = (typeof INDICATOR_KINDS)[number];

/**
 * A candle as indicators see it: prices as numbers, plus the exact close text for exact window sums.
 * `close` is `Number(closeText)` (as `toBar` makes it): exact windows read the usual exchange close from the
 * number and go to the text only when the number cannot say it (see ExactWindow).
 */
export interface Bar {
  readonly openTime: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
  readonly closeText: string;
}

export interface StreamingIndicator {
  readonly kind: IndicatorKind;
  /** Series name, unique per configuration: `sma20`, `macd12_26_9`, `bb20_2`, `vwap`. */
  readonly name: string;
  /** Closed candles needed before the first value. */
  readonly warmup: number;
  /**
   * The values at `bar`, committed. The record may be one the indicator reuses (SMA, EMA, MACD do: no object
   * per update on the hot path): it is valid until the next `next` call; copy it to keep it.
   */
  next(bar: Bar): IndicatorValues | null;
  /** The values if `bar` closed now, state unchanged; like `next`'s, the record is valid until the next `peek`. */
  peek(bar: Bar): IndicatorValues | null;
}

/**
 * The `{ value }` record SMA and EMA reuse (see `next`). A class of its own, not a `{ value: 0 }` literal: a
 * literal's map is shared with every other `{ value }` literal in the process (RSI's, ATR's, VWAP's, the
 * engine's copies), and once any of them held a small integer or null the field is stored tagged, so each
 * double written to it allocated a heap number. Its field holds only doubles from the first write (0.5), so a
 * write is in place.
 */
export class ValueRecord {
  [line: string]: number;
  value = 0.5;
}

export function toBar(c: Pick<Candle, 'openTime' | 'open' | 'high' | 'low' | 'close' | 'volume'>): Bar {
  return { openTime: c.openTime, open: Number(c.open), high: Number(c.high), low: Number(c.low), close: Number(c.close), volume: Number(c.volume), closeText: c.close };
}
