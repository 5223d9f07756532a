/**
 * OKX's fast path (src/exchanges/okx/trade-scanner.ts) changes nothing but speed: on documented, recorded (the
 * committed session and, under CI, the workspace's captures) and simulated-venue frames, and on 30,000 seeded
 * mutations of them, the mapper's events and rejections equal those of its JSON.parse path
 * (test/support/scanner-differential.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { okxMapper } from '../src/exchanges/okx/mapper.js';
import { scanOkxTrades } from '../src/exchanges/okx/trade-scanner.js';
import { okxProtocol } from '../src/demo/simulated-venue/okx.js';
import { DOCUMENTED, recordedFrames, sharedCaptureFrames } from './faults/seed-frames.js';
import { assertSameAsJsonParse, mutationsAgree, venueFrames } from './support/scanner-differential.js';

const DOC = DOCUMENTED.okx;
const RECORDED = [...recordedFrames('okx'), ...sharedCaptureFrames('okx')];
const VENUE = venueFrames(okxProtocol(), ['BTC-USDT', 'ETH-USDC', 'SOL-BTC'], 2_000, 12);
const isTrades = (f: string): boolean => /"channel":"trades(-all)?"/.test(f) && f.includes('"data":[');
const taken = (f: string): boolean => scanOkxTrades(f) !== null;

test('okx: documented, recorded and venue trades pushes take the fast path and map as JSON.parse would', () => {
  const recordedTrades = RECORDED.filter(isTrades);
  assert.ok(recordedTrades.length > 20, `recorded trades pushes: ${recordedTrades.length}`);
  const trades = [...DOC.filter(isTrades), ...recordedTrades, ...VENUE];
  for (const frame of trades) {
    assert.ok(taken(frame), `the fast path should take ${frame.slice(0, 160)}`);
    assertSameAsJsonParse(okxMapper, frame);
  }
});

test('okx: every other frame (candles, events, tickers, pong) declines the fast path and maps as before', () => {
  const others = [...DOC, ...RECORDED].filter((f) => !isTrades(f));
  assert.ok(others.length > 20);
  for (const frame of others) {
    assert.equal(taken(frame), false, frame.slice(0, 120));
    if (frame !== 'pong') assertSameAsJsonParse(okxMapper, frame); // ' pong' is not the text pong: not comparable
  }
});

test('okx: 30,000 mutated trades pushes either decline the fast path or map as JSON.parse would', () => {
  const bases = [...DOC.filter(isTrades), ...RECORDED.filter(isTrades).slice(0, 20), ...VENUE.slice(0, 20)];
  const n = mutationsAgree(okxMapper, bases, ['"count":"2",', '"count":"0",', '"ts":"1",', '"channel":"candle1m",', '"event":"error",', '"arg":{},', '"side":"buy",'], taken, 30_000, 18);
  assert.ok(n > 1_000, `mutations still taken by the fast path: ${n}`);
});

test('okx: the fast path declines what it does not fully understand', () => {
  const base = DOC[0]!;
  for (const f of [
    base.replace('"tradeId":"130639474"', '"tradeId":130639474'),
    base.replace('"px":"42219.9"', '"px":"42219\\u002e9"'),
    base.replace('"source":"0"', '"source":["0"]'),
    base.replace('"arg":{', '"arg": {'),
    base.replace('"channel":"trades-all"', '"channel":"trades-all","channel":"tickers"'),
    base.replace(/"data":\[.*\]/, '"data":[]'),
    base.replace('"channel":"trades-all"', '"channel":"candle1m"'),
    `${base}\n`,
  ]) {
    assert.equal(taken(f), false, f);
    assertSameAsJsonParse(okxMapper, f);
  }
});
