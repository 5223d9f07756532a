/**
 * The health view's detail on top of /api/health, read from the components' status(): per-feed message
 * counts, per-symbol trades and last-trade age, reconciliation, store, bus and backfill counters, and the
 * levels (green / amber / red) including the window that lets an old error stop colouring a part. The last
 * test runs the real components: the numbers are what they counted, the same as /metrics, and stay right
 * once the metrics registry is emptied (nothing is read back out of prom-client).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import { healthReport, type HealthSources } from '../src/api/health.js';
import { HealthDetails, MISMATCH_MIN_SAMPLE, reconciliationLevel, worst } from '../src/api/health-details.js';
import { MemoryBus } from '../src/bus/memory.js';
import type { Kline } from '../src/core/types.js';
import { binance } from '../src/exchanges/binance/feed.js';
import { Collector, type FeedHealth, type FeedStatus } from '../src/feed/collector.js';
import type { RestClient } from '../src/feed/rest-client.js';
import { Backfiller, type BackfillSource } from '../src/jobs/backfill.js';
import { CandleEngine } from '../src/pipeline/candle-engine.js';
import { Reconciler, type ReconcilerStatus } from '../src/pipeline/reconciler.js';
import { CandleWriter } from '../src/store/candle-writer.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { FakeClock } from './support/fake-clock.js';
import { log, testMetrics, until } from './support/harness.js';
import type { ExchangeId } from '../src/core/exchange-id.js';

const STALE_AFTER_MS = 10_000;

/** What the components would report; the tests change these numbers as the components would count them. */
function counts() {
  return {
    feed: { exchange: 'binance', connections: [], symbols: [], rejected: {} } as FeedStatus,
    engine: { rejected: {} as Record<string, number> },
    reconciler: { results: { match: 0, mismatch: 0, skipped: 0, unmatched: 0 }, mismatchedFields: {} } as ReconcilerStatus,
    writer: { rowsWritten: 0, errors: 0 },
    bus: { published: 0, consumed: 0, handlerErrors: 0 },
    backfill: { candles: 0, runsOk: 0, runsFailed: 0 },
  };
}

function setup() {
  const clock = new FakeClock();
  const c = counts();
  let feeds: FeedHealth[] = [feed('0', 'connected', 100)];
  let storeOpen = true;
  const sources: HealthSources = {
    feeds: () => feeds,
    staleAfterMs: STALE_AFTER_MS,
    store: { kind: 'sqlite', isOpen: () => storeOpen, queueDepth: () => 3 },
    bus: { kind: 'memory' },
    backfillPending: () => 0,
    startedAt: clock.now(),
  };
  const status = {
    feeds: () => [c.feed],
    rejects: () => [c.engine],
    reconciliation: () => c.reconciler,
    store: () => [c.writer],
    bus: () => c.bus,
    backfill: () => c.backfill,
  };
  const details = new HealthDetails({ status, clock, staleAfterMs: STALE_AFTER_MS, windowMs: 60_000 });
  return {
    clock,
    counts: c,
    details,
    setFeeds: (f: FeedHealth[]) => (feeds = f),
    closeStore: () => (storeOpen = false),
    report: () => details.extend(healthReport(sources, clock.now())),
  };

  function feed(connection: string, status: FeedHealth['status'], age: number | null): FeedHealth {
    return {
      exchange: 'binance',
      connection,
      status,
      symbols: ['BTC-USDT', 'ETH-USDT'],
      streams: 4,
      lastMessageAt: age === null ? null : clock.now() - age,
      lastMessageAgeMs: age,
      connectedSince: null,
      reconnects: 0,
      tradeIdGaps: 0,
      lastError: null,
    };
  }
}

