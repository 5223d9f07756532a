/**
 * The Store interface: candles persisted by (exchange, symbol, timeframe, open_time). Writes are idempotent
 * upserts, so replaying the same events leaves the same rows. SQLite (default, sqlite.ts) and PostgreSQL
 * (postgres.ts) implement it, chosen by URL in open.ts; the rest of candlestack only sees this interface.
 */
import type { Candle, IndicatorValues } from '../core/types.js';
import type { Timeframe } from '../core/timeframe.js';
import type { ExchangeId } from '../core/exchange-id.js';
import type { LeaderLock } from '../jobs/leader.js';
import type { AssistantStore } from './assistant-store.js';
import type { RepairStore } from './repair-store.js';

export interface CandleQuery {
  exchange: ExchangeId;
  symbol: string;
  timeframe: Timeframe;
  /** Inclusive open_time bounds, epoch ms. */
  from?: number;
  to?: number;
  /** Maximum rows. Without `from`, the most recent `limit` candles are returned. Always oldest first. */
  limit: number;
}

export interface StoredSeries {
  /** Whatever the database holds (rows of an exchange no longer configured included). */
  exchange: string;
  symbol: string;
  timeframe: Timeframe;
  candles: number;
  firstOpenTime: number;
  lastOpenTime: number;
}

export interface Store {
  readonly kind: string;
  /**
   * Upserts candles. A forming candle (closed = false) never overwrites a closed one for the same period;
   * everything else replaces the row.
   */
  upsert(candles: readonly Candle[]): Promise<void>;
  query(q: CandleQuery): Promise<Candle[]>;
  /** The latest stored candle of every series of these symbols (to resume after a restart). */
  latest(exchange: ExchangeId, symbols: readonly string[]): Promise<Candle[]>;
  series(): Promise<StoredSeries[]>;
  /** Deletes candles of `timeframe` that opened before `before`; returns how many. */
  prune(timeframe: Timeframe, before: number): Promise<number>;
  isOpen(): boolean;
  close(): Promise<void>;
  /** Upserts indicator values of closed candles, keyed by (exchange, symbol, timeframe, open_time, name). */
  upsertIndicators(rows: readonly IndicatorRow[]): Promise<void>;
  /** Indicator values grouped per candle, oldest first; `limit` counts candles (open times), like `query`. */
  queryIndicators(q: IndicatorQuery): Promise<IndicatorPoint[]>;
  /** What the store itself counted (a store that counts nothing has none; writers count their own writes). */
  status?(): StoreStatus;
  /**
   * Maintenance for the `vacuum` job: SQLite `VACUUM` (outside any transaction; it rewrites the file and holds
   * the database lock meanwhile) then `ANALYZE`; PostgreSQL `ANALYZE` of the candles and indicators tables.
   */
  maintain?(): Promise<void>;
  /**
   * A lock that at most one process holds among those sharing this database (PostgreSQL: a session advisory
   * lock named `name`, scoped to the store's schema). Without it the process is the store's only user (SQLite).
   */
  leaderLock?(name: string): LeaderLock;
  /** The trading assistant's features and decisions (assistant-store.ts); SQLite and PostgreSQL have it. */
  readonly assistant?: AssistantStore;
  /** The backfiller's pending repairs, kept across restarts (repair-store.ts); SQLite and PostgreSQL have it. */
  readonly repairs?: RepairStore;
}

/** Store operations that failed (store_errors_total of the operations the store counts itself). */
export interface StoreStatus {
  errors: number;
}

export interface IndicatorRow {
  exchange: ExchangeId;
  symbol: string;
  timeframe: Timeframe;
  openTime: number;
  /** Indicator series name (`sma20`, `macd12_26_9`, ...). */
  name: string;
  values: IndicatorValues;
}

export interface IndicatorQuery extends CandleQuery {
  /** Series names to return; all stored ones when empty. */
  names: readonly string[];
}

export interface IndicatorPoint {
  openTime: number;
  values: Record<string, IndicatorValues>;
}
