/**
 * The Bybit feed: stream names, subscribe batching and limits as units; then the real Collector against the
 * simulated venue speaking Bybit's protocol on loopback (subscribe, client ping, idle close, reconnect, REST
 * backfill with pagination, unknown frames).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../src/core/clock.js';
import type { GapEvent, Kline, Trade } from '../src/core/types.js';
import { periodStart } from '../src/core/timeframe.js';
import type { ExchangeAdapter } from '../src/exchanges/adapter.js';
import { KLINE_PAGE, SUBSCRIBE_BATCH, bybit } from '../src/exchanges/bybit/feed.js';
import { Collector, shardStreams } from '../src/feed/collector.js';
import { RestClient } from '../src/feed/rest-client.js';
import { MemoryBus } from '../src/bus/memory.js';
import { SimulatedVenue, type VenueTrade } from '../src/demo/simulated-venue/venue.js';
import { bybitProtocol, type BybitProtocolOptions } from '../src/demo/simulated-venue/bybit.js';
import { formatUnits, parseUnits } from '../src/demo/simulated-binance/price-process.js';
import type { Metrics } from '../src/telemetry/metrics.js';
import { log, sleep, testMetrics, until } from './support/harness.js';
import { FakeClock } from './support/fake-clock.js';
import { metricValue } from './support/metrics.js';

const ENDPOINTS = { wsBaseUrl: 'wss://example.invalid', restBaseUrl: 'https://example.invalid' };

test('streams: a trade topic per symbol and kline topics for the timeframes Bybit has, canonical symbols kept', () => {
  const streams = bybit.streams({ symbols: ['BTC-USDT', 'ETH-USDC'], timeframes: ['1s', '1m', '1h', '8h', '1d'], tradeStream: 'aggTrade', klines: true });
  assert.deepEqual(streams, [
    { symbol: 'BTC-USDT', name: 'publicTrade.BTCUSDT' }, { symbol: 'BTC-USDT', name: 'kline.1.BTCUSDT' }, { symbol: 'BTC-USDT', name: 'kline.60.BTCUSDT' }, { symbol: 'BTC-USDT', name: 'kline.D.BTCUSDT' },
    { symbol: 'ETH-USDC', name: 'publicTrade.ETHUSDC' }, { symbol: 'ETH-USDC', name: 'kline.1.ETHUSDC' }, { symbol: 'ETH-USDC', name: 'kline.60.ETHUSDC' }, { symbol: 'ETH-USDC', name: 'kline.D.ETHUSDC' },
  ]);
  assert.deepEqual(bybit.streams({ symbols: ['SOL-USDT'], timeframes: ['1m'], tradeStream: 'trade', klines: false }).map((s) => s.name), ['publicTrade.SOLUSDT']);
  assert.ok(!bybit.klineTimeframes.includes('1s') && !bybit.klineTimeframes.includes('8h') && bybit.klineTimeframes.includes('12h'));
});

test('connection plan: /v5/public/spot, every topic by subscribe messages of at most 10 args, numbered req_id', () => {
  const streams = Array.from({ length: 25 }, (_, i) => ({ symbol: `S${i}-USDT`, name: `publicTrade.S${i}USDT` }));
  const plan = bybit.connection(streams, ENDPOINTS);
  assert.equal(plan.url, 'wss://example.invalid/v5/public/spot');
  const messages = plan.subscribeMessages.map((m) => JSON.parse(m) as { op: string; args: string[]; req_id: string });
  assert.deepEqual(messages.map((m) => [m.op, m.args.length, m.req_id]), [['subscribe', 10, '1'], ['subscribe', 10, '2'], ['subscribe', 5, '3']]);
  assert.deepEqual(messages.flatMap((m) => m.args), streams.map((s) => s.name));
  assert.equal(SUBSCRIBE_BATCH, 10);
  assert.deepEqual(bybit.clientHeartbeat, { intervalMs: 20_000, message: '{"op":"ping"}' });
});

test('sharding keeps every connection under the 21,000-character args limit', () => {
  const symbols = Array.from({ length: 120 }, (_, i) => `LONGNAMECOIN${i}-USDT`);
  const streams = bybit.streams({ symbols, timeframes: ['1m', '5m', '1h', '1d'], tradeStream: 'trade', klines: true });
  const shards = shardStreams(streams, bybit.limits.maxStreamsPerConnection);
  assert.equal(shards.length, 2);
  for (const shard of shards) {
    assert.ok(shard.length <= 500);
    const args = bybit.connection(shard, ENDPOINTS).subscribeMessages.flatMap((m) => (JSON.parse(m) as { args: string[] }).args);
    assert.ok(JSON.stringify(args).length < 21_000);
  }
});

const rejected = (metrics: Metrics, reason: string) => metricValue(metrics, 'candlestack_messages_rejected_total', { exchange: 'bybit', reason });

async function harness(o: { symbols: string[]; protocol?: BybitProtocolOptions; adapter?: ExchangeAdapter; tradesPerSecond?: number }) {
  const protocol = bybitProtocol(o.protocol);
  const venue = new SimulatedVenue({ protocol, symbols: o.symbols, seed: 5, tradesPerSecond: o.tradesPerSecond ?? 100, klinePushIntervalMs: 200 });
  const venueTrades = new Map<string, VenueTrade>();
  venue.onTrade((t) => venueTrades.set(`${t.symbol}/${t.id}`, t));
  const endpoints = await venue.start();
  const metrics = testMetrics();
  const bus = new MemoryBus(metrics.bus, log);
  const trades: Trade[] = [];
  const klines: Kline[] = [];
  const gaps: GapEvent[] = [];
  bus.subscribe('trade', (t) => trades.push(t));
  bus.subscribe('kline', (k) => klines.push(k));
  bus.subscribe('gap', (g) => gaps.push(g));
  const collector = new Collector({
    adapter: o.adapter ?? bybit, endpoints, subscription: { symbols: o.symbols, timeframes: ['1m', '5m'], tradeStream: 'trade', klines: true },
    staleAfterMs: 10_000, backoff: { initialMs: 50, maxMs: 200 }, bus, clock: systemClock, metrics: metrics.feed, log,
  });
  collector.start();
  return { protocol, venue, venueTrades, metrics, trades, klines, gaps, collector, stop: async () => { await collector.stop(); await venue.stop(); } };
}

test('subscribe: trades of every symbol arrive with canonical symbols and the venue ids; klines too', { timeout: 20_000 }, async () => {
  const symbols = Array.from({ length: 12 }, (_, i) => `C${String(i).padStart(2, '0')}-USDT`);
  const h = await harness({ symbols, tradesPerSecond: 400 });
  try {
    await until('trades of every symbol', () => new Set(h.trades.map((t) => t.symbol)).size === symbols.length);
    await until('klines', () => h.klines.length > 0);
    // 12 symbols x 3 topics = 36 topics: 4 subscribe messages, none refused by the 10-arg rule.
    assert.deepEqual([h.protocol.stats.subscribed, h.protocol.stats.refused], [4, 0]);
    for (const t of h.trades) {
      const v = h.venueTrades.get(`${t.symbol}/${t.id}`);
      assert.ok(v, `trade ${t.symbol}/${t.id} is a venue trade`);
      assert.deepEqual([t.price, t.qty, t.side, t.time, t.count], [v.price, v.qty, v.side, v.time, 1]);
    }
    assert.ok(h.klines.every((k) => symbols.includes(k.symbol) && (k.timeframe === '1m' || k.timeframe === '5m') && k.tradeCount === null));
    assert.equal(await rejected(h.metrics, 'exchange_error'), 0);
  } finally {
    await h.stop();
  }
});

test('heartbeat: client pings keep a connection alive past the idle timeout; a silent client is closed', { timeout: 20_000 }, async () => {
  const pinging = await harness({ symbols: ['BTC-USDT'], protocol: { idleTimeoutMs: 600 }, adapter: { ...bybit, clientHeartbeat: { intervalMs: 150, message: '{"op":"ping"}' } } });
  try {
    await sleep(2_000);
    assert.ok(pinging.protocol.stats.pings >= 6, `pings seen: ${pinging.protocol.stats.pings}`);
    assert.deepEqual([pinging.protocol.stats.idleCloses, pinging.collector.health()[0]!.reconnects], [0, 0]);
    assert.equal(await rejected(pinging.metrics, 'unknown_event'), 0); // pongs are recognised
  } finally {
    await pinging.stop();
  }
  const silent = await harness({ symbols: ['BTC-USDT'], protocol: { idleTimeoutMs: 600 }, adapter: { ...bybit, clientHeartbeat: undefined } });
  try {
    await until('idle close and reconnect', () => silent.protocol.stats.idleCloses >= 1 && silent.collector.health()[0]!.reconnects >= 1);
    assert.equal(silent.protocol.stats.pings, 0);
    await until('gap after the idle close', () => silent.gaps.some((g) => g.cause === 'reconnect'));
  } finally {
    await silent.stop();
  }
});

test('reconnect: dropped connections give a reconnect gap and trades resume; skipped ids are not a trade_id gap', { timeout: 20_000 }, async () => {
  const h = await harness({ symbols: ['BTC-USDT', 'ETH-USDT'] });
  try {
    await until('first trades', () => h.trades.length > 5);
    h.venue.dropConnections();
    await until('reconnect gaps', () => h.gaps.filter((g) => g.cause === 'reconnect').length === 2);
    assert.deepEqual(h.gaps.map((g) => g.symbol).sort(), ['BTC-USDT', 'ETH-USDT']);
    const after = h.trades.length;
    await until('trades resume', () => h.trades.length > after + 5);
    const lastBtc = h.trades.filter((t) => t.symbol === 'BTC-USDT').at(-1)!.id;
    h.venue.skipTradeIds('BTC-USDT', 5);
    await until('BTC trade after the skip', () => h.trades.some((t) => t.symbol === 'BTC-USDT' && t.id > lastBtc + 5));
    // Ids are not sequential on Bybit: the collector must not call the jump a gap.
    assert.equal(h.gaps.filter((g) => g.cause === 'trade_id').length, 0);
    assert.equal(h.collector.health()[0]!.tradeIdGaps, 0);
  } finally {
    await h.stop();
  }
});

test('unknown and malformed frames are counted as rejected, never thrown; the feed goes on', { timeout: 20_000 }, async () => {
  const h = await harness({ symbols: ['BTC-USDT'] });
  try {
    await until('subscribed', () => h.trades.length > 0);
    h.venue.broadcast('{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1,"data":{"s":"BTCUSDT","b":[],"a":[],"u":1,"seq":1}}');
    h.venue.broadcast('{"topic":"publicTrade.BTCUSDT"');
    await until('rejections counted', async () => (await rejected(h.metrics, 'unknown_event')) === 1 && (await rejected(h.metrics, 'invalid_json')) === 1);
    const n = h.trades.length;
    await until('trades go on', () => h.trades.length > n);
  } finally {
    await h.stop();
  }
});

test('backfill: fetchKlines equals klines rebuilt from the venue trades, paging past the page limit', { timeout: 20_000 }, async () => {
  // The venue's clock is stepped by the test (not sped-up real time): nothing moves between a look at the
  // time and a request, whatever the machine's load.
  const clock = new FakeClock(Date.UTC(2024, 0, 1, 0, 0, 30));
  const now = () => clock.now();
  const venue = new SimulatedVenue({ protocol: bybitProtocol({ klinePageLimit: 7 }), symbols: ['BTC-USDT'], seed: 3, tradesPerSecond: 2, tickMs: 1_000, clock });
  const trades: VenueTrade[] = [];
  venue.onTrade((t) => trades.push(t));
  const endpoints = await venue.start();
  try {
    clock.advance(25 * 60_000); // 25 minutes of trades, a trade every half second of venue time on average
    const first = periodStart(trades[0]!.time, 60_000);
    const end = periodStart(now(), 60_000) - 1;
    const urls: string[] = [];
    const real = new RestClient({ exchange: 'bybit', clock: systemClock, metrics: testMetrics().feed, log });
    const rest = { getJson: (u: string) => (urls.push(u), real.getJson(u)) } as unknown as RestClient;
    const klines = await bybit.fetchKlines(rest, endpoints, 'BTC-USDT', '1m', first, end);
    const expected = rebuild(trades.filter((t) => t.time <= end), 60_000);
    assert.ok(expected.length >= 15, `only ${expected.length} minutes`);
    assert.deepEqual(klines.map((k) => [k.openTime, k.open, k.high, k.low, k.close, k.volume, k.quoteVolume, k.closed, k.symbol]), expected.map((e) => [...e, true, 'BTC-USDT']));
    assert.ok(urls.length >= Math.ceil(expected.length / 7), `${urls.length} requests`);
    assert.ok(urls.every((u) => u.includes('/v5/market/kline?category=spot&symbol=BTCUSDT&interval=1&') && u.includes(`limit=${KLINE_PAGE}`)));
    // Asked past now, the open kline (its period not over at the server's `time`) is left out.
    const upToNow = await bybit.fetchKlines(real, endpoints, 'BTC-USDT', '1m', end - 5 * 60_000 + 1, now() + 3 * 60_000);
    const after = now();
    assert.ok(upToNow.length >= 5 && upToNow.every((k) => k.openTime + 60_000 <= after), 'only closed klines');
    assert.equal(upToNow.at(-1)!.openTime, periodStart(after, 60_000) - 60_000, 'up to the last closed period');
    await assert.rejects(bybit.fetchKlines(real, endpoints, 'DOGE-USDT', '1m', first, end), /retCode 10001/);
  } finally {
    await venue.stop();
  }
});

/** OHLCV + turnover per period from trades (exact, in 1e-8 units), empty periods carrying the last close. */
function rebuild(trades: readonly VenueTrade[], ms: number): (string | number)[][] {
  const out: (string | number)[][] = [];
  let cur: { t: number; o: bigint; h: bigint; l: bigint; c: bigint; v: bigint; q: bigint } | null = null;
  const flush = () => cur && out.push([cur.t, formatUnits(cur.o), formatUnits(cur.h), formatUnits(cur.l), formatUnits(cur.c), formatUnits(cur.v), formatUnits(cur.q / 100_000_000n)]);
  for (const tr of trades) {
    const p = parseUnits(tr.price);
    const q = parseUnits(tr.qty);
    const t = periodStart(tr.time, ms);
    while (cur && cur.t < t) {
      flush();
      cur = cur.t + ms < t ? { t: cur.t + ms, o: cur.c, h: cur.c, l: cur.c, c: cur.c, v: 0n, q: 0n } : null;
    }
    if (!cur) cur = { t, o: p, h: p, l: p, c: p, v: 0n, q: 0n };
    if (p > cur.h) cur.h = p;
    if (p < cur.l) cur.l = p;
    cur.c = p;
    cur.v += q;
    cur.q += p * q;
  }
  flush();
  return out;
}