test('counts per feed and per symbol come from the components\' status; a quiet symbol is amber', async () => {
  const s = setup();
  const c = s.counts;
  c.feed.connections.push({ connection: '0', framesReceived: 42 });
  c.feed.connections.push({ connection: '1', framesReceived: 7 }); // another shard: not this feed's
  c.feed.symbols.push({ symbol: 'BTC-USDT', tradesReceived: 30, lastTradeAt: s.clock.now() - 1_500, tradeIdGaps: 3, tradeIdsMissing: 9 });
  c.feed.rejected.malformed = 2;
  c.feed.rejected.future_timestamp = 1;
  c.writer.rowsWritten = 100;
  c.bus.published = 35;
  c.backfill.candles = 4;
  c.backfill.runsOk = 2;

  const r = await s.report();
  assert.equal(r.feeds.length, 1);
  assert.equal(r.feeds[0]!.messagesReceived, 42);
  assert.equal(r.feeds[0]!.level, 'ok');
  const [btc, eth] = r.symbols;
  assert.deepEqual(btc, { exchange: 'binance', symbol: 'BTC-USDT', tradesReceived: 30, lastTradeAgeMs: 1_500, tradeIdGaps: 3, tradeIdsMissing: 9, level: 'ok' });
  assert.deepEqual(eth, { exchange: 'binance', symbol: 'ETH-USDT', tradesReceived: 0, lastTradeAgeMs: null, tradeIdGaps: 0, tradeIdsMissing: 0, level: 'warn' });
  assert.deepEqual(r.rejected, { total: 3, reasons: { malformed: 2, future_timestamp: 1 } });
  assert.deepEqual(r.store, { kind: 'sqlite', open: true, queueDepth: 3, rowsWritten: 100, errors: 0, recentErrors: 0, level: 'ok' });
  assert.deepEqual(r.bus, { kind: 'memory', published: 35, consumed: 0, handlerErrors: 0, recentHandlerErrors: 0, level: 'ok' });
  assert.deepEqual(r.backfill, { pending: 0, candles: 4, runsOk: 2, runsFailed: 0, recentFailures: 0, level: 'ok' });
  assert.equal(r.staleAfterMs, STALE_AFTER_MS);
  // The report's own fields are still there, unchanged.
  assert.equal(r.status, 'ok');
  assert.equal(r.feeds[0]!.state, 'up');

  s.clock.advance(STALE_AFTER_MS + 1);
  const later = await s.report();
  assert.equal(later.symbols[0]!.level, 'warn', 'no trade for longer than staleAfter');
});

test('feed levels follow the feed state: up green, stale amber, down red; the page level is the worst part', async () => {
  const s = setup();
  const base = { exchange: 'binance' as const, symbols: [], streams: 1, lastMessageAt: null, connectedSince: null, reconnects: 0, tradeIdGaps: 0, lastError: null };
  s.setFeeds([
    { ...base, connection: '0', status: 'connected', lastMessageAgeMs: 100 },
    { ...base, connection: '1', status: 'connected', lastMessageAgeMs: STALE_AFTER_MS },
    { ...base, connection: '2', status: 'disconnected', lastMessageAgeMs: null },
  ]);
  const r = await s.report();
  assert.deepEqual(r.feeds.map((f) => [f.state, f.level]), [['up', 'ok'], ['stale', 'warn'], ['down', 'critical']]);
  assert.equal(r.level, 'critical');
  s.setFeeds([
    { ...base, connection: '0', status: 'connected', lastMessageAgeMs: 10 },
    { ...base, connection: '1', status: 'connected', lastMessageAgeMs: STALE_AFTER_MS },
  ]);
  assert.equal((await s.report()).level, 'warn', 'one of two feeds stale: degraded');
  s.setFeeds([{ ...base, connection: '0', status: 'connected', lastMessageAgeMs: 10 }]);
  assert.equal((await s.report()).level, 'ok');
  s.closeStore();
  const closed = await s.report();
  assert.equal(closed.store.level, 'critical');
  assert.equal(closed.level, 'critical');
});

test('reconciliation: totals, the fields that differed, and a level from the recent window only', async () => {
  const s = setup();
  const rec = s.counts.reconciler;
  rec.results.match += 300;
  rec.results.mismatch += 1;
  rec.results.skipped += 2;
  rec.results.unmatched += 1;
  rec.mismatchedFields.high = 1;
  rec.mismatchedFields.volume = 1;

  s.clock.advance(10_000);
  let r = await s.report();
  assert.deepEqual(r.reconciliation.total, { match: 300, mismatch: 1, skipped: 2, unmatched: 1 });
  assert.deepEqual(r.reconciliation.mismatchedFields, { high: 1, volume: 1 });
  assert.equal(r.reconciliation.level, 'warn', 'one mismatch in 301 is amber');
  assert.equal(r.level, 'warn');

  rec.results.mismatch += 9;
  s.clock.advance(10_000);
  r = await s.report();
  assert.equal(r.reconciliation.level, 'critical', '10 mismatches in 310 comparisons is over 1 %');

  // Nothing new for longer than the window (60 s): the old mismatches no longer colour it.
  for (let i = 0; i < 8; i++) {
    s.clock.advance(10_000);
    rec.results.match += 10;
    r = await s.report();
  }
  assert.deepEqual(r.reconciliation.recent, { match: 60, mismatch: 0, skipped: 0, unmatched: 0 });
  assert.equal(r.reconciliation.level, 'ok');
  assert.equal(r.reconciliation.total.mismatch, 10, 'the totals keep them');
  assert.equal(r.reconciliation.windowSeconds, 60);
});

