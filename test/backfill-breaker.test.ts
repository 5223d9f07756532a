/**
 * The backfill_rest circuit breaker: the real Backfiller, Binance adapter and REST client against the
 * simulated Binance, whose REST API fails with 503 on demand. While the breaker is open no request is made
 * and the pending gap waits; once it half-opens a probe succeeds and the gap is backfilled. Nothing is dropped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../src/core/clock.js';
import type { CandleEvent } from '../src/core/types.js';
import { binance } from '../src/exchanges/binance/feed.js';
import { RestClient } from '../src/feed/rest-client.js';
import { Backfiller } from '../src/jobs/backfill.js';
import { CandleEngine } from '../src/pipeline/candle-engine.js';
import { SimulatedBinance } from '../src/demo/simulated-binance/server.js';
import { instrumentedBreaker } from '../src/telemetry/breaker-metrics.js';
import { FakeClock } from './support/fake-clock.js';
import { log, sleep, testMetrics } from './support/harness.js';
import { metricSeries, metricValue } from './support/metrics.js';

test('while backfill_rest is open the gap waits without requests; a half-open probe then backfills it', { timeout: 20_000 }, async () => {
  const sim = new SimulatedBinance({ seed: 11, tradesPerSecond: 200, symbols: ['BTC-USDT'] });
  const endpoints = await sim.start();
  try {
    const start = Date.now();
    await sleep(2_200); // the exchange has closed 1s klines to serve
    // the pipeline runs on a fake clock; the REST client on the real one (its only sleeps are 1 ms backoffs)
    const clock = new FakeClock(Date.now());
    const metrics = testMetrics();
    const rest = new RestClient({ exchange: 'binance', clock: systemClock, metrics: metrics.feed, log, attempts: 1, backoff: { initialMs: 1, maxMs: 1 } });
    const corrections: CandleEvent[] = [];
    const engine = new CandleEngine({ timeframes: ['1s'], graceMs: 0, latePolicy: 'drop', clock, metrics, log, emit: (e) => corrections.push(e) });
    const breaker = instrumentedBreaker('backfill_rest', { failureThreshold: 2, openMs: 60_000, halfOpenProbes: 1 }, { clock, metrics: metrics.breakers, log });
    const backfiller = new Backfiller({ sources: new Map([['binance', { adapter: binance, endpoints, rest }]]), engine, timeframes: ['1s'], graceMs: 0, settleMs: 0, clock, metrics, log, breaker });
    const requests = () => metricValue(metrics, 'candlestack_rest_requests_total');

    const from = Math.floor(start / 1000) * 1000;
    backfiller.onGap({ type: 'gap', exchange: 'binance', symbol: 'BTC-USDT', from, to: from + 1000, cause: 'trade_id', missing: 3 });
    assert.equal(backfiller.pending, 1);

    sim.failRest(1_000);
    await backfiller.runDue(clock.now());
    assert.equal(breaker.state, 'closed', 'one failure of two');
    clock.advance(10_000); // past the work's own retry backoff
    await backfiller.runDue(clock.now());
    assert.equal(breaker.state, 'open', 'two consecutive failures');
    assert.equal(await requests(), 2);

    for (let i = 0; i < 5; i++) {
      clock.advance(10_000);
      await backfiller.runDue(clock.now());
    }
    assert.equal(await requests(), 2, 'no request while open');
    assert.equal(backfiller.pending, 1, 'the gap waits; nothing dropped');
    assert.equal(corrections.length, 0);
    assert.ok((await metricValue(metrics, 'candlestack_circuit_breaker_rejected_total', { component: 'backfill_rest' })) >= 1, 'refusals are counted');

    sim.failRest(0); // the exchange is back
    clock.advance(10_000); // 60 s after opening
    await backfiller.runDue(clock.now());
    assert.equal(breaker.state, 'closed', 'the probe succeeded');
    assert.equal(backfiller.pending, 0, 'the gap was backfilled');
    assert.equal(await requests(), 3);
    assert.deepEqual(
      corrections.map((e) => [e.kind, e.candle.openTime, e.candle.source]),
      [
        ['correction', from, 'backfill'],
        ['correction', from + 1000, 'backfill'],
      ],
    );
    const transitions = (await metricSeries(metrics, 'candlestack_circuit_breaker_transitions_total')).filter((s) => s.value > 0).map((s) => `${s.labels.from}->${s.labels.to}`).sort();
    assert.deepEqual(transitions, ['closed->open', 'half_open->closed', 'open->half_open']);
  } finally {
    await sim.stop();
  }
});
