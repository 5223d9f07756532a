import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DecimalSum, SCALE, fixed8, formatFixed8, parseFixed8, type Fixed8 } from '../src/core/decimal.js';
import { mulberry32 } from '../src/core/random.js';

/** True when two decimal strings denote the same value (e.g. "1.50000000" and "1.5"), by parseFixed8. */
function sameDecimal(a: string, b: string, scratchA: Fixed8 = fixed8(), scratchB: Fixed8 = fixed8()): boolean {
  if (a === b) return true;
  if (!parseFixed8(a, scratchA) || !parseFixed8(b, scratchB)) return false;
  return scratchA.int === scratchB.int && scratchA.frac === scratchB.frac;
}

// ── independent reference arithmetic (BigInt, units of 1e-8) ─────────────────────────────────────────
const U = 100_000_000n;
const fmt = (units: bigint): string => `${units / U}.${(units % U).toString().padStart(8, '0')}`;
/** Units of an 8-decimal string (at most 8 decimals, no exponent). */
const units = (s: string): bigint => {
  const [int = '0', frac = ''] = s.split('.');
  assert.ok(frac.length <= 8, `reference only handles <= 8 decimals: ${s}`);
  return BigInt(int === '' ? '0' : int) * U + BigInt(frac.padEnd(8, '0'));
};


/** A random decimal string with `maxInt` whole part bound and 0..8 decimals (sometimes padded, sometimes not). */
function randomDecimal(rand: () => number, maxInt: number): string {
  const int = Math.floor(rand() * maxInt);
  const decimals = Math.floor(rand() * 9); // 0..8
  if (decimals === 0) return String(int);
  let frac = '';
  for (let i = 0; i < decimals; i++) frac += String(Math.floor(rand() * 10));
  return `${int}.${frac}`;
}

function parsed(text: string): { int: number; frac: number } | null {
  const out = fixed8();
  return parseFixed8(text, out) ? { int: out.int, frac: out.frac } : null;
}

describe('parseFixed8', () => {
  test('accepts plain non-negative decimals', () => {
    assert.deepEqual(parsed('12'), { int: 12, frac: 0 });
    assert.deepEqual(parsed('12.5'), { int: 12, frac: 50_000_000 });
    assert.deepEqual(parsed('.5'), { int: 0, frac: 50_000_000 });
    assert.deepEqual(parsed('0'), { int: 0, frac: 0 });
    assert.deepEqual(parsed('0.00000001'), { int: 0, frac: 1 });
    assert.deepEqual(parsed('43210.12000000'), { int: 43210, frac: 12_000_000 });
    assert.deepEqual(parsed('0.99999999'), { int: 0, frac: 99_999_999 });
  });

  test('accepts exponent notation as produced by JSON numbers', () => {
    assert.deepEqual(parsed('1e-7'), { int: 0, frac: 10 });
    assert.deepEqual(parsed('2.5E-3'), { int: 0, frac: 250_000 });
    assert.deepEqual(parsed('1.5e2'), { int: 150, frac: 0 });
  });

  test('rejects text that is not a plain non-negative decimal', () => {
    for (const bad of ['', '-1', '1.2.3', 'abc', '.', '-0.5', '+1', ' 1', '1 ', '12abc', '1,5', 'NaN', 'Infinity', '1e', 'e5', '-1e-7', '0x10', '99999999999999999999']) {
      assert.equal(parsed(bad), null, `should reject ${JSON.stringify(bad)}`);
    }
  });

  test('9+ decimals round half-up at the 9th digit', () => {
    assert.deepEqual(parsed('1.123456784'), { int: 1, frac: 12_345_678 });
    assert.deepEqual(parsed('1.123456785'), { int: 1, frac: 12_345_679 });
    assert.deepEqual(parsed('1.1234567849999'), { int: 1, frac: 12_345_678 });
    assert.deepEqual(parsed('1.1234567850000'), { int: 1, frac: 12_345_679 });
    assert.deepEqual(parsed('0.000000005'), { int: 0, frac: 1 });
    assert.deepEqual(parsed('0.000000004'), { int: 0, frac: 0 });
    // carry out of the fraction into the whole part
    assert.deepEqual(parsed('0.999999995'), { int: 1, frac: 0 });
    assert.deepEqual(parsed('41.9999999999'), { int: 42, frac: 0 });
  });

  test('random 0..8-decimal strings parse to the BigInt reference', () => {
    const rand = mulberry32(1);
    const out = fixed8();
    for (let i = 0; i < 20_000; i++) {
      const s = randomDecimal(rand, 10_000_000);
      assert.ok(parseFixed8(s, out), s);
      assert.equal(BigInt(out.int) * U + BigInt(out.frac), units(s), s);
      assert.ok(out.frac >= 0 && out.frac < SCALE);
    }
  });

  test('parseFixed8 reads one value written two ways to the same fixed point (sameDecimal)', () => {
    assert.equal(sameDecimal('1.50000000', '1.5'), true);
    assert.equal(sameDecimal('1.5', '1.50000001'), false);
    assert.equal(sameDecimal('abc', 'abc'), true); // identical strings short-circuit
    assert.equal(sameDecimal('abc', '1'), false);
  });
});

