/** Data-quality settings (config section `quality:`), with their defaults. */
import type { Timeframe } from '../core/timeframe.js';
import { DEFAULT_CHECK_WEIGHTS, type QualityCheck } from './checks.js';

export interface QualitySettings {
  /** How often staleness, trade-id continuity, cross-exchange divergence and the score are evaluated. */
  checkIntervalMs: number;
  /** A symbol with no trade for longer than this is stale. */
  staleAfterMs: number;
  outlierK: number;
  outlierMinJump: number;
  outlierWindow: number;
  volumeMaxMultiple: number;
  /** Timeframe the missing-candle check looks at; null: the smallest configured timeframe. */
  candleTimeframe: Timeframe | null;
  /** How many recent periods the missing-candle check looks back. */
  candlePeriods: number;
  candleCheckIntervalMs: number;
  /** Largest relative distance from the cross-exchange median price (0.01 = 1 %). */
  maxDivergence: number;
  /** A failure's weight in the score halves every halfLife. */
  halfLifeMs: number;
  /** Checks that have not run within the window do not weigh in; failures older than it are forgotten. */
  windowMs: number;
  weights: Record<QualityCheck, number>;
}

export function defaultQualitySettings(): QualitySettings {
  return {
    checkIntervalMs: 5_000,
    staleAfterMs: 60_000,
    outlierK: 10,
    outlierMinJump: 0.005,
    outlierWindow: 128,
    volumeMaxMultiple: 100_000,
    candleTimeframe: null,
    candlePeriods: 60,
    candleCheckIntervalMs: 60_000,
    maxDivergence: 0.01,
    halfLifeMs: 300_000,
    windowMs: 900_000,
    weights: { ...DEFAULT_CHECK_WEIGHTS },
  };
}
