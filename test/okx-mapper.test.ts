import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { okxMapper } from '../src/exchanges/okx/mapper.js';
import { captureFrames, recordMapping, type Recorded } from './support/exchange-fixtures.js';
import type { Trade } from '../src/core/types.js';

/** A receive time after every frame's own (a trade stamped ahead of its receive time is rejected). */
const T0 = 1_800_000_000_000;

type Mapped = Recorded;
const mapOne = (frame: string, receivedAt?: number): Mapped => recordMapping(okxMapper, [frame], receivedAt);

const total = (r: Mapped): number => r.trades.length + r.klines.length + r.rejects.length + r.reconnects.length;

// Documented examples, verbatim from https://www.okx.com/docs-v5/en/ (API v5):
// #order-book-trading-market-data-ws-all-trades-channel (push data example)
const DOC_TRADES_ALL = '{"arg":{"channel":"trades-all","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"130639474","px":"42219.9","sz":"0.12060306","side":"buy","source":"0","ts":"1630048897897"}]}';
// #order-book-trading-market-data-ws-trades-channel (push data example: 3 trades of one taker order, 130639472..474)
const DOC_TRADES = '{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"130639474","px":"42219.9","sz":"0.12060306","side":"buy","ts":"1630048897897","count":"3","source":"0","seqId":1234}]}';
// #order-book-trading-market-data-ws-candlesticks-channel (push data example; candle1D is the UTC+8 day)
const DOC_CANDLE_ROW = '["1597026383085","8533.02","8553.74","8527.17","8548.26","45247","529.5858061","5529.5858061","0"]';
const DOC_CANDLE_1D = `{"arg":{"channel":"candle1D","instId":"BTC-USDT"},"data":[${DOC_CANDLE_ROW}]}`;
// the trades channel's success and failure responses, and #overview-websocket-notification
const DOC_ACK = '{"id":"1512","event":"subscribe","arg":{"channel":"trades","instId":"BTC-USDT"},"connId":"a4d3ae55"}';
const DOC_ERROR = '{"id":"1512","event":"error","code":"60012","msg":"Invalid request: {\\"op\\": \\"subscribe\\", \\"argss\\":[{ \\"channel\\" : \\"trades\\", \\"instId\\" : \\"BTC-USD-191227\\"}]}","connId":"a4d3ae55"}';
const DOC_NOTICE = '{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.","connId":"a4d3ae55"}';

describe('okxMapper: documented examples', () => {
  test('trades-all: one trade, exact strings, taker side, string ids and times as numbers, count 1', () => {
    const r = mapOne(DOC_TRADES_ALL, T0 + 42);
    assert.equal(total(r), 1);
    assert.deepEqual(r.trades[0], { type: 'trade', exchange: 'okx', symbol: 'BTC-USDT', id: 130639474, price: '42219.9', qty: '0.12060306', side: 'buy', count: 1, time: 1630048897897, receivedAt: T0 + 42 });
  });

  test('trades (aggregated): id is the last trade id, count is the number aggregated', () => {
    const r = mapOne(DOC_TRADES, T0 + 7);
    assert.equal(total(r), 1);
    assert.deepEqual(r.trades[0], { type: 'trade', exchange: 'okx', symbol: 'BTC-USDT', id: 130639474, price: '42219.9', qty: '0.12060306', side: 'buy', count: 3, time: 1630048897897, receivedAt: T0 + 7 });
    assert.equal(mapOne(DOC_TRADES_ALL.replace('"buy"', '"sell"')).trades[0]?.side, 'sell');
  });

  test('candles: only UTC-aligned bars; the documented candle1D (UTC+8 day) is refused, candle1Dutc maps', () => {
    const utc8 = mapOne(DOC_CANDLE_1D);
    assert.deepEqual(utc8.rejects.map((x) => x.reason), ['invalid_field']);
    const r = mapOne(DOC_CANDLE_1D.replace('candle1D', 'candle1Dutc'), T0 + 9);
    assert.equal(total(r), 1);
    assert.deepEqual(r.klines[0], {
      type: 'kline', exchange: 'okx', symbol: 'BTC-USDT', timeframe: '1d', openTime: 1597026383085,
      open: '8533.02', high: '8553.74', low: '8527.17', close: '8548.26', volume: '45247', quoteVolume: '5529.5858061',
      takerBuyVolume: null, tradeCount: null, closed: false, time: T0 + 9, receivedAt: T0 + 9,
    });
    const closed = mapOne(DOC_CANDLE_1D.replace('candle1D', 'candle1m').replace('"0"]', '"1"]'));
    assert.equal(closed.klines[0]?.closed, true);
    assert.equal(closed.klines[0]?.timeframe, '1m');
    for (const [channel, tf] of [['candle1s', '1s'], ['candle1H', '1h'], ['candle4H', '4h'], ['candle6Hutc', '6h'], ['candle12Hutc', '12h']] as const) {
      assert.equal(mapOne(DOC_CANDLE_1D.replace('candle1D', channel)).klines[0]?.timeframe, tf, channel);
    }
    for (const channel of ['candle6H', 'candle12H', 'candle1W', 'candle1Wutc']) assert.equal(mapOne(DOC_CANDLE_1D.replace('candle1D', channel)).rejects[0]?.reason, 'invalid_field', channel);
  });

  test('acks and pong are ignored; an error is exchange_error with code and message; notice 64008 reconnects', () => {
    assert.equal(total(mapOne(DOC_ACK)), 0);
    assert.equal(total(mapOne('{"event":"unsubscribe","arg":{"channel":"trades-all","instId":"BTC-USDT"},"connId":"d0b44253"}')), 0);
    assert.equal(total(mapOne('pong')), 0);
    const err = mapOne(DOC_ERROR);
    assert.deepEqual(err.rejects.map((x) => x.reason), ['exchange_error']);
    assert.match(err.rejects[0]!.detail, /^60012 Invalid request/);
    assert.deepEqual(mapOne(DOC_NOTICE), { trades: [], klines: [], rejects: [], reconnects: ['service_upgrade'] });
    assert.equal(mapOne('{"event":"notice","code":"99999","msg":"?"}').rejects[0]?.reason, 'unknown_event');
  });
});