describe('formatFixed8 / DecimalSum.toString', () => {
  test('always exactly 8 decimals', () => {
    assert.equal(formatFixed8(0, 0), '0.00000000');
    assert.equal(formatFixed8(1, 5), '1.00000005');
    assert.equal(formatFixed8(12, 50_000_000), '12.50000000');
    assert.equal(formatFixed8(123456, 99_999_999), '123456.99999999');
    const s = new DecimalSum();
    assert.equal(s.toString(), '0.00000000');
    assert.equal(s.isZero(), true);
    s.add(3, 1);
    assert.equal(s.toString(), '3.00000001');
    assert.equal(s.isZero(), false);
    s.reset();
    assert.equal(s.toString(), '0.00000000');
  });

  test('set() parses, and rejects non-decimals', () => {
    const s = new DecimalSum();
    assert.equal(s.set('208601.3', fixed8()), true);
    assert.equal(s.toString(), '208601.30000000');
    assert.equal(s.set('nope', fixed8()), false);
  });
});

describe('DecimalSum.add', () => {
  test('exact over 100k random 8-decimal quantities (BigInt reference)', () => {
    const rand = mulberry32(42);
    const sum = new DecimalSum();
    const p = fixed8();
    let ref = 0n;
    for (let i = 0; i < 100_000; i++) {
      const s = randomDecimal(rand, 1_000_000);
      assert.ok(parseFixed8(s, p));
      sum.add(p.int, p.frac);
      ref += units(s);
      if (i % 9973 === 0) assert.equal(sum.toString(), fmt(ref), `after ${i + 1} adds`);
      assert.ok(sum.frac >= 0 && sum.frac < SCALE);
    }
    assert.equal(sum.toString(), fmt(ref));
  });

  test('carries the fraction into the whole part', () => {
    const sum = new DecimalSum();
    sum.add(0, 99_999_999);
    sum.add(0, 1);
    assert.equal(sum.toString(), '1.00000000');
    sum.add(0, 99_999_999);
    sum.add(0, 99_999_999);
    assert.equal(sum.toString(), '2.99999998');
  });

  test('addSum adds another sum exactly', () => {
    const a = new DecimalSum();
    const b = new DecimalSum();
    a.add(5, 60_000_000);
    b.add(7, 50_000_001);
    a.addSum(b);
    assert.equal(a.toString(), '13.10000001');
  });

  test('a naive float sum drifts where DecimalSum does not (0.1 added 10 times)', () => {
    let float = 0;
    const sum = new DecimalSum();
    const p = fixed8();
    for (let i = 0; i < 10; i++) {
      float += Number('0.1');
      assert.ok(parseFixed8('0.1', p));
      sum.add(p.int, p.frac);
    }
    assert.notEqual(float, 1, 'the float sum is expected to drift');
    assert.equal(sum.toString(), '1.00000000');
    assert.equal(sum.toNumber(), 1);
  });

  test('a naive float sum of many 8-decimal quantities differs from the exact sum', () => {
    const rand = mulberry32(7);
    const sum = new DecimalSum();
    const p = fixed8();
    let float = 0;
    let ref = 0n;
    for (let i = 0; i < 100_000; i++) {
      const s = `${Math.floor(rand() * 100)}.${String(Math.floor(rand() * 1e8)).padStart(8, '0')}`;
      assert.ok(parseFixed8(s, p));
      sum.add(p.int, p.frac);
      float += Number(s);
      ref += units(s);
    }
    assert.equal(sum.toString(), fmt(ref));
    // With 100k additions of values around 50 the float error is far above 1e-8; the exact sum is not affected.
    assert.notEqual(float.toFixed(8), fmt(ref));
  });
});

