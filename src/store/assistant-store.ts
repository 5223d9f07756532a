/**
 * What the trading assistant stores next to the candles (SQLite migration 5, PostgreSQL migration 5): the
 * feature vector of every closed candle (`features`, keyed like the candles) and every decision the decision
 * service made with its outcomes at the scoring horizons (`decisions`). SQLite (sqlite-assistant.ts) and
 * PostgreSQL (postgres-assistant.ts) implement it; test/support/store-contract.ts holds both to one contract.
 */
import type { Timeframe } from '../core/timeframe.js';
import type { ExchangeId } from '../core/exchange-id.js';
import type { CandleQuery } from './store.js';

/** A stored feature vector (names: src/assistant/features.ts). */
export interface FeatureRow {
  exchange: ExchangeId;
  symbol: string;
  timeframe: Timeframe;
  openTime: number;
  close: number;
  values: Readonly<Record<string, number | null>>;
}

/** The outcome of a decision at one horizon: the price then, its change, and whether the action was right. */
export interface Outcome {
  /** Close at asOf + horizon (null when the store had no candle to tell). */
  price: number | null;
  /** price / decision price - 1. */
  change: number | null;
  /** null: could not be scored (no data). */
  hit: boolean | null;
  scoredAt: number;
}

export interface NewDecision {
  exchange: ExchangeId;
  symbol: string;
  timeframe: Timeframe;
  strategy: string;
  action: string;
  confidence: number;
  price: number | null;
  asOf: number | null;
  decidedAt: number;
  reasons: readonly string[];
  features: Readonly<Record<string, number | null>>;
  /** False for a decision that cannot be scored (stale data, no price). */
  scorable: boolean;
}

export interface DecisionRecord extends NewDecision {
  id: number;
  /** Horizon label (`15m`, `1h`) -> outcome, for the horizons scored so far. */
  outcomes: Record<string, Outcome>;
  /** True while some horizon is still to be scored. */
  pending: boolean;
}

export interface DecisionQuery {
  exchange?: ExchangeId;
  symbol?: string;
  timeframe?: Timeframe;
  strategy?: string;
  /** Inclusive decidedAt bounds, epoch ms. */
  from?: number;
  to?: number;
  /** Most recent first. */
  limit: number;
}

export interface AssistantStore {
  upsertFeatures(rows: readonly FeatureRow[]): Promise<void>;
  /** Oldest first; without `from`, the most recent `limit` rows (as candles). */
  queryFeatures(q: CandleQuery): Promise<FeatureRow[]>;
  /** Returns the new decision's id. */
  insertDecision(d: NewDecision): Promise<number>;
  /** Most recent first. */
  queryDecisions(q: DecisionQuery): Promise<DecisionRecord[]>;
  /** Decisions with a horizon still to score, oldest first. */
  pendingDecisions(limit: number): Promise<DecisionRecord[]>;
  /** Replaces a decision's outcomes; `pending` false once every horizon is scored. */
  setOutcomes(id: number, outcomes: Record<string, Outcome>, pending: boolean): Promise<void>;
}
