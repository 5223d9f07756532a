import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { krakenMapper, krakenSymbols } from '../src/exchanges/kraken/mapper.js';
import { plainDecimal } from '../src/exchanges/kraken/numbers.js';
import { captureFrames, recordMapping, type Recorded } from './support/exchange-fixtures.js';

/** A receive time after every frame's own (a trade stamped ahead of its receive time is rejected). */
const T0 = 1_800_000_000_000;

/** Server frames of a capture file. */
const serverFrames = (file: string): string[] => captureFrames('kraken', file).map((f) => f.frame);
const mapAll = (frames: string[], receivedAt?: number): Recorded => recordMapping(krakenMapper, frames, receivedAt);

const total = (r: Recorded): number => r.trades.length + r.klines.length + r.rejects.length + r.reconnects.length;

// Verbatim from https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/trade (snapshot example)
const DOC_TRADE = `{
    "channel": "trade",
    "type": "snapshot",
    "data": [
        {
            "symbol": "MATIC/USD",
            "side": "buy",
            "price": 0.5147,
            "qty": 6423.46326,
            "ord_type": "limit",
            "trade_id": 4665846,
            "timestamp": "2023-09-25T07:48:36.925533Z"
        },
        {
            "symbol": "MATIC/USD",
            "side": "buy",
            "price": 0.5147,
            "qty": 1136.19677815,
            "ord_type": "limit",
            "trade_id": 4665847,
            "timestamp": "2023-09-25T07:49:36.925603Z"
        }
    ]
}`;
// Verbatim from https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/ohlc (snapshot example)
const DOC_OHLC = `{
    "channel": "ohlc",
    "type": "snapshot",
    "timestamp": "2023-10-04T16:26:01.806315597Z",
    "data": [
        {
            "symbol": "ALGO/USD",
            "open": 0.09875,
            "high": 0.09875,
            "low": 0.09875,
            "close": 0.09875,
            "trades": 1,
            "volume": 201.86015,
            "vwap": 0.09875,
            "interval_begin": "2023-10-04T15:25:00.000000000Z",
            "interval": 5,
            "timestamp": "2023-10-04T15:30:00.000000Z"
        },
        {
            "symbol": "ALGO/USD",
            "open": 0.09875,
            "high": 0.0988,
            "low": 0.09875,
            "close": 0.09875,
            "trades": 13,
            "volume": 16255.46368,
            "vwap": 0.09879,
            "interval_begin": "2023-10-04T15:30:00.000000000Z",
            "interval": 5,
            "timestamp": "2023-10-04T15:35:00.000000Z"
        }
    ]
}`;
// https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/heartbeat and .../status (examples)
const DOC_HEARTBEAT = '{\n    "channel": "heartbeat"\n}';
const DOC_STATUS = '{"channel":"status","data":[{"api_version":"v2","connection_id":13834774380200032777,"system":"online","version":"2.0.0"}],"type":"update"}';
// Subscribe acks as documented on the v2 trade page (success and failure)
const DOC_ACK = '{"method":"subscribe","result":{"channel":"trade","snapshot":false,"symbol":"BTC/USD"},"success":true,"time_in":"2018-11-12T21:14:59.545897Z","time_out":"2018-11-12T21:14:59.545901Z"}';
const DOC_ACK_FAIL = '{"error":"Currency pair not supported XBT/USD","method":"subscribe","success":false,"symbol":"XBT/USD","time_in":"2018-11-12T21:14:59.545897Z","time_out":"2018-11-12T21:14:59.545901Z"}';
const PONG = '{"method":"pong","req_id":101,"time_in":"2023-09-24T14:10:23.799685Z","time_out":"2023-09-24T14:10:23.799703Z"}';

