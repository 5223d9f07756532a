/**
 * An exponential average seeded with the simple average of its first `period` inputs, the TA-Lib convention:
 * alpha = 2 / (period + 1) for an EMA, 1 / period for Wilder's smoothing (RSI, ATR). Once seeded,
 * value = (x - value) * alpha + value. The arithmetic is written in the same order as the reference libraries
 * (technicalindicators EMA/WEMA, trading-signals WSMA) so results agree to the last bits, not just to 1e-9.
 */
export class SeededAverage {
  private count = 0;
  private seedSum = 0;
  private current: number | undefined;

  constructor(
    readonly period: number,
    private readonly alpha: number,
  ) {}

  static ema(period: number): SeededAverage {
    return new SeededAverage(period, 2 / (period + 1));
  }

  static wilder(period: number): SeededAverage {
    return new SeededAverage(period, 1 / period);
  }

  get value(): number | undefined {
    return this.current;
  }

  next(x: number): number | undefined {
    const v = this.current;
    if (v !== undefined) return (this.current = (x - v) * this.alpha + v);
    this.seedSum += x;
    this.count += 1;
    if (this.count === this.period) this.current = this.seedSum / this.period;
    return this.current;
  }

  /** The value `next(x)` would return, without changing state. */
  peek(x: number): number | undefined {
    const v = this.current;
    if (v !== undefined) return (x - v) * this.alpha + v;
    return this.count + 1 === this.period ? (this.seedSum + x) / this.period : undefined;
  }
}
