/**
 * Pending repairs kept in the store (issue 19): a process killed before its backfill ran re-queues the repair on
 * its next start. Against both stores (a SQLite file, the real PostgreSQL): a gap's work is stored when queued,
 * survives the store being closed and opened again by a new backfiller (the kill and restart), is fetched then,
 * and is removed only once the repaired candles are written.
 */
import { after, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Backfiller, type BackfillSource } from '../src/jobs/backfill.js';
import { CandleEngine } from '../src/pipeline/candle-engine.js';
import { CandleWriter } from '../src/store/candle-writer.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { PostgresStore } from '../src/store/postgres.js';
import type { Store } from '../src/store/store.js';
import { binance } from '../src/exchanges/binance/feed.js';
import type { RestClient } from '../src/feed/rest-client.js';
import type { Kline } from '../src/core/types.js';
import type { ExchangeId } from '../src/core/exchange-id.js';
import { FakeClock } from './support/fake-clock.js';
import { log, testMetrics } from './support/harness.js';
import { adminPool, pgSkip, testSchema } from './support/postgres.js';

const MIN = 60_000;
const T0 = Date.UTC(2024, 0, 1, 10, 0);

const kline = (openTime: number): Kline => ({
  type: 'kline', exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', openTime, open: '2', high: '3', low: '1', close: '2', volume: '4', quoteVolume: '8',
  takerBuyVolume: '1', tradeCount: 7, closed: true, time: openTime + MIN, receivedAt: openTime + MIN,
});

/** One process's backfill chain on `store`: engine -> writer -> store, with a REST source that answers every period. */
function processOn(store: Store, clock: FakeClock, written: { allow: boolean }, repairs = store.repairs!) {
  const metrics = testMetrics();
  const writer = new CandleWriter({ store, clock, metrics: metrics.store, log, flushMs: 100 });
  const engine = new CandleEngine({ timeframes: ['1m'], graceMs: 0, latePolicy: 'drop', clock, metrics, log, emit: writer.onEvent });
  const asks: [number, number][] = [];
  const fetchKlines: BackfillSource['adapter']['fetchKlines'] = async (_r, _e, _s, _tf, from, to) => {
    asks.push([from, to]);
    const out: Kline[] = [];
    for (let t = from; t <= to; t += MIN) out.push(kline(t));
    return out;
  };
  const sources = new Map<ExchangeId, BackfillSource>([['binance', { adapter: { ...binance, fetchKlines }, endpoints: binance.defaultEndpoints, rest: {} as RestClient }]]);
  const backfiller = new Backfiller({
    sources, engine, timeframes: ['1m'], graceMs: 0, settleMs: 0, clock, metrics, log,
    repairs: { store: repairs, written: async () => written.allow && (await writer.flush()) },
  });
  return { backfiller, writer, asks };
}

type Opener = (t: TestContext) => { open: () => Promise<Store> };