describe('okxMapper: real recorded frames (test/fixtures/okx, see PROVENANCE.md)', () => {
  const received = captureFrames('okx', 'OKX.ws.1.0-trades.txt').map(({ receivedAt, frame }) => ({ at: receivedAt, frame }));

  test('every recorded frame maps without throwing, to exactly what it is', () => {
    assert.equal(received.length, 100);
    const reasons = new Map<string, number>();
    const trades: Trade[] = [];
    for (const { at, frame } of received) {
      const r = mapOne(frame, at);
      assert.ok(total(r) <= 1, frame);
      trades.push(...r.trades);
      for (const x of r.rejects) reasons.set(x.reason, (reasons.get(x.reason) ?? 0) + 1);
      const raw = JSON.parse(frame) as { arg?: { channel: string }; data?: Record<string, string>[]; event?: string };
      if (raw.event === 'subscribe') assert.equal(total(r), 0, 'acks are silent');
      if (raw.arg?.channel === 'trades' && raw.data) {
        const d = raw.data[0]!;
        if (d.instId !== 'BTC-USDT') assert.equal(r.rejects[0]?.reason, 'unknown_symbol', 'futures and swaps are not spot symbols');
        else assert.deepEqual(r.trades[0], { type: 'trade', exchange: 'okx', symbol: 'BTC-USDT', id: Number(d.tradeId), price: d.px, qty: d.sz, side: d.side, count: 1, time: Number(d.ts), receivedAt: at });
      }
    }
    assert.equal(trades.length, 69);
    // 4 + 1 futures/swap trades; tickers and books are channels candlestack does not subscribe to.
    assert.deepEqual(Object.fromEntries(reasons), { unknown_symbol: 5, unknown_event: 8 });
  });

  test('trade ids are consecutive per instrument (what sequentialTradeIds claims), with buys and sells', () => {
    const byInstrument = new Map<string, number[]>();
    for (const { frame } of received) {
      const raw = JSON.parse(frame) as { arg?: { channel: string }; data?: { instId: string; tradeId: string }[] };
      if (raw.arg?.channel === 'trades' && raw.data) for (const d of raw.data) byInstrument.set(d.instId, [...(byInstrument.get(d.instId) ?? []), Number(d.tradeId)]);
    }
    const btc = byInstrument.get('BTC-USDT')!;
    assert.deepEqual(btc, Array.from({ length: 69 }, (_, i) => 338476307 + i));
    assert.deepEqual(byInstrument.get('BTC-USD-220527'), [7849, 7850, 7851, 7852]);
    const sides = new Set(received.flatMap(({ frame }) => mapOne(frame).trades.map((t) => t.side)));
    assert.deepEqual([...sides].sort(), ['buy', 'sell']);
  });
});

