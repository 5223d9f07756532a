/**
 * ExactWindow (SMA / Bollinger sums): the Number fast path and the BigInt slow path agree with an independent
 * BigInt reference (integer × 10^18 sums, mean and population variance rounded once) to a few ulps, for
 * exchange-style texts, texts with more than 8 fraction digits (long and short), negative, huge and non-decimal texts mixed in
 * one window; peek never changes the window.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ExactWindow, toScaled, toScaled8 } from '../src/pipeline/indicators/exact-window.js';
import { mulberry32 } from '../src/core/random.js';


/** The previous implementation's reading of a window: exact BigInt sums at 10^18, rounded once. */
function reference(window: readonly { text: string; close: number }[]): { mean: number; variance: number } {
  let sum = 0n;
  let sumSq = 0n;
  for (const { text, close } of window) {
    const x = toScaled(text, close);
    sum += x;
    sumSq += x * x;
  }
  const n = window.length;
  const num = BigInt(n) * sumSq - sum * sum;
  return { mean: Number(sum) / (n * 1e18), variance: num <= 0n ? 0 : Number(num) / (n * n) / 1e36 };
}

function close(a: number, b: number, what: string): void {
  const scale = Math.max(Math.abs(b), Number.MIN_VALUE);
  assert.ok(Math.abs(a - b) <= 1e-13 * scale || a === b, `${what}: ${a} vs ${b}`);
}

describe('ExactWindow', () => {
  test('toScaled8: exact integer × 1e8 for plain decimals with <= 8 significant fraction digits, else NaN', () => {
    assert.equal(toScaled8('43210.12000000'), 4_321_012_000_000);
    assert.equal(toScaled8('0.1'), 10_000_000);
    assert.equal(toScaled8('5.'), 500_000_000);
    assert.equal(toScaled8('-12.5'), -1_250_000_000);
    assert.equal(toScaled8('1.000000000000'), 100_000_000, 'trailing zeros past 8 digits are exact');
    for (const t of ['', '-', '.5', '1e-7', '+1', '1.2.3', 'abc', '0.000000001', '1.0000000001', '90071992.54740993']) assert.ok(Number.isNaN(toScaled8(t)), t);
  });

  for (const [name, gen] of [
    ['exchange prices (fast path)', (r: () => number) => (10 + r() * 60_000).toFixed(Math.floor(r() * 9))],
    ['mixed: > 8 decimals, negative, huge, exponent', (r: () => number) => {
      const k = r();
      if (k < 0.1) return String(r() * 1000); // ~17 significant digits
      if (k < 0.15) return `-${(r() * 100).toFixed(3)}`;
      if (k < 0.2) return (r() * 1e12).toFixed(2); // beyond the fast path's limit for most sizes
      if (k < 0.22) return '1e-7';
      // short texts with 9-12 fraction digits: the number reads back as a 8-digit decimal's double only if the
      // window wrongly took it from the number (it must take the text reading: off by up to 5e-9 otherwise)
      if (k < 0.32) return (r() * 100).toFixed(9 + Math.floor(r() * 4));
      if (k < 0.34) return `${Math.floor(r() * 1000)}.${'0'.repeat(8)}${1 + Math.floor(r() * 9)}`;
      return (r() * 100).toFixed(8);
    }],
  ] as const) {
    for (const size of [1, 3, 20, 50]) {
      test(`${name}, size ${size}: push and peek agree with the BigInt reference; peek changes nothing`, () => {
        const r = mulberry32(size * 7919);
        const w = new ExactWindow(size);
        const kept: { text: string; close: number }[] = [];
        for (let i = 0; i < 600; i++) {
          const text = gen(r);
          const item = { text, close: Number(text) };
          // a peek with another value first, then the same value: must equal the push that follows
          const other = gen(r);
          w.peek(other, Number(other), true);
          const peekCount = w.peek(text, item.close, true);
          const peeked = { mean: w.mean, variance: w.variance };
          const count = w.push(text, item.close, true);
          kept.push(item);
          if (kept.length > size) kept.shift();
          assert.equal(count, kept.length);
          assert.equal(peekCount, count);
          assert.deepEqual(peeked, { mean: w.mean, variance: w.variance }, `peek equals push at ${i}`);
          const want = reference(kept);
          close(w.mean, want.mean, `mean at ${i}`);
          // the variance is compared to 1e-13 of the spread's scale (mean² guards the near-zero case)
          const scale = Math.max(want.variance, want.mean * want.mean * 1e-12);
          assert.ok(Math.abs(w.variance - want.variance) <= 1e-12 * scale, `variance at ${i}: ${w.variance} vs ${want.variance}`);
        }
      });
    }
  }
});
