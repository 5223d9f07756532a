/**
 * Exact decimal arithmetic for prices and quantities, without allocating on the hot path.
 *
 * Exchanges send decimal strings ("43210.12000000"). Summing them as floats drifts, so a value is parsed
 * into two integers: its whole part and its fraction in units of 1e-8 (every exchange we speak quotes at
 * most 8 decimals; a 9th digit onward is rounded half-up). Both stay far below 2^53, so adding them is
 * exact; sums carry the fraction into the whole part on every add.
 *
 * Quote volume (Σ price × qty) follows Binance's rule, checked against its klines on recorded data: each
 * product is truncated to 8 decimals before it is added (0.045 × 0.005773 = 0.000259785 adds 0.00025978).
 * The product is computed exactly in integer limbs; results print with exactly 8 decimals.
 */

export const SCALE = 100_000_000;

/** A parsed decimal: value = int + frac / 1e8, both non-negative integers, 0 <= frac < 1e8. */
export interface Fixed8 {
  int: number;
  frac: number;
}

export function fixed8(): Fixed8 {
  return { int: 0, frac: 0 };
}

/**
 * Parses a non-negative decimal string into `out`. Returns false (leaving `out` unspecified) when the text
 * is not a plain non-negative decimal number ("12", "12.5", ".5", "1e-7" are accepted; "", "-1", "1.2.3",
 * "abc" are not).
 */
export function parseFixed8(text: string, out: Fixed8): boolean {
  const n = text.length;
  let int = 0;
  let i = 0;
  for (; i < n; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    int = int * 10 + c;
  }
  let digits = i;
  let frac = 0;
  if (i < n && text.charCodeAt(i) === 46 /* . */) {
    // Fraction digits accumulate as an integer (< 1e8, a small integer: no floating-point step per digit),
    // scaled to units of 1e-8 once at the end; a 9th digit rounds half-up, later ones are ignored.
    const fracStart = ++i;
    const last = fracStart + 8 < n ? fracStart + 8 : n;
    for (; i < last; i++) {
      const c = text.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      frac = frac * 10 + c;
    }
    const fracDigits = i - fracStart;
    if (fracDigits < 8) {
      frac *= POW10[fracDigits]!;
    } else if (i < n) {
      let c = text.charCodeAt(i) - 48;
      if (c >= 0 && c <= 9) {
        if (c >= 5) frac += 1;
        for (i++; i < n; i++) {
          c = text.charCodeAt(i) - 48;
          if (c < 0 || c > 9) break;
        }
        if (frac === SCALE) {
          frac = 0;
          int += 1;
        }
      }
    }
    digits += i - fracStart;
  }
  if (digits === 0) return false;
  if (i === n) {
    if (int > Number.MAX_SAFE_INTEGER) return false;
    out.int = int;
    out.frac = frac;
    return true;
  }
  const c = text.charCodeAt(i);
  if (c === 101 || c === 69) return parseExponent(text, out); // e / E: rare, e.g. "1e-7" from JSON numbers
  return false;
}

/** 10^(8 - k) for k fraction digits read: scales a fraction of k digits to units of 1e-8. */
const POW10 = [100_000_000, 10_000_000, 1_000_000, 100_000, 10_000, 1_000, 100, 10, 1];

function parseExponent(text: string, out: Fixed8): boolean {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value > Number.MAX_SAFE_INTEGER) return false;
  const fixed = value.toFixed(8);
  const dot = fixed.indexOf('.');
  out.int = Number(fixed.slice(0, dot));
  out.frac = Number(fixed.slice(dot + 1));
  return true;
}

/** Compares two parsed decimals: negative, zero or positive. */
export function compareFixed8(aInt: number, aFrac: number, bInt: number, bFrac: number): number {
  return aInt !== bInt ? aInt - bInt : aFrac - bFrac;
}

/** Formats whole + frac/1e8 with exactly 8 decimals. */
export function formatFixed8(int: number, frac: number): string {
  const f = String(frac);
  return `${int}.${'00000000'.slice(f.length)}${f}`;
}

/** A float ratio (VWAP) printed with 8 decimals. */
export function ratioToFixed8(x: number): string {
  const int = Math.floor(x);
  const frac = Math.round((x - int) * SCALE);
  return frac >= SCALE ? formatFixed8(int + 1, 0) : formatFixed8(int, frac);
}

const ZERO8 = '0.00000000';

/** An exact running sum of decimals (and of truncated decimal products), printed with 8 decimals. */
export class DecimalSum {
  /** Whole units. */
  int = 0;
  /** Units of 1e-8, kept in [0, 1e8). */
  frac = 0;

  reset(): void {
    this.int = 0;
    this.frac = 0;
  }

  isZero(): boolean {
    return this.int === 0 && this.frac === 0;
  }

  add(int: number, frac: number): void {
    this.int += int;
    const f = this.frac + frac;
    if (f >= SCALE) {
      this.int += 1;
      this.frac = f - SCALE;
    } else {
      this.frac = f;
    }
  }

  /** Adds (pInt + pFrac/1e8) × (qInt + qFrac/1e8), truncated to 8 decimals. */
  addProduct(pInt: number, pFrac: number, qInt: number, qFrac: number): void {
    // pFrac × qFrac can reach 1e16 (> 2^53), so it is split: pFrac = hi × 1e4 + lo, each product < 1e12.
    const hi = Math.floor(pFrac / 10_000);
    const lo = pFrac - hi * 10_000;
    const fracProduct = Math.floor((hi * qFrac + Math.floor((lo * qFrac) / 10_000)) / 10_000);
    const frac = this.frac + pInt * qFrac + pFrac * qInt + fracProduct;
    const carry = Math.floor(frac / SCALE);
    this.frac = frac - carry * SCALE;
    this.int += pInt * qInt + carry;
  }

  addSum(other: DecimalSum): void {
    this.add(other.int, other.frac);
  }

  /** Sets the sum from a decimal string; returns false if the string is not a decimal. */
  set(text: string, scratch: Fixed8): boolean {
    if (!parseFixed8(text, scratch)) return false;
    this.int = scratch.int;
    this.frac = scratch.frac;
    return true;
  }

  /** The value as a float, for ratios such as VWAP. */
  toNumber(): number {
    return this.int + this.frac / SCALE;
  }

  /** Exactly 8 decimals. */
  toString(): string {
    return this.int === 0 && this.frac === 0 ? ZERO8 : formatFixed8(this.int, this.frac);
  }
}
