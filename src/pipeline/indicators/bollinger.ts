/**
 * Bollinger Bands (default 20, 2σ): middle = SMA(period) of closes, upper/lower = middle ± stdDev × σ, where σ
 * is the population standard deviation (divide by n) of the same window, as both reference libraries and
 * Bollinger define it. Sums are exact (exact-window.ts), so σ does not suffer cancellation at high prices.
 */
import type { IndicatorValues } from '../../core/types.js';
import { ExactWindow } from './exact-window.js';
import type { Bar, StreamingIndicator } from './indicator.js';

export class Bollinger implements StreamingIndicator {
  readonly kind = 'bollinger';
  readonly name: string;
  readonly warmup: number;
  private readonly window: ExactWindow;

  constructor(
    readonly period: number,
    readonly stdDev: number,
  ) {
    this.name = `bb${period}_${stdDev}`;
    this.warmup = period;
    this.window = new ExactWindow(period);
  }

  next(bar: Bar): IndicatorValues | null {
    return this.bands(this.window.push(bar.closeText, bar.close, true));
  }

  peek(bar: Bar): IndicatorValues | null {
    return this.bands(this.window.peek(bar.closeText, bar.close, true));
  }

  private bands(count: number): IndicatorValues | null {
    if (count !== this.period) return null;
    const middle = this.window.mean;
    const width = Math.sqrt(this.window.variance) * this.stdDev;
    return { middle, upper: middle + width, lower: middle - width };
  }
}
