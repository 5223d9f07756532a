/**
 * A sliding window of the last `size` decimals with exact sums, for SMA and Bollinger Bands.
 *
 * A floating-point running sum (add the new value, subtract the oldest) drifts, and a running sum of squares
 * loses the variance to cancellation (E[x²] − E[x]² at BTC prices is 5e8 − 5e8). So each close is parsed once
 * from its exact decimal text into an integer, and the sums are kept exactly:
 *
 * - Fast path (every exchange price: a plain decimal with at most 8 fraction digits, small enough that the
 *   window's sum stays below 2^52): the integer is value × 10^8 held in a double, where integers up to 2^53 are
 *   exact, so the running sum is exact and O(1) per update; the mean is that exact sum divided once.
 *   The variance is computed from the exact integer deviations e_i = n·v_i − Σv (|e_i| ≤ 2^53, exact) as
 *   Σe_i² / n³: a sum of non-negative terms, so there is no cancellation, and its relative error is at most
 *   about (n + 2) rounding errors of a double (≈ 1e-14 for n = 20; the reference comparisons need 1e-9).
 *   That loop is O(period), cheaper than BigInt arithmetic for any usual period.
 * - Slow path (a value with more than 8 fraction digits, a very large value, or text that is not a plain
 *   decimal): while such a value is in the window, the sums are recomputed exactly in BigInt at 10^18 from the
 *   window's values, as before (integer × 10^18; mean and population variance rounded to a double once).
 */
const DIGITS = 18;
const SCALE = 10n ** BigInt(DIGITS);
const SCALE_F = 1e18;
const DECIMAL = /^(-?)(\d+)(?:\.(\d*))?$/;
/** Fast-path scale: 10^8. */
const FAST_SCALE = 1e8;
const POW10 = [1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 1e2, 1e1, 1];
/** A fast-path integer (× 10^8) times this is the BigInt path's integer (× 10^18). */
const TEN_TO_10 = 10n ** 10n;

/** Exact decimal text -> integer × 10^18. Text that is not a plain decimal falls back to the number's own digits. */
export function toScaled(text: string, fallback: number): bigint {
  const m = DECIMAL.exec(text);
  if (!m) return Number.isFinite(fallback) && Math.abs(fallback) < 1e21 ? toScaled(fallback.toFixed(DIGITS), Number.NaN) : 0n;
  const frac = (m[3] ?? '').slice(0, DIGITS).padEnd(DIGITS, '0');
  const v = BigInt(m[2]!) * SCALE + BigInt(frac);
  return m[1] ? -v : v;
}

/**
 * Plain decimal text (`-?\d+(\.\d*)?`, the same texts `toScaled` reads exactly) with at most 8 significant
 * fraction digits -> value × 10^8 as an exact integer in a double; NaN when the text does not fit that (then
 * `toScaled` is the exact reading) or the integer would exceed 2^53.
 */
export function toScaled8(text: string): number {
  const n = text.length;
  let i = 0;
  let neg = false;
  if (n > 0 && text.charCodeAt(0) === 45 /* - */) {
    neg = true;
    i = 1;
  }
  const intStart = i;
  let v = 0;
  for (; i < n; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    v = v * 10 + c;
  }
  if (i === intStart) return Number.NaN;
  let fracDigits = 0;
  if (i < n) {
    if (text.charCodeAt(i) !== 46 /* . */) return Number.NaN;
    for (i++; i < n; i++) {
      const c = text.charCodeAt(i) - 48;
      if (c < 0 || c > 9) return Number.NaN;
      if (fracDigits < 8) {
        v = v * 10 + c;
        fracDigits++;
      } else if (c !== 0) {
        return Number.NaN; // a 9th significant fraction digit: only the BigInt reading is exact
      }
    }
  }
  if (v > 9_007_199_254_740_991 / POW10[fracDigits]!) return Number.NaN;
  v *= POW10[fracDigits]!;
  return neg ? -v : v;
}

/** Mean and population variance of a window's values, as read by `push` and `peek`. */
export class ExactWindow {
  /*
   * `size`, `nums` and `limit` are `declare`d and set in the constructor: a plain declaration is emitted as a
   * class field that first holds undefined, and V8 then keeps the field tagged (a small-integer test per read
   * of `size`, a map check per read of `nums`, a heap-number load per read of `limit`).
   */
  declare readonly size: number;
  /** Values × 10^8 (fast path), NaN for a value only the BigInt path reads exactly. */
  declare private readonly nums: Float64Array;
  /** Text and number of the values that are NaN in `nums`, by slot; allocated when the first such value comes. */
  private texts: string[] | null = null;
  private closes: Float64Array | null = null;
  /** Next write position; once full, also the oldest value. */
  private head = 0;
  /** Values in the window. */
  count = 0;
  /** Exact sum of the window's fast-path values (× 10^8). */
  private sum = 0;
  /** Values in the window that are not on the fast path. */
  private slow = 0;
  /** Largest |value × 10^8| on the fast path: n·|v| and |Σv| stay within 2^52, so n·v − Σv is exact. */
  declare private readonly limit: number;
  /** Mean after the last `push` / `peek`. */
  mean = 0;
  /** Population variance after the last `push` / `peek` (only when asked for). */
  variance = 0;

