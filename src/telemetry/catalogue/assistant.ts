/** Assistant slice: the feature engine and the decision service (src/assistant/). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function assistantMetrics(registry: Registry) {
  const r = [registry];
  return {
    featuresCalculated: new Counter({
      name: 'candlestack_features_calculated_total',
      help: 'Feature vectors computed, one per closed candle of every series, by timeframe.',
      labelNames: ['timeframe'] as const,
      registers: r,
    }),
    featureCalculationDuration: new Histogram({
      name: 'candlestack_feature_calculation_duration_seconds',
      help: 'Time to compute the feature vector of one closed candle (timed per candle, never per trade).',
      buckets: [0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.001, 0.005],
      registers: r,
    }),
    decisions: new Counter({
      name: 'candlestack_decisions_total',
      help: 'Decisions answered by the decision service, by the strategy that answered and the action.',
      labelNames: ['strategy', 'action'] as const,
      registers: r,
    }),
    decisionOutcomes: new Counter({
      name: 'candlestack_decision_outcomes_total',
      help: 'Recorded decisions scored at a horizon, by result (hit, miss, no_data).',
      labelNames: ['strategy', 'horizon', 'result'] as const,
      registers: r,
    }),
    decisionHitRatio: new Gauge({
      name: 'candlestack_decision_hit_ratio',
      help: 'Share of the decisions scored over the last 24 h that were right at the horizon (hits / scored), by strategy and horizon.',
      labelNames: ['strategy', 'horizon'] as const,
      registers: r,
    }),
    llmFallbacks: new Counter({
      name: 'candlestack_decision_llm_fallbacks_total',
      help: 'llm strategy answers replaced by the rules strategy, by reason (timeout, error, circuit_open, status, unparsable).',
      labelNames: ['reason'] as const,
      registers: r,
    }),
  };
}

export type AssistantMetrics = ReturnType<typeof assistantMetrics>;
