/**
 * Kraken's fast path (src/exchanges/kraken/trade-scanner.ts) changes nothing but speed: it reads the trade fields
 * and the exact price/qty number texts in one scan; on documented, recorded (v1, under CI the workspace's
 * captures too: all declined) and simulated-venue frames, and on 30,000 seeded mutations of them, the mapper's
 * events and rejections equal those of its JSON.parse + rawNumbers path (test/support/scanner-differential.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { krakenMapper } from '../src/exchanges/kraken/mapper.js';
import { scanKrakenTrades } from '../src/exchanges/kraken/trade-scanner.js';
import { krakenProtocol } from '../src/demo/simulated-venue/kraken.js';
import { DOCUMENTED, recordedFrames, sharedCaptureFrames } from './faults/seed-frames.js';
import { assertSameAsJsonParse, mapped, mutationsAgree, venueFrames } from './support/scanner-differential.js';
import { mulberry32 } from '../src/core/random.js';

const DOC = DOCUMENTED.kraken;
const RECORDED = [...recordedFrames('kraken'), ...sharedCaptureFrames('kraken')];
const VENUE = venueFrames(krakenProtocol(), ['BTC-USD', 'ETH-USDT', 'SOL-EUR'], 3_000, 14);
const isTrade = (f: string): boolean => f.startsWith('{"channel":"trade"');
const taken = (f: string): boolean => scanKrakenTrades(f, []) !== null;

test('kraken: documented and venue trade frames take the fast path and map as JSON.parse would', () => {
  const trades = [...DOC.filter(isTrade), ...VENUE];
  assert.ok(trades.length > 3_000);
  for (const frame of trades) {
    assert.ok(taken(frame), `the fast path should take ${frame.slice(0, 160)}`);
    assertSameAsJsonParse(krakenMapper, frame);
  }
});

test('kraken: the number texts are kept digit for digit on the fast path too', () => {
  const frame = '{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":40.0,"qty":0.00000050,"ord_type":"limit","trade_id":1,"timestamp":"2023-09-25T07:48:36.925533Z"},{"symbol":"BTC/USD","side":"sell","price":12345678901234.12345678,"qty":3,"ord_type":"limit","trade_id":2,"timestamp":"2023-09-25T07:48:36.925533Z"}]}';
  assert.ok(taken(frame));
  const out = mapped(krakenMapper, frame) as [string, { price: string; qty: string }][];
  assert.deepEqual(out.map(([, t]) => [t.price, t.qty]), [['40.0', '0.00000050'], ['12345678901234.12345678', '3']]);
  assertSameAsJsonParse(krakenMapper, frame);
});

test('kraken: every other frame (ohlc, heartbeats, acks, recorded v1 frames) declines the fast path and maps as before', () => {
  const others = [...DOC.filter((f) => !isTrade(f)), ...RECORDED];
  assert.ok(others.length > 20);
  for (const frame of others) {
    assert.equal(taken(frame), false, frame.slice(0, 120));
    assertSameAsJsonParse(krakenMapper, frame);
  }
});

test('kraken: 30,000 mutated trade frames either decline the fast path or map as JSON.parse would', () => {
  const bases = [...DOC.filter(isTrade), ...VENUE.slice(0, 40)];
  const n = mutationsAgree(krakenMapper, bases, ['"price":1e-7,', '"qty":-1,', '"price":"1.5",', '"trade_id":1,', '"channel":"ohlc",', '"data":[],'], taken, 30_000, 18);
  assert.ok(n > 1_000, `mutations still taken by the fast path: ${n}`);
});

test('kraken: the fast path declines what it does not fully understand', () => {
  const base = DOC[0]!;
  for (const f of [
    base.replace('"price":0.5147', '"price":5.147e-1'),
    base.replace('"price":0.5147', '"price":-0.5147'),
    base.replace('"price":0.5147', '"price":"0.5147"'),
    base.replace('"trade_id":4665846', '"trade_id":4665846.0'),
    base.replace('"symbol":"MATIC/USD"', '"symbol":"MATIC\\/USD"'),
    base.replace('"ord_type":"limit"', '"ord_type":{"a":1}'),
    base.replace('"data":[', '"data": ['),
    base.replace('"qty":6423.46326', '"qty":6423.46326,"qty":1'),
  ]) {
    assert.equal(taken(f), false, f);
    assertSameAsJsonParse(krakenMapper, f);
  }
});

test('kraken: the numbers the fast path computes are the doubles JSON.parse reads, on 50,000 seeded numbers', () => {
  const rnd = mulberry32(22);
  const texts: string[] = [];
  for (let k = 0; k < 50_000; k++) {
    const intDigits = Math.floor(rnd() * 17);
    const fracDigits = rnd() < 0.2 ? 0 : 1 + Math.floor(rnd() * 18);
    const digit = () => String(Math.floor(rnd() * 10));
    const int = intDigits === 0 ? '0' : String(1 + Math.floor(rnd() * 9)) + Array.from({ length: intDigits - 1 }, digit).join('');
    const price = fracDigits === 0 ? int : `${int}.${Array.from({ length: fracDigits }, digit).join('')}`;
    const frame = `{"channel":"trade","data":[{"symbol":"BTC/USD","price":${price},"qty":${price}}]}`;
    const msg = scanKrakenTrades(frame, texts);
    assert.ok(msg, frame);
    const d = (msg.data as { price: number; qty: number }[])[0]!;
    const parsed = (JSON.parse(frame) as { data: { price: number }[] }).data[0]!.price;
    assert.ok(Object.is(d.price, parsed) && Object.is(d.qty, parsed), `${price}: ${d.price} != ${parsed}`);
    assert.deepEqual(texts, [price, price]);
  }
});
