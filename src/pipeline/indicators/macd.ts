/**
 * MACD (default 12/26/9): macd = EMA(fast) - EMA(slow) from the slow EMA's first value on; signal = EMA(signal)
 * of the macd line (seeded with the SMA of its first `signal` values); histogram = macd - signal. Until the
 * signal is seeded, `signal` and `histogram` are null.
 */
import type { IndicatorValues } from '../../core/types.js';
import type { Bar, StreamingIndicator } from './indicator.js';
import { SeededAverage } from './seeded-average.js';

export class Macd implements StreamingIndicator {
  readonly kind = 'macd';
  readonly name: string;
  readonly warmup: number;
  private readonly fastAvg: SeededAverage;
  private readonly slowAvg: SeededAverage;
  private readonly signalAvg: SeededAverage;
  /** The records `next` and `peek` return, reused (see StreamingIndicator). */
  private readonly nextOut: MacdValues = { macd: 0, signal: null, histogram: null };
  private readonly peekOut: MacdValues = { macd: 0, signal: null, histogram: null };

  constructor(
    readonly fast: number,
    readonly slow: number,
    readonly signal: number,
  ) {
    if (!(fast < slow)) throw new RangeError(`MACD fast period (${fast}) must be below the slow one (${slow})`);
    this.name = `macd${fast}_${slow}_${signal}`;
    this.warmup = slow;
    this.fastAvg = SeededAverage.ema(fast);
    this.slowAvg = SeededAverage.ema(slow);
    this.signalAvg = SeededAverage.ema(signal);
  }

  next(bar: Bar): IndicatorValues | null {
    const f = this.fastAvg.next(bar.close);
    const s = this.slowAvg.next(bar.close);
    if (f === undefined || s === undefined) return null;
    const macd = f - s;
    return result(this.nextOut, macd, this.signalAvg.next(macd));
  }

  peek(bar: Bar): IndicatorValues | null {
    const f = this.fastAvg.peek(bar.close);
    const s = this.slowAvg.peek(bar.close);
    if (f === undefined || s === undefined) return null;
    const macd = f - s;
    return result(this.peekOut, macd, this.signalAvg.peek(macd));
  }
}

type MacdValues = {
  macd: number;
  signal: number | null;
  histogram: number | null;
};

function result(out: MacdValues, macd: number, signal: number | undefined): IndicatorValues {
  out.macd = macd;
  if (signal === undefined) {
    out.signal = null;
    out.histogram = null;
  } else {
    out.signal = signal;
    out.histogram = macd - signal;
  }
  return out;
}
