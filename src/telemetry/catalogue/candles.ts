/** Candles slice: the candle engine, the reconciler, the gap backfill and the repair jobs (src/pipeline/, src/jobs/backfill.ts, gap-sweep.ts, integrity.ts). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { exemplarHistogram } from '../exemplars.js';
import { HotSeries } from '../hot.js';

export function candleMetrics(registry: Registry) {
  const r = [registry];
  /** Counted series (hot.ts): the engine, reconciler and backfiller count these; their status() reads the same numbers. */
  const hot = {
    lateTrades: new HotSeries(),
    reconciliations: new HotSeries(),
    reconciliationMismatches: new HotSeries(),
    backfillCandles: new HotSeries(),
    backfillRuns: new HotSeries(),
  };
  return {
    hot,
    candlesCompleted: new Counter({
      name: 'candlestack_candles_completed_total',
      help: 'Candles closed (periods with and without trades).',
      labelNames: ['exchange', 'timeframe'] as const,
      registers: r,
    }),
    candleCloseLatency: exemplarHistogram(registry, {
      name: 'candlestack_candle_close_latency_seconds',
      help: 'Time from the end of a candle period to its closed candle being published.',
      labelNames: ['timeframe'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 2.5, 3, 5, 10, 30],
    }),
    lateTrades: new Counter({
      name: 'candlestack_late_trades_total',
      help: 'Trades for a period that had already closed, by what was done (dropped, amended, too_old).',
      labelNames: ['exchange', 'timeframe', 'action'] as const,
      registers: r,
      collect: hot.lateTrades.collect,
    }),
    candleClosePrice: new Gauge({
      name: 'candlestack_candle_close_price',
      help: 'Close price of the last closed candle.',
      labelNames: ['exchange', 'symbol', 'timeframe'] as const,
      registers: r,
    }),
    candleVolume: new Gauge({
      name: 'candlestack_candle_volume',
      help: 'Base-asset volume of the last closed candle.',
      labelNames: ['exchange', 'symbol', 'timeframe'] as const,
      registers: r,
    }),
    reconciliations: new Counter({
      name: 'candlestack_reconciliations_total',
      help: "Comparisons of our closed candles with the exchange's closed klines, by result (match, mismatch, skipped, unmatched).",
      labelNames: ['exchange', 'timeframe', 'result'] as const,
      registers: r,
      collect: hot.reconciliations.collect,
    }),
    reconciliationMismatches: new Counter({
      name: 'candlestack_reconciliation_mismatches_total',
      help: "Fields of our closed candles that differ from the exchange's kline for the same period.",
      labelNames: ['exchange', 'timeframe', 'field'] as const,
      registers: r,
      collect: hot.reconciliationMismatches.collect,
    }),
    backfillCandles: new Counter({
      name: 'candlestack_backfill_candles_total',
      help: 'Closed candles replaced by the exchange klines fetched over REST after a gap.',
      labelNames: ['exchange', 'timeframe'] as const,
      registers: r,
      collect: hot.backfillCandles.collect,
    }),
    backfillRuns: new Counter({
      name: 'candlestack_backfill_runs_total',
      help: 'Backfill attempts by result (ok, error).',
      labelNames: ['exchange', 'result'] as const,
      registers: r,
      collect: hot.backfillRuns.collect,
    }),
    backfillUnrecoverable: new Counter({
      name: 'candlestack_backfill_unrecoverable_periods_total',
      help: "Periods of a gap older than the exchange's REST history reaches (Kraken: the 720 most recent OHLC rows); they stay marked as gaps.",
      labelNames: ['exchange', 'timeframe'] as const,
      registers: r,
    }),
    backfillPending: new Gauge({
      name: 'candlestack_backfill_pending',
      help: 'Gaps waiting for their periods to close before being backfilled.',
      labelNames: ['exchange'] as const,
      registers: r,
    }),
    gapSweepPeriods: new Counter({
      name: 'candlestack_gap_sweep_periods_total',
      help: "Closed periods the gap-sweep job found missing in the store (found), refilled from the exchange's REST klines (repaired), or could not ask for because they are older than the exchange's REST history (unreachable).",
      labelNames: ['exchange', 'timeframe', 'result'] as const,
      registers: r,
    }),
    integrityMismatches: new Counter({
      name: 'candlestack_integrity_mismatches_total',
      help: "Fields of yesterday's stored 1m candles that differ from the exchange's REST klines (the integrity job; the reconciler's comparison rules).",
      labelNames: ['exchange', 'field'] as const,
      registers: r,
    }),
    integrityCandlesChecked: new Counter({
      name: 'candlestack_integrity_candles_checked_total',
      help: "Stored 1m candles the integrity job compared with the exchange's REST kline of the same period.",
      labelNames: ['exchange'] as const,
      registers: r,
    }),
  };
}

export type CandleMetrics = ReturnType<typeof candleMetrics>;
