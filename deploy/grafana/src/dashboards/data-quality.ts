/** 3. Data quality: quality score and checks, anomalies, trade-id gaps, reconciliation with the exchange. */
import { above, below, informational, vars, type DashboardSpec } from '../builder.js';

const EX = 'exchange=~"$exchange"';
const SYM = 'symbol=~"$symbol"';
const TF = 'timeframe=~"$timeframe"';

export const dataQuality: DashboardSpec = {
  uid: 'candlestack-data-quality',
  title: 'candlestack / Data quality',
  description: 'Can these candles be trusted? Quality checks, anomalies, missing trades and differences with the exchange klines.',
  tags: ['quality'],
  variables: [vars.exchange(), vars.symbol(), vars.timeframe()],
  rows: [
    {
      title: 'Quality checks',
      panels: [
        {
          title: 'Quality score per symbol',
          description: 'Share of quality checks passing (0..1): red below 90% (LowDataQuality after 10 min), orange below 99%.',
          type: 'bargauge',
          unit: 'percentunit',
          thresholds: below(0.9, 0.99),
          min: 0,
          max: 1,
          targets: [{ expr: `candlestack_data_quality_score{${EX},${SYM}}`, legend: '{{exchange}} {{symbol}}' }],
        },
        {
          title: 'Checks passed and failed',
          description: 'Quality checks per second by check and result.',
          unit: 'ops',
          thresholds: informational,
          targets: [{ expr: `sum by (exchange, check, result) (rate(candlestack_data_quality_checks_total{${EX}}[$__rate_interval]))`, legend: '{{exchange}} {{check}} {{result}}' }],
        },
        {
          title: 'Failed share per check',
          description: 'failed / all runs of each check: orange from 1%, red from 10%.',
          unit: 'percentunit',
          thresholds: above(0.01, 0.1),
          targets: [
            {
              expr: `sum by (exchange, check) (rate(candlestack_data_quality_checks_total{${EX},result="fail"}[$__rate_interval])) / sum by (exchange, check) (rate(candlestack_data_quality_checks_total{${EX}}[$__rate_interval]))`,
              legend: '{{exchange}} {{check}}',
            },
          ],
        },
        {
          title: 'Anomalies detected',
          description: 'Anomalies by type (price jumps, volume spikes, ...).',
          unit: 'short',
          thresholds: informational,
          bars: true,
          w: 12,
          targets: [{ expr: `sum by (exchange, type) (increase(candlestack_data_anomalies_detected_total{${EX}}[$__rate_interval]))`, legend: '{{exchange}} {{type}}' }],
        },
        {
          title: 'Rejected share of frames',
          description: 'Exchange frames that could not be used, over 5 min: orange from 0.1%, red from 1%.',
          unit: 'percentunit',
          thresholds: above(0.001, 0.01),
          w: 12,
          targets: [{ expr: `exchange:candlestack_messages_rejected:ratio_rate5m{${EX}}`, legend: '{{exchange}}' }],
        },
      ],
    },
    {
      title: 'Completeness',
      panels: [
        {
          title: 'Trade-id gaps',
          description: 'Jumps in consecutive trade ids by cause: stream = dropped on a live connection, reconnect = missed while reconnecting.',
          unit: 'short',
          thresholds: informational,
          bars: true,
          targets: [{ expr: `sum by (exchange, symbol, cause) (increase(candlestack_trade_id_gaps_total{${EX},${SYM}}[$__rate_interval]))`, legend: '{{exchange}} {{symbol}} {{cause}}' }],
        },
        {
          title: 'Trade ids missing',
          description: 'Trades skipped by those jumps (repaired by backfilling the touched candles).',
          unit: 'short',
          thresholds: informational,
          bars: true,
          targets: [{ expr: `sum by (exchange, symbol) (increase(candlestack_trade_ids_missing_total{${EX},${SYM}}[$__rate_interval]))`, legend: '{{exchange}} {{symbol}}' }],
        },
        {
          title: 'Candles backfilled',
          description: 'Closed candles replaced by the exchange klines after a gap, and periods of a gap older than the exchange REST history reaches (Kraken: 720 intervals), which stay marked as gaps.',
          unit: 'short',
          thresholds: informational,
          bars: true,
          targets: [
            { expr: `sum by (exchange, timeframe) (increase(candlestack_backfill_candles_total{${EX},${TF}}[$__rate_interval]))`, legend: '{{exchange}} {{timeframe}}' },
            { expr: `sum by (exchange, timeframe) (increase(candlestack_backfill_unrecoverable_periods_total{${EX},${TF}}[$__rate_interval]))`, legend: 'unrecoverable {{exchange}} {{timeframe}}' },
          ],
        },
      ],
    },
    {
      title: 'Reconciliation with the exchange klines',
      panels: [
        {
          title: 'Reconciliations by result',
          description: 'Our closed candles compared with the exchange closed klines: match, mismatch, skipped (incomplete after a gap), unmatched.',
          unit: 'short',
          thresholds: informational,
          w: 12,
          targets: [{ expr: `sum by (exchange, timeframe, result) (increase(candlestack_reconciliations_total{${EX},${TF}}[$__rate_interval]))`, legend: '{{exchange}} {{timeframe}} {{result}}' }],
        },
        {
          title: 'Mismatched fields',
          description: 'Fields differing from the exchange kline: any is red (CandleReconciliationMismatch).',
          unit: 'short',
          thresholds: above(0.5, 1),
          bars: true,
          w: 12,
          targets: [{ expr: `sum by (exchange, timeframe, field) (increase(candlestack_reconciliation_mismatches_total{${EX},${TF}}[$__rate_interval]))`, legend: '{{exchange}} {{timeframe}} {{field}}' }],
        },
      ],
    },
  ],
};
