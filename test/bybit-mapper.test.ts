/**
 * The Bybit v5 spot mapper on the documented example frames (copied verbatim from the pages cited next to
 * each), on spot-shaped trade ids, on malformed input, and on a real recorded (v1) session for robustness.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bybitMapper, tradeIdFromString } from '../src/exchanges/bybit/mapper.js';
import { captureFrames, recordMapping, type Recorded } from './support/exchange-fixtures.js';

/** A receive time after every frame's own (a trade stamped ahead of its receive time is rejected). */
const T0 = 1_800_000_000_000;

const mapAll = (frames: string[], receivedAt?: number): Recorded => recordMapping(bybitMapper, frames, receivedAt);

// https://bybit-exchange.github.io/docs/v5/websocket/public/trade (Response Example)
const DOC_TRADE = `{
    "topic": "publicTrade.BTCUSDT",
    "type": "snapshot",
    "ts": 1672304486868,
    "data": [
        {
            "T": 1672304486865,
            "s": "BTCUSDT",
            "S": "Buy",
            "v": "0.001",
            "p": "16578.50",
            "L": "PlusTick",
            "i": "20f43950-d8dd-5b31-9112-a178eb6023af",
            "BT": false
        }
    ]
}`;
// https://bybit-exchange.github.io/docs/v5/websocket/public/kline (Response Example)
const DOC_KLINE = `{
    "topic": "kline.5.BTCUSDT",
    "data": [
        {
            "start": 1672324800000,
            "end": 1672325099999,
            "interval": "5",
            "open": "16649.5",
            "close": "16677",
            "high": "16677",
            "low": "16608",
            "volume": "2.081",
            "turnover": "34666.4005",
            "confirm": false,
            "timestamp": 1672324988882
        }
    ],
    "ts": 1672324988882,
    "type": "snapshot"
}`;
// https://bybit-exchange.github.io/docs/v5/ws/connect (pong of public spot; subscription response of public spot)
const DOC_PONG = '{"success": true, "ret_msg": "pong", "conn_id": "0970e817-426e-429a-a679-ff7f55e0b16a", "op": "ping"}';
const DOC_SUB_ACK = '{"success": true, "ret_msg": "subscribe", "conn_id": "2324d924-aa4d-45b0-a858-7b8be29ab52b", "req_id": "10001", "op": "subscribe"}';
const OPTION_PONG = '{"args": ["1672916271846"], "op": "pong"}';

describe('bybitMapper: documented examples', () => {
  test('publicTrade: canonical symbol, exact decimals, taker side, fill time, id derived from the UUID', () => {
    const r = mapAll([DOC_TRADE], T0 + 42);
    assert.equal(r.rejects.length + r.klines.length, 0);
    const id = tradeIdFromString('20f43950-d8dd-5b31-9112-a178eb6023af');
    assert.ok(Number.isSafeInteger(id) && id >= 0);
    assert.deepEqual(r.trades, [
      { type: 'trade', exchange: 'bybit', symbol: 'BTC-USDT', id, price: '16578.50', qty: '0.001', side: 'buy', count: 1, time: 1672304486865, receivedAt: T0 + 42 },
    ]);
  });

  test('kline: interval 5 -> 5m, turnover is the quote volume, confirm=false is open, unreported fields null', () => {
    const r = mapAll([DOC_KLINE], T0 + 7);
    assert.equal(r.rejects.length + r.trades.length, 0);
    assert.deepEqual(r.klines, [
      {
        type: 'kline', exchange: 'bybit', symbol: 'BTC-USDT', timeframe: '5m', openTime: 1672324800000, open: '16649.5', high: '16677', low: '16608',
        close: '16677', volume: '2.081', quoteVolume: '34666.4005', takerBuyVolume: null, tradeCount: null, closed: false, time: 1672324988882, receivedAt: T0 + 7,
      },
    ]);
    const closed = mapAll([DOC_KLINE.replace('"confirm": false', '"confirm": true').replace('kline.5.', 'kline.D.')]);
    assert.deepEqual([closed.klines[0]!.closed, closed.klines[0]!.timeframe], [true, '1d']);
  });

  test('pongs and subscribe acks are ignored, not rejected', () => {
    const r = mapAll([DOC_PONG, DOC_SUB_ACK, OPTION_PONG]);
    assert.equal(r.trades.length + r.klines.length + r.rejects.length + r.reconnects.length, 0);
  });
});

