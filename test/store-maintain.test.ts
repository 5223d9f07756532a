/**
 * Store.maintain(), the vacuum job's work: SQLite VACUUM gives the pages of deleted rows back to the file
 * system and ANALYZE fills sqlite_stat1; PostgreSQL ANALYZEs the candles and indicators tables. Rows survive and
 * the store keeps working; the `vacuum` job runs it and says so.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runJob } from '../src/jobs/job.js';
import { VacuumJob } from '../src/jobs/vacuum.js';
import { PostgresStore } from '../src/store/postgres.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { FakeClock } from './support/fake-clock.js';
import { log, testMetrics } from './support/harness.js';
import { metricValue } from './support/metrics.js';
import { adminPool, pgSkip, testSchema } from './support/postgres.js';
import { MIN, T0, candle, q } from './support/store-contract.js';

const many = (n: number) => Array.from({ length: n }, (_, i) => candle(T0 + i * MIN));

test('SQLite: VACUUM shrinks the file after a prune, ANALYZE writes statistics, the rows and the store stay', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-maintain-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'm.db');
  const store = new SqliteStore(path);
  t.after(() => store.close());
  await store.upsert(many(20_000));
  assert.equal(await store.prune('1m', T0 + 19_990 * MIN), 19_990);
  const pages = () => {
    const db = new Database(path, { readonly: true });
    try {
      return { count: db.pragma('page_count', { simple: true }) as number, free: db.pragma('freelist_count', { simple: true }) as number, stats: (db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'sqlite_stat1'").get() as { n: number }).n };
    } finally {
      db.close();
    }
  };
  const before = pages();
  const beforeBytes = statSync(path).size + (statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0);
  assert.ok(before.free > before.count / 2, `most pages are free after the prune (${before.free} of ${before.count})`);
  const metrics = testMetrics();
  const clock = new FakeClock();
  assert.equal(await runJob('vacuum', { clock, metrics: metrics.jobs, log }, () => new VacuumJob({ store }).run({ signal: new AbortController().signal, log })), 'done');
  const afterVacuum = pages();
  assert.equal(afterVacuum.free, 0);
  assert.ok(afterVacuum.count < before.count / 4, `${afterVacuum.count} pages, from ${before.count}`);
  assert.equal(afterVacuum.stats, 1, 'ANALYZE ran');
  const afterBytes = statSync(path).size + (statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0);
  assert.ok(afterBytes < beforeBytes / 4, `the file and its WAL hold ${afterBytes} bytes, from ${beforeBytes}`);
  assert.equal((await store.query(q())).length, 10);
  await store.upsert([candle(T0 + 30_000 * MIN)]);
  assert.equal((await store.query(q())).length, 11, 'still writable');
  assert.equal(await metricValue(metrics, 'candlestack_job_runs_total', { task: 'vacuum', result: 'success' }), 1);
});

test('the vacuum job on a store without maintain() succeeds and does nothing', async () => {
  const store = new SqliteStore(':memory:');
  const bare = Object.assign(Object.create(store) as SqliteStore, { maintain: undefined });
  assert.equal(await new VacuumJob({ store: bare }).run({ signal: new AbortController().signal, log }), 'nothing to do');
  await store.close();
});

const skip = await pgSkip();
describe('PostgreSQL maintain()', { skip }, () => {
  const admin = adminPool();
  after(() => admin.end());
  test('ANALYZE of candles and indicators; rows kept', async (t) => {
    const schema = testSchema(t, admin);
    const store = await PostgresStore.open({ url: schema.url, now: () => 1, metrics: testMetrics().store, log });
    t.after(() => store.close());
    await store.upsert(many(100));
    const analyzed = async () =>
      (await admin.query<{ relname: string }>('SELECT relname FROM pg_stat_user_tables WHERE schemaname = $1 AND last_analyze IS NOT NULL ORDER BY relname', [schema.name])).rows.map((r) => r.relname);
    assert.deepEqual(await analyzed(), []);
    await store.maintain();
    assert.deepEqual(await analyzed(), ['candles', 'indicators']);
    assert.equal((await store.query(q())).length, 100);
  });
});
