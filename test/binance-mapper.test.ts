import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { binanceMapper, binanceSymbols } from '../src/exchanges/binance/mapper.js';
import { recordMapping, type Recorded } from './support/exchange-fixtures.js';
import { fixtureFiles, fixtureLines } from './support/fixtures.js';

/** A receive time after every frame's own (a trade stamped ahead of its receive time is rejected). */
const T0 = 1_800_000_000_000;

const recordings = fixtureFiles('binance', '.jsonl');
const lines = (file: string): string[] => fixtureLines('binance', file);

const mapOne = (frame: string, receivedAt = 1_800_000_000_000): Recorded => recordMapping(binanceMapper, [frame], receivedAt);

const total = (r: Recorded): number => r.trades.length + r.klines.length + r.rejects.length + r.reconnects.length;

// Binance's documented example payloads (binance-spot-api-docs, web-socket-streams.md)
const DOC_TRADE = '{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}';
const DOC_TRADE_FULL = '{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","b":88,"a":50,"T":1672515782136,"m":true,"M":true}';
const DOC_AGG_TRADE = '{"e":"aggTrade","E":1672515782136,"s":"BNBBTC","a":12345,"p":"0.001","q":"100","f":100,"l":105,"T":1672515782136,"m":true,"M":true}';
const DOC_KLINE =
  '{"e":"kline","E":1672515782136,"s":"BNBBTC","k":{"t":1672515780000,"T":1672515839999,"s":"BNBBTC","i":"1m","f":100,"L":200,"o":"0.0010","c":"0.0020","h":"0.0025","l":"0.0015","v":"1000","n":100,"x":false,"q":"1.0000","V":"500","Q":"0.500","B":"123456"}}';

describe('binanceMapper: documented example payloads', () => {
  test('trade', () => {
    for (const frame of [DOC_TRADE, DOC_TRADE_FULL]) {
      const r = mapOne(frame, T0 + 42);
      assert.equal(total(r), 1);
      assert.deepEqual(r.trades[0], {
        type: 'trade',
        exchange: 'binance',
        symbol: 'BNB-BTC',
        id: 12345, // `t`, not the seller order id `a`
        price: '0.001',
        qty: '100',
        side: 'sell', // m = true: the buyer was the maker, the taker sold
        count: 1,
        time: 1672515782136,
        receivedAt: T0 + 42,
      });
    }
  });

  test('aggTrade: id is `a`, count = l - f + 1', () => {
    const r = mapOne(DOC_AGG_TRADE, T0 + 7);
    assert.equal(total(r), 1);
    assert.deepEqual(r.trades[0], {
      type: 'trade',
      exchange: 'binance',
      symbol: 'BNB-BTC',
      id: 12345,
      price: '0.001',
      qty: '100',
      side: 'sell',
      count: 6,
      time: 1672515782136,
      receivedAt: T0 + 7,
    });
    const buy = mapOne(DOC_AGG_TRADE.replace('"m":true', '"m":false'));
    assert.equal(buy.trades[0]?.side, 'buy');
  });

  test('kline', () => {
    const r = mapOne(DOC_KLINE, T0 + 9);
    assert.equal(total(r), 1);
    assert.deepEqual(r.klines[0], {
      type: 'kline',
      exchange: 'binance',
      symbol: 'BNB-BTC',
      timeframe: '1m',
      openTime: 1672515780000,
      open: '0.0010',
      high: '0.0025',
      low: '0.0015',
      close: '0.0020',
      volume: '1000',
      quoteVolume: '1.0000',
      takerBuyVolume: '500',
      tradeCount: 100,
      closed: false,
      time: 1672515782136,
      receivedAt: T0 + 9,
    });
    assert.equal(mapOne(DOC_KLINE.replace('"x":false', '"x":true')).klines[0]?.closed, true);
  });

  test('combined-stream wrapper and raw payload map to the same events', () => {
    for (const [stream, raw] of [
      ['bnbbtc@trade', DOC_TRADE],
      ['bnbbtc@aggTrade', DOC_AGG_TRADE],
      ['bnbbtc@kline_1m', DOC_KLINE],
    ] as const) {
      const wrapped = mapOne(`{"stream":"${stream}","data":${raw}}`, T0 + 5);
      const plain = mapOne(raw, T0 + 5);
      assert.equal(total(wrapped), 1);
      assert.deepEqual(wrapped, plain);
    }
  });
});

