/**
 * Issue 19, items 1 and 2: no frame ends the process, and no impossible value leaves a mapper. Each case here
 * failed before the fix (a RangeError out of the mapper, or a trade with price 0 emitted).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { adapterFor, EXCHANGE_IDS } from '../../src/exchanges/index.js';
import type { ExchangeAdapter, EventSink, Mapper } from '../../src/exchanges/adapter.js';
import type { ExchangeId } from '../../src/core/exchange-id.js';
import { Collector } from '../../src/feed/collector.js';
import { MemoryBus } from '../../src/bus/memory.js';
import { CandleEngine } from '../../src/pipeline/candle-engine.js';
import type { Trade } from '../../src/core/types.js';
import { decimalSign, tradeReject } from '../../src/exchanges/trade-check.js';
import { testMetrics } from '../support/harness.js';
import { FakeClock } from '../support/fake-clock.js';

const RECEIVED_AT = Date.UTC(2024, 0, 2, 3, 4, 5);

/** A JSON value nested `depth` arrays deep: ~2 bytes per level, JSON.parse reads it, JSON.stringify overflows. */
const deep = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

interface Seen {
  trades: Trade[];
  rejects: string[];
  other: number;
}

function mapAll(mapper: Mapper, frames: readonly string[], receivedAt = RECEIVED_AT): Seen {
  const seen: Seen = { trades: [], rejects: [], other: 0 };
  const sink: EventSink = {
    trade: (t) => seen.trades.push(t),
    kline: () => seen.other++,
    reject: (reason) => seen.rejects.push(reason),
    reconnect: () => seen.other++,
  };
  for (const f of frames) mapper.map(f, receivedAt, sink);
  return seen;
}

/** Every key a mapper reads or prints at the top level of a frame or of a data entry. */
const KEYS = ['e', 'type', 'channel', 'event', 'op', 'topic', 'msg', 'code', 'ret_msg', 's', 'symbol', 'product_id', 'instId', 'error', 'Error', 'method', 'reason', 'message', 'interval', 'i'];

/** Frames that put a 5,000-deep value into each field the mappers read, alone and next to the fields that route them. */
function deepFrames(): string[] {
  const d = deep(5_000);
  const frames: string[] = [];
  for (const k of KEYS) {
    frames.push(`{"${k}":${d}}`);
    frames.push(`{"${k}":${d},"success":false}`);
    frames.push(`{"${k}":${d},"code":1,"msg":${d}}`);
    frames.push(`{"event":"notice","${k}":${d}}`);
    frames.push(`{"method":"subscribe","success":false,"${k}":${d}}`);
    frames.push(`{"type":"error","${k}":${d}}`);
    frames.push(`{"e":"trade","${k}":${d}}`);
    frames.push(`{"type":"match","${k}":${d}}`);
    frames.push(`{"topic":"publicTrade.BTCUSDT","data":[{"${k}":${d}}]}`);
    frames.push(`{"channel":"trade","data":[{"${k}":${d}}]}`);
    frames.push(`{"channel":"ohlc","data":[{"${k}":${d}}]}`);
    frames.push(`{"arg":{"channel":"trades","instId":${k === 'instId' ? d : '"BTC-USDT"'}},"data":[{"${k}":${d}}]}`);
    frames.push(`{"arg":{"channel":"candle1m","instId":${d}},"data":[[1]]}`);
    frames.push(`{"stream":"x","data":{"e":"kline","s":"BTCUSDT","E":1,"k":{"${k}":${d}}}}`);
  }
  frames.push(`{"success":false,"op":${d},"ret_msg":${d}}`);
  frames.push(deep(5_000));
  return frames;
}

/** One trade frame per exchange with `price`/`qty`/`time` substituted (a documented example's layout). */
const TRADE_FRAMES: Record<ExchangeId, (price: string, qty: string, time: number) => string> = {
  binance: (p, q, t) => `{"e":"trade","E":${t},"s":"BTCUSDT","t":12345,"p":${p},"q":${q},"T":${t},"m":true,"M":true}`,
  bybit: (p, q, t) => `{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":${t},"data":[{"T":${t},"s":"BTCUSDT","S":"Buy","v":${q},"p":${p},"i":"2290000001211680903"}]}`,
  coinbase: (p, q, t) => `{"type":"match","trade_id":10,"time":"${new Date(t).toISOString()}","product_id":"BTC-USD","size":${q},"price":${p},"side":"sell"}`,
  kraken: (p, q, t) => `{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":${p},"qty":${q},"ord_type":"limit","trade_id":4665846,"timestamp":"${new Date(t).toISOString()}"}]}`,
  okx: (p, q, t) => `{"arg":{"channel":"trades-all","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"130639474","px":${p},"sz":${q},"side":"buy","ts":"${t}"}]}`,
};

