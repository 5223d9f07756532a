/**
 * Relative Strength Index with Wilder's smoothing: average gain and loss of close-to-close changes, each seeded
 * with the simple average of the first `period` changes, then avg = (x - avg) / period + avg.
 * RSI = 100 - 100 / (1 + avgGain / avgLoss), and 100 when avgLoss is 0. First value after period + 1 closes.
 */
import type { IndicatorValues } from '../../core/types.js';
import type { Bar, StreamingIndicator } from './indicator.js';
import { SeededAverage } from './seeded-average.js';

export class Rsi implements StreamingIndicator {
  readonly kind = 'rsi';
  readonly name: string;
  readonly warmup: number;
  private readonly gain: SeededAverage;
  private readonly loss: SeededAverage;
  private previous: number | undefined;

  constructor(readonly period: number) {
    this.name = `rsi${period}`;
    this.warmup = period + 1;
    this.gain = SeededAverage.wilder(period);
    this.loss = SeededAverage.wilder(period);
  }

  next(bar: Bar): IndicatorValues | null {
    const prev = this.previous;
    this.previous = bar.close;
    if (prev === undefined) return null;
    const up = bar.close > prev;
    return rsiOf(this.gain.next(up ? bar.close - prev : 0), this.loss.next(up ? 0 : prev - bar.close));
  }

  peek(bar: Bar): IndicatorValues | null {
    const prev = this.previous;
    if (prev === undefined) return null;
    const up = bar.close > prev;
    return rsiOf(this.gain.peek(up ? bar.close - prev : 0), this.loss.peek(up ? 0 : prev - bar.close));
  }
}

function rsiOf(gain: number | undefined, loss: number | undefined): IndicatorValues | null {
  if (gain === undefined || loss === undefined) return null;
  return { value: loss === 0 ? 100 : 100 - 100 / (gain / loss + 1) };
}
