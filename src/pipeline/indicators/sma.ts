/** Simple moving average of the last `period` closes (exact window sum, see exact-window.ts). */
import type { IndicatorValues } from '../../core/types.js';
import { ExactWindow } from './exact-window.js';
import type { Bar, StreamingIndicator } from './indicator.js';

export class Sma implements StreamingIndicator {
  readonly kind = 'sma';
  readonly name: string;
  readonly warmup: number;
  private readonly window: ExactWindow;
  /** The records `next` and `peek` return, reused (see StreamingIndicator). */
  private readonly nextOut = { value: 0 };
  private readonly peekOut = { value: 0 };

  constructor(readonly period: number) {
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
