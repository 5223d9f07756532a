/**
 * The decision strategies' contract: a strategy turns one market's feature vector into an action with a
 * confidence (0..1) and its reasons. Reasons are short strings `code` or `code: detail` (a stable code first,
 * e.g. `trend_up: 15-period return +0.42%`), so a client can match the code and show the detail.
 */
import type { Timeframe } from '../core/timeframe.js';
import type { ExchangeId } from '../core/exchange-id.js';
import type { StrategyName } from '../config/decide-config.js';
import type { FeatureValues } from './features.js';

export const ACTIONS = ['BUY', 'SELL', 'HOLD'] as const;
export type Action = (typeof ACTIONS)[number];

export interface Verdict {
  action: Action;
  /** 0..1. */
  confidence: number;
  reasons: string[];
  /** The strategy that actually answered, when not the configured one (llm falling back to rules). */
  strategy?: StrategyName;
}

export interface StrategyInput {
  exchange: ExchangeId;
  symbol: string;
  timeframe: Timeframe;
  /** Open time of the closed candle the features are of. */
  openTime: number;
  price: number;
  features: FeatureValues;
}

export interface Strategy {
  readonly name: StrategyName;
  decide(input: StrategyInput): Verdict | Promise<Verdict>;
}

/** The code of a reason (`trend_up: ...` -> `trend_up`). */
export const reasonCode = (reason: string): string => reason.split(':')[0]!.trim();