describe('okxMapper: malformed frames are rejected with a reason, never thrown', () => {
  const trade = (JSON.parse(DOC_TRADES_ALL) as { data: Record<string, unknown>[] }).data[0]!;
  const tradeWith = (key: string, value: unknown): string => JSON.stringify({ arg: { channel: 'trades-all', instId: 'BTC-USDT' }, data: [{ ...trade, [key]: value }] });
  const candle = (row: unknown[], instId: unknown = 'BTC-USDT'): string => JSON.stringify({ arg: { channel: 'candle1m', instId }, data: [row] });
  const row = JSON.parse(DOC_CANDLE_ROW) as string[];
  const rowWith = (i: number, v: unknown): unknown[] => row.map((x, j) => (j === i ? v : x));
  const cases: [string, string, string][] = [
    ['not JSON', 'not json', 'invalid_json'],
    ['empty frame', '', 'invalid_json'],
    ['truncated', DOC_TRADES_ALL.slice(0, 50), 'invalid_json'],
    ['JSON array', '[1,2]', 'invalid_json'],
    ['JSON null', 'null', 'invalid_json'],
    ['text ping from a server', 'ping', 'invalid_json'],
    ['unknown event', '{"event":"mystery"}', 'unknown_event'],
    ['object without event or arg', '{"hello":"world"}', 'unknown_event'],
    ['unknown channel', '{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{}]}', 'unknown_event'],
    ['data not an array', '{"arg":{"channel":"trades-all","instId":"BTC-USDT"},"data":{}}', 'invalid_field'],
    ['empty data', '{"arg":{"channel":"trades-all","instId":"BTC-USDT"},"data":[]}', 'invalid_field'],
    ['trade entry not an object', '{"arg":{"channel":"trades-all","instId":"BTC-USDT"},"data":[5]}', 'invalid_field'],
    ['trade of a swap', tradeWith('instId', 'BTC-USDT-SWAP'), 'unknown_symbol'],
    ['trade without instId', tradeWith('instId', undefined), 'invalid_field'],
    ['tradeId as number', tradeWith('tradeId', 130639474), 'invalid_field'],
    ['tradeId not digits', tradeWith('tradeId', '12a'), 'invalid_field'],
    ['tradeId negative', tradeWith('tradeId', '-1'), 'invalid_field'],
    ['tradeId beyond 2^53', tradeWith('tradeId', '9007199254740993'), 'invalid_field'],
    ['price as number', tradeWith('px', 42219.9), 'invalid_field'],
    ['price empty', tradeWith('px', ''), 'invalid_price'],
    ['price with exponent', tradeWith('px', '4.2e4'), 'invalid_price'],
    ['size missing', tradeWith('sz', undefined), 'invalid_field'],
    ['side unknown', tradeWith('side', 'BUY'), 'invalid_field'],
    ['ts as number', tradeWith('ts', 1630048897897), 'invalid_field'],
    ['count zero', tradeWith('count', '0'), 'invalid_field'],
    ['candle of an unknown instrument', candle(row, 'BTC-USD-220527'), 'unknown_symbol'],
    ['candle without instId', candle(row, null), 'unknown_symbol'],
    ['candle row too short', candle(row.slice(0, 8)), 'invalid_field'],
    ['candle row not an array', candle({} as unknown as unknown[]), 'invalid_field'],
    ['candle ts not digits', candle(rowWith(0, 'x')), 'invalid_field'],
    ['candle close as number', candle(rowWith(4, 8548.26)), 'invalid_field'],
    ['candle quote volume missing', candle(rowWith(7, null)), 'invalid_field'],
    ['candle confirm other than 0/1', candle(rowWith(8, 'true')), 'invalid_field'],
    ['connection count error', '{"event":"channel-conn-count-error","channel":"orders","connCount":"30","connId":"a4d3ae55"}', 'exchange_error'],
  ];
  for (const [name, frame, reason] of cases) {
    test(`${name} -> ${reason}`, () => {
      const r = mapOne(frame);
      assert.deepEqual([r.trades.length, r.klines.length, r.reconnects.length], [0, 0, 0]);
      assert.deepEqual(r.rejects.map((x) => x.reason), [reason]);
      assert.ok(r.rejects[0]!.detail.length > 0);
      assert.equal(r.rejects[0]!.frame, frame);
    });
  }

  test('a push with one bad entry among good ones keeps the good ones', () => {
    const frame = JSON.stringify({ arg: { channel: 'trades-all', instId: 'BTC-USDT' }, data: [trade, { ...trade, px: null }, { ...trade, tradeId: '130639475' }] });
    const r = mapOne(frame);
    assert.deepEqual(r.trades.map((t) => t.id), [130639474, 130639475]);
    assert.deepEqual(r.rejects.map((x) => x.reason), ['invalid_field']);
  });
});
