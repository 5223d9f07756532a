import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../src/store/sqlite.js';
import { SQLITE_MIGRATIONS } from '../src/store/sqlite-migrations.js';
import { CandleWriter } from '../src/store/candle-writer.js';
import type { Store } from '../src/store/store.js';
import type { Candle, CandleEvent } from '../src/core/types.js';
import { FakeClock } from './support/fake-clock.js';
import { log, testMetrics } from './support/harness.js';
import { MIN, T0, candle, q, storeContract } from './support/store-contract.js';
import { metricValue } from './support/metrics.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-sqlite-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function memoryStore(t: TestContext, now: () => number = () => 1): SqliteStore {
  const store = new SqliteStore(':memory:', now);
  t.after(() => store.close());
  return store;
}

describe('SqliteStore: migrations', () => {
  test('migrations are recorded in schema_migrations and not re-applied on reopen', async (t) => {
    const path = join(tempDir(t), 'nested', 'dir', 'candles.db'); // parent folders are created
    const first = new SqliteStore(path, () => 1_000);
    await first.upsert([candle(T0)]);
    await first.close();
    assert.equal(first.isOpen(), false);

    const second = new SqliteStore(path, () => 2_000); // reopen: must not fail on CREATE TABLE, must keep data
    assert.equal((await second.query(q())).length, 1);
    await second.close();

    const db = new Database(path, { readonly: true });
    t.after(() => db.close());
    const rows = db.prepare('SELECT version, name, applied_at FROM schema_migrations ORDER BY version').all() as { version: number; name: string; applied_at: number }[];
    assert.deepEqual(
      rows,
      SQLITE_MIGRATIONS.map((m) => ({ version: m.version, name: m.name, applied_at: 1_000 })),
    );
  });

  test('a new migration is applied once, in version order, and recorded', async (t) => {
    const path = join(tempDir(t), 'candles.db');
    await new SqliteStore(path, () => 1).close();
    const extra = [
      ...SQLITE_MIGRATIONS,
      { version: 101, name: 'second', sql: 'CREATE TABLE extra_b (x INTEGER); INSERT INTO extra_b SELECT COUNT(*) FROM extra_a;' },
      { version: 100, name: 'first', sql: 'CREATE TABLE extra_a (x INTEGER); INSERT INTO extra_a VALUES (1);' },
    ];
    await new SqliteStore(path, () => 2, extra).close();
    await new SqliteStore(path, () => 3, extra).close(); // would throw "table extra_a already exists" if re-applied
    const db = new Database(path, { readonly: true });
    t.after(() => db.close());
    const rows = db.prepare('SELECT version, applied_at FROM schema_migrations ORDER BY version').all();
    assert.deepEqual(rows, [...SQLITE_MIGRATIONS.map((m) => ({ version: m.version, applied_at: 1 })), { version: 100, applied_at: 2 }, { version: 101, applied_at: 2 }]);
    assert.deepEqual(db.prepare('SELECT x FROM extra_b').all(), [{ x: 1 }], 'version 100 ran before 101');
  });

  test('a file database uses WAL journal mode', async (t) => {
    const path = join(tempDir(t), 'wal.db');
    const store = new SqliteStore(path);
    await store.upsert([candle(T0)]);
    await store.close();
    const db = new Database(path);
    t.after(() => db.close());
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  });
});

storeContract('SqliteStore', async (t, now) => memoryStore(t, now));

// ── CandleWriter ──────────────────────────────────────────────────────────────────────────────────────
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

const ev = (c: Candle, kind: CandleEvent['kind'] = 'update'): CandleEvent => ({ type: 'candle', kind, candle: c });