describe('DecimalSum.addProduct (Binance rule: each product truncated to 8 decimals)', () => {
  const productUnits = (price: string, qty: string): bigint => (units(price) * units(qty)) / U; // BigInt division truncates

  function addProduct(sum: DecimalSum, price: string, qty: string): void {
    const p = fixed8();
    const q = fixed8();
    assert.ok(parseFixed8(price, p) && parseFixed8(qty, q));
    sum.addProduct(p.int, p.frac, q.int, q.frac);
  }

  test('documented examples from real XMRBTC klines', () => {
    const a = new DecimalSum();
    addProduct(a, '0.045', '0.005773'); // 0.000259785 -> 0.00025978
    assert.equal(a.toString(), '0.00025978');
    const b = new DecimalSum();
    addProduct(b, '0.228', '0.005773'); // 0.001316244 -> 0.00131624
    assert.equal(b.toString(), '0.00131624');
    // truncated per product, not once at the end: 2 × 0.000259785 = 0.00051957 exact, but Binance adds 2 × 0.00025978
    const c = new DecimalSum();
    addProduct(c, '0.045', '0.005773');
    addProduct(c, '0.045', '0.005773');
    assert.equal(c.toString(), '0.00051956');
  });

  test('fraction × fraction products at the limb edge', () => {
    const a = new DecimalSum();
    addProduct(a, '0.99999999', '0.99999999'); // 0.9999999800000001 -> 0.99999998
    assert.equal(a.toString(), '0.99999998');
    const b = new DecimalSum();
    addProduct(b, '99999.99999999', '99999.99999999');
    assert.equal(b.toString(), fmt(productUnits('99999.99999999', '99999.99999999')));
    const c = new DecimalSum();
    addProduct(c, '0.00000001', '0.00000001'); // 1e-16 -> 0
    assert.equal(c.toString(), '0.00000000');
  });

  test('equals the BigInt reference of per-trade truncated products over random trades', () => {
    const rand = mulberry32(2024);
    const sum = new DecimalSum();
    let ref = 0n;
    for (let i = 0; i < 50_000; i++) {
      // prices up to 100000 with 8 decimals; quantities from dust to 10000
      const price = `${Math.floor(rand() * 100_000)}.${String(Math.floor(rand() * 1e8)).padStart(8, '0')}`;
      const qty = rand() < 0.3 ? `0.${String(Math.floor(rand() * 1e8)).padStart(8, '0')}` : randomDecimal(rand, 10_000);
      addProduct(sum, price, qty);
      ref += productUnits(price, qty);
      if (i % 4999 === 0) assert.equal(sum.toString(), fmt(ref), `after ${i + 1} products (${price} × ${qty})`);
    }
    assert.equal(sum.toString(), fmt(ref));
  });

  test('single random products equal the truncated BigInt product', () => {
    const rand = mulberry32(99);
    for (let i = 0; i < 20_000; i++) {
      const price = randomDecimal(rand, 100_000);
      const qty = randomDecimal(rand, 1_000);
      const s = new DecimalSum();
      addProduct(s, price, qty);
      assert.equal(s.toString(), fmt(productUnits(price, qty)), `${price} × ${qty}`);
    }
  });
});