describe('krakenMapper: documented v2 frames', () => {
  test('trade snapshot: exact decimals as sent, taker side, canonical symbol, consecutive ids', () => {
    const r = mapAll([DOC_TRADE], T0 + 42);
    assert.equal(total(r), 2);
    assert.deepEqual(r.trades, [
      { type: 'trade', exchange: 'kraken', symbol: 'MATIC-USD', id: 4665846, price: '0.5147', qty: '6423.46326', side: 'buy', count: 1, time: Date.UTC(2023, 8, 25, 7, 48, 36, 925), receivedAt: T0 + 42 },
      { type: 'trade', exchange: 'kraken', symbol: 'MATIC-USD', id: 4665847, price: '0.5147', qty: '1136.19677815', side: 'buy', count: 1, time: Date.UTC(2023, 8, 25, 7, 49, 36, 925), receivedAt: T0 + 42 },
    ]);
    assert.equal(r.trades[1]!.id, r.trades[0]!.id + 1);
  });

  test('ohlc snapshot: candles past their end at the frame timestamp are closed; no quote volume', () => {
    const r = mapAll([DOC_OHLC], T0 + 7);
    assert.equal(total(r), 2);
    const frameTime = Date.parse('2023-10-04T16:26:01.806Z');
    assert.deepEqual(r.klines[0], {
      type: 'kline', exchange: 'kraken', symbol: 'ALGO-USD', timeframe: '5m', openTime: Date.UTC(2023, 9, 4, 15, 25), open: '0.09875', high: '0.09875', low: '0.09875', close: '0.09875',
      volume: '201.86015', quoteVolume: null, takerBuyVolume: null, tradeCount: 1, closed: true, time: frameTime, receivedAt: T0 + 7,
    });
    assert.deepEqual([r.klines[1]!.high, r.klines[1]!.volume, r.klines[1]!.tradeCount, r.klines[1]!.closed], ['0.0988', '16255.46368', 13, true]);
  });

  test('an ohlc update inside its period is not closed; one without a frame timestamp is never closed', () => {
    const update = (ts: string) => `{"channel":"ohlc","type":"update",${ts}"data":[{"symbol":"ETH/USDT","open":0.5624,"high":0.5628,"low":0.5622,"close":0.5627,"trades":12,"volume":30927.68066226,"vwap":0.5626,"interval_begin":"2023-10-04T16:25:00.000000000Z","interval":5,"timestamp":"2023-10-04T16:30:00.000000Z"}]}`;
    const r = mapAll([update('"timestamp":"2023-10-04T16:26:30.524394914Z",'), update(''), update('"timestamp":"2023-10-04T16:30:00.000000Z",')], 99);
    assert.deepEqual(r.klines.map((k) => [k.symbol, k.closed, k.time]), [['ETH-USDT', false, Date.UTC(2023, 9, 4, 16, 26, 30, 524)], ['ETH-USDT', false, 99], ['ETH-USDT', true, Date.UTC(2023, 9, 4, 16, 30)]]);
    assert.equal(r.klines[0]!.volume, '30927.68066226');
  });

  test('heartbeat, status, subscribe ack and pong are ignored; a failed subscribe is an exchange_error', () => {
    const r = mapAll([DOC_HEARTBEAT, DOC_STATUS, DOC_ACK, PONG, DOC_ACK_FAIL]);
    assert.deepEqual(r.rejects.map((x) => [x.reason, x.detail]), [['exchange_error', 'Currency pair not supported XBT/USD']]);
    assert.equal(total(r), 1);
  });
});

