/**
 * The `vacuum` job: the store's own maintenance (`Store.maintain`): SQLite `VACUUM` then `ANALYZE`,
 * PostgreSQL `ANALYZE` of the candles and indicators tables (PostgreSQL's autovacuum reclaims space itself).
 *
 * SQLite's VACUUM rewrites the whole database file: it needs free disk of up to the database's size, cannot
 * run inside a transaction, and holds the database lock while it runs; better-sqlite3 is synchronous, so the
 * process does nothing else meanwhile (feeds and /ws stall, trades queue in the socket buffers). Hence the
 * default schedule: once a week at 03:45 UTC on Sunday; disable it (`jobs.vacuum.enabled: false`) for a
 * database too large to rewrite in a few seconds.
 */
import type { Store } from '../store/store.js';
import type { Job, JobContext } from './job.js';

export class VacuumJob implements Job {
  readonly name = 'vacuum';
  constructor(private readonly o: { store: Store }) {}

  async run(ctx: JobContext): Promise<string> {
    ctx.signal.throwIfAborted();
    if (!this.o.store.maintain) {
      ctx.log.info({ job: 'vacuum', store: this.o.store.kind }, 'this store has no maintenance to run');
      return 'nothing to do';
    }
    await this.o.store.maintain();
    ctx.log.info({ job: 'vacuum', store: this.o.store.kind }, 'store maintenance done');
    return 'done';
  }
}
