/**
 * Circuit breakers with their telemetry: state gauge, transitions, failures and refused calls (catalogue/breakers.ts),
 * and one log line per state change. Label children are cached once per breaker.
 */
import type { Clock } from '../core/clock.js';
import { BREAKER_STATE_VALUE, CircuitBreaker, type BreakerObserver, type BreakerSettings, type BreakerState } from '../core/circuit-breaker.js';
import type { Logger } from './logger.js';
import type { BreakerMetrics } from './metrics.js';

const BREAKER_TRANSITIONS: readonly [BreakerState, BreakerState][] = [
  ['closed', 'open'],
  ['open', 'half_open'],
  ['half_open', 'closed'],
  ['half_open', 'open'],
];

export function breakerObserver(component: string, metrics: BreakerMetrics, log: Logger): BreakerObserver {
  const state = metrics.circuitBreakerState.labels(component);
  const failures = metrics.circuitBreakerFailures.labels(component);
  const rejected = metrics.circuitBreakerRejected.labels(component);
  state.set(BREAKER_STATE_VALUE.closed);
  failures.inc(0);
  rejected.inc(0);
  // The four possible transitions exist at 0 from the start, so increase() sees the first one (initial-series.ts).
  for (const [from, to] of BREAKER_TRANSITIONS) metrics.circuitBreakerTransitions.labels(component, from, to).inc(0);
  return {
    transition(from: BreakerState, to: BreakerState, why: string) {
      state.set(BREAKER_STATE_VALUE[to]);
      metrics.circuitBreakerTransitions.labels(component, from, to).inc();
      const ctx = { breaker: component, from, to, why };
      if (to === 'open') log.warn(ctx, `circuit breaker ${component} opened: ${why}`);
      else log.info(ctx, `circuit breaker ${component} ${to === 'closed' ? 'closed' : 'half-open'}: ${why}`);
    },
    failure() {
      failures.inc();
    },
    rejected() {
      rejected.inc();
    },
  };
}

/** A breaker for `component` that reports to the breakers slice of the metrics catalogue and the log. */
export function instrumentedBreaker(component: string, settings: BreakerSettings, deps: { clock: Clock; metrics: BreakerMetrics; log: Logger }): CircuitBreaker {
  return new CircuitBreaker(component, settings, deps.clock, breakerObserver(component, deps.metrics, deps.log));
}
