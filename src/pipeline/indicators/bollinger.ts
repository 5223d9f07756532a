/**
 * Bollinger Bands (default 20, 2σ): middle = SMA(period) of closes, upper/lower = middle ± stdDev × σ, where σ
 * is the population standard deviation (divide by n) of the same window, as both reference libraries and
 * Bollinger define it. Sums are exact (exact-window.ts), so σ does not suffer cancellation at high prices.
 */
import type { IndicatorValues } from '../../core/types.js';
import { ExactWindow, meanOf, toScaled, varianceOf, type WindowSums } from './exact-window.js';
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
    return this.bands(this.window.push(toScaled(bar.closeText, bar.close)));
  }

  peek(bar: Bar): IndicatorValues | null {
    return this.bands(this.window.peek(toScaled(bar.closeText, bar.close)));
  }

  private bands(s: WindowSums): IndicatorValues | null {
    if (s.count !== this.period) return null;
    const middle = meanOf(s);
    const width = Math.sqrt(varianceOf(s)) * this.stdDev;
    return { middle, upper: middle + width, lower: middle - width };
  }
}
