/**
 * fastIsoUtcMs (src/exchanges/iso-time.ts) reads exchange timestamps without Date.parse: on every text it takes
 * it must give Date.parse's value, and it must decline (NaN) what it does not cover, so the mappers' times are
 * unchanged. 200,000 seeded times over years 0100-9999 and every fraction length, and their mutations.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fastIsoUtcMs, parseIsoTime } from '../src/exchanges/iso-time.js';
import { mulberry32 } from '../src/core/random.js';

const pad = (v: number, n: number): string => String(v).padStart(n, '0');

test('fastIsoUtcMs equals Date.parse on 200,000 seeded RFC 3339 UTC times, or declines', () => {
  const rnd = mulberry32(3339);
  const int = (n: number): number => Math.floor(rnd() * n);
  let taken = 0;
  for (let k = 0; k < 200_000; k++) {
    const year = rnd() < 0.7 ? 2013 + int(15) : int(10_000);
    const frac = int(10);
    let s = `${pad(year, 4)}-${pad(1 + int(12), 2)}-${pad(1 + int(31), 2)}T${pad(int(25), 2)}:${pad(int(61), 2)}:${pad(int(61), 2)}${frac === 0 ? '' : `.${Array.from({ length: frac }, () => int(10)).join('')}`}Z`;
    if (rnd() < 0.1) {
      const at = int(s.length);
      s = s.slice(0, at) + ['', ' ', 'x', '0', '.', 'Z', '+', '-'][int(8)] + s.slice(at + int(2));
    }
    const fast = fastIsoUtcMs(s);
    if (fast === fast) {
      taken++;
      assert.equal(fast, Date.parse(s), s);
    }
    assert.ok(Object.is(parseIsoTime(s), Date.parse(s)), s);
  }
  assert.ok(taken > 100_000, `taken: ${taken}`);
});

test('fastIsoUtcMs: fractions truncate to the millisecond; other forms decline', () => {
  assert.equal(fastIsoUtcMs('2014-11-07T08:19:27.028459Z'), Date.UTC(2014, 10, 7, 8, 19, 27, 28));
  assert.equal(fastIsoUtcMs('2014-11-07T08:19:27.1Z'), Date.UTC(2014, 10, 7, 8, 19, 27, 100));
  assert.equal(fastIsoUtcMs('2014-11-07T08:19:27Z'), Date.UTC(2014, 10, 7, 8, 19, 27));
  for (const s of ['2014-11-07T08:19:27.0289999999Z', '2014-02-30T08:19:27Z', '2014-11-07T24:00:00Z', '2014-11-07 08:19:27Z', '2014-11-07T08:19:27+00:00', '0050-01-01T00:00:00Z', '2014-11-07T08:19:27.Z', '2014-11-07T08:19:27.028459']) {
    assert.ok(Number.isNaN(fastIsoUtcMs(s)), s);
    assert.ok(Object.is(parseIsoTime(s), Date.parse(s)), s);
  }
});
