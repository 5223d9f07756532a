/**
 * A sliding window of the last `size` decimals with exact sums, for SMA and Bollinger Bands in O(1) per update.
 *
 * A floating-point running sum (add the new value, subtract the oldest) drifts, and a running sum of squares
 * loses the variance to cancellation (E[x²] − E[x]² at BTC prices is 5e8 − 5e8). So each close is parsed once
 * from its exact decimal text into an integer scaled by 10^18 (BigInt); the sum and the sum of squares are then
 * exact forever, and mean and population variance are rounded to a double only once, when read.
 */
const DIGITS = 18;
const SCALE = 10n ** BigInt(DIGITS);
const SCALE_F = 1e18;
const DECIMAL = /^(-?)(\d+)(?:\.(\d*))?$/;

/** Exact decimal text -> integer × 10^18. Text that is not a plain decimal falls back to the number's own digits. */
export function toScaled(text: string, fallback: number): bigint {
  const m = DECIMAL.exec(text);
  if (!m) return Number.isFinite(fallback) && Math.abs(fallback) < 1e21 ? toScaled(fallback.toFixed(DIGITS), Number.NaN) : 0n;
  const frac = (m[3] ?? '').slice(0, DIGITS).padEnd(DIGITS, '0');
  const v = BigInt(m[2]!) * SCALE + BigInt(frac);
  return m[1] ? -v : v;
}

export interface WindowSums {
  count: number;
  sum: bigint;
  sumSq: bigint;
}

export class ExactWindow {
  private readonly values: bigint[] = [];
  /** Next write position; once full, also the oldest value. */
  private head = 0;
  private s: WindowSums = { count: 0, sum: 0n, sumSq: 0n };

  constructor(readonly size: number) {}

  get full(): boolean {
    return this.s.count === this.size;
  }

  push(v: bigint): WindowSums {
    const s = this.s;
    if (s.count === this.size) {
      const old = this.values[this.head]!;
      s.sum -= old;
      s.sumSq -= old * old;
    } else {
      s.count += 1;
    }
    this.values[this.head] = v;
    this.head = (this.head + 1) % this.size;
    s.sum += v;
    s.sumSq += v * v;
    return s;
  }

  /** The sums `push(v)` would produce, without changing the window. */
  peek(v: bigint): WindowSums {
    const s = this.s;
    if (s.count === this.size) {
      const old = this.values[this.head]!;
      return { count: s.count, sum: s.sum - old + v, sumSq: s.sumSq - old * old + v * v };
    }
    return { count: s.count + 1, sum: s.sum + v, sumSq: s.sumSq + v * v };
  }
}

export function meanOf(s: WindowSums): number {
  return Number(s.sum) / (s.count * SCALE_F);
}

/** Population variance (divide by n), as both reference libraries define Bollinger's σ. */
export function varianceOf(s: WindowSums): number {
  const n = BigInt(s.count);
  const num = n * s.sumSq - s.sum * s.sum;
  return num <= 0n ? 0 : Number(num) / (s.count * s.count) / (SCALE_F * SCALE_F);
}