/** Kraken sends numbers as JSON numbers, the others as strings: a value as each exchange would quote it. */
const quote = (ex: ExchangeId, v: string): string => (ex === 'kraken' && /^[-+0-9.eE]+$/.test(v) ? v : JSON.stringify(v));

describe('faults: frames that used to end the process (issue 19 item 1)', () => {
  for (const ex of EXCHANGE_IDS) {
    test(`${ex}: a 5,000-deep value in any field is a reject, never an exception`, () => {
      const frames = deepFrames();
      const seen = mapAll(adapterFor(ex).mapper, frames); // throws before the fix
      assert.equal(seen.trades.length, 0);
      assert.equal(seen.rejects.length + seen.other <= frames.length * 2, true);
      assert.ok(seen.rejects.length > 0);
    });
  }

  test('the collector turns a mapper exception into a counted reject, and bounds frame size before parsing', () => {
    const thrower: Mapper = {
      map() {
        throw new RangeError('Maximum call stack size exceeded');
      },
    };
    const { collector } = collectorWith({ ...adapterFor('binance'), mapper: thrower });
    assert.doesNotThrow(() => collector.handleFrame('{}', RECEIVED_AT));
    assert.doesNotThrow(() => collector.handleFrame('{}', RECEIVED_AT));
    assert.equal(collector.status().rejected.mapper_exception, 2);

    const { collector: real } = collectorWith(adapterFor('binance'));
    let parsed = false;
    const parse = JSON.parse;
    JSON.parse = ((text: string, reviver?: (this: unknown, key: string, value: unknown) => unknown) => {
      parsed = true;
      return parse(text, reviver);
    }) as typeof JSON.parse;
    try {
      real.handleFrame(`{"e":"x","pad":"${'x'.repeat(2 * 1024 * 1024)}"}`, RECEIVED_AT);
    } finally {
      JSON.parse = parse;
    }
    assert.equal(parsed, false, 'an oversized frame is rejected before JSON.parse');
    assert.equal(real.status().rejected.frame_too_large, 1);
  });
});

