/**
 * The `indicators` table (migration 2): one row per (exchange, symbol, timeframe, open_time, name), values as
 * JSON (numbers round-trip exactly). Upserts are batched in one transaction; only closed candles' values are
 * stored, so a row is simply replaced by a later correction.
 */
import type Database from 'better-sqlite3';
import type { IndicatorValues } from '../core/types.js';
import type { Timeframe } from '../core/timeframe.js';
import type { IndicatorPoint, IndicatorQuery, IndicatorRow } from './store.js';

export class SqliteIndicators {
  private upsertMany: ((rows: readonly IndicatorRow[], now: number) => void) | null = null;

  /** Statements are prepared on first use, so a database opened without migration 2 still serves candles. */
  constructor(private readonly db: Database.Database) {}

  private prepare(): (rows: readonly IndicatorRow[], now: number) => void {
    const db = this.db;
    const stmt = db.prepare(`
      INSERT INTO indicators (exchange, symbol, timeframe, open_time, name, value_json, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (exchange, symbol, timeframe, open_time, name) DO UPDATE SET
        value_json = excluded.value_json, updated_at = excluded.updated_at`);
    return db.transaction((rows: readonly IndicatorRow[], now: number) => {
      for (const r of rows) stmt.run(r.exchange, r.symbol, r.timeframe, r.openTime, r.name, JSON.stringify(r.values), now);
    });
  }

  upsert(rows: readonly IndicatorRow[], now: number): void {
    if (rows.length > 0) (this.upsertMany ??= this.prepare())(rows, now);
  }

  query(q: IndicatorQuery): IndicatorPoint[] {
    const from = q.from ?? Number.MIN_SAFE_INTEGER;
    const to = q.to ?? Number.MAX_SAFE_INTEGER;
    const byName = q.names.length > 0 ? ` AND name IN (${q.names.map(() => '?').join(', ')})` : '';
    const where = `exchange = ? AND symbol = ? AND timeframe = ? AND open_time >= ? AND open_time <= ?${byName}`;
    const args = [q.exchange, q.symbol, q.timeframe, from, to, ...q.names];
    // Without `from`, the most recent `limit` candles; with it, the first `limit` from `from` on.
    const times = this.db
      .prepare(`SELECT DISTINCT open_time FROM indicators WHERE ${where} ORDER BY open_time ${q.from !== undefined ? 'ASC' : 'DESC'} LIMIT ?`)
      .all(...args, q.limit) as { open_time: number }[];
    if (times.length === 0) return [];
    const lo = Math.min(...times.map((t) => t.open_time));
    const hi = Math.max(...times.map((t) => t.open_time));
    const rows = this.db
      .prepare(`SELECT open_time, name, value_json FROM indicators WHERE ${where} AND open_time >= ? AND open_time <= ? ORDER BY open_time ASC, name ASC`)
      .all(...args, lo, hi) as { open_time: number; name: string; value_json: string }[];
    const points: IndicatorPoint[] = [];
    for (const r of rows) {
      let p = points[points.length - 1];
      if (!p || p.openTime !== r.open_time) points.push((p = { openTime: r.open_time, values: {} }));
      p.values[r.name] = JSON.parse(r.value_json) as IndicatorValues;
    }
    return points;
  }

  prune(timeframe: Timeframe, before: number): number {
    const exists = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'indicators'").get();
    if (!exists) return 0;
    return this.db.prepare('DELETE FROM indicators WHERE timeframe = ? AND open_time < ?').run(timeframe, before).changes;
  }
}