test('store and bus errors and failed backfills are amber while recent, green once the window has passed', async () => {
  const s = setup();
  s.clock.advance(10_000);
  await s.report();
  s.counts.writer.errors += 1;
  s.counts.bus.handlerErrors += 1;
  s.counts.backfill.runsFailed += 1;
  s.clock.advance(10_000);
  let r = await s.report();
  assert.deepEqual([r.store.level, r.bus.level, r.backfill.level, r.level], ['warn', 'warn', 'warn', 'warn']);
  assert.deepEqual([r.store.recentErrors, r.bus.recentHandlerErrors, r.backfill.recentFailures], [1, 1, 1]);
  for (let i = 0; i < 7; i++) {
    s.clock.advance(10_000);
    r = await s.report();
  }
  assert.deepEqual([r.store.level, r.bus.level, r.backfill.level, r.level], ['ok', 'ok', 'ok', 'ok']);
  assert.deepEqual([r.store.errors, r.bus.handlerErrors, r.backfill.runsFailed], [1, 1, 1]);
});

test('reconciliationLevel and worst', () => {
  assert.equal(reconciliationLevel({ match: 0, mismatch: 0, skipped: 5, unmatched: 5 }), 'ok');
  assert.equal(reconciliationLevel({ match: 0, mismatch: 1, skipped: 0, unmatched: 0 }), 'warn', 'one mismatch right after a start is amber');
  assert.equal(reconciliationLevel({ match: 0, mismatch: 2, skipped: 0, unmatched: 0 }), 'critical', `2 of at least ${MISMATCH_MIN_SAMPLE}`);
  assert.equal(reconciliationLevel({ match: 999, mismatch: 10, skipped: 0, unmatched: 0 }), 'warn');
  assert.equal(reconciliationLevel({ match: 980, mismatch: 20, skipped: 0, unmatched: 0 }), 'critical');
  assert.equal(worst([]), 'ok');
  assert.equal(worst(['ok', 'warn']), 'warn');
  assert.equal(worst(['warn', 'critical', 'ok']), 'critical');
});