describe('bybitMapper: trade ids', () => {
  test('spot numeric ids (19 digits, above 2^53) keep their last 15 digits: safe, distinct, in order', () => {
    const frame = JSON.stringify({
      topic: 'publicTrade.BTCUSDT', ts: 1789875217841, type: 'snapshot',
      data: [
        { T: 1789875217840, s: 'BTCUSDT', S: 'Sell', v: '0.06', p: '80413.3', i: '2290000001211680903', BT: false },
        { T: 1789875217840, s: 'BTCUSDT', S: 'Buy', v: '0.004904', p: '80413.4', i: '2290000001211680919', BT: false },
      ],
    });
    const r = mapAll([frame]);
    assert.deepEqual(r.trades.map((t) => [t.id, t.side, t.price, t.qty]), [[1211680903, 'sell', '80413.3', '0.06'], [1211680919, 'buy', '80413.4', '0.004904']]);
  });

  test('derivation is deterministic and stays within safe integers', () => {
    assert.equal(tradeIdFromString('12345'), 12345);
    assert.equal(tradeIdFromString('999999999999999999999'), 999_999_999_999_999);
    assert.equal(tradeIdFromString('20f43950-d8dd-5b31-9112-a178eb6023af'), tradeIdFromString('20f43950-d8dd-5b31-9112-a178eb6023af'));
    assert.notEqual(tradeIdFromString('20f43950-d8dd-5b31-9112-a178eb6023af'), tradeIdFromString('20f43950-d8dd-5b31-9112-a178eb6023ag'));
    const hashed = new Set(Array.from({ length: 20_000 }, (_, i) => tradeIdFromString(`uuid-${i}`)));
    assert.equal(hashed.size, 20_000);
    for (const id of hashed) assert.ok(Number.isSafeInteger(id) && id >= 0);
    assert.equal(tradeIdFromString(''), -1);
    assert.equal(tradeIdFromString('1'.repeat(65)), -1);
  });
});

describe('bybitMapper: robustness', () => {
  const trade = (d: Record<string, unknown>) => JSON.stringify({ topic: 'publicTrade.BTCUSDT', ts: 1, type: 'snapshot', data: [{ T: 1, s: 'BTCUSDT', S: 'Buy', v: '1', p: '2', i: '7', ...d }] });
  const cases: [string, string][] = [
    ['not json', 'invalid_json'],
    ['[1,2]', 'invalid_json'],
    ['{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[],"a":[],"u":1,"seq":2}}', 'unknown_event'],
    ['{"hello":"world"}', 'unknown_event'],
    ['{"success":false,"ret_msg":"args size >10","conn_id":"c","req_id":"many","op":"subscribe"}', 'exchange_error'],
    ['{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":{}}', 'invalid_field'],
    [trade({ S: 'buy' }), 'invalid_field'],
    [trade({ i: 7 }), 'invalid_field'],
    [trade({ p: 16578.5 }), 'invalid_field'],
    [trade({ T: '1' }), 'invalid_field'],
    [trade({ s: 'FOOBAR' }), 'unknown_symbol'],
    [DOC_KLINE.replace('kline.5.', 'kline.W.'), 'invalid_field'],
    [DOC_KLINE.replace('kline.5.BTCUSDT', 'kline.5.FOOBAR'), 'unknown_symbol'],
    [DOC_KLINE.replace('"volume": "2.081"', '"volume": 2.081'), 'invalid_field'],
  ];
  for (const [frame, reason] of cases) {
    test(`${reason}: ${frame.replace(/\s+/g, ' ').slice(0, 70)}`, () => {
      const r = mapAll([frame]);
      assert.deepEqual([r.trades.length, r.klines.length, r.rejects.map((x) => x.reason)], [0, 0, [reason]]);
    });
  }

  test('one bad entry in a frame is rejected alone; the good ones are mapped', () => {
    const frame = JSON.stringify({ topic: 'publicTrade.ETHUSDT', ts: 1672304486868, type: 'snapshot', data: [{ T: 1672304486865, s: 'ETHUSDT', S: 'Sell', v: '1', p: '2', i: '5' }, { T: 1672304486865, s: 'ETHUSDT' }] });
    const r = mapAll([frame]);
    assert.deepEqual([r.trades.map((t) => [t.symbol, t.id, t.side]), r.rejects.map((x) => x.reason)], [[['ETH-USDT', 5, 'sell']], ['invalid_field']]);
  });

  test('every frame of the recorded v1 session is ignored (acks) or rejected (v1 topics), never thrown', () => {
    const frames = captureFrames('bybit', 'v1-realtime_public-2021-04-17.txt').map((f) => f.frame);
    assert.equal(frames.length, 150);
    const acks = frames.filter((f) => f.startsWith('{"success":true')).length;
    assert.equal(acks, 16);
    const r = mapAll(frames);
    assert.equal(r.trades.length + r.klines.length + r.reconnects.length, 0);
    assert.equal(r.rejects.length, frames.length - acks);
    assert.ok(r.rejects.every((x) => x.reason === 'unknown_event'));
    assert.ok(r.rejects.some((x) => x.detail.includes('trade.BCHUSDT')));
  });
});
