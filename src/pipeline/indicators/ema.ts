/** Exponential moving average of closes, alpha = 2 / (period + 1), seeded with the SMA of the first `period` closes. */
import type { IndicatorValues } from '../../core/types.js';
import type { Bar, StreamingIndicator } from './indicator.js';
import { SeededAverage } from './seeded-average.js';

export class Ema implements StreamingIndicator {
  readonly kind = 'ema';
  readonly name: string;
  readonly warmup: number;
  private readonly avg: SeededAverage;
  /** The records `next` and `peek` return, reused (see StreamingIndicator). */
  private readonly nextOut = { value: 0 };
  private readonly peekOut = { value: 0 };

  constructor(readonly period: number) {
    this.name = `ema${period}`;
    this.warmup = period;
    this.avg = SeededAverage.ema(period);
  }

  next(bar: Bar): IndicatorValues | null {
    const v = this.avg.next(bar.close);
    if (v === undefined) return null;
    this.nextOut.value = v;
    return this.nextOut;
  }

  peek(bar: Bar): IndicatorValues | null {
    const v = this.avg.peek(bar.close);
    if (v === undefined) return null;
    this.peekOut.value = v;
    return this.peekOut;
  }
}
