/** Exponential moving average of closes, alpha = 2 / (period + 1), seeded with the SMA of the first `period` closes. */
import type { IndicatorValues } from '../../core/types.js';
import { ValueRecord, type Bar, type StreamingIndicator } from './indicator.js';
import { SeededAverage } from './seeded-average.js';

export class Ema implements StreamingIndicator {
  readonly kind = 'ema';
  declare readonly name: string;
  declare readonly warmup: number;
  /** `declare`d and set once in the constructor, so V8 knows the field's class (no map check per update). */
  declare private readonly avg: SeededAverage;
  /** The records `next` and `peek` return, reused (see StreamingIndicator). */
  private readonly nextOut = new ValueRecord();
  private readonly peekOut = new ValueRecord();

  constructor(readonly period: number) {
    this.name = `ema${period}`;
    this.warmup = period;
    this.avg = SeededAverage.ema(period);
  }

  /** Once seeded, the value goes straight from `step` into the record (an unboxed double, see SeededAverage). */
  next(bar: Bar): IndicatorValues | null {
    const avg = this.avg;
    if (avg.seeded) {
      this.nextOut.value = avg.step(bar.close);
      return this.nextOut;
    }
    const v = avg.next(bar.close);
    if (v === undefined) return null;
    this.nextOut.value = v;
    return this.nextOut;
  }

  peek(bar: Bar): IndicatorValues | null {
    const avg = this.avg;
    if (avg.seeded) {
      this.peekOut.value = avg.peekStep(bar.close);
      return this.peekOut;
    }
    const v = avg.peek(bar.close);
    if (v === undefined) return null;
    this.peekOut.value = v;
    return this.peekOut;
  }
}
