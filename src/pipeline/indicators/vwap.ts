/**
 * Session VWAP: Σ(typical price × volume) / Σ volume over the candles of the current session, typical price =
 * (high + low + close) / 3. A session is a UTC day: the sums reset at 00:00 UTC (the first candle whose open
 * time falls on a new UTC day starts a new session). Until the session has traded any volume there is no value.
 */
import type { IndicatorValues } from '../../core/types.js';
import { periodStart } from '../../core/timeframe.js';
import type { Bar, StreamingIndicator } from './indicator.js';

const DAY_MS = 86_400_000;

export class Vwap implements StreamingIndicator {
  readonly kind = 'vwap';
  readonly name = 'vwap';
  readonly warmup = 1;
  private session = Number.NaN;
  private priceVolume = 0;
  private volume = 0;

  next(bar: Bar): IndicatorValues | null {
    const day = periodStart(bar.openTime, DAY_MS);
    if (day !== this.session) {
      this.session = day;
      this.priceVolume = 0;
      this.volume = 0;
    }
    this.priceVolume += ((bar.high + bar.low + bar.close) / 3) * bar.volume;
    this.volume += bar.volume;
    return this.volume > 0 ? { value: this.priceVolume / this.volume } : null;
  }

  peek(bar: Bar): IndicatorValues | null {
    const same = periodStart(bar.openTime, DAY_MS) === this.session;
    const pv = (same ? this.priceVolume : 0) + ((bar.high + bar.low + bar.close) / 3) * bar.volume;
    const v = (same ? this.volume : 0) + bar.volume;
    return v > 0 ? { value: pv / v } : null;
  }
}
