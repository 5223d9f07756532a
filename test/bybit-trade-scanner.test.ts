/**
 * Bybit's fast path (src/exchanges/bybit/trade-scanner.ts) changes nothing but speed: on documented, recorded
 * (the workspace's captures too, under CI) and simulated-venue frames, and on 30,000 seeded mutations of them,
 * the mapper's events and rejections equal those of its JSON.parse path (test/support/scanner-differential.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bybitMapper } from '../src/exchanges/bybit/mapper.js';
import { scanBybitTrades } from '../src/exchanges/bybit/trade-scanner.js';
import { bybitProtocol } from '../src/demo/simulated-venue/bybit.js';
import { DOCUMENTED, recordedFrames, sharedCaptureFrames } from './faults/seed-frames.js';
import { assertSameAsJsonParse, mutationsAgree, venueFrames } from './support/scanner-differential.js';

const DOC = DOCUMENTED.bybit;
const RECORDED = [...recordedFrames('bybit'), ...sharedCaptureFrames('bybit')];
const VENUE = venueFrames(bybitProtocol(), ['BTC-USDT', 'ETH-USDC', 'SOL-BTC'], 3_000, 11);
const taken = (f: string): boolean => scanBybitTrades(f) !== null;

test('bybit: documented and venue publicTrade frames take the fast path and map as JSON.parse would', () => {
  const trades = [...DOC, ...VENUE].filter((f) => f.includes('"topic":"publicTrade.'));
  assert.ok(trades.length >= 3_000);
  for (const frame of trades) {
    assert.ok(taken(frame), `the fast path should take ${frame.slice(0, 120)}`);
    assertSameAsJsonParse(bybitMapper, frame);
  }
});

test('bybit: every other frame (klines, acks, recorded v1 frames) declines the fast path and maps as before', () => {
  const others = [...DOC.filter((f) => !f.includes('publicTrade.')), ...RECORDED];
  assert.ok(others.length > 100);
  for (const frame of others) {
    assert.equal(taken(frame), false, frame.slice(0, 120));
    assertSameAsJsonParse(bybitMapper, frame);
  }
});

test('bybit: 30,000 mutated trade frames either decline the fast path or map as JSON.parse would', () => {
  const bases = [...DOC.filter((f) => f.includes('publicTrade.')), ...VENUE.slice(0, 40)];
  const n = mutationsAgree(bybitMapper, bases, ['"T":1,', '"S":"Buy",', '"p":"1",', '"i":"1",', '"topic":"kline.1.BTCUSDT",', '"data":[],'], taken, 30_000, 18);
  assert.ok(n > 1_000, `mutations still taken by the fast path: ${n}`);
});

test('bybit: the fast path declines what it does not fully understand', () => {
  const base = DOC[1]!;
  for (const f of [
    base.replace('"T":1789875217840', '"T":1789875217840.0'),
    base.replace('"T":1789875217840', '"T":"1789875217840"'),
    base.replace('"p":"80413.3"', '"p":80413.3'),
    base.replace('"p":"80413.3"', '"p":"80413\\u002e3"'),
    base.replace('"BT":false', '"BT":{"x":1}'),
    base.replace('"data":[', '"data": ['),
    base.replace('"s":"BTCUSDT","S":"Sell"', '"s":"BTCUSDT","s":"ETHUSDT","S":"Sell"'),
    base.replace(/"data":\[.*\]/, '"data":[]'),
    `${base} `,
  ]) {
    assert.equal(taken(f), false, f);
    assertSameAsJsonParse(bybitMapper, f);
  }
});
