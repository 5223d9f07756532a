/** The circuit breaker state machine on a fake clock, and the metrics it reports. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CircuitBreaker, CircuitOpenError, type BreakerState } from '../src/core/circuit-breaker.js';
import { instrumentedBreaker } from '../src/telemetry/breaker-metrics.js';
import { FakeClock } from './support/fake-clock.js';
import { log, testMetrics } from './support/harness.js';
import { metricValue } from './support/metrics.js';

const SETTINGS = { failureThreshold: 3, openMs: 10_000, halfOpenProbes: 2 };

function setup(settings = SETTINGS) {
  const clock = new FakeClock();
  const metrics = testMetrics();
  const breaker = instrumentedBreaker('store_write', settings, { clock, metrics: metrics.breakers, log });
  const value = (name: string, labels: Record<string, string> = {}) => metricValue(metrics, name, labels);
  const fail = (n: number) => {
    for (let i = 0; i < n; i++) breaker.failure(new Error(`boom ${i}`));
  };
  return { clock, metrics, breaker, value, fail };
}

describe('circuit breaker', () => {
  test('closed: failures below the threshold keep it closed, and a success resets the count', () => {
    const { breaker, fail } = setup();
    fail(2);
    assert.equal(breaker.state, 'closed');
    breaker.success();
    fail(2);
    assert.equal(breaker.state, 'closed', 'two, a success, two: never three in a row');
    assert.equal(breaker.tryAcquire(), true);
  });

  test('opens after failureThreshold consecutive failures and refuses calls until openMs has passed', async () => {
    const { clock, breaker, fail, value } = setup();
    fail(3);
    assert.equal(breaker.state, 'open');
    assert.equal(breaker.retryAt, clock.now() + 10_000);
    assert.equal(breaker.tryAcquire(), false);
    let ran = false;
    await assert.rejects(
      breaker.call(async () => (ran = true)),
      (err: unknown) => err instanceof CircuitOpenError && err.component === 'store_write' && err.retryAt === clock.now() + 10_000,
    );
    assert.equal(ran, false, 'a refused call is not made');
    clock.advance(9_999);
    assert.equal(breaker.state, 'open');
    assert.equal(await value('candlestack_circuit_breaker_rejected_total', { component: 'store_write' }), 2);
    assert.equal(await value('candlestack_circuit_breaker_failures_total', { component: 'store_write' }), 3);
    assert.equal(await value('candlestack_circuit_breaker_state', { component: 'store_write' }), 1);
    assert.deepEqual(breaker.status(), { component: 'store_write', state: 'open', consecutiveFailures: 3, openedAt: clock.now() - 9_999, retryAt: clock.now() + 1, lastError: 'boom 2' });
  });

  test('half-open after openMs: at most halfOpenProbes probes at a time; that many successes close it', async () => {
    const { clock, breaker, fail, value } = setup();
    fail(3);
    clock.advance(10_000);
    assert.equal(breaker.state, 'half_open');
    assert.equal(await value('candlestack_circuit_breaker_state', { component: 'store_write' }), 2);
    assert.equal(breaker.tryAcquire(), true, 'probe 1');
    assert.equal(breaker.tryAcquire(), true, 'probe 2');
    assert.equal(breaker.tryAcquire(), false, 'a third concurrent probe is refused');
    breaker.success();
    assert.equal(breaker.state, 'half_open', 'one success of two');
    assert.equal(breaker.tryAcquire(), false, 'one probe still in flight, one succeeded: no room');
    breaker.success();
    assert.equal(breaker.state, 'closed');
    assert.equal(await value('candlestack_circuit_breaker_state', { component: 'store_write' }), 0);
    fail(2);
    assert.equal(breaker.state, 'closed', 'the failure count started again from zero');
  });

  test('a failed probe opens it again for another openMs', () => {
    const { clock, breaker, fail } = setup();
    fail(3);
    clock.advance(10_000);
    assert.equal(breaker.tryAcquire(), true);
    clock.advance(500);
    breaker.failure(new Error('still down'));
    assert.equal(breaker.state, 'open');
    assert.equal(breaker.retryAt, clock.now() + 10_000, 'the open period restarts from the failed probe');
    clock.advance(10_000);
    assert.equal(breaker.state, 'half_open');
  });

  test('results of calls that started before it opened do not change an open breaker', () => {
    const { breaker, fail } = setup();
    fail(3);
    breaker.success();
    assert.equal(breaker.state, 'open');
    breaker.failure(new Error('late'));
    assert.equal(breaker.state, 'open');
  });

  test('call() reports the outcome: a resolved call is a success, a rejected one a failure', async () => {
    const { breaker } = setup({ failureThreshold: 2, openMs: 1_000, halfOpenProbes: 1 });
    assert.equal(await breaker.call(async () => 42), 42);
    await assert.rejects(breaker.call(async () => Promise.reject(new Error('x'))), /x/);
    await assert.rejects(breaker.call(async () => Promise.reject(new Error('y'))), /y/);
    assert.equal(breaker.state, 'open');
  });

  test('every transition is counted with from and to', async () => {
    const { clock, breaker, fail, value } = setup({ failureThreshold: 1, openMs: 1_000, halfOpenProbes: 1 });
    const path: BreakerState[] = [];
    fail(1);
    path.push(breaker.state);
    clock.advance(1_000);
    path.push(breaker.state);
    breaker.tryAcquire();
    breaker.failure();
    path.push(breaker.state);
    clock.advance(1_000);
    breaker.tryAcquire();
    breaker.success();
    path.push(breaker.state);
    assert.deepEqual(path, ['open', 'half_open', 'open', 'closed']);
    const t = (from: string, to: string) => value('candlestack_circuit_breaker_transitions_total', { component: 'store_write', from, to });
    assert.equal(await t('closed', 'open'), 1);
    assert.equal(await t('open', 'half_open'), 2);
    assert.equal(await t('half_open', 'open'), 1);
    assert.equal(await t('half_open', 'closed'), 1);
  });

  test('invalid settings are refused', () => {
    const clock = new FakeClock();
    assert.throws(() => new CircuitBreaker('x', { failureThreshold: 0, openMs: 1, halfOpenProbes: 1 }, clock), /failureThreshold/);
    assert.throws(() => new CircuitBreaker('x', { failureThreshold: 1, openMs: -1, halfOpenProbes: 1 }, clock), /openMs/);
    assert.throws(() => new CircuitBreaker('x', { failureThreshold: 1, openMs: 1, halfOpenProbes: 0 }, clock), /halfOpenProbes/);
  });
});
