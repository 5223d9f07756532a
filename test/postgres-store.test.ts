/**
 * PostgresStore against the real PostgreSQL: migrations from empty (re-open, concurrent opens, a failing
 * migration), the shared Store contract, metrics, recovery after pg_terminate_backend (idle and in flight,
 * end to end through the CandleWriter), an unreachable server, and the TimescaleDB step as far as plain
 * PostgreSQL can run it.
 */
import { after, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { PostgresStore } from '../src/store/postgres.js';
import { POSTGRES_MIGRATIONS } from '../src/store/postgres-migrations.js';
import { HYPERTABLE_CHUNK_MS, createHypertable, enableTimescale, timescaleStatus } from '../src/store/timescale.js';
import { CandleWriter } from '../src/store/candle-writer.js';
import type { CandleEvent } from '../src/core/types.js';
import { FakeClock } from './support/fake-clock.js';
import { log, testMetrics, until } from './support/harness.js';
import { MIN, T0, candle, q, storeContract } from './support/store-contract.js';
import { adminPool, backends, pgSkip, terminate, testSchema, type TestSchema } from './support/postgres.js';
import { metricValue } from './support/metrics.js';

const skip = await pgSkip();
const admin = adminPool();
after(() => admin.end());

type Metrics = ReturnType<typeof testMetrics>;

async function open(t: TestContext, schema: TestSchema, over: { now?: () => number; metrics?: Metrics; migrations?: typeof POSTGRES_MIGRATIONS } = {}): Promise<PostgresStore> {
  const store = await PostgresStore.open({ url: schema.url, now: over.now ?? (() => 1), metrics: (over.metrics ?? testMetrics()).store, log, migrations: over.migrations });
  t.after(() => store.close());
  return store;
}

storeContract('PostgresStore', async (t, now) => open(t, testSchema(t, admin), { now }), { skip });

describe('PostgresStore: migrations', { skip }, () => {
  test('from empty: schema, tables, indexes and schema_migrations; re-open applies nothing and keeps data', async (t) => {
    const schema = testSchema(t, admin);
    const first = await open(t, schema, { now: () => 1_000 });
    await first.upsert([candle(T0)]);
    await first.close();
    assert.equal(first.isOpen(), false);

    const second = await open(t, schema, { now: () => 2_000 });
    assert.equal((await second.query(q())).length, 1);
    const { rows } = await admin.query(`SELECT version, name, applied_at FROM "${schema.name}".schema_migrations ORDER BY version`);
    assert.deepEqual(rows, POSTGRES_MIGRATIONS.map((m) => ({ version: m.version, name: m.name, applied_at: '1000' })));
    const indexes = await admin.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'candles' ORDER BY indexname`, [schema.name]);
    assert.deepEqual(
      indexes.rows.map((r) => r.indexdef.replace(`${schema.name}.`, '')),
      ['CREATE UNIQUE INDEX candles_pkey ON candles USING btree (exchange, symbol, timeframe, open_time)', 'CREATE INDEX candles_timeframe_open_time ON candles USING btree (timeframe, open_time)'],
    );
    const table = await admin.query(`SELECT reloptions FROM pg_class WHERE oid = to_regclass($1)`, [`${schema.name}.candles`]);
    assert.deepEqual(table.rows[0].reloptions, ['fillfactor=80'], 'room for in-place (HOT) rewrites of forming candles');
    const types = await admin.query<{ column_name: string; data_type: string }>(`SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'candles' AND column_name IN ('open', 'vwap', 'open_time', 'closed')  ORDER BY column_name`, [schema.name]);
    assert.deepEqual(types.rows, [
      { column_name: 'closed', data_type: 'boolean' },
      { column_name: 'open', data_type: 'text' },
      { column_name: 'open_time', data_type: 'bigint' },
      { column_name: 'vwap', data_type: 'text' },
    ]);
  });

  test('a new migration is applied once, in version order, and recorded', async (t) => {
    const schema = testSchema(t, admin);
    await (await open(t, schema, { now: () => 1 })).close();
    const extra = [
      ...POSTGRES_MIGRATIONS,
      { version: 101, name: 'second', sql: 'CREATE TABLE extra_b (x integer); INSERT INTO extra_b SELECT count(*) FROM extra_a;' },
      { version: 100, name: 'first', sql: 'CREATE TABLE extra_a (x integer); INSERT INTO extra_a VALUES (1);' },
    ];
    await (await open(t, schema, { now: () => 2, migrations: extra })).close();
    await (await open(t, schema, { now: () => 3, migrations: extra })).close(); // would fail "relation extra_a already exists" if re-applied
    const { rows } = await admin.query(`SELECT version, applied_at FROM "${schema.name}".schema_migrations ORDER BY version`);
    assert.deepEqual(rows, [...POSTGRES_MIGRATIONS.map((m) => ({ version: m.version, applied_at: '1' })), { version: 100, applied_at: '2' }, { version: 101, applied_at: '2' }]);
    assert.deepEqual((await admin.query(`SELECT x FROM "${schema.name}".extra_b`)).rows, [{ x: 1 }], 'version 100 ran before 101');
  });

  test('six processes opening an empty database at once apply each migration exactly once', async (t) => {
    const schema = testSchema(t, admin);
    const slow = [...POSTGRES_MIGRATIONS, { version: 100, name: 'slow', sql: 'SELECT pg_sleep(0.2); CREATE TABLE extra_once (x integer);' }];
    const stores = await Promise.all(Array.from({ length: 6 }, (_, i) => open(t, schema, { now: () => 10 + i, migrations: slow })));
    const { rows } = await admin.query<{ version: number; n: string }>(`SELECT version, count(*) AS n FROM "${schema.name}".schema_migrations GROUP BY version ORDER BY version`);
    assert.deepEqual(rows, slow.map((m) => ({ version: m.version, n: '1' })));
    await stores[0]!.upsert([candle(T0)]);
    for (const s of stores) assert.equal((await s.query(q())).length, 1, 'every instance sees the same table');
  });

  test('a failing migration is rolled back, named in the error, and not recorded', async (t) => {
    const schema = testSchema(t, admin);
    const bad = [...POSTGRES_MIGRATIONS, { version: 100, name: 'broken', sql: 'CREATE TABLE half_done (x integer); SELECT no_such_function();' }];
    await assert.rejects(open(t, schema, { migrations: bad }), /PostgreSQL migration 100 \(broken\) failed: function no_such_function\(\) does not exist/);
    const { rows } = await admin.query(`SELECT version FROM "${schema.name}".schema_migrations ORDER BY version`);
    assert.deepEqual(rows, POSTGRES_MIGRATIONS.map((m) => ({ version: m.version })), 'earlier migrations kept, the broken one not recorded');
    const half = await admin.query(`SELECT to_regclass($1) AS t`, [`${schema.name}.half_done`]);
    assert.equal(half.rows[0].t, null, 'its partial effects are rolled back');
  });
});

describe('PostgresStore: concurrent writers', { skip }, () => {
  test('two processes upserting the same candles in opposite orders neither deadlock nor lose a write', async (t) => {
    const schema = testSchema(t, admin);
    const a = await open(t, schema);
    const b = await open(t, schema);
    for (let round = 0; round < 20; round++) {
      const batch = Array.from({ length: 400 }, (_, i) => candle(T0 + i * MIN, { symbol: `S${i % 4}-USDT`, tradeCount: round }));
      await Promise.all([a.upsert(batch), b.upsert([...batch].reverse()), a.upsert(batch.slice(100).reverse()), b.upsert(batch.slice(0, 300))]);
    }
    const series = await a.series();
    assert.deepEqual(series.map((s) => s.candles), [100, 100, 100, 100]);
    const rows = await b.query(q({ symbol: 'S1-USDT' }));
    assert.ok(rows.every((r) => r.tradeCount === 19), 'the last round is what is stored');
  });
});

describe('PostgresStore: metrics', { skip }, () => {
  test('queries and durations by operation, pool size and available connections', async (t) => {
    const metrics = testMetrics();
    const schema = testSchema(t, admin);
    const store = await open(t, schema, { metrics });
    await store.upsert([candle(T0), candle(T0 + MIN)]);
    await store.query(q());
    await store.query(q({ from: T0 }));
    await store.latest('binance', ['BTC-USDT']);
    await store.series();
    await store.prune('1m', T0);
    const labels = (operation: string) => ({ store: 'postgres', operation });
    for (const [op, n] of [['migrate', 1], ['upsert', 1], ['query', 2], ['latest', 1], ['series', 1], ['prune', 1]] as const) {
      assert.equal(await metricValue(metrics, 'candlestack_db_queries_total', labels(op)), n, op);
      assert.equal(await metricValue(metrics, 'candlestack_db_query_duration_seconds_count', labels(op)), n, `${op} duration observed`);
    }
    const pool = async () => [
      await metricValue(metrics, 'candlestack_db_connection_pool_size', { store: 'postgres' }),
      await metricValue(metrics, 'candlestack_db_connections_available', { store: 'postgres' }),
      await metricValue(metrics, 'candlestack_db_connections_waiting', { store: 'postgres' }),
    ];
    assert.deepEqual(await pool(), [10, 10, 0], 'size, available, waiting when idle');

    // A transaction elsewhere holds the table: 12 upserts take all 10 connections and 2 wait for one.
    const unlock = await schema.lockCandles();
    const blocked = Array.from({ length: 12 }, (_, i) => store.upsert([candle(T0 + (10 + i) * MIN)]));
    await until('all connections busy', async () => (await pool()).join() === '10,0,2', 15_000, { pollMs: 20 });
    await unlock();
    await Promise.all(blocked);
    await until('connections released', async () => (await pool()).join() === '10,10,0', 15_000, { pollMs: 20 });
    assert.equal((await store.query(q())).length, 14);
  });

  test('a failed query is counted under store_errors_total with its operation', async (t) => {
    const metrics = testMetrics();
    const schema = testSchema(t, admin);
    const store = await open(t, schema, { metrics });
    await admin.query(`DROP TABLE "${schema.name}".candles`);
    await assert.rejects(store.query(q()), /relation "candles" does not exist/);
    await assert.rejects(store.series(), /relation "candles" does not exist/);
    assert.equal(await metricValue(metrics, 'candlestack_store_errors_total', { store: 'postgres', operation: 'query' }), 1);
    assert.equal(await metricValue(metrics, 'candlestack_store_errors_total', { store: 'postgres', operation: 'series' }), 1);
  });
});

describe('PostgresStore: recovery after lost connections', { skip }, () => {
  const ev = (c: ReturnType<typeof candle>): CandleEvent => ({ type: 'candle', kind: c.closed ? 'close' : 'update', candle: c });

  test('idle connections terminated by the server: the next operations succeed on fresh connections', async (t) => {
    const metrics = testMetrics();
    const schema = testSchema(t, admin);
    const store = await open(t, schema, { metrics });
    await store.upsert([candle(T0)]);
    await Promise.all([store.query(q()), store.query(q()), store.series()]); // several pooled connections
    const before = await backends(admin, schema.applicationName);
    assert.ok(before.length >= 1);
    await terminate(admin, before);
    await until('terminated backends gone', async () => (await backends(admin, schema.applicationName)).length === 0, 15_000, { pollMs: 20 });

    await store.upsert([candle(T0 + MIN)]);
    assert.equal((await store.query(q())).length, 2);
    assert.equal((await store.latest('binance', ['BTC-USDT'])).length, 1);
    const after = await backends(admin, schema.applicationName);
    assert.ok(after.length >= 1 && after.every((pid) => !before.includes(pid)), 'served by new backends');
    assert.equal(await metricValue(metrics, 'candlestack_store_errors_total', { store: 'postgres', operation: 'upsert' }), 0, 'no write failed');
  });

  test('a write whose connection dies mid-statement is retried once on a fresh connection', async (t) => {
    const schema = testSchema(t, admin);
    const store = await open(t, schema);
    const unlock = await schema.lockCandles();
    const write = store.upsert([candle(T0), candle(T0 + MIN)]);
    const waiting = `wait_event_type = 'Lock'`;
    await until('the upsert waits on the lock', async () => (await backends(admin, schema.applicationName, waiting)).length === 1, 15_000, { pollMs: 20 });
    const [first] = await backends(admin, schema.applicationName, waiting);
    await terminate(admin, [first!]);
    await until('the retry waits on the lock', async () => (await backends(admin, schema.applicationName, waiting)).some((pid) => pid !== first), 15_000, { pollMs: 20 });
    await unlock();
    await write;
    assert.equal((await store.query(q())).length, 2);
  });

  test('end to end: a write that keeps failing is reported, its rows kept by the CandleWriter and written once PostgreSQL is back', async (t) => {
    const metrics = testMetrics();
    const schema = testSchema(t, admin);
    const store = await open(t, schema, { metrics });
    const writer = new CandleWriter({ store, clock: new FakeClock(T0), metrics: metrics.store, log, flushMs: 1_000 });
    const unlock = await schema.lockCandles();

    writer.onEvent(ev(candle(T0, { closed: true, volume: '3.00000000' })));
    writer.onEvent(ev(candle(T0 + MIN, { closed: false, volume: '0.10000000' })));
    const flushed = writer.flush();
    // Kill the connection, then the retry's connection too: the write fails for good.
    const waiting = `wait_event_type = 'Lock'`;
    const killed: number[] = [];
    for (let i = 0; i < 2; i++) {
      await until(`attempt ${i + 1} waits on the lock`, async () => (await backends(admin, schema.applicationName, waiting)).some((pid) => !killed.includes(pid)), 15_000, { pollMs: 20 });
      const pid = (await backends(admin, schema.applicationName, waiting)).find((p) => !killed.includes(p))!;
      await terminate(admin, [pid]);
      killed.push(pid);
    }
    await flushed;
    assert.equal(await metricValue(metrics, 'candlestack_store_errors_total', { store: 'postgres', operation: 'upsert' }), 1, 'reported once, by the writer');
    assert.equal(writer.depth, 2, 'rows kept');
    // A newer event for a kept row arrives meanwhile; then the database is usable again.
    writer.onEvent(ev(candle(T0 + MIN, { closed: false, volume: '0.20000000' })));
    await unlock();
    await writer.flush();
    assert.equal(writer.depth, 0);
    const rows = await store.query(q());
    assert.deepEqual(rows.map((r) => [r.openTime, r.volume, r.closed]), [
      [T0, '3.00000000', true],
      [T0 + MIN, '0.20000000', false],
    ]);
    assert.equal(await metricValue(metrics, 'candlestack_store_rows_written_total', { store: 'postgres' }), 2);
  });
});

describe('PostgresStore: opening', () => {
  test('an unreachable server fails the open with one line naming it, password redacted', async () => {
    const metrics = testMetrics();
    const err = await PostgresStore.open({ url: 'postgres://candle:s3cret-pw@127.0.0.1:1/test', now: () => 1, metrics: metrics.store, log }).then(
      () => assert.fail('opened'),
      (e: unknown) => e as Error,
    );
    assert.match(err.message, /^cannot connect to PostgreSQL at postgres:\/\/candle:\*\*\*@127\.0\.0\.1:1\/test: .*ECONNREFUSED/);
    assert.doesNotMatch(err.message, /s3cret/);
    assert.equal(await metricValue(metrics, 'candlestack_store_errors_total', { store: 'postgres', operation: 'migrate' }), 1);
  });

  test('a bad URL is a ConfigError naming the field', async () => {
    await assert.rejects(PostgresStore.open({ url: 'postgres://127.0.0.1:5432/test?pool_size=0', now: () => 1, metrics: testMetrics().store, log }), { name: 'ConfigError', message: /^store pool_size: expected a whole number from 1 to 1000, got "0"/ });
  });
});

describe('PostgresStore: TimescaleDB step', { skip }, () => {
  test('without the extension the store uses plain tables, with the same results', async (t) => {
    const client = await admin.connect();
    t.after(() => client.release());
    const status = await timescaleStatus(client);
    const store = await open(t, testSchema(t, admin));
    assert.equal(store.tableLayout, status.available ? 'hypertable' : 'plain');
    if (!status.available) assert.equal(await enableTimescale(client, log), 'plain');
  });

  test('the hypertable call is valid SQL with the intended arguments (against a stand-in for create_hypertable)', async (t) => {
    // TimescaleDB cannot be installed here: a function with create_hypertable's signature records the call.
    const schema = testSchema(t, admin);
    await (await open(t, schema)).close();
    const stub = `${schema.name}_ts`;
    t.after(async () => {
      await admin.query(`DROP SCHEMA IF EXISTS "${stub}" CASCADE`);
    });
    await admin.query(`CREATE SCHEMA "${stub}"`);
    await admin.query(`CREATE TABLE "${stub}".calls (relation oid, time_column name, chunk bigint, if_not_exists boolean, migrate_data boolean)`);
    await admin.query(`
      CREATE FUNCTION "${stub}".create_hypertable(relation regclass, time_column_name name, partitioning_column name DEFAULT NULL,
        number_partitions integer DEFAULT NULL, associated_schema_name name DEFAULT NULL, associated_table_prefix name DEFAULT NULL,
        chunk_time_interval anyelement DEFAULT NULL::bigint, create_default_indexes boolean DEFAULT true, if_not_exists boolean DEFAULT false,
        partitioning_func regproc DEFAULT NULL, migrate_data boolean DEFAULT false)
      RETURNS TABLE (hypertable_id integer, schema_name name, table_name name, created boolean) LANGUAGE sql AS $$
        INSERT INTO "${stub}".calls VALUES (relation::oid, time_column_name, chunk_time_interval::bigint, if_not_exists, migrate_data);
        SELECT 1, NULL::name, NULL::name, true;
      $$`);
    const client = await admin.connect();
    t.after(() => client.release());
    await client.query(`SET search_path = "${schema.name}"`);
    try {
      await createHypertable(client, `"${stub}"`);
    } finally {
      await client.query('RESET search_path');
    }
    const { rows } = await admin.query(`SELECT relation = to_regclass($1)::oid AS relation, time_column, chunk, if_not_exists, migrate_data FROM "${stub}".calls`, [`${schema.name}.candles`]);
    assert.deepEqual(rows, [{ relation: true, time_column: 'open_time', chunk: String(HYPERTABLE_CHUNK_MS), if_not_exists: true, migrate_data: true }]);
  });
});
