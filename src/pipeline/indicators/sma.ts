/** Simple moving average of the last `period` closes (exact window sum, see exact-window.ts). */
import type { IndicatorValues } from '../../core/types.js';
import { ExactWindow } from './exact-window.js';
import { ValueRecord, type Bar, type StreamingIndicator } from './indicator.js';

export class Sma implements StreamingIndicator {
  readonly kind = 'sma';
  /** `declare`d fields are set once in the constructor, so V8 stores each as what it holds (see ExactWindow). */
  declare readonly period: number;
  declare readonly name: string;
  declare readonly warmup: number;
  declare private readonly window: ExactWindow;
  /** The records `next` and `peek` return, reused (see StreamingIndicator). */
  private readonly nextOut = new ValueRecord();
  private readonly peekOut = new ValueRecord();

  constructor(period: number) {
    this.period = period;
    this.name = `sma${period}`;
    this.warmup = period;
    this.window = new ExactWindow(period);
  }

  next(bar: Bar): IndicatorValues | null {
    if (this.window.push(bar.closeText, bar.close, false) !== this.period) return null;
    this.nextOut.value = this.window.mean;
    return this.nextOut;
  }

  peek(bar: Bar): IndicatorValues | null {
    if (this.window.peek(bar.closeText, bar.close, false) !== this.period) return null;
    this.peekOut.value = this.window.mean;
    return this.peekOut;
  }
}