test('with the real components: the counts are what they counted, as /metrics shows them, and do not come from the registry', { timeout: 15_000 }, async (t) => {
  const T0 = Date.UTC(2024, 0, 1);
  const clock = new FakeClock(T0 + 30_000);
  const metrics = testMetrics();
  const bus = new MemoryBus(metrics.bus, log);
  const engine = new CandleEngine({ timeframes: ['1m'], graceMs: 0, latePolicy: 'drop', clock, metrics, log, emit: (e) => bus.publish('candle', e) });
  const reconciler = new Reconciler({ engine, clock, metrics: metrics.candles, log });
  const store = new SqliteStore(':memory:', () => clock.now());
  t.after(() => store.close());
  const writer = new CandleWriter({ store, clock, metrics: metrics.store, log });
  bus.subscribe('trade', (tr) => void engine.onTrade(tr));
  bus.subscribe('candle', writer.onEvent);
  bus.subscribe('candle', reconciler.onCandle);
  bus.subscribe('gap', () => {
    throw new Error('a failing subscriber');
  });

  const trade = (symbol: string, id: number, price: string, at: number) =>
    JSON.stringify({ stream: `${symbol.toLowerCase()}@trade`, data: { e: 'trade', E: T0 + at + 1, s: symbol, t: id, p: price, q: '1.00000000', T: T0 + at, m: false, M: true } });
  const frames = [
    trade('BTCUSDT', 1, '100.00000000', 1_000),
    trade('BTCUSDT', 2, '101.00000000', 2_000),
    trade('BTCUSDT', 3, '99.00000000', 3_000),
    trade('BTCUSDT', 7, '102.00000000', 4_000), // ids 4..6 missing: one gap
    trade('BTCUSDT', 7, '102.00000000', 4_000), // duplicate_trade
    trade('ETHUSDT', 10, '50.00000000', 5_000),
    trade('ETHUSDT', 11, '1.2.3', 6_000), // refused by the mapper: invalid_price
    'not json', // invalid_json
  ];
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  wss.on('connection', (ws) => {
    for (const f of frames) ws.send(f);
  });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const collector = new Collector({
    adapter: binance,
    endpoints: { wsBaseUrl: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, restBaseUrl: 'http://127.0.0.1:9' },
    subscription: { symbols: ['BTC-USDT', 'ETH-USDT'], timeframes: [], tradeStream: 'trade', klines: false },
    staleAfterMs: STALE_AFTER_MS,
    backoff: { initialMs: 50, maxMs: 200 },
    bus,
    clock,
    metrics: metrics.feed,
    log,
  });
  t.after(async () => {
    await collector.stop(); // first: the server closes once its connections have
    await new Promise<void>((r) => wss.close(() => r()));
  });
  collector.start();
  await until('every frame received', () => collector.status().connections[0]!.framesReceived === frames.length);
  // A trade that reaches the engine by another path (Kafka, an import) is checked there too: invalid_decimal.
  bus.publish('trade', { type: 'trade', exchange: 'binance', symbol: 'ETH-USDT', id: 12, price: '0', qty: '1', side: 'buy', count: 1, time: T0 + 6_000, receivedAt: T0 + 6_000 });

  engine.tick(T0 + 60_000); // minute 0 closes
  const kline = (symbol: string, close?: string): Kline => {
    const c = engine.lookupClosed('binance', symbol, '1m', T0)!.candle;
    return { type: 'kline', exchange: 'binance', symbol, timeframe: '1m', openTime: T0, open: c.open, high: c.high, low: c.low, close: close ?? c.close, volume: c.volume, quoteVolume: c.quoteVolume, takerBuyVolume: c.takerBuyVolume, tradeCount: c.tradeCount, closed: true, time: T0 + 60_000, receivedAt: clock.now() };
  };
  reconciler.onKline(kline('BTC-USDT'));
  reconciler.onKline(kline('ETH-USDT', '51.00000000'));
  // Backfill: the exchange's ETH kline replaces our candle; a second exchange's REST fails.
  const source = (fetchKlines: BackfillSource['adapter']['fetchKlines']): BackfillSource => ({ adapter: { ...binance, fetchKlines }, endpoints: binance.defaultEndpoints, rest: {} as RestClient });
  const restSources = new Map<ExchangeId, BackfillSource>([
    ['binance', source(async () => [kline('ETH-USDT', '51.00000000')])],
    ['coinbase', source(async () => Promise.reject(new Error('REST down')))],
  ]);
  const backfiller = new Backfiller({ sources: restSources, engine, timeframes: ['1m'], graceMs: 0, settleMs: 0, clock, metrics, log });
  for (const exchange of restSources.keys()) backfiller.onGap({ type: 'gap', exchange, symbol: 'ETH-USDT', from: T0 + 5_000, to: T0 + 6_000, cause: 'trade_id' });
  await backfiller.runDue(T0 + 120_000);
  assert.equal(await writer.flush(), true);

  const details = new HealthDetails({
    status: {
      feeds: () => [collector.status()],
      rejects: () => [engine.status()],
      reconciliation: () => reconciler.status(),
      store: () => [writer.status()],
      bus: () => bus.status(),
      backfill: () => backfiller.status(),
    },
    clock,
    staleAfterMs: STALE_AFTER_MS,
  });
  const sources: HealthSources = {
    feeds: () => collector.health(),
    staleAfterMs: STALE_AFTER_MS,
    store: { kind: store.kind, isOpen: () => store.isOpen(), queueDepth: () => writer.depth },
    bus: { kind: bus.kind },
    backfillPending: () => 0,
    startedAt: T0,
  };
  const counted = (r: Awaited<ReturnType<HealthDetails['extend']>>) => ({
    messagesReceived: r.feeds.map((f) => f.messagesReceived),
    symbols: r.symbols.map(({ level: _, ...s }) => s),
    rejected: r.rejected,
    reconciliation: { total: r.reconciliation.total, mismatchedFields: r.reconciliation.mismatchedFields },
    store: { rowsWritten: r.store.rowsWritten, errors: r.store.errors },
    bus: { published: r.bus.published, consumed: r.bus.consumed, handlerErrors: r.bus.handlerErrors },
    backfill: { candles: r.backfill.candles, runsOk: r.backfill.runsOk, runsFailed: r.backfill.runsFailed },
  });
  const r = counted(details.extend(healthReport(sources, clock.now())));

  // What the components counted.
  assert.deepEqual(r.messagesReceived, [frames.length]);
  assert.deepEqual(r.symbols, [
    { exchange: 'binance', symbol: 'BTC-USDT', tradesReceived: 4, lastTradeAgeMs: 26_000, tradeIdGaps: 1, tradeIdsMissing: 3 },
    { exchange: 'binance', symbol: 'ETH-USDT', tradesReceived: 1, lastTradeAgeMs: 25_000, tradeIdGaps: 0, tradeIdsMissing: 0 },
  ]);
  assert.deepEqual(r.rejected, { total: 4, reasons: { duplicate_trade: 1, invalid_decimal: 1, invalid_json: 1, invalid_price: 1 } });
  assert.deepEqual(r.reconciliation, { total: { match: 1, mismatch: 1, skipped: 0, unmatched: 0 }, mismatchedFields: { close: 1 } });
  assert.deepEqual(r.store, { rowsWritten: writer.status().rowsWritten, errors: 0 });
  assert.ok(r.store.rowsWritten >= 2, 'both closed candles written');
  assert.equal(r.bus.handlerErrors, 1, 'the failing gap subscriber');
  assert.deepEqual(r.bus, bus.status());
  assert.deepEqual(r.backfill, { candles: 1, runsOk: 1, runsFailed: 1 });

  // The same numbers on /metrics.
  const total = async (name: string, labels: Record<string, string> = {}): Promise<number> =>
    (await metrics.registry.getSingleMetric(name)!.get()).values.filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want)).reduce((n, v) => n + v.value, 0);
  assert.equal(await total('candlestack_ws_messages_received_total', { exchange: 'binance', connection: '0' }), frames.length);
  for (const s of r.symbols) {
    const at = { exchange: 'binance', symbol: s.symbol };
    assert.equal(await total('candlestack_trades_received_total', at), s.tradesReceived, s.symbol);
    assert.equal(clock.now() - Math.round((await total('candlestack_last_trade_timestamp_seconds', at)) * 1000), s.lastTradeAgeMs, s.symbol);
    assert.equal(await total('candlestack_trade_id_gaps_total', at), s.tradeIdGaps, s.symbol);
    assert.equal(await total('candlestack_trade_ids_missing_total', at), s.tradeIdsMissing, s.symbol);
  }
  for (const [reason, n] of Object.entries(r.rejected.reasons)) assert.equal(await total('candlestack_messages_rejected_total', { reason }), n, reason);
  for (const [result, n] of Object.entries(r.reconciliation.total)) assert.equal(await total('candlestack_reconciliations_total', { result }), n, result);
  assert.equal(await total('candlestack_reconciliation_mismatches_total', { field: 'close' }), 1);
  assert.equal(await total('candlestack_reconciliation_mismatches_total'), 1);
  assert.equal(await total('candlestack_store_rows_written_total'), r.store.rowsWritten);
  assert.equal(await total('candlestack_store_errors_total'), 0);
  assert.equal(await total('candlestack_bus_messages_published_total'), r.bus.published);
  assert.equal(await total('candlestack_bus_messages_consumed_total'), r.bus.consumed);
  assert.equal(await total('candlestack_bus_handler_errors_total'), 1);
  assert.equal(await total('candlestack_backfill_candles_total'), 1);
  assert.equal(await total('candlestack_backfill_runs_total', { result: 'ok' }), 1);
  assert.equal(await total('candlestack_backfill_runs_total', { result: 'error' }), 1);

  // Without any metric in the registry the health numbers are unchanged: they never came from it.
  metrics.registry.clear();
  assert.equal(metrics.registry.getMetricsAsArray().length, 0);
  assert.deepEqual(counted(details.extend(healthReport(sources, clock.now()))), r);
});