/** A store that counts upsert calls and fails the first `failures` of them. */
class FlakyStore implements Store {
  readonly kind = 'flaky';
  calls: number[] = [];
  constructor(private readonly inner: SqliteStore, private failures: number) {}
  async upsert(candles: readonly Candle[]): Promise<void> {
    this.calls.push(candles.length);
    if (this.failures > 0) {
      this.failures--;
      throw new Error('disk I/O error (simulated)');
    }
    return this.inner.upsert(candles);
  }
  query = (...a: Parameters<Store['query']>) => this.inner.query(...a);
  latest = (...a: Parameters<Store['latest']>) => this.inner.latest(...a);
  series = () => this.inner.series();
  prune = (...a: Parameters<Store['prune']>) => this.inner.prune(...a);
  isOpen = () => this.inner.isOpen();
  close = () => this.inner.close();
  upsertIndicators = (...a: Parameters<Store['upsertIndicators']>) => this.inner.upsertIndicators(...a);
  queryIndicators = (...a: Parameters<Store['queryIndicators']>) => this.inner.queryIndicators(...a);
}

describe('CandleWriter', () => {
  test('coalesces events per candle and flushes on the interval', async (t) => {
    const clock = new FakeClock(T0);
    const metrics = testMetrics();
    const inner = memoryStore(t);
    const store = new FlakyStore(inner, 0);
    const writer = new CandleWriter({ store, clock, metrics: metrics.store, log, flushMs: 1_000 });
    writer.start();
    t.after(() => writer.stop());
    writer.onEvent(ev(candle(T0, { closed: false, volume: '1.00000000' })));
    writer.onEvent(ev(candle(T0, { closed: false, volume: '2.00000000' })));
    writer.onEvent(ev(candle(T0, { closed: true, volume: '3.00000000' }), 'close'));
    writer.onEvent(ev(candle(T0 + MIN, { closed: false, volume: '0.10000000' })));
    writer.onEvent(ev(candle(T0, { symbol: 'ETH-USDT', closed: false })));
    assert.equal(writer.depth, 3);
    clock.advance(999);
    await settle();
    assert.deepEqual(store.calls, [], 'nothing written before the interval');
    assert.equal((await inner.query(q())).length, 0);
    clock.advance(1);
    await settle();
    assert.deepEqual(store.calls, [3], 'one batch of the three distinct candles');
    assert.equal(writer.depth, 0);
    const rows = await inner.query(q());
    assert.deepEqual(rows.map((r) => [r.openTime, r.volume, r.closed]), [
      [T0, '3.00000000', true],
      [T0 + MIN, '0.10000000', false],
    ]);
    assert.equal(await metricValue(metrics, 'candlestack_store_rows_written_total', { store: 'flaky' }), 3);
    assert.equal(await metricValue(metrics, 'candlestack_store_queue_depth', { store: 'flaky' }), 0);
    // an idle interval writes nothing
    clock.advance(1_000);
    await settle();
    assert.deepEqual(store.calls, [3]);
  });

  test('forming candles are written once per interval however many series there are; closed candles past maxBatch flush early', async (t) => {
    const clock = new FakeClock(T0);
    const metrics = testMetrics();
    const inner = memoryStore(t);
    const store = new FlakyStore(inner, 0);
    const writer = new CandleWriter({ store, clock, metrics: metrics.store, log, flushMs: 1_000, maxBatch: 100 });
    writer.start();
    t.after(() => writer.stop());
    const symbols = Array.from({ length: 300 }, (_, i) => `S${i}-USDT`);
    // 300 series (3x maxBatch), each updated at four ticks of the interval
    for (let tick = 1; tick <= 4; tick++) for (const symbol of symbols) writer.onEvent(ev(candle(T0, { symbol, closed: false, volume: `${tick}.00000000` })));
    await settle();
    assert.deepEqual(store.calls, [], 'forming rows never flush early: nothing before the interval');
    clock.advance(1_000);
    await settle();
    assert.deepEqual(store.calls, [300], 'one row per forming candle (was 1,200 rows in 12 early batches of 100)');
    assert.equal((await inner.query(q({ symbol: 'S7-USDT' })))[0]!.volume, '4.00000000', 'the latest update');
    for (let i = 0; i < 100; i++) writer.onEvent(ev(candle(T0 + (i + 1) * MIN, { closed: true }), 'close'));
    await settle();
    assert.deepEqual(store.calls, [300, 100], 'maxBatch closed candles flush at once');
  });

  test('a failed write is counted and its rows are kept for the next flush (newer events win)', async (t) => {
    const clock = new FakeClock(T0);
    const metrics = testMetrics();
    const inner = memoryStore(t);
    const store = new FlakyStore(inner, 1);
    const writer = new CandleWriter({ store, clock, metrics: metrics.store, log, flushMs: 1_000 });
    writer.start();
    t.after(() => writer.stop());
    writer.onEvent(ev(candle(T0, { closed: true, volume: '3.00000000' }), 'close'));
    writer.onEvent(ev(candle(T0 + MIN, { closed: false, volume: '0.10000000' })));
    clock.advance(1_000);
    await settle();
    assert.deepEqual(store.calls, [2]);
    assert.equal(await metricValue(metrics, 'candlestack_store_errors_total', { store: 'flaky', operation: 'upsert' }), 1);
    assert.equal(await metricValue(metrics, 'candlestack_store_rows_written_total', { store: 'flaky' }), 0);
    assert.equal(writer.depth, 2, 'rows kept');
    assert.equal(await metricValue(metrics, 'candlestack_store_queue_depth', { store: 'flaky' }), 2);
    assert.equal((await inner.query(q())).length, 0);
    // a newer event for a kept row replaces it
    writer.onEvent(ev(candle(T0 + MIN, { closed: false, volume: '0.20000000' })));
    assert.equal(writer.depth, 2);
    clock.advance(1_000);
    await settle();
    assert.deepEqual(store.calls, [2, 2]);
    assert.equal(writer.depth, 0);
    const rows = await inner.query(q());
    assert.deepEqual(rows.map((r) => [r.openTime, r.volume, r.closed]), [
      [T0, '3.00000000', true],
      [T0 + MIN, '0.20000000', false],
    ]);
    assert.equal(await metricValue(metrics, 'candlestack_store_rows_written_total', { store: 'flaky' }), 2);
    assert.equal(await metricValue(metrics, 'candlestack_store_errors_total', { store: 'flaky', operation: 'upsert' }), 1);
  });

  test('an event arriving while the failing write is in flight is not overwritten by the kept rows', async (t) => {
    const clock = new FakeClock(T0);
    const metrics = testMetrics();
    const inner = memoryStore(t);
    let rejectWrite: (e: Error) => void = () => {};
    let calls = 0;
    const store: Store = {
      kind: 'slow',
      upsert: (cs) => {
        calls++;
        if (calls === 1) return new Promise<void>((_, reject) => (rejectWrite = reject));
        return inner.upsert(cs);
      },
      query: (x) => inner.query(x),
      latest: (e, s) => inner.latest(e, s),
      series: () => inner.series(),
      prune: (tf, b) => inner.prune(tf, b),
      isOpen: () => inner.isOpen(),
      close: () => inner.close(),
      upsertIndicators: (rows) => inner.upsertIndicators(rows),
      queryIndicators: (q) => inner.queryIndicators(q),
    };
    const writer = new CandleWriter({ store, clock, metrics: metrics.store, log, flushMs: 1_000 });
    writer.onEvent(ev(candle(T0, { closed: false, volume: '1.00000000' })));
    const first = writer.flush();
    writer.onEvent(ev(candle(T0, { closed: true, volume: '9.00000000' }), 'close')); // newer, while the write is pending
    rejectWrite(new Error('busy'));
    await first;
    assert.equal(writer.depth, 1);
    await writer.flush();
    const [row] = await inner.query(q());
    assert.equal(row?.volume, '9.00000000');
    assert.equal(row?.closed, true);
  });

  test('stop() flushes what is pending', async (t) => {
    const clock = new FakeClock(T0);
    const inner = memoryStore(t);
    const writer = new CandleWriter({ store: inner, clock, metrics: testMetrics().store, log, flushMs: 60_000 });
    writer.start();
    writer.onEvent(ev(candle(T0)));
    await writer.stop();
    assert.equal((await inner.query(q())).length, 1);
    assert.equal(clock.pending(), 0, 'the interval timer is cancelled');
  });
});
