/**
 * An exponential average seeded with the simple average of its first `period` inputs, the TA-Lib convention:
 * alpha = 2 / (period + 1) for an EMA, 1 / period for Wilder's smoothing (RSI, ATR). Once seeded,
 * value = (x - value) * alpha + value. The arithmetic is written in the same order as the reference libraries
 * (technicalindicators EMA/WEMA, trading-signals WSMA) so results agree to the last bits, not just to 1e-9.
 */
export class SeededAverage {
  private count = 0;
  private seedSum = 0;
  /**
   * The average once seeded. A number field with a flag, not `number | undefined`: a field that has held
   * undefined is stored tagged, and every write of a double to it allocates a heap number (one per update).
   */
  private current = 0;
  private seeded = false;

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
    return this.seeded ? this.current : undefined;
  }

  next(x: number): number | undefined {
    if (this.seeded) {
      const v = this.current;
      return (this.current = (x - v) * this.alpha + v);
    }
    this.seedSum += x;
    this.count += 1;
    if (this.count !== this.period) return undefined;
    this.seeded = true;
    return (this.current = this.seedSum / this.period);
  }

  /** The value `next(x)` would return, without changing state. */
  peek(x: number): number | undefined {
    if (this.seeded) {
      const v = this.current;
      return (x - v) * this.alpha + v;
    }
    return this.count + 1 === this.period ? (this.seedSum + x) / this.period : undefined;
  }
}
