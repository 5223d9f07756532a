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
  declare private readonly fastAvg: SeededAverage;
  declare private readonly slowAvg: SeededAverage;
  declare private readonly signalAvg: SeededAverage;
  /**
   * The records `next` and `peek` return, reused (see StreamingIndicator): one while the signal warms up
   * (signal and histogram null), one after, whose fields only ever hold numbers (a field that has held null
   * is stored tagged, and each double written to it would allocate a heap number).
   */
  private readonly nextWarming: MacdValues = { macd: 0, signal: null, histogram: null };
  private readonly peekWarming: MacdValues = { macd: 0, signal: null, histogram: null };
  private readonly nextOut: MacdNumbers = { macd: 0.5, signal: 0.5, histogram: 0.5 };
  private readonly peekOut: MacdNumbers = { macd: 0.5, signal: 0.5, histogram: 0.5 };

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

  /**
   * Once all three averages are seeded, straight through `step` into the record: numbers only, so V8 keeps
   * them unboxed (the `number | undefined` of `next` boxes each into a heap number; see SeededAverage).
   */
  next(bar: Bar): IndicatorValues | null {
    if (this.signalAvg.seeded) {
      const macd = this.fastAvg.step(bar.close) - this.slowAvg.step(bar.close);
      const signal = this.signalAvg.step(macd);
      const out = this.nextOut;
      out.macd = macd;
      out.signal = signal;
      out.histogram = macd - signal;
      return out;
    }
    const f = this.fastAvg.next(bar.close);
    const s = this.slowAvg.next(bar.close);
    if (f === undefined || s === undefined) return null;
    const macd = f - s;
    return result(this.nextOut, this.nextWarming, macd, this.signalAvg.next(macd));
  }

  peek(bar: Bar): IndicatorValues | null {
    if (this.signalAvg.seeded) {
      const macd = this.fastAvg.peekStep(bar.close) - this.slowAvg.peekStep(bar.close);
      const signal = this.signalAvg.peekStep(macd);
      const out = this.peekOut;
      out.macd = macd;
      out.signal = signal;
      out.histogram = macd - signal;
      return out;
    }
    const f = this.fastAvg.peek(bar.close);
    const s = this.slowAvg.peek(bar.close);
    if (f === undefined || s === undefined) return null;
    const macd = f - s;
    return result(this.peekOut, this.peekWarming, macd, this.signalAvg.peek(macd));
  }
}

type MacdValues = {
  macd: number;
  signal: number | null;
  histogram: number | null;
};

type MacdNumbers = { macd: number; signal: number; histogram: number };

function result(out: MacdNumbers, warming: MacdValues, macd: number, signal: number | undefined): IndicatorValues {
  if (signal === undefined) {
    warming.macd = macd;
    return warming;
  }
  out.macd = macd;
  out.signal = signal;
  out.histogram = macd - signal;
  return out;
}
