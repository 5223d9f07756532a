/**
 * Average True Range with Wilder's smoothing, as TA-Lib and technicalindicators define it: the true range needs
 * the previous close, so the first candle gives none; TR = max(high - low, |high - prevClose|, |low - prevClose|);
 * ATR is seeded with the simple average of the first `period` true ranges, then atr = (tr - atr) / period + atr.
 * First value after period + 1 candles.
 */
import type { IndicatorValues } from '../../core/types.js';
import type { Bar, StreamingIndicator } from './indicator.js';
import { SeededAverage } from './seeded-average.js';

export class Atr implements StreamingIndicator {
  readonly kind = 'atr';
  readonly name: string;
  readonly warmup: number;
  private readonly avg: SeededAverage;
  private previousClose: number | undefined;

  constructor(readonly period: number) {
    this.name = `atr${period}`;
    this.warmup = period + 1;
    this.avg = SeededAverage.wilder(period);
  }

  next(bar: Bar): IndicatorValues | null {
    const pc = this.previousClose;
    this.previousClose = bar.close;
    if (pc === undefined) return null;
    const v = this.avg.next(trueRange(bar, pc));
    return v === undefined ? null : { value: v };
  }

  peek(bar: Bar): IndicatorValues | null {
    const pc = this.previousClose;
    if (pc === undefined) return null;
    const v = this.avg.peek(trueRange(bar, pc));
    return v === undefined ? null : { value: v };
  }
}

function trueRange(bar: Bar, previousClose: number): number {
  return Math.max(bar.high - bar.low, Math.abs(bar.high - previousClose), Math.abs(bar.low - previousClose));
}