describe('faults: impossible trade values (issue 19 item 2)', () => {
  const GOOD_TIME = RECEIVED_AT - 1_000;
  const cases: { what: string; price: string; qty: string; time: number; reason: string }[] = [
    { what: 'zero price', price: '0', qty: '1', time: GOOD_TIME, reason: 'invalid_price' },
    { what: 'zero price with decimals', price: '0.00000000', qty: '1', time: GOOD_TIME, reason: 'invalid_price' },
    { what: 'price below the 8 decimals kept', price: '0.000000001', qty: '1', time: GOOD_TIME, reason: 'invalid_price' },
    { what: 'negative price', price: '-5', qty: '1', time: GOOD_TIME, reason: 'invalid_price' },
    { what: 'NaN price', price: 'NaN', qty: '1', time: GOOD_TIME, reason: 'invalid_price' },
    { what: 'Infinity price', price: 'Infinity', qty: '1', time: GOOD_TIME, reason: 'invalid_price' },
    { what: 'huge price', price: '1e400', qty: '1', time: GOOD_TIME, reason: 'invalid_price' },
    { what: 'hex price', price: '0x10', qty: '1', time: GOOD_TIME, reason: 'invalid_price' },
    { what: 'zero qty', price: '100', qty: '0', time: GOOD_TIME, reason: 'invalid_qty' },
    { what: 'negative qty', price: '100', qty: '-0.5', time: GOOD_TIME, reason: 'invalid_qty' },
    { what: 'NaN qty', price: '100', qty: 'NaN', time: GOOD_TIME, reason: 'invalid_qty' },
    { what: 'time before the exchange existed', price: '100', qty: '1', time: Date.UTC(2010, 0, 1), reason: 'invalid_timestamp' },
    { what: 'time a day ahead', price: '100', qty: '1', time: RECEIVED_AT + 86_400_000, reason: 'future_timestamp' },
  ];
  for (const ex of EXCHANGE_IDS) {
    test(`${ex}: rejects each impossible value with its reason and still maps the good trade`, () => {
      const mapper = adapterFor(ex).mapper;
      const make = TRADE_FRAMES[ex];
      const good = mapAll(mapper, [make(quote(ex, '100.5'), quote(ex, '0.25'), GOOD_TIME)]);
      assert.equal(good.trades.length, 1, `the good ${ex} frame maps (rejects: ${good.rejects.join(',')})`);
      for (const c of cases) {
        const seen = mapAll(mapper, [make(quote(ex, c.price), quote(ex, c.qty), c.time)]);
        assert.equal(seen.trades.length, 0, `${ex} ${c.what}: no trade`);
        assert.ok(seen.rejects.length === 1, `${ex} ${c.what}: one reject`);
        // Kraken cannot carry NaN/Infinity/hex as JSON numbers: those frames are not JSON, invalid_json.
        if (!(ex === 'kraken' && seen.rejects[0] === 'invalid_json')) assert.equal(seen.rejects[0], c.reason, `${ex} ${c.what}`);
      }
    });
  }

  test('decimalSign reads plain decimals only, positive at 8 decimals', () => {
    for (const v of ['1', '0.00000001', '43210.12000000', '1.5', '999999999999999']) assert.equal(decimalSign(v), 1, v);
    for (const v of ['0', '0.0', '0.000000004', '000']) assert.equal(decimalSign(v), 0, v);
    for (const v of ['', '.5', '5.', '-1', '+1', '1e5', 'NaN', ' 1', '1 ', '1.2.3', '1,5', '9999999999999999', '1'.padEnd(41, '0'), 5 as unknown as string]) {
      assert.equal(decimalSign(v), -1, String(v));
    }
    assert.equal(tradeReject('1', '1', Number.NaN, RECEIVED_AT, 0), 'invalid_timestamp');
  });

  test('the candle engine stays the last line: a zero price is dropped, its warning throttled with a count', () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'warn' }, new Writable({ write: (chunk, _e, cb) => (lines.push(JSON.parse(String(chunk))), cb()) }));
    const clock = new FakeClock(RECEIVED_AT);
    const metrics = testMetrics();
    const engine = new CandleEngine({ timeframes: ['1m'], graceMs: 0, latePolicy: 'drop', clock, metrics, log: logger, emit: () => undefined });
    const trade = (price: string, id: number): Trade => ({ type: 'trade', exchange: 'binance', symbol: 'BTC-USDT', id, price, qty: '1', side: 'buy', count: 1, time: clock.now(), receivedAt: clock.now() });
    for (let i = 0; i < 1_000; i++) assert.equal(engine.onTrade(trade('0', i)), false);
    assert.equal(engine.status().rejected.invalid_decimal, 1_000);
    const warned = () => lines.filter((l) => typeof l.msg === 'string' && l.msg.includes('dropped'));
    assert.equal(warned().length, 1, 'one line for the first, the rest counted');
    clock.advance(60_000);
    engine.onTrade(trade('0', 1_000));
    assert.equal(warned().length, 2);
    assert.equal(warned()[1]!.suppressed, 999);
  });

  test('a throwing bus subscriber is counted and its log throttled', () => {
    const lines: unknown[] = [];
    const logger = pino({ level: 'warn' }, new Writable({ write: (chunk, _e, cb) => (lines.push(chunk), cb()) }));
    const metrics = testMetrics();
    const bus = new MemoryBus(metrics.bus, logger);
    bus.subscribe('gap', () => {
      throw new Error('boom');
    });
    for (let i = 0; i < 1_000; i++) bus.publish('gap', { type: 'gap', exchange: 'binance', symbol: 'BTC-USDT', from: 0, to: 1, cause: 'reconnect' });
    assert.equal(bus.status().handlerErrors, 1_000);
    assert.equal(lines.length, 1);
  });
});

function collectorWith(adapter: ExchangeAdapter) {
  const metrics = testMetrics();
  const bus = new MemoryBus(metrics.bus, pino({ level: 'silent' }));
  const collector = new Collector({
    adapter,
    endpoints: { wsBaseUrl: 'ws://127.0.0.1:9', restBaseUrl: 'http://127.0.0.1:9' },
    subscription: { symbols: ['BTC-USDT'], timeframes: ['1m'], tradeStream: 'trade', klines: false },
    staleAfterMs: 10_000,
    backoff: { initialMs: 20, maxMs: 100 },
    bus,
    clock: new FakeClock(RECEIVED_AT),
    metrics: metrics.feed,
    log: pino({ level: 'silent' }),
  });
  return { collector, metrics };
}
