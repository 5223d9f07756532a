/** Indicators slice: the indicator engine (src/pipeline/indicators/). */
import { Counter, Histogram, type Registry } from 'prom-client';

export function indicatorMetrics(registry: Registry) {
  const r = [registry];
  return {
    indicatorCalculationDuration: new Histogram({
      name: 'candlestack_indicator_calculation_duration_seconds',
      help: 'Time to update one indicator on one closed candle (every configured period of that kind counts).',
      labelNames: ['indicator'] as const,
      buckets: [0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.001, 0.005],
      registers: r,
    }),
    indicatorValuesCalculated: new Counter({
      name: 'candlestack_indicator_values_calculated_total',
      help: 'Indicator values computed, on closed candles and over forming ones.',
      labelNames: ['indicator'] as const,
      registers: r,
    }),
    indicatorRecalculations: new Counter({
      name: 'candlestack_indicator_recalculations_total',
      help: 'Candle corrections seen by the indicator engine, by result (replayed, too_old).',
      labelNames: ['result'] as const,
      registers: r,
    }),
  };
}

export type IndicatorMetrics = ReturnType<typeof indicatorMetrics>;