describe('binanceMapper: real recorded frames', () => {
  test('fixtures are present', () => {
    assert.deepEqual(recordings, [
      'ws-combined-2021-04-04T2004Z-btc-eth-dot-aggtrade-kline.jsonl',
      'ws-combined-2021-08-14T1446Z-aggtrade-kline.jsonl',
    ]);
  });

  for (const file of recordings) {
    test(`${file}: every aggTrade and kline frame maps exactly`, () => {
      let aggTrades = 0;
      let klines = 0;
      for (const [n, line] of lines(file).entries()) {
        const wrapper = JSON.parse(line) as { stream: string; data: Record<string, any> };
        const d = wrapper.data;
        const receivedAt = T0 + n;
        const r = mapOne(line, receivedAt);
        assert.equal(r.rejects.length, 0, `line ${n + 1} rejected: ${JSON.stringify(r.rejects[0])}`);
        assert.equal(total(r), 1, `line ${n + 1} produces exactly one event`);
        if (d.e === 'aggTrade') {
          aggTrades++;
          assert.ok(wrapper.stream.endsWith('@aggTrade'));
          assert.deepEqual(r.trades[0], {
            type: 'trade',
            exchange: 'binance',
            symbol: binanceSymbols.toCanonical(d.s as string),
            id: d.a,
            price: d.p,
            qty: d.q,
            side: d.m === true ? 'sell' : 'buy',
            count: d.l - d.f + 1,
            time: d.T,
            receivedAt,
          });
          // exact strings: the 8-decimal text Binance sent, untouched
          assert.match(r.trades[0]!.price, /^\d+\.\d{8}$/);
          assert.match(r.trades[0]!.qty, /^\d+\.\d{8}$/);
        } else {
          assert.equal(d.e, 'kline');
          klines++;
          const k = d.k;
          assert.deepEqual(r.klines[0], {
            type: 'kline',
            exchange: 'binance',
            symbol: binanceSymbols.toCanonical(d.s as string),
            timeframe: k.i,
            openTime: k.t,
            open: k.o,
            high: k.h,
            low: k.l,
            close: k.c,
            volume: k.v,
            quoteVolume: k.q,
            takerBuyVolume: k.V,
            tradeCount: k.n,
            closed: k.x,
            time: d.E,
            receivedAt,
          });
        }
        // the raw payload (single-stream connection) maps the same way
        assert.deepEqual(mapOne(JSON.stringify(d), receivedAt), r);
      }
      // PROVENANCE.md: 45 frames in the 14:46 file; 99 (67 + 14 + 11 aggTrades + 7 klines) in the 20:04 window
      if (file.includes('2021-08-14')) assert.equal(aggTrades + klines, 45);
      else {
        assert.equal(aggTrades, 67 + 14 + 11);
        assert.equal(klines, 7);
      }
    });
  }

  test('the recorded frames include taker buys and sells, multi-trade aggTrades and closed klines', () => {
    const all = recordings.flatMap(lines).map((l) => mapOne(l));
    const trades = all.flatMap((r) => r.trades);
    const ks = all.flatMap((r) => r.klines);
    assert.ok(trades.some((t) => t.side === 'buy'));
    assert.ok(trades.some((t) => t.side === 'sell'));
    // SXPBTC agg 14455219 spans trade ids 17567412..17567413
    const multi = trades.find((t) => t.symbol === 'SXP-BTC' && t.id === 14455219);
    assert.equal(multi?.count, 2);
    assert.equal(multi?.side, 'buy');
    assert.deepEqual(
      ks.filter((k) => k.closed).map((k) => `${k.symbol}@${k.openTime}`).sort(),
      ['BTC-USDT@1617566580000', 'DOT-USDT@1617566580000', 'ETH-USDT@1617566580000', 'FTM-USDT@1628952360000', 'SXP-BTC@1628952360000'],
    );
  });
});

