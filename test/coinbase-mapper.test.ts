/**
 * The Coinbase Exchange mapper against the documented example frames and a real recorded ws-feed session
 * (test/fixtures/coinbase, see PROVENANCE.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coinbaseMapper, coinbaseSymbols, parseCoinbaseTime } from '../src/exchanges/coinbase/mapper.js';
import { captureFrames, recordMapping } from './support/exchange-fixtures.js';

/** A receive time after every frame's own (a trade stamped ahead of its receive time is rejected). */
const T0 = 1_800_000_000_000;

/** The recorded session's server frames with their receive times. */
const recorded = captureFrames('coinbase', 'ws-feed-2021-04-17-matches.txt');
const mapAll = (frames: readonly { frame: string; receivedAt: number }[]) => recordMapping(coinbaseMapper, frames);
const one = (frame: string, receivedAt = T0) => mapAll([{ frame, receivedAt }]);

// The documented match example, verbatim (https://docs.cdp.coinbase.com/exchange/websocket-feed/channels, Match):
// "The side field indicates the maker order side. If the side is sell this indicates the maker was a sell order
// and the match is considered an up-tick."
const DOC_MATCH = `{
    "type": "match",
    "trade_id": 10,
    "sequence": 50,
    "maker_order_id": "ac928c66-ca53-498f-9c13-a110027a60e8",
    "taker_order_id": "132fb6ae-456b-4654-b4e0-d681ac05cea1",
    "time": "2014-11-07T08:19:27.028459Z",
    "product_id": "BTC-USD",
    "size": "5.23512",
    "price": "400.23",
    "side": "sell"
}`;
// Heartbeat channel example, same page.
const DOC_HEARTBEAT = `{
  "type": "heartbeat",
  "sequence": 90,
  "last_trade_id": 20,
  "product_id": "BTC-USD",
  "time": "2014-11-07T08:19:28.464459Z"
}`;
// Subscriptions response and error message (https://docs.cdp.coinbase.com/exchange/websocket-feed/overview).
const DOC_SUBSCRIPTIONS = `{
    "type": "subscriptions",
    "channels": [
        { "name": "level2", "product_ids": ["ETH-USD", "ETH-EUR"] },
        { "name": "heartbeat", "product_ids": ["ETH-USD", "ETH-EUR"] },
        { "name": "ticker", "product_ids": ["ETH-USD", "ETH-EUR", "ETH-BTC"] }
    ]
}`;
const DOC_ERROR = `{
    "type": "error",
    "message": "error message"
}`;

test('documented match: exact decimals, the TAKER side (maker sold -> taker bought), time to ms, canonical symbol', () => {
  const r = one(DOC_MATCH, 1_415_348_368_000);
  assert.deepEqual(r.rejects, []);
  assert.deepEqual(r.trades, [
    { type: 'trade', exchange: 'coinbase', symbol: 'BTC-USD', id: 10, price: '400.23', qty: '5.23512', side: 'buy', count: 1, time: 1_415_348_367_028, receivedAt: 1_415_348_368_000 },
  ]);
  assert.equal(one(DOC_MATCH.replace('"side": "sell"', '"side": "buy"')).trades[0]!.side, 'sell', 'maker buy = taker sell (down-tick)');
  assert.equal(one(DOC_MATCH.replace('"match"', '"last_match"')).trades[0]!.id, 10, 'last_match is a trade too');
});

test('documented heartbeat and subscriptions are ignored; an error frame is rejected as exchange_error', () => {
  const r = mapAll([DOC_HEARTBEAT, DOC_SUBSCRIPTIONS, DOC_ERROR].map((frame) => ({ frame, receivedAt: T0 })));
  assert.deepEqual(r.trades, []);
  assert.deepEqual(r.rejects, [{ reason: 'exchange_error', detail: 'error message', frame: DOC_ERROR }]);
  const error = '{"type":"error","message":"Failed to subscribe","reason":"BTC-XYZ is not a valid product"}';
  assert.deepEqual(one(error).rejects, [{ reason: 'exchange_error', detail: 'Failed to subscribe: BTC-XYZ is not a valid product', frame: error }]);
});

test('recorded session: every line maps without throwing; 107 trades, acks ignored, other channels rejected as unknown', () => {
  const r = mapAll(recorded);
  assert.equal(recorded.length, 195);
  assert.equal(r.trades.length, 107);
  assert.equal(r.klines.length, 0);
  assert.deepEqual(r.reconnects, []);
  assert.deepEqual([...new Set(r.rejects.map((x) => x.reason))], ['unknown_event'], 'only ticker / l2update, which we never subscribe to');
  assert.equal(r.rejects.length, 25 + 60);
  assert.equal(new Set(r.trades.map((t) => t.symbol)).size, 10);
  for (const t of r.trades) {
    assert.match(t.symbol, /^[A-Z]+-[A-Z]+$/);
    assert.match(t.price, /^\d+(\.\d+)?$/);
    // The recorder's clock ran a little behind the exchange's: within the collector's 60 s skew allowance.
    assert.ok(t.time <= t.receivedAt + 1000, `${t.time} vs received ${t.receivedAt}`);
  }
});