describe('krakenMapper: exact numbers and symbols', () => {
  const trade = (price: string, qty: string, symbol = 'BTC/USD') =>
    `{"channel":"trade","type":"update","data":[{"symbol":"${symbol}","side":"sell","price":${price},"qty":${qty},"ord_type":"market","trade_id":9,"timestamp":"2024-01-01T00:00:00.000001Z"}]}`;

  test('number text is kept digit for digit, where JSON.parse would round or reformat it', () => {
    const r = mapAll([trade('43210.12000000', '40.0'), trade('12345678.123456789012', '0.00000050'), trade('1E+2', '5e-7'), trade('"0.10"', '"2"')]);
    assert.deepEqual(r.trades.map((t) => [t.price, t.qty]), [['43210.12000000', '40.0'], ['12345678.123456789012', '0.00000050'], ['100', '0.0000005'], ['0.10', '2']]);
    assert.deepEqual(r.trades.map((t) => [t.symbol, t.side]), Array(4).fill(['BTC-USD', 'sell']));
  });

  test('XBT (v1/REST spelling) maps to BTC; toNative gives the v2 form', () => {
    for (const native of ['XBT/USD', 'BTC/USD', 'XBTUSD', 'XXBTZUSD', 'xbt/usd', 'BTC-USD']) assert.equal(krakenSymbols.toCanonical(native), 'BTC-USD', native);
    assert.equal(krakenSymbols.toCanonical('XDG/EUR'), 'DOGE-EUR');
    assert.equal(krakenSymbols.toCanonical('XETHXXBT'), 'ETH-BTC');
    assert.equal(krakenSymbols.toCanonical('NOTASYMBOL'), null);
    assert.equal(krakenSymbols.toNative('BTC-USD'), 'BTC/USD');
    assert.equal(krakenSymbols.toNative('DOGE-USDT'), 'DOGE/USDT');
    assert.equal(mapAll([trade('1', '1', 'XBT/EUR')]).trades[0]!.symbol, 'BTC-EUR');
  });

  test('plainDecimal', () => {
    assert.deepEqual(['0.5147', '1.5e-3', '25E1', '0.05e2', '-1', '1e'].map(plainDecimal), ['0.5147', '0.0015', '250', '5', null, null]);
  });
});

describe('krakenMapper: robustness', () => {
  test('every frame of the recorded v1 sessions is rejected as unknown_event, none throws or yields an event', () => {
    for (const file of ['v1-trade-2021-04-17.txt', 'v1-ticker-2021-04-17.txt']) {
      const frames = serverFrames(file);
      assert.ok(frames.length > 40, `${file} has frames`);
      const r = mapAll(frames);
      assert.equal(r.trades.length + r.klines.length + r.reconnects.length, 0);
      assert.equal(r.rejects.length, frames.length);
      assert.ok(r.rejects.every((x) => x.reason === 'unknown_event'), file);
    }
  });

  test('malformed and unknown frames are rejected with a reason', () => {
    const ok = JSON.parse(DOC_TRADE).data[0];
    const tradeWith = (patch: Record<string, unknown>) => JSON.stringify({ channel: 'trade', type: 'update', data: [{ ...ok, ...patch }] });
    const cases: [string, string][] = [
      ['not json', 'invalid_json'],
      ['"a string"', 'invalid_json'],
      ['[1,[],"trade","XBT/USD"]', 'unknown_event'],
      ['{"channel":"book","type":"snapshot","data":[]}', 'unknown_event'],
      ['{"channel":"trade","type":"update","data":{}}', 'invalid_field'],
      [tradeWith({ price: -1 }), 'invalid_price'],
      [tradeWith({ trade_id: 'OQCLML' }), 'invalid_field'],
      [tradeWith({ side: 'b' }), 'invalid_field'],
      [tradeWith({ timestamp: 'yesterday' }), 'invalid_field'],
      [tradeWith({ symbol: 'NOTASYMBOL' }), 'unknown_symbol'],
      ['{"channel":"ohlc","type":"update","data":[{"symbol":"BTC/USD","open":1,"high":1,"low":1,"close":1,"trades":1,"volume":1,"interval_begin":"2024-01-01T00:00:00Z","interval":10080}]}', 'invalid_field'],
      ['{"error":"Malformed request","method":"error","success":false}', 'exchange_error'],
      ['{"Error":"Exceeded msg rate"}', 'exchange_error'],
    ];
    for (const [frame, reason] of cases) {
      const r = mapAll([frame]);
      assert.deepEqual(r.rejects.map((x) => x.reason), [reason], frame);
      assert.equal(total(r), 1, frame);
    }
  });
});
