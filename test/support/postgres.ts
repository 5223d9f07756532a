/**
 * The real PostgreSQL for tests: CANDLESTACK_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/test
 * (trust auth on this machine and in CI). Each test gets its own schema, candlestack_test_<run>_<n>, dropped
 * after it, so runs and tests never see each other's rows. Unreachable -> the tests skip with one line
 * (and fail under CI=true: see skipUnlessAvailable).
 */
import type { TestContext } from 'node:test';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { redactUrl } from '../../src/store/postgres-url.js';
import { skipUnlessAvailable } from './harness.js';

export const PG_URL = process.env.CANDLESTACK_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const RUN = randomBytes(4).toString('hex');
let serial = 0;

/** One connection attempt; resolves false instead of throwing. */
export async function pgReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `false` when PostgreSQL answers, else the one-line skip reason (throws under CI). */
export async function pgSkip(): Promise<string | false> {
  return skipUnlessAvailable(await pgReachable(), `PostgreSQL not reachable at ${redactUrl(PG_URL)} (start it, or set CANDLESTACK_TEST_PG_URL)`);
}

/** A pool for the test's own checks and fault injection (terminating backends, locks, dropping schemas). */
export function adminPool(): pg.Pool {
  const pool = new pg.Pool({ connectionString: PG_URL, max: 3, application_name: 'candlestack_test_admin' });
  pool.on('error', () => undefined);
  return pool;
}

export interface TestSchema {
  name: string;
  /** PG_URL pointing the store at this schema, with its own application_name to find its connections. */
  url: string;
  applicationName: string;
  /**
   * Holds an ACCESS EXCLUSIVE lock on the schema's candles table from another connection, so the store's
   * statements block on it (the way to catch one in flight); resolves with the function that releases it.
   * Released at the latest when the test ends.
   */
  lockCandles(): Promise<() => Promise<void>>;
}

/** A fresh schema name (not created: the store creates it), dropped with everything in it after the test. */
export function testSchema(t: TestContext, admin: pg.Pool): TestSchema {
  const name = `candlestack_test_${RUN}_${++serial}`;
  const u = new URL(PG_URL);
  u.searchParams.set('schema', name);
  u.searchParams.set('application_name', name);
  const unlocks = new Set<() => Promise<void>>();
  t.after(async () => {
    for (const unlock of unlocks) await unlock();
    const client = await admin.connect();
    try {
      await client.query("SET lock_timeout = '10s'"); // fail the clean-up rather than hang it
      await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
    } finally {
      client.release(true);
    }
  });
  return {
    name,
    url: u.toString(),
    applicationName: name,
    async lockCandles() {
      const locker = await admin.connect();
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE "${name}".candles IN ACCESS EXCLUSIVE MODE`);
      const unlock = async () => {
        if (!unlocks.delete(unlock)) return;
        await locker.query('COMMIT').finally(() => locker.release());
      };
      unlocks.add(unlock);
      return unlock;
    },
  };
}

/** Backend pids of a store's connections (by the application_name testSchema gave it). */
export async function backends(admin: pg.Pool, applicationName: string, where = 'true'): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND ${where} ORDER BY pid`, [applicationName]);
  return rows.map((r) => r.pid);
}

/** pg_terminate_backend on each pid: what a server restart or failover does to a client's connection. */
export async function terminate(admin: pg.Pool, pids: readonly number[]): Promise<void> {
  for (const pid of pids) await admin.query('SELECT pg_terminate_backend($1)', [pid]);
}
