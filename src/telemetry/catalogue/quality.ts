/** Quality slice: the data-quality monitor (src/quality/). */
import { Counter, Gauge, type Registry } from 'prom-client';

export function qualityMetrics(registry: Registry) {
  const r = [registry];
  return {
    dataQualityScore: new Gauge({
      name: 'candlestack_data_quality_score',
      help: 'Data quality score from 0 (bad) to 1 (every check passing); see ARCHITECTURE.md for the weights.',
      labelNames: ['exchange', 'symbol'] as const,
      registers: r,
    }),
    dataQualityChecks: new Counter({
      name: 'candlestack_data_quality_checks_total',
      help: 'Data quality check runs by check and result (pass, fail).',
      labelNames: ['exchange', 'check', 'result'] as const,
      registers: r,
    }),
    crossExchangeSpread: new Gauge({
      name: 'candlestack_cross_exchange_spread_bps',
      help: 'Spread of the last prices of one canonical symbol across the exchanges watching it: (highest - lowest) / median, in basis points. Absent while fewer than two exchanges have a fresh price.',
      labelNames: ['symbol'] as const,
      registers: r,
    }),
    dataAnomalies: new Counter({
      name: 'candlestack_data_anomalies_detected_total',
      help: 'Data anomalies detected, by type (stale_feed, trade_id_gap, price_outlier, ...).',
      labelNames: ['exchange', 'type'] as const,
      registers: r,
    }),
  };
}

export type QualityMetrics = ReturnType<typeof qualityMetrics>;
