/**
 * The health view's detail on top of /api/health, read from the metrics catalogue: per-feed message counts,
 * per-symbol trades and last-trade age, reconciliation, store, bus and backfill counters, and the levels
 * (green / amber / red) including the window that lets an old error stop colouring a part.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { healthReport, type HealthSources } from '../src/api/health.js';
import { HealthDetails, MISMATCH_MIN_SAMPLE, reconciliationLevel, worst } from '../src/api/health-details.js';
import type { FeedHealth } from '../src/feed/collector.js';
import { FakeClock } from './support/fake-clock.js';
import { testMetrics } from './support/harness.js';

const STALE_AFTER_MS = 10_000;

function setup() {
  const clock = new FakeClock();
  const metrics = testMetrics();
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
  const details = new HealthDetails({ metrics, clock, staleAfterMs: STALE_AFTER_MS, windowMs: 60_000 });
  return {
    clock,
    metrics,
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

test('counts per feed and per symbol come from the metrics; a quiet symbol is amber', async () => {
  const s = setup();
  const m = s.metrics;
  m.feed.wsMessagesReceived.labels('binance', '0').inc(42);
  m.feed.wsMessagesReceived.labels('binance', '1').inc(7); // another shard: not this feed's
  m.feed.tradesReceived.labels('binance', 'BTC-USDT').inc(30);
  m.feed.lastTradeTimestamp.labels('binance', 'BTC-USDT').set((s.clock.now() - 1_500) / 1000);
  m.feed.tradeIdGaps.labels('binance', 'BTC-USDT', 'stream').inc();
  m.feed.tradeIdGaps.labels('binance', 'BTC-USDT', 'reconnect').inc(2);
  m.feed.tradeIdsMissing.labels('binance', 'BTC-USDT').inc(9);
  m.feed.messagesRejected.labels('binance', 'malformed').inc(2);
  m.feed.messagesRejected.labels('binance', 'future_timestamp').inc();
  m.store.storeRowsWritten.labels('sqlite').inc(100);
  m.bus.busPublished.labels('memory', 'trade').inc(30);
  m.bus.busPublished.labels('memory', 'candle').inc(5);
  m.candles.backfillCandles.labels('binance', '1m').inc(4);
  m.candles.backfillRuns.labels('binance', 'ok').inc(2);

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
  const base = { exchange: 'binance', symbols: [], streams: 1, lastMessageAt: null, connectedSince: null, reconnects: 0, tradeIdGaps: 0, lastError: null };
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
  const rec = s.metrics.candles.reconciliations;
  rec.labels('binance', '1m', 'match').inc(300);
  rec.labels('binance', '1m', 'mismatch').inc(1);
  rec.labels('binance', '5m', 'skipped').inc(2);
  rec.labels('binance', '1m', 'unmatched').inc(1);
  s.metrics.candles.reconciliationMismatches.labels('binance', '1m', 'high').inc();
  s.metrics.candles.reconciliationMismatches.labels('binance', '1m', 'volume').inc();

  s.clock.advance(10_000);
  let r = await s.report();
  assert.deepEqual(r.reconciliation.total, { match: 300, mismatch: 1, skipped: 2, unmatched: 1 });
  assert.deepEqual(r.reconciliation.mismatchedFields, { high: 1, volume: 1 });
  assert.equal(r.reconciliation.level, 'warn', 'one mismatch in 301 is amber');
  assert.equal(r.level, 'warn');

  rec.labels('binance', '1m', 'mismatch').inc(9);
  s.clock.advance(10_000);
  r = await s.report();
  assert.equal(r.reconciliation.level, 'critical', '10 mismatches in 310 comparisons is over 1 %');

  // Nothing new for longer than the window (60 s): the old mismatches no longer colour it.
  for (let i = 0; i < 8; i++) {
    s.clock.advance(10_000);
    rec.labels('binance', '1m', 'match').inc(10);
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
  s.metrics.store.storeErrors.labels('sqlite', 'upsert').inc();
  s.metrics.bus.busHandlerErrors.labels('memory', 'candle').inc();
  s.metrics.candles.backfillRuns.labels('binance', 'error').inc();
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
