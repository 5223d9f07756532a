/**
 * Exposes the error and event counters at 0 from the start, for every label value known when the process
 * starts (configured exchanges, symbols, timeframes, documented enums).
 *
 * Why: Prometheus' rate()/increase() only see a change between two samples of a series. A counter whose
 * series is born at 1 on the first error hides that error from `increase(...) > 0` alerts (StoreWriteErrors,
 * TradeIdGaps, CandleReconciliationMismatch would miss the first occurrence), and dashboards show "no data"
 * instead of 0. Only bounded label sets are initialised here; open-ended ones (reject reasons, HTTP routes)
 * appear on first use.
 */
import { TOPICS } from '../bus/bus.js';
import type { Timeframe } from '../core/timeframe.js';
import { RECONCILED_FIELDS } from '../pipeline/reconciler.js';
import { ALERT_SEVERITIES, ALERT_STATUSES } from '../api/alerts-webhook.js';
import type { Metrics } from './metrics.js';

/** Values documented in the help text of each metric in the catalogue (catalogue/*.ts). */
export const RECONNECT_REASONS = ['error', 'closed', 'stale', 'lifetime', 'server_shutdown'] as const;
export const COLLECTOR_ERROR_KINDS = ['connect', 'socket', 'rest', 'backfill', 'handler'] as const;
export const TRADE_ID_GAP_CAUSES = ['stream', 'reconnect'] as const;
export const LATE_TRADE_ACTIONS = ['dropped', 'amended', 'too_old'] as const;
export const RECONCILIATION_RESULTS = ['match', 'mismatch', 'skipped', 'unmatched'] as const;
/** The store operations that count errors (src/store/candle-writer.ts). */
export const STORE_OPERATIONS = ['upsert'] as const;

export interface SeriesScope {
  exchanges: readonly { id: string; symbols: readonly string[] }[];
  timeframes: readonly Timeframe[];
  /** The store kind; absent for a role without a store (collect). */
  store?: string;
  bus: string;
}

export function initializeSeries(metrics: Pick<Metrics, 'feed' | 'candles' | 'store' | 'bus' | 'api'>, scope: SeriesScope): void {
  const { feed, candles, store, bus, api } = metrics;
  for (const ex of scope.exchanges) {
    for (const reason of RECONNECT_REASONS) feed.websocketReconnections.labels(ex.id, reason).inc(0);
    for (const kind of COLLECTOR_ERROR_KINDS) feed.collectorErrors.labels(ex.id, kind).inc(0);
    for (const symbol of ex.symbols) {
      for (const cause of TRADE_ID_GAP_CAUSES) feed.tradeIdGaps.labels(ex.id, symbol, cause).inc(0);
      feed.tradeIdsMissing.labels(ex.id, symbol).inc(0);
    }
    for (const tf of scope.timeframes) {
      for (const action of LATE_TRADE_ACTIONS) candles.lateTrades.labels(ex.id, tf, action).inc(0);
      for (const result of RECONCILIATION_RESULTS) candles.reconciliations.labels(ex.id, tf, result).inc(0);
      for (const field of RECONCILED_FIELDS) candles.reconciliationMismatches.labels(ex.id, tf, field).inc(0);
    }
  }
  if (scope.store) for (const op of STORE_OPERATIONS) store.storeErrors.labels(scope.store, op).inc(0);
  for (const topic of TOPICS) bus.busHandlerErrors.labels(scope.bus, topic).inc(0);
  for (const status of ALERT_STATUSES) {
    for (const severity of [...ALERT_SEVERITIES, 'other']) api.alertsReceived.labels(status, severity).inc(0);
  }
}