describe('binanceMapper: malformed frames are rejected with a reason, never thrown', () => {
  const agg = JSON.parse(DOC_AGG_TRADE) as Record<string, unknown>;
  const kl = JSON.parse(DOC_KLINE) as { k: Record<string, unknown> } & Record<string, unknown>;
  const without = (o: Record<string, unknown>, key: string): string => JSON.stringify(Object.fromEntries(Object.entries(o).filter(([k]) => k !== key)));
  const withField = (o: Record<string, unknown>, key: string, value: unknown): string => JSON.stringify({ ...o, [key]: value });
  const klineWith = (key: string, value: unknown): string => JSON.stringify({ ...kl, k: { ...kl.k, [key]: value } });
  const klineWithout = (key: string): string => JSON.stringify({ ...kl, k: Object.fromEntries(Object.entries(kl.k).filter(([k]) => k !== key)) });

  const cases: [string, string, string][] = [
    ['not JSON', 'not json at all', 'invalid_json'],
    ['truncated JSON', DOC_AGG_TRADE.slice(0, 40), 'invalid_json'],
    ['empty frame', '', 'invalid_json'],
    ['JSON array', '[{"e":"aggTrade"}]', 'invalid_json'],
    ['JSON null', 'null', 'invalid_json'],
    ['JSON number', '42', 'invalid_json'],
    ['JSON string', '"aggTrade"', 'invalid_json'],
    ['unknown event', '{"e":"depthUpdate","E":1,"s":"BNBBTC","U":1,"u":2,"b":[],"a":[]}', 'unknown_event'],
    ['object without event', '{"hello":"world"}', 'unknown_event'],
    ['wrapper whose data is not an object', '{"stream":"bnbbtc@aggTrade","data":5}', 'unknown_event'],
    ['exchange error', '{"code":2,"msg":"Invalid request"}', 'exchange_error'],
    ['exchange error with id', '{"code":0,"msg":"Unknown property","id":3}', 'exchange_error'],
  ];
  for (const key of ['s', 'a', 'p', 'q', 'T', 'm', 'f', 'l']) cases.push([`aggTrade without ${key}`, without(agg, key), 'invalid_field']);
  cases.push(
    ['aggTrade price as number', withField(agg, 'p', 0.001), 'invalid_field'],
    ['aggTrade qty as number', withField(agg, 'q', 100), 'invalid_field'],
    ['aggTrade empty price', withField(agg, 'p', ''), 'invalid_field'],
    ['aggTrade id as string', withField(agg, 'a', '12345'), 'invalid_field'],
    ['aggTrade fractional id', withField(agg, 'a', 1.5), 'invalid_field'],
    ['aggTrade negative time', withField(agg, 'T', -1), 'invalid_field'],
    ['aggTrade m as string', withField(agg, 'm', 'true'), 'invalid_field'],
    ['aggTrade symbol as number', withField(agg, 's', 1), 'invalid_field'],
    ['aggTrade l < f', withField(agg, 'l', 99), 'invalid_field'],
    ['trade without t', without(JSON.parse(DOC_TRADE) as Record<string, unknown>, 't'), 'invalid_field'],
    ['kline without k', without(kl, 'k'), 'invalid_field'],
    ['kline k not an object', withField(kl, 'k', 'x'), 'invalid_field'],
    ['kline without E', without(kl, 'E'), 'invalid_field'],
    ['kline unsupported interval', klineWith('i', '7m'), 'invalid_field'],
    ['kline volume as number', klineWith('v', 1000), 'invalid_field'],
    ['kline n as string', klineWith('n', '100'), 'invalid_field'],
    ['kline x as string', klineWith('x', 'false'), 'invalid_field'],
    ['kline without open time', klineWithout('t'), 'invalid_field'],
    ['kline without taker buy volume', klineWithout('V'), 'invalid_field'],
    ['wrapped malformed aggTrade', `{"stream":"bnbbtc@aggTrade","data":${withField(agg, 'q', null)}}`, 'invalid_field'],
  );

  for (const [name, frame, reason] of cases) {
    test(`${name} -> ${reason}`, () => {
      const r = mapOne(frame);
      assert.equal(r.trades.length, 0);
      assert.equal(r.klines.length, 0);
      assert.equal(r.reconnects.length, 0);
      assert.equal(r.rejects.length, 1);
      assert.equal(r.rejects[0]!.reason, reason);
      assert.ok(r.rejects[0]!.detail.length > 0, 'a detail is given');
      assert.equal(r.rejects[0]!.frame, frame, 'the frame is passed along for logging');
    });
  }

  test('the exchange error message is the detail', () => {
    assert.equal(mapOne('{"code":2,"msg":"Invalid request"}').rejects[0]?.detail, 'Invalid request');
  });
});

describe('binanceMapper: control messages', () => {
  test('a subscription acknowledgement is silently ignored', () => {
    for (const frame of ['{"result":null,"id":1}', '{"result":null,"id":312}', '{"result":["btcusdt@aggTrade"],"id":3}']) {
      assert.equal(total(mapOne(frame)), 0, frame);
    }
  });

  test('serverShutdown asks for a reconnect (raw and WebSocket-API event wrapper)', () => {
    for (const frame of ['{"e":"serverShutdown","E":1}', '{"event":{"e":"serverShutdown","E":1}}']) {
      const r = mapOne(frame);
      assert.deepEqual(r.reconnects, ['server_shutdown'], frame);
      assert.equal(total(r), 1);
    }
  });
});
