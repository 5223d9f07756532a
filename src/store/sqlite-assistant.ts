/**
 * The assistant's tables in SQLite (migration 5): `features` (one row per closed candle, values as JSON) and
 * `decisions` (every decision with its outcomes as JSON). Statements are prepared on first use.
 */
import type Database from 'better-sqlite3';
import type { ExchangeId } from '../core/exchange-id.js';
import type { Timeframe } from '../core/timeframe.js';
import type { AssistantStore, DecisionQuery, DecisionRecord, FeatureRow, NewDecision, Outcome } from './assistant-store.js';
import type { CandleQuery } from './store.js';

interface DecisionDbRow {
  id: number;
  exchange: string;
  symbol: string;
  timeframe: string;
  strategy: string;
  action: string;
  confidence: number;
  price: number | null;
  as_of: number | null;
  decided_at: number;
  reasons_json: string;
  features_json: string;
  outcomes_json: string;
  scorable: number;
  pending: number;
}

const DECISION_COLUMNS = 'id, exchange, symbol, timeframe, strategy, action, confidence, price, as_of, decided_at, reasons_json, features_json, outcomes_json, scorable, pending';

export class SqliteAssistant implements AssistantStore {
  private upsertMany: ((rows: readonly FeatureRow[], now: number) => void) | null = null;

  constructor(private readonly db: Database.Database, private readonly now: () => number) {}

  async upsertFeatures(rows: readonly FeatureRow[]): Promise<void> {
    if (rows.length === 0) return;
    this.upsertMany ??= (() => {
      const stmt = this.db.prepare(`
        INSERT INTO features (exchange, symbol, timeframe, open_time, close, values_json, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (exchange, symbol, timeframe, open_time) DO UPDATE SET close = excluded.close, values_json = excluded.values_json, updated_at = excluded.updated_at`);
      return this.db.transaction((rs: readonly FeatureRow[], now: number) => {
        for (const r of rs) stmt.run(r.exchange, r.symbol, r.timeframe, r.openTime, r.close, JSON.stringify(r.values), now);
      });
    })();
    this.upsertMany(rows, this.now());
  }

  async queryFeatures(q: CandleQuery): Promise<FeatureRow[]> {
    const where = 'exchange = ? AND symbol = ? AND timeframe = ? AND open_time >= ? AND open_time <= ?';
    const asc = q.from !== undefined;
    const rows = this.db
      .prepare(`SELECT exchange, symbol, timeframe, open_time, close, values_json FROM features WHERE ${where} ORDER BY open_time ${asc ? 'ASC' : 'DESC'} LIMIT ?`)
      .all(q.exchange, q.symbol, q.timeframe, q.from ?? Number.MIN_SAFE_INTEGER, q.to ?? Number.MAX_SAFE_INTEGER, q.limit) as { exchange: string; symbol: string; timeframe: string; open_time: number; close: number; values_json: string }[];
    const out = rows.map((r) => ({ exchange: r.exchange as ExchangeId, symbol: r.symbol, timeframe: r.timeframe as Timeframe, openTime: r.open_time, close: r.close, values: JSON.parse(r.values_json) as Record<string, number | null> }));
    return asc ? out : out.reverse();
  }

  async insertDecision(d: NewDecision): Promise<number> {
    const r = this.db
      .prepare(`INSERT INTO decisions (exchange, symbol, timeframe, strategy, action, confidence, price, as_of, decided_at, reasons_json, features_json, outcomes_json, scorable, pending)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '{}', ?, ?)`)
      .run(d.exchange, d.symbol, d.timeframe, d.strategy, d.action, d.confidence, d.price, d.asOf, d.decidedAt, JSON.stringify(d.reasons), JSON.stringify(d.features), d.scorable ? 1 : 0, d.scorable ? 1 : 0);
    return Number(r.lastInsertRowid);
  }

  async queryDecisions(q: DecisionQuery): Promise<DecisionRecord[]> {
    const cond: string[] = ['decided_at >= ?', 'decided_at <= ?'];
    const args: unknown[] = [q.from ?? Number.MIN_SAFE_INTEGER, q.to ?? Number.MAX_SAFE_INTEGER];
    for (const [col, v] of [['exchange', q.exchange], ['symbol', q.symbol], ['timeframe', q.timeframe], ['strategy', q.strategy]] as const) {
      if (v !== undefined) {
        cond.push(`${col} = ?`);
        args.push(v);
      }
    }
    const rows = this.db.prepare(`SELECT ${DECISION_COLUMNS} FROM decisions WHERE ${cond.join(' AND ')} ORDER BY decided_at DESC, id DESC LIMIT ?`).all(...args, q.limit) as DecisionDbRow[];
    return rows.map(toRecord);
  }

  async pendingDecisions(limit: number): Promise<DecisionRecord[]> {
    return (this.db.prepare(`SELECT ${DECISION_COLUMNS} FROM decisions WHERE pending = 1 ORDER BY decided_at ASC, id ASC LIMIT ?`).all(limit) as DecisionDbRow[]).map(toRecord);
  }

  async setOutcomes(id: number, outcomes: Record<string, Outcome>, pending: boolean): Promise<void> {
    this.db.prepare('UPDATE decisions SET outcomes_json = ?, pending = ? WHERE id = ?').run(JSON.stringify(outcomes), pending ? 1 : 0, id);
  }

  prune(timeframe: Timeframe, before: number): void {
    this.db.prepare('DELETE FROM features WHERE timeframe = ? AND open_time < ?').run(timeframe, before);
  }
}

export function toRecord(r: DecisionDbRow | (Omit<DecisionDbRow, 'scorable' | 'pending'> & { scorable: boolean | number; pending: boolean | number })): DecisionRecord {
  return {
    id: Number(r.id),
    exchange: r.exchange as ExchangeId,
    symbol: r.symbol,
    timeframe: r.timeframe as Timeframe,
    strategy: r.strategy,
    action: r.action,
    confidence: r.confidence,
    price: r.price,
    asOf: r.as_of,
    decidedAt: r.decided_at,
    reasons: JSON.parse(r.reasons_json) as string[],
    features: JSON.parse(r.features_json) as Record<string, number | null>,
    outcomes: JSON.parse(r.outcomes_json) as Record<string, Outcome>,
    scorable: Boolean(r.scorable),
    pending: Boolean(r.pending),
  };
}
