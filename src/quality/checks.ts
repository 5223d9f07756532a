/**
 * The data-quality checks, their anomaly types and default weights. Every check runs per exchange and
 * symbol and records `pass` or `fail` each time it runs; the score (score.ts) combines them.
 */
export const QUALITY_CHECKS = [
  'staleness',
  'trade_id_gap',
  'missing_candles',
  'out_of_order',
  'price_outlier',
  'volume_sanity',
  'reconciliation',
  'cross_exchange',
] as const;
export type QualityCheck = (typeof QUALITY_CHECKS)[number];

/** `candlestack_data_anomalies_detected_total{type}`: a bounded set. */
export const ANOMALY_TYPES = [
  'stale_feed',
  'trade_id_gap',
  'missing_candles',
  'out_of_order_trade',
  'price_outlier',
  'invalid_trade',
  'absurd_size',
  'kline_mismatch',
  'cross_exchange_divergence',
] as const;
export type AnomalyType = (typeof ANOMALY_TYPES)[number];

/** How much each check weighs in the score (ARCHITECTURE.md explains why). */
export const DEFAULT_CHECK_WEIGHTS: Readonly<Record<QualityCheck, number>> = {
  staleness: 3,
  trade_id_gap: 2,
  missing_candles: 2,
  reconciliation: 2,
  price_outlier: 1,
  out_of_order: 1,
  volume_sanity: 1,
  cross_exchange: 1,
};

/**
 * Checks that watch a condition (is the feed stale now? are periods missing now?): one anomaly per episode,
 * counted when the check goes from pass to fail. The others flag events: one anomaly per failure.
 */
export const STATE_CHECKS: ReadonlySet<QualityCheck> = new Set<QualityCheck>(['staleness', 'missing_candles', 'cross_exchange']);

/** What a failed run found: shown by GET /api/quality. */
export interface FailureNote {
  /** Epoch ms. */
  at: number;
  anomaly: AnomalyType;
  message: string;
  /** The values the check compared (prices, times, thresholds, ...). */
  values: Record<string, unknown>;
}
