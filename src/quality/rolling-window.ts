/**
 * A fixed-size ring of recent numbers with robust statistics (median, quantiles, median absolute deviation)
 * computed on demand by selection (quickselect, O(n)) in a preallocated scratch array: `push` is O(1) and
 * allocation-free, and so are the statistics; they are still meant to be called periodically, not per value.
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
    return this.quantile(0.5);
  }

  /** The q-quantile (0..1) with linear interpolation between order statistics (NaN when empty). */
  quantile(q: number): number {
    const n = this.n;
    if (n === 0) return Number.NaN;
    const s = this.scratch;
    for (let i = 0; i < n; i++) s[i] = this.values[i]!;
    return quantileOf(s, n, q);
  }

  /** Interquartile range Q3 − Q1 (NaN when empty). Divide by 1.349 for a normal σ estimate. */
  iqr(): number {
    const q1 = this.quantile(0.25);
    return quantileOf(this.scratch, this.n, 0.75) - q1; // the scratch still holds the window (reordered)
  }

  /** Median absolute deviation from `center` (NaN when empty). Multiply by 1.4826 for a normal σ estimate. */
  mad(center: number): number {
    const n = this.n;
    if (n === 0) return Number.NaN;
    const s = this.scratch;
    for (let i = 0; i < n; i++) s[i] = Math.abs(this.values[i]! - center);
    return quantileOf(s, n, 0.5);
  }
}

/** Quantile of the first n values of s (reordered in place). */
function quantileOf(s: Float64Array, n: number, q: number): number {
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const a = select(s, n, lo);
  if (pos === lo) return a;
  // after selection everything right of `lo` is >= s[lo]: the next order statistic is their minimum
  let b = Number.POSITIVE_INFINITY;
  for (let i = lo + 1; i < n; i++) if (s[i]! < b) b = s[i]!;
  return a + (b - a) * (pos - lo);
}

/** Hoare's quickselect: reorders s[0..n) so that s[k] is the k-th smallest, and returns it. */
function select(s: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    const mid = (lo + hi) >> 1;
    // median of three as the pivot
    const x = s[lo]!;
    const y = s[mid]!;
    const z = s[hi]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (s[i]! < pivot) i++;
      while (s[j]! > pivot) j--;
      if (i <= j) {
        const t = s[i]!;
        s[i] = s[j]!;
        s[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return s[k]!;
  }
  return s[k]!;
}
