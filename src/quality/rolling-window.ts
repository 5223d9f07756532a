/**
 * A fixed-size ring of recent numbers with robust statistics (median, median absolute deviation) computed
 * on demand into a preallocated scratch array: `push` is O(1) and allocation-free; `median`/`mad` sort the
 * window (O(n log n)) and are meant to be called periodically, not per value.
 */
export class RollingWindow {
  private readonly values: Float64Array;
  private readonly scratch: Float64Array;
  private next = 0;
  private n = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 3) throw new RangeError(`window size must be an integer >= 3, got ${size}`);
    this.values = new Float64Array(size);
    this.scratch = new Float64Array(size);
  }

  get count(): number {
    return this.n;
  }

  push(x: number): void {
    this.values[this.next] = x;
    this.next = (this.next + 1) % this.size;
    if (this.n < this.size) this.n++;
  }

  /** Median of the window (NaN when empty). */
  median(): number {
    if (this.n === 0) return Number.NaN;
    const s = this.sorted((v) => v);
    return middle(s, this.n);
  }

  /** Interquartile range Q3 − Q1, linear interpolation (NaN when empty). Divide by 1.349 for a normal σ estimate. */
  iqr(): number {
    if (this.n === 0) return Number.NaN;
    const s = this.sorted((v) => v);
    return quantile(s, this.n, 0.75) - quantile(s, this.n, 0.25);
  }

  /** Median absolute deviation from `center` (NaN when empty). Multiply by 1.4826 for a normal σ estimate. */
  mad(center: number): number {
    if (this.n === 0) return Number.NaN;
    const s = this.sorted((v) => Math.abs(v - center));
    return middle(s, this.n);
  }

  private sorted(f: (v: number) => number): Float64Array {
    const s = this.scratch;
    const n = this.n;
    for (let i = 0; i < n; i++) s[i] = f(this.values[i]!);
    // a full window sorts in place without a view; only a warming-up window needs one
    const view = n === this.size ? s : s.subarray(0, n);
    view.sort();
    return view;
  }
}

function quantile(s: Float64Array, n: number, q: number): number {
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

function middle(s: Float64Array, n: number): number {
  const h = n >> 1;
  return n % 2 === 1 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}
