/** Batch jobs: retention prunes by timeframe age, and every run (through runJob) records its health metrics. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Candle } from '../src/core/types.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { RetentionJob } from '../src/jobs/retention.js';
import { runJob } from '../src/jobs/job.js';
import { buildJobs, scheduledJobs } from '../src/jobs/registry.js';
import { buildBackfillSources } from '../src/app/parts.js';
import { defaultConfig } from '../src/config/config.js';
import { FakeClock } from './support/fake-clock.js';
import { log, testMetrics } from './support/harness.js';
import { metricSeries, metricValue } from './support/metrics.js';

const DAY = 86_400_000;

/** One run as the scheduler and `candlestack job run` make it. */
function runOnce(job: RetentionJob, clock: FakeClock, metrics: ReturnType<typeof testMetrics>) {
  return runJob(job.name, { clock, metrics: metrics.jobs, log }, () => job.run({ signal: new AbortController().signal, log }));
}

function candle(timeframe: Candle['timeframe'], openTime: number): Candle {
  return { exchange: 'binance', symbol: 'BTC-USDT', timeframe, openTime, open: '1', high: '1', low: '1', close: '1', volume: '0.00000000', quoteVolume: '0.00000000', takerBuyVolume: '0.00000000', tradeCount: 0, vwap: '1', closed: true, source: 'trades', revision: 0 };
}

test('retention deletes candles older than the age configured for their timeframe only', async () => {
  const clock = new FakeClock(Date.UTC(2024, 5, 1));
  const now = clock.now();
  const store = new SqliteStore(':memory:', () => clock.now());
  await store.upsert([candle('1m', now - 40 * DAY), candle('1m', now - 10 * DAY), candle('1h', now - 400 * DAY)]);
  const metrics = testMetrics();
  const job = new RetentionJob({ store, maxAgeMs: { '1m': 30 * DAY }, clock });
  assert.equal(await runOnce(job, clock, metrics), 1);
  assert.deepEqual((await store.query({ exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', limit: 10 })).map((c) => c.openTime), [now - 10 * DAY]);
  assert.equal((await store.query({ exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1h', limit: 10 })).length, 1, '1h is kept forever');
  assert.equal(await metricValue(metrics, 'candlestack_job_last_run_status', { task: 'retention' }), 1);
  assert.equal(await metricValue(metrics, 'candlestack_job_last_success_timestamp_seconds', { task: 'retention' }), now / 1000);
  assert.equal(await metricValue(metrics, 'candlestack_job_runs_total', { task: 'retention', result: 'success' }), 1);
  await store.close();
});

test('a failing job run is recorded as status 0 and keeps the last success time', async () => {
  const clock = new FakeClock(Date.UTC(2024, 5, 1));
  const store = new SqliteStore(':memory:', () => clock.now());
  const metrics = testMetrics();
  const job = new RetentionJob({ store, maxAgeMs: { '1m': DAY }, clock });
  await runOnce(job, clock, metrics);
  const firstSuccess = clock.now() / 1000;
  clock.advance(3_600_000);
  await store.close(); // the next run's prune fails: the database is closed
  assert.equal(await runOnce(job, clock, metrics), undefined);
  // the series is there with 0 (not gone, which metricValue would also read as 0)
  assert.deepEqual((await metricSeries(metrics, 'candlestack_job_last_run_status', { task: 'retention' })).map((s) => s.value), [0]);
  assert.equal(await metricValue(metrics, 'candlestack_job_runs_total', { task: 'retention', result: 'failure' }), 1);
  assert.equal(await metricValue(metrics, 'candlestack_job_last_success_timestamp_seconds', { task: 'retention' }), firstSuccess);
});

test('buildJobs builds the jobs of this build; scheduledJobs gives each its jobs.<name> config', async () => {
  const config = defaultConfig();
  config.jobs.vacuum = { schedule: '0 4 * * 6', timeoutMs: 5 * 60_000, jitterMs: 1_000, enabled: false, atStart: false };
  const store = new SqliteStore(':memory:');
  const deps = { store, clock: new FakeClock(), metrics: testMetrics(), log };
  const jobs = buildJobs(config, deps);
  assert.deepEqual(jobs.map((j) => j.name), ['retention', 'vacuum', 'report'], 'without REST sources: no repair jobs');
  const scheduled = scheduledJobs(config, jobs);
  assert.deepEqual(scheduled.map(({ job, ...rest }) => ({ name: job.name, ...rest })), [
    { name: 'retention', schedule: '17 * * * *', timeoutMs: 10 * 60_000, jitterMs: 0, enabled: true, atStart: true },
    { name: 'vacuum', schedule: '0 4 * * 6', timeoutMs: 5 * 60_000, jitterMs: 1_000, enabled: false, atStart: false },
    { name: 'report', schedule: '5 0 * * *', timeoutMs: 10 * 60_000, jitterMs: 0, enabled: true, atStart: false },
  ]);
  const sources = buildBackfillSources(config, deps);
  assert.deepEqual(buildJobs(config, { ...deps, sources }).map((j) => j.name), ['retention', 'vacuum', 'gap-sweep', 'integrity', 'report'], 'with them: every job');
  await store.close();
});
