/**
 * An exponential average seeded with the simple average of its first `period` inputs, the TA-Lib convention:
 * alpha = 2 / (period + 1) for an EMA, 1 / period for Wilder's smoothing (RSI, ATR). Once seeded,
 * value = (x - value) * alpha + value. The arithmetic is written in the same order as the reference libraries
 * (technicalindicators EMA/WEMA, trading-signals WSMA) so results agree to the last bits, not just to 1e-9.
 *
 * Shaped for V8 (each point measured on the EMA bench, see BENCHMARKS.md "Indicators, third pass"):
 * - every field holds one kind of value from its first write: `period` and `alpha` are `declare`d and set in
 *   the constructor (a plain declaration is emitted as a class field that first holds undefined, so the field
 *   stays tagged and each read of `alpha` tests for a small integer, then loads a heap number);
 * - the warm-up test is a small-integer compare (`pending === 0`), not a boolean field's truthiness (V8 tests
 *   a boolean field like any value: empty string, heap number, bigint...);
 * - `step` returns a plain number: a caller that tests `seeded` first and calls `step` keeps the value as an
 *   unboxed double, where `next`'s `number | undefined` makes an inlined caller box it into a heap number.
 */
export class SeededAverage {
  declare readonly period: number;
  declare private readonly alpha: number;
  /** Inputs still needed before the first value; 0 once seeded. */
  private pending = 0;
  private seedSum = 0;
  /**
   * The average once seeded. A number field with a count, not `number | undefined`: a field that has held
   * undefined is stored tagged, and every write of a double to it allocates a heap number (one per update).
   */
  private current = 0;

  constructor(period: number, alpha: number) {
    this.period = period;
    this.alpha = alpha;
    this.pending = period;
  }

  static ema(period: number): SeededAverage {
    return new SeededAverage(period, 2 / (period + 1));
  }

  static wilder(period: number): SeededAverage {
    return new SeededAverage(period, 1 / period);
  }

  get seeded(): boolean {
    return this.pending === 0;
  }

  get value(): number | undefined {
    return this.pending === 0 ? this.current : undefined;
  }

  /** The next value once `seeded` (the caller checks): commits `x`. */
  step(x: number): number {
    const v = this.current;
    return (this.current = (x - v) * this.alpha + v);
  }

  /** The value `step(x)` would return once `seeded`, without changing state. */
  peekStep(x: number): number {
    const v = this.current;
    return (x - v) * this.alpha + v;
  }

  next(x: number): number | undefined {
    if (this.pending === 0) return this.step(x);
    this.seedSum += x;
    if (--this.pending !== 0) return undefined;
    return (this.current = this.seedSum / this.period);
  }

  /** The value `next(x)` would return, without changing state. */
  peek(x: number): number | undefined {
    if (this.pending === 0) return this.peekStep(x);
    return this.pending === 1 ? (this.seedSum + x) / this.period : undefined;
  }
}
