/**
 * The Kraken feed: stream names, subscribe batching, REST OHLC paging, and lifecycle tests of the real Collector
 * against the simulated venue speaking Kraken's v2 protocol on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock } from '../src/core/clock.js';
import { kraken, restPair } from '../src/exchanges/kraken/feed.js';
import { RestClient } from '../src/feed/rest-client.js';
import { SimulatedVenue, type VenueContext, type VenueTrade } from '../src/demo/simulated-venue/venue.js';
import { krakenProtocol } from '../src/demo/simulated-venue/kraken.js';
import { formatUnits } from '../src/demo/simulated-binance/price-process.js';
import { log, testMetrics, until } from './support/harness.js';
import { SYMBOLS, rig } from './support/kraken-rig.js';
import { metricValue } from './support/metrics.js';

const trim = (d: string): string => (d.includes('.') ? d.replace(/\.?0+$/, '') : d);

test('streams: trades, and ohlc only for the intervals Kraken has, in the v2 symbol form', () => {
  const streams = kraken.streams({ symbols: ['BTC-USD', 'ETH-EUR'], timeframes: ['1s', '1m', '3m', '1h', '1d'], tradeStream: 'aggTrade', klines: true });
  assert.deepEqual(streams.map((s) => [s.symbol, s.name]), [
    ['BTC-USD', 'trade:BTC/USD'], ['BTC-USD', 'ohlc:1:BTC/USD'], ['BTC-USD', 'ohlc:60:BTC/USD'], ['BTC-USD', 'ohlc:1440:BTC/USD'],
    ['ETH-EUR', 'trade:ETH/EUR'], ['ETH-EUR', 'ohlc:1:ETH/EUR'], ['ETH-EUR', 'ohlc:60:ETH/EUR'], ['ETH-EUR', 'ohlc:1440:ETH/EUR'],
  ]);
  assert.deepEqual(kraken.klineTimeframes, ['1m', '5m', '15m', '30m', '1h', '4h', '1d']);
  assert.equal(restPair('BTC-USD'), 'XBTUSD');
  assert.equal(restPair('DOGE-EUR'), 'XDGEUR');
});

test('connection plan: /v2, one subscribe per channel/interval and 50 symbols, trades without snapshot', () => {
  const symbols = Array.from({ length: 120 }, (_, i) => `C${i}-USD`);
  const streams = kraken.streams({ symbols, timeframes: ['5m'], tradeStream: 'trade', klines: true });
  const plan = kraken.connection(streams, { wsBaseUrl: 'wss://ws.kraken.com', restBaseUrl: 'https://api.kraken.com' });
  assert.equal(plan.url, 'wss://ws.kraken.com/v2');
  const msgs = plan.subscribeMessages.map((m) => JSON.parse(m) as { method: string; params: { channel: string; symbol: string[]; interval?: number; snapshot: boolean }; req_id: number });
  assert.deepEqual(msgs.map((m) => [m.params.channel, m.params.symbol.length, m.params.interval, m.params.snapshot]), [
    ['trade', 50, undefined, false], ['trade', 50, undefined, false], ['trade', 20, undefined, false],
    ['ohlc', 50, 5, true], ['ohlc', 50, 5, true], ['ohlc', 20, 5, true],
  ]);
  assert.ok(msgs.every((m) => m.method === 'subscribe'));
  assert.equal(new Set(msgs.map((m) => m.req_id)).size, msgs.length);
  assert.deepEqual(msgs.filter((m) => m.params.channel === 'trade').flatMap((m) => m.params.symbol), symbols.map((s) => s.replace('-', '/')));
});

test('fetchKlines pages on result.last, drops the uncommitted last row, validates rows and Kraken errors', async () => {
  const start = Date.UTC(2024, 0, 1) / 1000;
  const sinces: number[] = [];
  let mode: 'ok' | 'error' | 'bad' = 'ok';
  const server = createServer((req, res) => {
    const q = new URL(req.url!, 'http://x').searchParams;
    const send = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (mode === 'error') return send({ error: ['EQuery:Unknown asset pair'] });
    const since = Number(q.get('since'));
    sinces.push(since);
    assert.equal(q.get('pair'), 'XBTUSD');
    assert.equal(q.get('interval'), '5');
    // A server that answers at most 4 committed rows after `since` plus the forming row (at start + 100 periods).
    const rows: unknown[] = [];
    for (let t = (Math.floor(since / 300) + 1) * 300; rows.length < 4 && t < start + 100 * 300; t += 300) rows.push([t, '1.5', '2', '1', '1.75', '1.6', mode === 'bad' ? 7 : '3.25', 9]);
    rows.push([start + 100 * 300, '9', '9', '9', '9', '9', '0.1', 1]);
    send({ error: [], result: { XXBTZUSD: rows, last: (rows.at(-2) as number[] | undefined)?.[0] ?? since } });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const endpoints = { wsBaseUrl: 'ws://unused', restBaseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  const rest = new RestClient({ exchange: 'kraken', clock: systemClock, metrics: testMetrics().feed, log, attempts: 1 });
  try {
    const klines = await kraken.fetchKlines(rest, endpoints, 'BTC-USD', '5m', start * 1000, (start + 9 * 300) * 1000);
    assert.deepEqual(klines.map((k) => k.openTime / 1000 - start), [0, 300, 600, 900, 1200, 1500, 1800, 2100, 2400, 2700]);
    assert.deepEqual(sinces, [start - 1, start + 900, start + 2100]);
    assert.deepEqual({ ...klines[0]! }, {
      type: 'kline', exchange: 'kraken', symbol: 'BTC-USD', timeframe: '5m', openTime: start * 1000, open: '1.5', high: '2', low: '1', close: '1.75', volume: '3.25',
      quoteVolume: null, takerBuyVolume: null, tradeCount: 9, closed: true, time: start * 1000 + 299_999, receivedAt: start * 1000 + 299_999,
    });
    mode = 'error';
    await assert.rejects(kraken.fetchKlines(rest, endpoints, 'BTC-USD', '5m', start * 1000, start * 1000), /EQuery:Unknown asset pair/);
    mode = 'bad';
    await assert.rejects(kraken.fetchKlines(rest, endpoints, 'BTC-USD', '5m', start * 1000, start * 1000), /mistyped/);
    await assert.rejects(kraken.fetchKlines(rest, endpoints, 'BTC-USD', '3m', start * 1000, start * 1000), /no 3m/);
  } finally {
    server.close();
  }
});

test('subscribe: trades of every symbol arrive with canonical symbols, exact prices and consecutive ids; ohlc too', { timeout: 20_000 }, async () => {
  const r = await rig({ klines: true });
  const sent = new Map<number, VenueTrade>();
  r.venue.onTrade((t) => sent.set(t.id, t));
  try {
    await until('trades of both symbols and klines', () => SYMBOLS.every((s) => r.trades.filter((t) => t.symbol === s).length >= 10) && r.klines.length > 0);
    for (const s of SYMBOLS) {
      const ids = r.trades.filter((t) => t.symbol === s).map((t) => t.id);
      assert.ok(ids.every((id, i) => i === 0 || id === ids[i - 1]! + 1), `${s} ids are consecutive`);
    }
    const compared = r.trades.filter((x) => sent.has(x.id));
    assert.ok(compared.length >= 10, 'trades matched to the venue record');
    for (const t of compared) {
      const v = sent.get(t.id)!;
      assert.deepEqual([t.symbol, t.price, t.qty, t.side, t.time], [v.symbol, trim(v.price), trim(v.qty), v.side, v.time]);
    }
    assert.ok(r.klines.every((k) => SYMBOLS.includes(k.symbol) && k.timeframe === '1m' && k.quoteVolume === null));
    assert.equal(await metricValue(r.metrics, 'candlestack_messages_rejected_total', { exchange: 'kraken' }), 0);
  } finally {
    await r.stop();
  }
});

test('heartbeat: client pings keep an idle-timeout venue happy; without them the venue drops the client', { timeout: 20_000 }, async () => {
  const pinging = await rig({ adapter: { ...kraken, clientHeartbeat: { intervalMs: 200, message: '{"method":"ping"}' } }, protocol: { idleTimeoutMs: 1_500 } });
  try {
    await new Promise((res) => setTimeout(res, 3_500));
    assert.ok(pinging.pings.n >= 8, `pings reached the venue (${pinging.pings.n})`);
    assert.equal(pinging.collector.health()[0]!.reconnects, 0);
  } finally {
    await pinging.stop();
  }
  const silent = await rig({ adapter: { ...kraken, clientHeartbeat: undefined }, protocol: { idleTimeoutMs: 1_500 } });
  try {
    await until('the silent client is dropped', () => silent.collector.health()[0]!.reconnects >= 1, 5_000);
    assert.equal(silent.pings.n, 0);
  } finally {
    await silent.stop();
  }
});

test('heartbeat: venue heartbeats keep a quiet feed alive; silence makes it stale', { timeout: 20_000 }, async () => {
  const r = await rig({ staleAfterMs: 1_500 });
  try {
    for (const s of SYMBOLS) r.venue.haltSymbol(s, 60_000);
    await new Promise((res) => setTimeout(res, 3_500));
    assert.equal(await metricValue(r.metrics, 'candlestack_websocket_reconnections_total', { reason: 'stale' }), 0, 'heartbeats alone keep it alive');
    r.venue.pauseStreams(3_000);
    await until('stale reconnect', async () => (await metricValue(r.metrics, 'candlestack_websocket_reconnections_total', { reason: 'stale' })) >= 1, 5_000);
  } finally {
    await r.stop();
  }
});

test('reconnect and dropped trades: gaps on the bus, trades resume; an unknown frame is counted, not thrown', { timeout: 20_000 }, async () => {
  const r = await rig();
  try {
    await until('first trades', () => r.trades.length >= 5);
    r.venue.dropConnections();
    await until('reconnect gaps', () => SYMBOLS.every((s) => r.gaps.some((g) => g.symbol === s && g.cause === 'reconnect')));
    const after = r.trades.length;
    await until('trades of both symbols resume', () => SYMBOLS.every((s) => r.trades.slice(after).some((t) => t.symbol === s)));
    r.venue.skipTradeIds('BTC-USD', 5);
    const gap = await until('trade id gap', () => r.gaps.find((g) => g.cause === 'trade_id'));
    assert.deepEqual([gap.symbol, gap.missing], ['BTC-USD', 5]);
    r.venue.broadcast('{"channel":"book","type":"snapshot","data":[]}');
    r.venue.broadcast('[1234,[["1.0","2.0","1618678142.5","s","l",""]],"trade","XBT/USD"]');
    await until('rejects counted', async () => (await metricValue(r.metrics, 'candlestack_messages_rejected_total', { exchange: 'kraken', reason: 'unknown_event' })) === 2);
    const n = r.trades.length;
    await until('still streaming', () => r.trades.length > n);
  } finally {
    await r.stop();
  }
});

test('backfill: fetchKlines equals the venue klines, limited to the most recent OHLC rows like Kraken', { timeout: 20_000 }, async () => {
  const t0 = Date.now();
  let ctx: VenueContext | undefined;
  const base = krakenProtocol({ ohlcMaxEntries: 6 });
  const protocol = { ...base, handleRest: (...a: Parameters<typeof base.handleRest>) => ((ctx = a[3]), base.handleRest(...a)) };
  // The venue clock runs 120x: two minutes of 1m candles per second.
  const venue = new SimulatedVenue({ protocol, symbols: SYMBOLS, seed: 9, tradesPerSecond: 30, now: () => t0 + (Date.now() - t0) * 120 });
  const endpoints = await venue.start();
  const rest = new RestClient({ exchange: 'kraken', clock: systemClock, metrics: testMetrics().feed, log, attempts: 1 });
  try {
    await new Promise((res) => setTimeout(res, 5_500)); // ~11 closed 1m periods, more than the 6 rows kept
    const klines = await kraken.fetchKlines(rest, endpoints, 'ETH-USD', '1m', t0 - 60_000, t0 + 3_600_000);
    const closed = ctx!.book('ETH-USD')!.query('1m', { limit: 1000 }).filter((b) => b.closed);
    assert.ok(closed.length >= 9, `venue has ${closed.length} closed klines`);
    // Only the 5 committed rows of the 6 kept come back (plus any period that closed between the two pages):
    // older periods are out of reach, as on Kraken, and the rest equals the venue's own klines.
    assert.ok(klines.length >= 5 && klines.length <= 6, `got ${klines.length}`);
    assert.ok(klines[0]!.openTime > closed[0]!.openTime);
    const last = klines.at(-1)!.openTime;
    const expected = closed.filter((b) => b.openTime >= klines[0]!.openTime && b.openTime <= last)
      .map((b) => [b.openTime, trim(formatUnits(b.open)), trim(formatUnits(b.high)), trim(formatUnits(b.low)), trim(formatUnits(b.close)), trim(formatUnits(b.volume)), b.trades]);
    assert.deepEqual(klines.map((k) => [k.openTime, k.open, k.high, k.low, k.close, k.volume, k.tradeCount]), expected);
    assert.ok(klines.every((k) => k.closed && k.symbol === 'ETH-USD'));
    const inner = await kraken.fetchKlines(rest, endpoints, 'ETH-USD', '1m', klines[1]!.openTime, klines[2]!.openTime);
    assert.deepEqual(inner.map((k) => k.openTime), [klines[1]!.openTime, klines[2]!.openTime]);
  } finally {
    await venue.stop();
  }
});
