/** The pending repairs in SQLite (migration 6, `pending_repairs`; see repair-store.ts). */
import type Database from 'better-sqlite3';
import type { ExchangeId } from '../core/exchange-id.js';
import type { Timeframe } from '../core/timeframe.js';
import type { PendingRepair, RepairStore } from './repair-store.js';

interface RepairRow {
  id: string;
  exchange: string;
  symbol: string;
  timeframe: string;
  first_open: number;
  last_open: number;
}

/** Statements are prepared on first use (a store opened with older migrations, as tests do, has no table). */
export class SqliteRepairs implements RepairStore {
  private saveMany: ((rows: readonly PendingRepair[], now: number) => void) | null = null;
  private removeMany: ((ids: readonly string[]) => void) | null = null;

  constructor(private readonly db: Database.Database, private readonly now: () => number) {}

  async saveRepairs(rows: readonly PendingRepair[]): Promise<void> {
    if (rows.length === 0) return;
    this.saveMany ??= (() => {
      const save = this.db.prepare(`
        INSERT INTO pending_repairs (id, exchange, symbol, timeframe, first_open, last_open, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET first_open = excluded.first_open, last_open = excluded.last_open, updated_at = excluded.updated_at`);
      return this.db.transaction((batch: readonly PendingRepair[], now: number) => {
        for (const r of batch) save.run(r.id, r.exchange, r.symbol, r.timeframe, r.first, r.last, now);
      });
    })();
    this.saveMany(rows, this.now());
  }

  async removeRepairs(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    this.removeMany ??= (() => {
      const remove = this.db.prepare('DELETE FROM pending_repairs WHERE id = ?');
      return this.db.transaction((batch: readonly string[]) => {
        for (const id of batch) remove.run(id);
      });
    })();
    this.removeMany(ids);
  }

  async pendingRepairs(): Promise<PendingRepair[]> {
    const rows = this.db.prepare('SELECT id, exchange, symbol, timeframe, first_open, last_open FROM pending_repairs ORDER BY exchange, symbol, timeframe, first_open, id').all() as RepairRow[];
    return rows.map(toRepair);
  }
}

export function toRepair(r: RepairRow): PendingRepair {
  return { id: r.id, exchange: r.exchange as ExchangeId, symbol: r.symbol, timeframe: r.timeframe as Timeframe, first: Number(r.first_open), last: Number(r.last_open) };
}
