/**
 * An exchange whose REST history is short (Kraken: the 720 most recent OHLC rows): the real Backfiller, Kraken
 * adapter and REST client against the simulated venue speaking Kraken, which keeps only a few rows here. The
 * part of a gap older than the history reaches is counted as unrecoverable and never asked for; the rest is
 * backfilled; a gap entirely out of reach is dropped without a request instead of being retried forever.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../src/core/clock.js';
import { periodStart } from '../src/core/timeframe.js';
import type { CandleEvent } from '../src/core/types.js';
import { kraken } from '../src/exchanges/kraken/feed.js';
import { RestClient } from '../src/feed/rest-client.js';
import { Backfiller } from '../src/jobs/backfill.js';
import { CandleEngine } from '../src/pipeline/candle-engine.js';
import { SimulatedVenue } from '../src/demo/simulated-venue/venue.js';
import { krakenProtocol } from '../src/demo/simulated-venue/kraken.js';
import { FakeClock } from './support/fake-clock.js';
import { log, sleep, testMetrics } from './support/harness.js';
import { metricValue } from './support/metrics.js';

const MIN = 60_000;
const ROWS = 6;

test('periods older than the REST history are counted unrecoverable and not fetched; the rest is backfilled', { timeout: 20_000 }, async () => {
  const t0 = Date.now();
  // The venue clock runs 120x (two 1m periods per second) and keeps ROWS OHLC rows, as Kraken keeps 720.
  const venueNow = () => t0 + (Date.now() - t0) * 120;
  const venue = new SimulatedVenue({ protocol: krakenProtocol({ ohlcMaxEntries: ROWS }), symbols: ['BTC-USD'], seed: 3, tradesPerSecond: 30, now: venueNow });
  const endpoints = await venue.start();
  try {
    await sleep(6_000); // ~12 venue minutes: twice what the OHLC rows hold
    const now = venueNow();
    const clock = new FakeClock(now);
    const metrics = testMetrics();
    const rest = new RestClient({ exchange: 'kraken', clock: systemClock, metrics: metrics.feed, log, attempts: 1 });
    const corrections: CandleEvent[] = [];
    const engine = new CandleEngine({ timeframes: ['1m'], graceMs: 0, latePolicy: 'drop', clock, metrics, log, emit: (e) => corrections.push(e) });
    const adapter = { ...kraken, klineHistoryPeriods: ROWS };
    const backfiller = new Backfiller({ sources: new Map([['kraken', { adapter, endpoints, rest }]]), engine, timeframes: ['1m'], graceMs: 0, settleMs: 0, clock, metrics, log });

    const current = periodStart(now, MIN);
    const oldest = current - (ROWS - 1) * MIN; // the oldest period the OHLC rows still hold
    const first = periodStart(t0, MIN) + MIN;
    const last = current - 2 * MIN;
    assert.ok(oldest - first >= 4 * MIN, 'the gap reaches well past the history');
    backfiller.onGap({ type: 'gap', exchange: 'kraken', symbol: 'BTC-USD', from: first, to: last, cause: 'reconnect' });
    await backfiller.runDue(now);

    assert.equal(await metricValue(metrics, 'candlestack_backfill_unrecoverable_periods_total'), (oldest - first) / MIN, 'every period before the oldest row');
    const times = corrections.map((e) => e.candle.openTime);
    // The venue may close one more period between `now` and the request, pushing its oldest row on by one: that
    // period comes back missing and is asked again later (a partial fill), never claimed as backfilled.
    const retried = backfiller.pending;
    assert.ok(retried === 0 || (retried === 1 && times.length === (last - oldest) / MIN), `the reachable part was backfilled (${retried} pending, ${times.length} periods)`);
    assert.ok(times.every((t) => t >= oldest && t <= last), 'nothing older than the history is claimed as backfilled');
    // The venue may close one more period between `now` and the request, pushing its oldest row on by one.
    assert.ok(times.length >= (last - oldest) / MIN && times.length <= (last - oldest) / MIN + 1, `backfilled ${times.length} periods`);
    assert.ok(corrections.every((e) => e.kind === 'correction' && e.candle.source === 'backfill'));

    const requests = await metricValue(metrics, 'candlestack_rest_requests_total');
    backfiller.onGap({ type: 'gap', exchange: 'kraken', symbol: 'BTC-USD', from: first - 30 * MIN, to: first - 20 * MIN, cause: 'startup' });
    await backfiller.runDue(now);
    assert.equal(backfiller.pending, retried, 'a gap entirely out of reach is dropped, not retried');
    assert.equal(await metricValue(metrics, 'candlestack_rest_requests_total'), requests, 'and costs no request');
    assert.equal(await metricValue(metrics, 'candlestack_backfill_unrecoverable_periods_total'), (oldest - first) / MIN + 11);
  } finally {
    await venue.stop();
  }
});
