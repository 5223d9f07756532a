/** Breakers slice: every circuit breaker (src/core/circuit-breaker.ts, via src/telemetry/breaker-metrics.ts). */
import { Counter, Gauge, type Registry } from 'prom-client';

export function breakerMetrics(registry: Registry) {
  const r = [registry];
  return {
    circuitBreakerState: new Gauge({
      name: 'candlestack_circuit_breaker_state',
      help: 'Circuit breaker state: 0 closed, 1 open, 2 half-open.',
      labelNames: ['component'] as const,
      registers: r,
    }),
    circuitBreakerTransitions: new Counter({
      name: 'candlestack_circuit_breaker_transitions_total',
      help: 'Circuit breaker state changes.',
      labelNames: ['component', 'from', 'to'] as const,
      registers: r,
    }),
    circuitBreakerFailures: new Counter({
      name: 'candlestack_circuit_breaker_failures_total',
      help: 'Failed calls seen by the circuit breaker.',
      labelNames: ['component'] as const,
      registers: r,
    }),
    circuitBreakerRejected: new Counter({
      name: 'candlestack_circuit_breaker_rejected_total',
      help: 'Calls refused because the circuit breaker was open (the work waits; see ARCHITECTURE.md).',
      labelNames: ['component'] as const,
      registers: r,
    }),
  };
}

export type BreakerMetrics = ReturnType<typeof breakerMetrics>;
