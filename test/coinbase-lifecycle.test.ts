/**
 * The real Collector with the Coinbase adapter against the simulated Coinbase venue on loopback: subscribe,
 * the 5 s subscribe deadline, heartbeats as liveness, reconnect gaps, trade-id gaps, unknown frames.
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { systemClock } from '../src/core/clock.js';
import type { GapEvent, Trade } from '../src/core/types.js';
import { MemoryBus } from '../src/bus/memory.js';
import { coinbase } from '../src/exchanges/coinbase/feed.js';
import { Collector } from '../src/feed/collector.js';
import { SimulatedVenue } from '../src/demo/simulated-venue/venue.js';
import { coinbaseProtocol, type CoinbaseProtocolOptions } from '../src/demo/simulated-venue/coinbase.js';
import { log, sleep, testMetrics, until } from './support/harness.js';
import { metricValue } from './support/metrics.js';

const SYMBOLS = ['BTC-USD', 'ETH-USD', 'SOL-USDT'];

async function startVenue(t: TestContext, protocol: CoinbaseProtocolOptions = {}, tradesPerSecond = 60) {
  const venue = new SimulatedVenue({ protocol: coinbaseProtocol(protocol), symbols: SYMBOLS, seed: 3, tradesPerSecond });
  const endpoints = await venue.start();
  t.after(() => venue.stop());
  return { venue, endpoints };
}

async function startFeed(t: TestContext, protocol: CoinbaseProtocolOptions = {}, staleAfterMs = 10_000) {
  const { venue, endpoints } = await startVenue(t, protocol);
  const metrics = testMetrics();
  const bus = new MemoryBus(metrics.bus, log);
  const trades: Trade[] = [];
  const gaps: GapEvent[] = [];
  bus.subscribe('trade', (x) => trades.push(x));
  bus.subscribe('gap', (x) => gaps.push(x));
  const collector = new Collector({
    adapter: coinbase,
    endpoints,
    subscription: { symbols: SYMBOLS, timeframes: ['1m'], tradeStream: 'trade', klines: true },
    staleAfterMs,
    backoff: { initialMs: 20, maxMs: 100 },
    bus,
    clock: systemClock,
    metrics: metrics.feed,
    log,
  });
  collector.start();
  t.after(() => collector.stop());
  const tradedAfter = (at: number) => SYMBOLS.every((s) => trades.some((x) => x.symbol === s && x.receivedAt > at));
  await until('trades of every symbol', () => tradedAfter(0));
  return { venue, collector, metrics, trades, gaps, tradedAfter };
}

test('subscribe: trades of every product arrive with canonical symbols and consecutive ids; nothing rejected', { timeout: 20_000 }, async (t) => {
  const { trades, gaps, metrics } = await startFeed(t);
  await sleep(1500);
  assert.deepEqual([...new Set(trades.map((x) => x.symbol))].sort(), [...SYMBOLS].sort());
  for (const symbol of SYMBOLS) {
    const ids = trades.filter((x) => x.symbol === symbol).map((x) => x.id);
    assert.ok(ids.length > 3, `${symbol}: ${ids.length} trades`);
    ids.slice(1).forEach((id, i) => assert.equal(id, ids[i]! + 1, `${symbol} ids are consecutive`));
  }
  assert.deepEqual(gaps, []);
  assert.equal(await metricValue(metrics, 'candlestack_messages_rejected_total'), 0, 'acks and heartbeats are not rejections');
  assert.equal(await metricValue(metrics, 'candlestack_klines_received_total'), 0, 'no kline stream on Coinbase');
});

test('the venue drops a client that does not subscribe in time, and keeps one that does', { timeout: 10_000 }, async (t) => {
  const { endpoints } = await startVenue(t, { subscribeTimeoutMs: 300, heartbeatIntervalMs: 100 });
  const opened = Date.now();
  const silent = new WebSocket(endpoints.wsBaseUrl);
  const badSub = new WebSocket(endpoints.wsBaseUrl);
  const good = new WebSocket(endpoints.wsBaseUrl);
  const badFrames: string[] = [];
  const goodFrames: string[] = [];
  badSub.on('open', () => badSub.send('{"type":"subscribe","product_ids":["XYZ-USD"],"channels":["matches"]}'));
  badSub.on('message', (d) => badFrames.push(d.toString()));
  good.on('open', () => good.send('{"type":"subscribe","product_ids":["BTC-USD"],"channels":["heartbeat"]}'));
  good.on('message', (d) => goodFrames.push(d.toString()));
  const closedAt = (ws: WebSocket) => new Promise<number>((resolve) => ws.on('close', () => resolve(Date.now() - opened)));
  const [silentAfter, badAfter] = await Promise.all([closedAt(silent), closedAt(badSub)]);
  assert.ok(silentAfter >= 300 && silentAfter < 2000, `silent client closed after ${silentAfter} ms`);
  assert.ok(badAfter >= 300 && badAfter < 2000, 'a failed subscribe does not count as subscribed');
  assert.deepEqual(JSON.parse(badFrames[0]!), { type: 'error', message: 'Failed to subscribe', reason: '"XYZ-USD" is not a valid product' });
  await sleep(400);
  assert.equal(good.readyState, WebSocket.OPEN, 'the subscribed client outlives the deadline');
  assert.deepEqual(JSON.parse(goodFrames[0]!), { type: 'subscriptions', channels: [{ name: 'heartbeat', product_ids: ['BTC-USD'] }] });
  assert.ok(goodFrames.filter((f) => JSON.parse(f).type === 'heartbeat').length >= 3, 'heartbeats every 100 ms');
  good.close();
});

test('heartbeats keep a connection without trades alive; silence (no heartbeats) makes it stale and reconnect', { timeout: 20_000 }, async (t) => {
  const { venue, collector, metrics } = await startFeed(t, { heartbeatIntervalMs: 100 }, 700);
  for (const s of SYMBOLS) venue.haltSymbol(s, 2000);
  await sleep(1800);
  assert.equal(collector.health()[0]!.reconnects, 0, 'no trades for 1.8 s, but heartbeats: no reconnect');
  assert.equal(await metricValue(metrics, 'candlestack_feed_stale_total'), 0);
  venue.pauseStreams(1500); // nothing at all, heartbeats included
  await until('a stale reconnect', () => collector.health()[0]!.reconnects >= 1);
  assert.ok((await metricValue(metrics, 'candlestack_feed_stale_total')) >= 1);
});

test('reconnect: dropped connections -> a reconnect gap per symbol, trades resume without a stream gap', { timeout: 20_000 }, async (t) => {
  const { venue, gaps, metrics, tradedAfter } = await startFeed(t);
  const dropped = Date.now();
  venue.dropConnections();
  await until('reconnect gaps for every symbol', () => SYMBOLS.every((s) => gaps.some((g) => g.symbol === s && g.cause === 'reconnect')));
  await until('trades after the reconnect', () => tradedAfter(dropped + 50));
  assert.ok(gaps.every((g) => g.cause === 'reconnect' && g.exchange === 'coinbase' && g.from <= g.to));
  assert.equal(await metricValue(metrics, 'candlestack_trade_id_gaps_total', { cause: 'stream' }), 0);
});

test('skipped trade ids -> a trade_id gap with the number missing', { timeout: 20_000 }, async (t) => {
  const { venue, gaps, metrics } = await startFeed(t);
  venue.skipTradeIds('ETH-USD', 7);
  await until('a trade_id gap', () => gaps.find((g) => g.cause === 'trade_id'));
  assert.deepEqual(gaps.map((g) => [g.symbol, g.cause, g.missing]), [['ETH-USD', 'trade_id', 7]]);
  assert.equal(await metricValue(metrics, 'candlestack_trade_ids_missing_total', { symbol: 'ETH-USD' }), 7);
});

test('unknown, malformed and error frames are counted as rejected, never thrown; trades continue', { timeout: 20_000 }, async (t) => {
  const { venue, metrics, tradedAfter } = await startFeed(t);
  venue.broadcast('{"type":"brand_new_type","product_id":"BTC-USD"}');
  venue.broadcast('not json at all');
  venue.broadcast('{"type":"error","message":"Failed to subscribe","reason":"boom"}');
  venue.broadcast('{"type":"match","trade_id":"x","product_id":"BTC-USD"}');
  const rejected = (reason: string) => metricValue(metrics, 'candlestack_messages_rejected_total', { exchange: 'coinbase', reason });
  await until('four rejections', async () => (await metricValue(metrics, 'candlestack_messages_rejected_total')) >= 4);
  assert.deepEqual(await Promise.all(['unknown_event', 'invalid_json', 'exchange_error', 'invalid_field'].map(rejected)), [1, 1, 1, 1]);
  const after = Date.now();
  await until('trades after the bad frames', () => tradedAfter(after));
});
