/**
 * The OKX feed description: streams, groups, subscribe batching, timeframes, and history-candles pagination
 * against a local REST server. Lifecycle tests against the simulated venue are in okx-feed-lifecycle.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock } from '../src/core/clock.js';
import { okx, SUBSCRIBE_MAX_BYTES } from '../src/exchanges/okx/feed.js';
import { isDecimal, okxSymbols, parseUint } from '../src/exchanges/okx/mapper.js';
import { adapterFor } from '../src/exchanges/index.js';
import { shardStreams } from '../src/feed/collector.js';
import { RestClient } from '../src/feed/rest-client.js';
import { log, testMetrics } from './support/harness.js';

const endpoints = { wsBaseUrl: 'wss://example.invalid:8443', restBaseUrl: 'https://example.invalid' };

test('registered, with the production endpoints and a 20 s text ping inside the 30 s idle limit', () => {
  assert.equal(adapterFor('okx'), okx);
  assert.deepEqual(okx.defaultEndpoints, { wsBaseUrl: 'wss://ws.okx.com:8443', restBaseUrl: 'https://www.okx.com' });
  assert.deepEqual(okx.clientHeartbeat, { intervalMs: 20_000, message: 'ping' });
  assert.ok(okx.clientHeartbeat!.intervalMs < 30_000);
  assert.equal(okx.sequentialTradeIds, true);
  assert.deepEqual(okx.klineTimeframes, ['1s', '1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '12h', '1d']);
});

test('streams: trades-all and the UTC-aligned candle channel per timeframe, all on the business group', () => {
  const streams = okx.streams({ symbols: ['BTC-USDT', 'ETH-USDT'], timeframes: ['1m', '8h', '4h', '1d'], tradeStream: 'aggTrade', klines: true });
  assert.deepEqual(
    streams.map((s) => [s.symbol, s.name, s.group]),
    [
      ['BTC-USDT', 'trades-all:BTC-USDT', 'business'],
      ['BTC-USDT', 'candle1m:BTC-USDT', 'business'],
      ['BTC-USDT', 'candle4H:BTC-USDT', 'business'],
      ['BTC-USDT', 'candle1Dutc:BTC-USDT', 'business'],
      ['ETH-USDT', 'trades-all:ETH-USDT', 'business'],
      ['ETH-USDT', 'candle1m:ETH-USDT', 'business'],
      ['ETH-USDT', 'candle4H:ETH-USDT', 'business'],
      ['ETH-USDT', 'candle1Dutc:ETH-USDT', 'business'],
    ],
  );
  assert.deepEqual(okx.streams({ symbols: ['BTC-USDT'], timeframes: ['1m'], tradeStream: 'trade', klines: false }).map((s) => s.name), ['trades-all:BTC-USDT']);
});

test('connection plan: the group path, and the documented subscribe message', () => {
  const plan = okx.connection(okx.streams({ symbols: ['BTC-USDT'], timeframes: ['1m'], tradeStream: 'trade', klines: true }), endpoints);
  assert.equal(plan.url, 'wss://example.invalid:8443/ws/v5/business');
  assert.deepEqual(plan.subscribeMessages, ['{"op":"subscribe","args":[{"channel":"trades-all","instId":"BTC-USDT"},{"channel":"candle1m","instId":"BTC-USDT"}]}']);
  assert.equal(okx.connection([{ symbol: 'BTC-USDT', name: 'trades:BTC-USDT', group: 'public' }], endpoints).url, 'wss://example.invalid:8443/ws/v5/public');
  assert.throws(() => okx.connection([{ symbol: 'A-B', name: 'trades:A-B', group: 'public' }, { symbol: 'A-B', name: 'candle1m:A-B', group: 'business' }], endpoints), /one stream group/);
  assert.throws(() => okx.connection([{ symbol: 'A-B', name: 'x', group: 'nowhere' }], endpoints), /unknown stream group/);
});

test('sharding and batching: at most 1000 streams a connection, subscribe args under 32 KB a message, none lost', () => {
  const symbols = Array.from({ length: 300 }, (_, i) => `C${String(i).padStart(3, '0')}-USDT`);
  const streams = okx.streams({ symbols, timeframes: ['1m', '5m', '15m', '1h', '4h', '1d'], tradeStream: 'trade', klines: true });
  assert.equal(streams.length, 2100);
  const shards = shardStreams(streams, okx.limits.maxStreamsPerConnection);
  assert.deepEqual(shards.map((s) => s.length), [994, 994, 112]); // 142 symbols x 7 streams fit in 1000
  const subscribed: string[] = [];
  for (const shard of shards) {
    const plan = okx.connection(shard, endpoints);
    if (shard.length === 994) assert.equal(plan.subscribeMessages.length, 2, 'a full shard needs two messages');
    for (const m of plan.subscribeMessages) {
      const parsed = JSON.parse(m) as { op: string; args: { channel: string; instId: string }[] };
      assert.equal(parsed.op, 'subscribe');
      assert.ok(JSON.stringify(parsed.args).length <= SUBSCRIBE_MAX_BYTES + 2);
      subscribed.push(...parsed.args.map((a) => `${a.channel}:${a.instId}`));
    }
  }
  assert.deepEqual(subscribed, shards.flat().map((s) => s.name));
});

/** A history-candles server over 1m bars [first, last] with OKX's cursor semantics and `limit` cap. */
async function historyServer(first: number, last: number, cap: number, body?: unknown) {
  const requests: URLSearchParams[] = [];
  const server = createServer((req, res) => {
    const q = new URL(req.url!, 'http://x').searchParams;
    requests.push(q);
    const after = Number(q.get('after') ?? Infinity);
    const before = Number(q.get('before') ?? -Infinity);
    const rows: string[][] = [];
    for (let t = last; t >= first && rows.length < Math.min(cap, Number(q.get('limit') ?? 100)); t -= 60_000) {
      if (t < after && t > before) rows.push([String(t), '1.5', '2', '0.5', '1.25', '10', '12.5', '12.5', t === last ? '0' : '1']);
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? { code: '0', msg: '', data: rows }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const restBaseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { requests, endpoints: { wsBaseUrl: 'ws://unused', restBaseUrl }, close: () => server.close() };
}

const rest = () => new RestClient({ exchange: 'okx', clock: systemClock, metrics: testMetrics().feed, log, attempts: 1 });

test('fetchKlines pages backwards by 300 with after/before cursors and returns closed klines oldest first', async () => {
  const start = Date.UTC(2024, 0, 1);
  const server = await historyServer(start - 100 * 60_000, start + 800 * 60_000, 300);
  try {
    const end = start + 700 * 60_000 - 1; // 700 bars: start .. start + 699 min
    const klines = await okx.fetchKlines(rest(), server.endpoints, 'BTC-USDT', '1m', start, end);
    assert.deepEqual(klines.map((k) => k.openTime), Array.from({ length: 700 }, (_, i) => start + i * 60_000));
    assert.deepEqual(server.requests.map((q) => [q.get('instId'), q.get('bar'), q.get('limit'), q.get('before')]), Array(3).fill(['BTC-USDT', '1m', '300', String(start - 1)]));
    assert.deepEqual(server.requests.map((q) => Number(q.get('after'))), [end + 1, start + 400 * 60_000, start + 100 * 60_000]);
    assert.deepEqual(klines[0], {
      type: 'kline', exchange: 'okx', symbol: 'BTC-USDT', timeframe: '1m', openTime: start, open: '1.5', high: '2', low: '0.5', close: '1.25',
      volume: '10', quoteVolume: '12.5', takerBuyVolume: null, tradeCount: null, closed: true, time: start + 59_999, receivedAt: start + 59_999,
    });
  } finally {
    server.close();
  }
});

test('fetchKlines: a short page does not end the walk; the unconfirmed bar is left out; bars use the utc names', async () => {
  const start = Date.UTC(2024, 0, 1);
  const last = start + 50 * 60_000;
  const server = await historyServer(start, last, 7); // an exchange answering fewer rows than asked
  try {
    const klines = await okx.fetchKlines(rest(), server.endpoints, 'ETH-USDT', '1m', start, last + 59_999);
    assert.equal(klines.length, 50, 'all 51 bars but the forming one');
    assert.equal(server.requests.length, 8);
    await okx.fetchKlines(rest(), server.endpoints, 'ETH-USDT', '1d', start, start).catch(() => undefined);
    assert.equal(server.requests.at(-1)?.get('bar'), '1Dutc');
    await assert.rejects(okx.fetchKlines(rest(), server.endpoints, 'ETH-USDT', '8h', start, last), /no UTC-aligned 8h/);
  } finally {
    server.close();
  }
});

test('fetchKlines: an error code, a malformed row, or a page that does not move backwards throws', async () => {
  const t = Date.UTC(2024, 0, 1);
  const cases: [unknown, RegExp][] = [
    [{ code: '51001', msg: "Instrument ID doesn't exist.", data: [] }, /code 51001: Instrument ID/],
    [{ code: '0', msg: '', data: [[String(t), '1', '1', '1', '1', '1', '1', '1']] }, /malformed row/],
    [{ code: '0', msg: '', data: [[String(t), '1', '1', '1', 1, '1', '1', '1', '1']] }, /malformed row/],
    [{ code: '0', msg: '', data: [[String(t + 120_000), '1', '1', '1', '1', '1', '1', '1', '1']] }, /is not older than/],
    [{ code: '0', msg: '', data: {} }, /data is not an array/],
  ];
  for (const [body, error] of cases) {
    const server = await historyServer(0, 0, 0, body);
    try {
      await assert.rejects(okx.fetchKlines(rest(), server.endpoints, 'BTC-USDT', '1m', t, t + 59_999), error);
    } finally {
      server.close();
    }
  }
});

test('instIds are canonical already; non-spot instruments are not symbols', () => {
  assert.equal(okxSymbols.toCanonical('BTC-USDT'), 'BTC-USDT');
  assert.equal(okxSymbols.toCanonical('ETH-BTC'), 'ETH-BTC');
  assert.equal(okxSymbols.toCanonical('BTC-USDT-SWAP'), null);
  assert.equal(okxSymbols.toCanonical('BTC-USD-220527'), null);
  assert.equal(okxSymbols.toCanonical('BTCUSDT'), null);
  assert.equal(okxSymbols.toNative('BTC-USDT'), 'BTC-USDT');
});

test('parseUint and isDecimal accept exactly the documented string forms', () => {
  assert.deepEqual(['0', '130639474', '9007199254740991'].map(parseUint), [0, 130639474, 9007199254740991]);
  assert.deepEqual(['', '1.5', '-1', ' 1', '9007199254740992', '12345678901234567'].map(parseUint), [null, null, null, null, null, null]);
  assert.equal(parseUint(5), null);
  assert.deepEqual(['0', '42219.9', '0.12060306', '100'].map(isDecimal), [true, true, true, true]);
  assert.deepEqual(['', '.5', '5.', '1.2.3', '-1', '1e5', 'NaN'].map(isDecimal), [false, false, false, false, false, false, false]);
});
