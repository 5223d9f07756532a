/**
 * The PostgreSQL store's LeaderLock (src/jobs/leader.ts): a session advisory lock
 * (`pg_try_advisory_lock(hashtext(key))`) held on one connection taken out of the store's pool for as long as
 * the lock is held (so a leader uses one connection of `pool_size` for it). The server frees the lock when
 * that session ends: a leader that crashes, is killed or loses its connection hands over, and the next
 * `isLeader()` of another process takes it. A leader checks its connection at each `isLeader()` (one
 * `SELECT 1`); a dead one is dropped and the lock is tried again on a fresh connection.
 */
import type { Pool, PoolClient } from 'pg';
import type { LeaderLock } from '../jobs/leader.js';
import type { Logger } from '../telemetry/logger.js';
import { describeError } from './postgres-errors.js';

export class PostgresLeaderLock implements LeaderLock {
  private client: PoolClient | null = null;
  /** isLeader and release run one at a time (several jobs tick on the same minute). */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly onError = (err: Error): void => {
    // The held connection died between two checks: the server has freed the lock.
    this.log.warn({ err: describeError(err), lock: this.key }, 'the job leader connection was lost; leadership is given up');
    this.forget(err);
  };

  constructor(
    private readonly pool: Pool,
    readonly key: string,
    private readonly log: Logger,
  ) {}

  isLeader(): Promise<boolean> {
    return this.serial(() => this.check());
  }

  release(): Promise<void> {
    return this.serial(async () => {
      const c = this.client;
      if (!c) return;
      try {
        await c.query('SELECT pg_advisory_unlock(hashtext($1))', [this.key]);
        this.forget();
      } catch (err) {
        this.forget(err as Error); // a destroyed connection frees the lock too
      }
      this.log.info({ lock: this.key }, 'job leadership released');
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async check(): Promise<boolean> {
    if (this.client) {
      try {
        await this.client.query('SELECT 1');
        return true;
      } catch (err) {
        this.log.warn({ err: describeError(err), lock: this.key }, 'the job leader connection failed; trying the lock again');
        this.forget(err as Error);
      }
    }
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      this.log.warn({ err: describeError(err), lock: this.key }, 'no connection to try the job leader lock');
      return false;
    }
    try {
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [this.key]);
      if (rows[0]?.locked !== true) {
        client.release();
        return false;
      }
    } catch (err) {
      client.release(err as Error);
      return false;
    }
    client.on('error', this.onError);
    this.client = client;
    this.log.info({ lock: this.key }, 'this process is now the job leader');
    return true;
  }

  /** Gives the held connection back (destroyed when it failed: its session, and so the lock, end). */
  private forget(err?: Error): void {
    const c = this.client;
    if (!c) return;
    this.client = null;
    c.off('error', this.onError);
    c.release(err ?? false);
  }
}
