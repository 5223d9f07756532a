/**
 * Repairs the backfiller has queued and not yet completed (SQLite migration 6, PostgreSQL migration 6): one row
 * per piece of pending work — a series and the range of periods to fetch again from the exchange's REST klines.
 * Kept in the store so that a process killed before a repair ran (a second kill -9 in the seconds after a
 * restart) re-queues it on its next start instead of keeping a candle built from partial trades (issue 19).
 * A row is removed only once the repaired candles are written. SQLite (sqlite-repairs.ts) and PostgreSQL
 * (postgres.ts) implement it; test/support/store-contract.ts holds both to one contract.
 */
import type { ExchangeId } from '../core/exchange-id.js';
import type { Timeframe } from '../core/timeframe.js';

export interface PendingRepair {
  /** Chosen by the backfiller when it queues the work; stable while the work's range changes. */
  id: string;
  exchange: ExchangeId;
  symbol: string;
  timeframe: Timeframe;
  /** Open times of the first and last period to fetch (epoch ms, inclusive). */
  first: number;
  last: number;
}

export interface RepairStore {
  /** Inserts the repairs, or replaces the range of those already stored (by id). */
  saveRepairs(rows: readonly PendingRepair[]): Promise<void>;
  /** Removes the repairs with these ids (unknown ids are ignored). */
  removeRepairs(ids: readonly string[]): Promise<void>;
  /** Every stored repair, ordered by exchange, symbol, timeframe, first period, id. */
  pendingRepairs(): Promise<PendingRepair[]>;
}