test('recorded session: exact values of a last_match and the first match (taker side, decimals as sent)', () => {
  const r = mapAll(recorded);
  const band = r.trades.find((t) => t.symbol === 'BAND-GBP')!;
  // {"type":"last_match","trade_id":881613,...,"side":"sell","size":"0.04","price":"14.7775","product_id":"BAND-GBP",...,"time":"2021-04-17T16:43:30.244075Z"}
  assert.deepEqual(band, { type: 'trade', exchange: 'coinbase', symbol: 'BAND-GBP', id: 881613, price: '14.7775', qty: '0.04', side: 'buy', count: 1, time: 1_618_677_810_244, receivedAt: 1_618_677_817_080 });
  const skl = r.trades.find((t) => t.id === 280232)!;
  // {"type":"match","trade_id":280232,...,"side":"sell","size":"985","price":"0.00001305","product_id":"SKL-BTC",...,"time":"2021-04-17T16:43:37.089723Z"}
  assert.deepEqual(skl, { type: 'trade', exchange: 'coinbase', symbol: 'SKL-BTC', id: 280232, price: '0.00001305', qty: '985', side: 'buy', count: 1, time: 1_618_677_817_089, receivedAt: 1_618_677_817_130 });
  const makerBuy = r.trades.find((t) => t.id === 280236)!; // "side":"buy" (maker bought) -> the taker sold
  assert.equal(makerBuy.side, 'sell');
  assert.ok(r.trades.some((t) => t.side === 'buy') && r.trades.some((t) => t.side === 'sell'));
});

test('recorded session: trade ids are consecutive per product, last_match included (sequentialTradeIds)', () => {
  const last = new Map<string, number>();
  let consecutive = 0;
  for (const t of mapAll(recorded).trades) {
    const prev = last.get(t.symbol);
    if (prev !== undefined) {
      assert.equal(t.id, prev + 1, `${t.symbol}: ${prev} -> ${t.id}`);
      consecutive++;
    }
    last.set(t.symbol, t.id);
  }
  assert.equal(consecutive, 107 - 10, 'every trade after each product\'s first follows its predecessor');
});

test('malformed and unexpected frames are rejected with a reason, never thrown', () => {
  const cases: [string, string][] = [
    ['not json', 'invalid_json'],
    ['[1,2,3]', 'invalid_json'],
    ['"match"', 'invalid_json'],
    ['{"type":"status","products":[]}', 'unknown_event'],
    ['{"no_type":true}', 'unknown_event'],
    [DOC_MATCH.replace('"BTC-USD"', '"BTCUSD"'), 'unknown_symbol'],
    [DOC_MATCH.replace('"400.23"', '400.23'), 'invalid_field'],
    [DOC_MATCH.replace('"400.23"', '"-400.23"'), 'invalid_price'],
    [DOC_MATCH.replace('"5.23512"', '"1e3"'), 'invalid_qty'],
    [DOC_MATCH.replace('"trade_id": 10', '"trade_id": "10"'), 'invalid_field'],
    [DOC_MATCH.replace('"trade_id": 10', '"trade_id": -1'), 'invalid_field'],
    [DOC_MATCH.replace('"trade_id": 10', '"trade_id": 9007199254740993'), 'invalid_field'],
    [DOC_MATCH.replace('"side": "sell"', '"side": "SELL"'), 'invalid_field'],
    [DOC_MATCH.replace('2014-11-07T08:19:27.028459Z', '2014-11-07 08:19:27'), 'invalid_field'],
    [DOC_MATCH.replace('"product_id": "BTC-USD",', ''), 'invalid_field'],
  ];
  for (const [frame, reason] of cases) {
    const r = one(frame);
    assert.deepEqual(r.trades, [], frame);
    assert.deepEqual(r.rejects.map((x) => x.reason), [reason], frame);
  }
});

test('symbols: product ids are canonical already; anything else is not a Coinbase product id', () => {
  assert.equal(coinbaseSymbols.toCanonical('BTC-USD'), 'BTC-USD');
  assert.equal(coinbaseSymbols.toCanonical('ETH-USDT'), 'ETH-USDT');
  assert.equal(coinbaseSymbols.toCanonical('1INCH-USD'), '1INCH-USD');
  assert.equal(coinbaseSymbols.toCanonical('BTCUSD'), null);
  assert.equal(coinbaseSymbols.toCanonical('btc-usd'), null, 'the feed sends upper case');
  assert.equal(coinbaseSymbols.toNative('ETH-USDT'), 'ETH-USDT');
});

test('times: RFC 3339 UTC with any fraction to epoch ms (truncated); other forms are NaN', () => {
  assert.equal(parseCoinbaseTime('2014-11-07T08:19:27.028459Z'), 1_415_348_367_028);
  assert.equal(parseCoinbaseTime('2014-11-07T08:19:27Z'), 1_415_348_367_000);
  assert.equal(parseCoinbaseTime('2014-11-07T08:19:27.9Z'), 1_415_348_367_900);
  for (const bad of ['2014-11-07', '2014-11-07T08:19:27+01:00', 1_415_348_367_028, null]) assert.ok(Number.isNaN(parseCoinbaseTime(bad)), String(bad));
});
