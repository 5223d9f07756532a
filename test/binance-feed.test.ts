/**
 * The Binance feed description: streams, URL + SUBSCRIBE overflow, and REST kline pagination, checked
 * against the simulated exchange and a local REST server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock } from '../src/core/clock.js';
import type { Trade } from '../src/core/types.js';
import { binance } from '../src/exchanges/binance/feed.js';
import { Collector } from '../src/feed/collector.js';
import { RestClient } from '../src/feed/rest-client.js';
import { MemoryBus } from '../src/bus/memory.js';
import { SimulatedBinance } from '../src/demo/simulated-binance/server.js';
import { log, sleep, testMetrics } from './support/harness.js';

test('streams: trade stream and one kline stream per timeframe for each symbol', () => {
  const streams = binance.streams({ symbols: ['BTC-USDT', 'ETH-USDT'], timeframes: ['1m', '1h'], tradeStream: 'aggTrade', klines: true });
  assert.deepEqual(
    streams.map((s) => s.name),
    ['btcusdt@aggTrade', 'btcusdt@kline_1m', 'btcusdt@kline_1h', 'ethusdt@aggTrade', 'ethusdt@kline_1m', 'ethusdt@kline_1h'],
  );
  assert.deepEqual(binance.streams({ symbols: ['BTC-USDT'], timeframes: ['1m'], tradeStream: 'trade', klines: false }).map((s) => s.name), ['btcusdt@trade']);
});

test('connection plan: streams in the URL, overflow as SUBSCRIBE messages of at most 200', () => {
  const endpoints = { wsBaseUrl: 'wss://example.invalid:9443', restBaseUrl: 'https://example.invalid' };
  const few = binance.connection([{ symbol: 'BTC-USDT', name: 'btcusdt@trade' }], endpoints);
  assert.equal(few.url, 'wss://example.invalid:9443/stream?streams=btcusdt@trade');
  assert.deepEqual(few.subscribeMessages, []);
  const many = Array.from({ length: 650 }, (_, i) => ({ symbol: `S${i}`, name: `s${i}@trade` }));
  const plan = binance.connection(many, endpoints);
  assert.equal(new URL(plan.url).searchParams.get('streams')!.split('/').length, 200);
  const messages = plan.subscribeMessages.map((m) => JSON.parse(m) as { method: string; params: string[]; id: number });
  assert.deepEqual(messages.map((m) => [m.method, m.params.length, m.id]), [['SUBSCRIBE', 200, 1], ['SUBSCRIBE', 200, 2], ['SUBSCRIBE', 50, 3]]);
  assert.deepEqual([...new URL(plan.url).searchParams.get('streams')!.split('/'), ...messages.flatMap((m) => m.params)], many.map((s) => s.name));
});

test('a collector with more streams than fit the URL receives every symbol (SUBSCRIBE against the simulated exchange)', { timeout: 20_000 }, async () => {
  const symbols = Array.from({ length: 40 }, (_, i) => `C${String(i).padStart(2, '0')}-USDT`);
  const sim = new SimulatedBinance({ symbols, seed: 11, tradesPerSecond: 800 });
  const { wsBaseUrl, restBaseUrl } = await sim.start();
  const metrics = testMetrics();
  const bus = new MemoryBus(metrics.bus, log);
  const seen = new Set<string>();
  bus.subscribe('trade', (t: Trade) => seen.add(t.symbol));
  const collector = new Collector({
    adapter: binance,
    endpoints: { wsBaseUrl, restBaseUrl },
    subscription: { symbols, timeframes: ['1m', '5m', '15m', '1h', '4h', '1d'], tradeStream: 'trade', klines: true },
    staleAfterMs: 10_000,
    backoff: { initialMs: 100, maxMs: 500 },
    bus,
    clock: systemClock,
    metrics: metrics.feed,
    log,
  });
  try {
    collector.start();
    const deadline = Date.now() + 10_000;
    while (seen.size < symbols.length && Date.now() < deadline) await sleep(100);
    // 40 symbols x 7 streams = 280: the last 80 streams (symbols 29..39) came through SUBSCRIBE.
    assert.deepEqual([...seen].sort(), symbols);
    assert.equal(collector.health()[0]!.streams, 280);
  } finally {
    await collector.stop();
    await sim.stop();
  }
});

test('fetchKlines paginates by 1000 from the last open time and maps the array layout', async () => {
  const requests: URLSearchParams[] = [];
  const server = createServer((req, res) => {
    const q = new URL(req.url!, 'http://x').searchParams;
    requests.push(q);
    const start = Number(q.get('startTime'));
    const end = Number(q.get('endTime'));
    const limit = Number(q.get('limit'));
    const rows = [];
    for (let t = start; t <= end && rows.length < limit; t += 60_000) {
      rows.push([t, '1.00000000', '2.00000000', '0.50000000', '1.50000000', '10.00000000', t + 59_999, '15.00000000', 7, '4.00000000', '6.00000000', '0']);
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(rows));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const rest = new RestClient({ exchange: 'binance', clock: systemClock, metrics: testMetrics().feed, log });
    const start = Date.UTC(2024, 0, 1);
    const end = start + 2_500 * 60_000 - 1;
    const klines = await binance.fetchKlines(rest, { wsBaseUrl: 'ws://unused', restBaseUrl: `http://127.0.0.1:${port}` }, 'BTC-USDT', '1m', start, end);
    assert.equal(klines.length, 2_500);
    assert.equal(requests.length, 3);
    assert.deepEqual(requests.map((q) => Number(q.get('startTime'))), [start, start + 1000 * 60_000, start + 2000 * 60_000]);
    assert.ok(requests.every((q) => q.get('symbol') === 'BTCUSDT' && q.get('interval') === '1m' && Number(q.get('limit')) <= 1000));
    assert.deepEqual(
      { ...klines[0]!, receivedAt: 0 },
      { type: 'kline', exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', openTime: start, open: '1.00000000', high: '2.00000000', low: '0.50000000', close: '1.50000000', volume: '10.00000000', quoteVolume: '15.00000000', takerBuyVolume: '4.00000000', tradeCount: 7, closed: true, time: start + 59_999, receivedAt: 0 },
    );
  } finally {
    server.close();
  }
});
