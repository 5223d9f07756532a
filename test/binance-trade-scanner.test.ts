/**
 * The Binance mapper's fast path (trade-scanner.ts) must change nothing but speed: for every frame, the
 * events and rejections it produces equal those of the JSON.parse path. The reference is the same frame with
 * a leading space, which JSON.parse accepts and the scanner never takes. Recorded frames, the documented
 * examples, the benchmark's frames, and 30,000 seeded mutations of them (whitespace, escapes, fractions,
 * negatives, nesting, duplicate and reordered keys, truncation) are compared.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { binanceMapper } from '../src/exchanges/binance/mapper.js';
import { scanTrade } from '../src/exchanges/binance/trade-scanner.js';
import { makeWorkload } from '../bench/workload.js';
import { fixtureLines } from './support/fixtures.js';

const RECORDED = ['ws-combined-2021-04-04T2004Z-btc-eth-dot-aggtrade-kline.jsonl', 'ws-combined-2021-08-14T1446Z-aggtrade-kline.jsonl']
  .flatMap((f) => fixtureLines('binance', f));
const DOCUMENTED = [
  '{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}',
  '{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","b":88,"a":50,"T":1672515782136,"m":true,"M":true}',
  '{"e":"aggTrade","E":1672515782136,"s":"BNBBTC","a":12345,"p":"0.001","q":"100","f":100,"l":105,"T":1672515782136,"m":true,"M":true}',
];
const GENERATED = makeWorkload(2_000, 20, 1_000).frames;

/** Everything the mapper told the sink, in order (reject frames omitted: the reference frame has a leading space). */
function mapped(frame: string): unknown[] {
  const out: unknown[] = [];
  binanceMapper.map(frame, 42, {
    trade: (t) => out.push(['trade', t]),
    kline: (k) => out.push(['kline', k]),
    reject: (reason, detail) => out.push(['reject', reason, detail]),
    reconnect: (reason) => out.push(['reconnect', reason]),
  });
  return out;
}

function assertSameAsJsonParse(frame: string): void {
  assert.deepEqual(mapped(frame), mapped(` ${frame}`), `fast path differs on ${JSON.stringify(frame)}`);
}

test('recorded, documented and generated trade frames take the fast path and map as JSON.parse would', () => {
  const trades = [...RECORDED, ...DOCUMENTED, ...GENERATED].filter((f) => /"e":"(agg)?[tT]rade"/.test(f));
  assert.ok(trades.length > 2_000);
  for (const frame of trades) {
    assert.notEqual(scanTrade(frame), null, `the fast path should take ${frame.slice(0, 80)}`);
    assertSameAsJsonParse(frame);
  }
  for (const frame of RECORDED.filter((f) => f.includes('"e":"kline"'))) assert.equal(scanTrade(frame), null, 'klines go to JSON.parse');
});

test('30,000 mutated frames: the fast path either declines or agrees with JSON.parse', () => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
  const pieces = [' ', '\\', '"', '\\"', '.5', 'e3', '-', '{', '}', '[1]', ',', ':', 'null', 'true', 'false', '0', '9007199254740993', '"t":1,', '"p":2,', '"e":"trade",', '"s":"X",', ',"data":{}'];
  const bases = [...DOCUMENTED, ...GENERATED.slice(0, 20), ...RECORDED.filter((f) => f.includes('aggTrade')).slice(0, 20)];
  let taken = 0;
  for (let n = 0; n < 30_000; n++) {
    let f = bases[Math.floor(rnd() * bases.length)]!;
    for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) {
      const at = Math.floor(rnd() * (f.length + 1));
      const kind = rnd();
      if (kind < 0.4) f = f.slice(0, at) + pieces[Math.floor(rnd() * pieces.length)] + f.slice(at);
      else if (kind < 0.8) f = f.slice(0, at) + f.slice(at + 1 + Math.floor(rnd() * 4));
      else f = f.slice(0, at); // truncated
    }
    if (scanTrade(f) !== null) taken++;
    assertSameAsJsonParse(f);
  }
  assert.ok(taken > 1_000, `mutations still taken by the fast path: ${taken}`);
});

test('the fast path declines what it does not fully understand', () => {
  const base = DOCUMENTED[0]!;
  for (const f of [
    base.replace('"t":12345', '"t":12345.0'), // fraction
    base.replace('"t":12345', '"t":-1'), // negative
    base.replace('"t":12345', '"t":1e5'), // exponent
    base.replace('"p":"0.001"', '"p":"0.0\\u00301"'), // escape in a value
    base.replace('"t":12345', '"t":"12345"'), // id as a string
    base.replace('"t":12345', '"t":123456789012345678'), // beyond 2^53
    base.replace(',"M":true', ',"M":{"x":1}'), // nested value
    base.replace(',', ', '), // whitespace
    `{"stream":"bnbbtc@trade","data":${base},"extra":1}`, // wrapper with more keys
    base.replace('"e":"trade"', '"e":"kline"'),
  ]) {
    assert.equal(scanTrade(f), null, f);
    assertSameAsJsonParse(f);
  }
  assert.equal(scanTrade(`{"stream":"bnbbtc@trade","data":${base}}`)?.t, 12345);
});