function storedRepairs(name: string, opener: Opener, skip: string | false): void {
  describe(`Backfiller with pending repairs in ${name}`, { skip }, () => {
    test('a repair queued before a kill is re-queued by the next start, fetched, and removed once its candles are written', async (t) => {
      const { open } = opener(t);
      const clock = new FakeClock(T0 + 10 * MIN);
      const written = { allow: true };
      const first = await open();
      const before = processOn(first, clock, written);
      before.backfiller.onGap({ type: 'gap', exchange: 'binance', symbol: 'BTC-USDT', from: T0, to: T0 + 5 * MIN + 1, cause: 'reconnect' }); // 10:00..10:05
      before.backfiller.onGap({ type: 'gap', exchange: 'binance', symbol: 'BTC-USDT', from: T0 + 3 * MIN, to: T0 + 6 * MIN, cause: 'reconnect' }); // merged: 10:00..10:06
      await before.backfiller.sync();
      const stored = await first.repairs!.pendingRepairs();
      assert.deepEqual(stored.map((r) => [r.exchange, r.symbol, r.timeframe, r.first, r.last]), [['binance', 'BTC-USDT', '1m', T0, T0 + 6 * MIN]], 'stored as queued, with the merged range');
      // killed: no stop(), nothing fetched; the next process opens the same database
      await first.close();

      const second = await open();
      t.after(() => second.close());
      const after = processOn(second, clock, written);
      assert.equal(await after.backfiller.restore(), 1, 'one repair re-queued');
      assert.equal(after.backfiller.pending, 1);
      await after.backfiller.runDue(clock.now());
      assert.deepEqual(after.asks, [[T0, T0 + 7 * MIN - 1]], 'the whole stored range is asked for');
      assert.equal(after.backfiller.pending, 0, 'done in memory');

      // Not removed while its candles may not be written (the writer said no): a kill now would lose them.
      written.allow = false;
      await after.backfiller.sync();
      assert.deepEqual((await second.repairs!.pendingRepairs()).map((r) => r.id), [stored[0]!.id], 'kept until the repaired candles are written');
      written.allow = true;
      await after.backfiller.sync();
      assert.deepEqual(await second.repairs!.pendingRepairs(), [], 'removed once written');
      const candles = await second.query({ exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', from: T0, limit: 100 });
      assert.deepEqual(candles.map((c) => [c.openTime, c.source, c.tradeCount]), Array.from({ length: 7 }, (_, i) => [T0 + i * MIN, 'backfill', 7]));

      // A third start finds nothing to re-queue.
      const third = processOn(second, clock, written);
      assert.equal(await third.backfiller.restore(), 0);
    });

    test('a graceful stop keeps the repairs not yet due stored for the next start; a stored repair of an exchange not configured is left alone', async (t) => {
      const { open } = opener(t);
      const clock = new FakeClock(T0 + 10 * MIN);
      const written = { allow: true };
      const store = await open();
      t.after(() => store.close());
      await store.repairs!.saveRepairs([{ id: 'elsewhere', exchange: 'kraken', symbol: 'BTC-USD', timeframe: '1m', first: T0, last: T0 }]);
      const p = processOn(store, clock, written);
      assert.equal(await p.backfiller.restore(), 0, 'kraken is not a source here');
      // a gap whose periods end in the future: not due at the stop
      p.backfiller.onGap({ type: 'gap', exchange: 'binance', symbol: 'BTC-USDT', from: T0 + 10 * MIN, to: T0 + 12 * MIN, cause: 'reconnect' });
      await p.backfiller.stop();
      assert.deepEqual((await store.repairs!.pendingRepairs()).map((r) => [r.exchange, r.first, r.last]), [['binance', T0 + 10 * MIN, T0 + 12 * MIN], ['kraken', T0, T0]]);
      const next = processOn(store, clock, written);
      assert.equal(await next.backfiller.restore(), 1);
      clock.advance(5 * MIN);
      await next.backfiller.runDue(clock.now());
      await next.backfiller.stop();
      assert.deepEqual((await store.repairs!.pendingRepairs()).map((r) => r.id), ['elsewhere']);
    });

    test('a store that cannot save keeps the work in memory and saves it at a later sync', async (t) => {
      const { open } = opener(t);
      const clock = new FakeClock(T0 + 10 * MIN);
      const store = await open();
      t.after(() => store.close());
      const real = store.repairs!;
      let failing = true;
      const flaky = { ...real, saveRepairs: async (rows: Parameters<typeof real.saveRepairs>[0]) => (failing ? Promise.reject(new Error('disk I/O error (simulated)')) : real.saveRepairs(rows)) };
      const p = processOn(store, clock, { allow: true }, flaky);
      p.backfiller.onGap({ type: 'gap', exchange: 'binance', symbol: 'BTC-USDT', from: T0 + 10 * MIN, to: T0 + 11 * MIN, cause: 'reconnect' });
      await p.backfiller.sync();
      assert.deepEqual(await real.pendingRepairs(), []);
      assert.equal(p.backfiller.pending, 1, 'still queued in memory');
      failing = false;
      await p.backfiller.sync();
      assert.equal((await real.pendingRepairs()).length, 1, 'saved at the next sync');
    });
  });
}

storedRepairs('SQLite', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-repairs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { open: async () => new SqliteStore(join(dir, 'candles.db')) };
}, false);

const pgSkipped = await pgSkip();
const admin = adminPool();
after(() => admin.end());
storedRepairs('PostgreSQL', (t) => {
  const schema = testSchema(t, admin);
  return { open: () => PostgresStore.open({ url: schema.url, now: Date.now, metrics: testMetrics().store, log }) };
}, pgSkipped);