  constructor(size: number) {
    this.size = size;
    this.nums = new Float64Array(size);
    this.limit = Math.floor(2 ** 52 / size);
  }

  get full(): boolean {
    return this.count === this.size;
  }

  /**
   * The value × 10^8 as an exact integer, or NaN for the slow path. `close` is `Number(text)` (the Bar
   * contract). The common case is read from the number, not the text: for a text of at most 15 characters
   * (so at most 15 significant digits) with at most 8 fraction digits, round(close × 10^8) is exactly text ×
   * 10^8 (below 2^52 the product's error is far under 0.5) and it reads back as `close`; a text with more
   * fraction digits differs from that integer / 10^8 by at least one unit of its last digit, more than the
   * double spacing at 15 digits, so its read-back is another double and it goes to the text reading as before.
   */
  private scaled(text: string, close: number): number {
    const limit = this.limit;
    if (text.length <= 15) {
      const r = Math.round(close * FAST_SCALE);
      if (r / FAST_SCALE === close && r <= limit && r >= -limit) return r;
    }
    const v = toScaled8(text);
    return v <= limit && v >= -limit ? v : Number.NaN;
  }

  /** Adds a value (its exact text, and its number for text that is not a plain decimal); returns the count. */
  push(text: string, close: number, withVariance: boolean): number {
    const v = this.scaled(text, close);
    const h = this.head;
    if (this.count === this.size) {
      const old = this.nums[h]!;
      if (old === old) this.sum -= old;
      else this.slow--;
    } else {
      this.count++;
    }
    this.nums[h] = v;
    if (v === v) {
      this.sum += v;
      if (this.texts) this.texts[h] = '';
    } else {
      this.slow++;
      (this.texts ??= new Array<string>(this.size).fill(''))[h] = text;
      (this.closes ??= new Float64Array(this.size))[h] = close;
    }
    this.head = h + 1 === this.size ? 0 : h + 1;
    const n = this.count;
    if (this.slow === 0) {
      this.mean = this.sum / (n * FAST_SCALE);
      if (withVariance) this.variance = this.fastVariance(this.sum, n, -1, 0);
    } else {
      this.exact(-1, false, '', 0, withVariance);
    }
    return n;
  }

  /** What `push` would read, without changing the window; returns the count `push` would give. */
  peek(text: string, close: number, withVariance: boolean): number {
    const v = this.scaled(text, close);
    const full = this.count === this.size;
    const n = full ? this.count : this.count + 1;
    // The slot push would overwrite (the oldest value) when full; -1 when nothing is dropped.
    const skip = full ? this.head : -1;
    const old = full ? this.nums[skip]! : 0;
    const slow = this.slow - (full && old !== old ? 1 : 0) + (v === v ? 0 : 1);
    if (slow === 0) {
      const sum = this.sum - (full && old === old ? old : 0) + v;
      this.mean = sum / (n * FAST_SCALE);
      if (withVariance) this.variance = this.fastVariance(sum, n, full ? skip : this.count, v);
    } else {
      this.exact(skip, true, text, close, withVariance);
    }
    return n;
  }

  /**
   * Σ(n·v_i − Σv)² / n³ over the window's n values, with slot `slot` (-1: none) read as `extra` (a peek: the
   * oldest value's slot when full, else the next free one, i.e. where `push` would write, so a peek adds the
   * same terms in the same order as the push after it). Each deviation is an exact integer, the squares are
   * non-negative.
   */
  private fastVariance(sum: number, n: number, slot: number, extra: number): number {
    const nums = this.nums;
    let q = 0;
    for (let i = 0; i < n; i++) {
      const e = n * (i === slot ? extra : nums[i]!) - sum;
      q += e * e;
    }
    return q / (n * n * n) / (FAST_SCALE * FAST_SCALE);
  }

  /** The exact BigInt reading of the window (less slot `skip`, plus `text` when `hasExtra`), for the slow path. */
  private exact(skip: number, hasExtra: boolean, text: string, close: number, withVariance: boolean): void {
    let sum = 0n;
    let sumSq = 0n;
    let n = 0;
    for (let i = 0; i < this.count; i++) {
      if (i === skip) continue;
      const v = this.nums[i]!;
      const x = v === v ? BigInt(v) * TEN_TO_10 : toScaled(this.texts![i]!, this.closes![i]!);
      sum += x;
      sumSq += x * x;
      n++;
    }
    if (hasExtra) {
      const x = toScaled(text, close);
      sum += x;
      sumSq += x * x;
      n++;
    }
    this.mean = Number(sum) / (n * SCALE_F);
    if (withVariance) {
      const num = BigInt(n) * sumSq - sum * sum;
      this.variance = num <= 0n ? 0 : Number(num) / (n * n) / (SCALE_F * SCALE_F);
    }
  }
}
