/**
 * Coinbase's fast path (src/exchanges/coinbase/match-scanner.ts) changes nothing but speed: on documented,
 * recorded (the committed session and, under CI, the workspace's captures) and simulated-venue frames, and on
 * 30,000 seeded mutations of them, the mapper's events and rejections equal those of its JSON.parse path
 * (test/support/scanner-differential.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coinbaseMapper } from '../src/exchanges/coinbase/mapper.js';
import { scanCoinbaseMatch } from '../src/exchanges/coinbase/match-scanner.js';
import { coinbaseProtocol } from '../src/demo/simulated-venue/coinbase.js';
import { DOCUMENTED, recordedFrames, sharedCaptureFrames } from './faults/seed-frames.js';
import { assertSameAsJsonParse, mutationsAgree, venueFrames } from './support/scanner-differential.js';

const DOC = DOCUMENTED.coinbase;
const RECORDED = [...recordedFrames('coinbase'), ...sharedCaptureFrames('coinbase')];
const VENUE = venueFrames(coinbaseProtocol(), ['BTC-USD', 'ETH-USDT', 'SOL-EUR'], 3_000, 13);
const isMatch = (f: string): boolean => /"type":"(last_)?match"/.test(f);
const taken = (f: string): boolean => scanCoinbaseMatch(f) !== null;

test('coinbase: documented, recorded and venue matches take the fast path and map as JSON.parse would', () => {
  const recordedMatches = RECORDED.filter(isMatch);
  assert.ok(recordedMatches.length > 20, `recorded matches: ${recordedMatches.length}`);
  for (const frame of [...DOC.filter(isMatch), ...recordedMatches, ...VENUE]) {
    assert.ok(taken(frame), `the fast path should take ${frame.slice(0, 160)}`);
    assertSameAsJsonParse(coinbaseMapper, frame);
  }
});

test('coinbase: every other frame (heartbeats, subscriptions, tickers, errors) declines the fast path and maps as before', () => {
  const others = [...DOC, ...RECORDED].filter((f) => !isMatch(f));
  assert.ok(others.length > 3);
  for (const frame of others) {
    assert.equal(taken(frame), false, frame.slice(0, 120));
    assertSameAsJsonParse(coinbaseMapper, frame);
  }
});

test('coinbase: 30,000 mutated matches either decline the fast path or map as JSON.parse would', () => {
  const bases = [...DOC.filter(isMatch), ...RECORDED.filter(isMatch).slice(0, 20), ...VENUE.slice(0, 20)];
  const n = mutationsAgree(coinbaseMapper, bases, ['"type":"last_match",', '"type":"heartbeat",', '"trade_id":1,', '"time":"2024-01-01T00:00:00Z",', '"side":"sell",'], taken, 30_000, 18);
  assert.ok(n > 1_000, `mutations still taken by the fast path: ${n}`);
});

test('coinbase: the fast path declines what it does not fully understand', () => {
  const base = DOC[0]!;
  for (const f of [
    base.replace('"trade_id":10', '"trade_id":10.0'),
    base.replace('"trade_id":10', '"trade_id":"10"'),
    base.replace('"trade_id":10', '"trade_id":12345678901234567'),
    base.replace('"price":"400.23"', '"price":400.23'),
    base.replace('"price":"400.23"', '"price":"400\\u002e23"'),
    base.replace('"sequence":50', '"sequence":[50]'),
    base.replace('"type":"match"', '"type":"match","type":"heartbeat"'),
    base.replace(',', ' ,'),
  ]) {
    assert.equal(taken(f), false, f);
    assertSameAsJsonParse(coinbaseMapper, f);
  }
});
