/**
 * The job scheduler on a FakeClock: cron ticks at the right UTC times, disabled jobs, overlapping ticks
 * skipped and counted, timeouts aborted and counted, jitter bounds, the heartbeat and next-run gauges, leader
 * gating, and stop() aborting and waiting for the runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Job, JobContext } from '../src/jobs/job.js';
import { JobTimeoutError } from '../src/jobs/job.js';
import type { LeaderLock } from '../src/jobs/leader.js';
import { Scheduler, runWithTimeout, type ScheduledJob } from '../src/jobs/scheduler.js';
import { FakeClock } from './support/fake-clock.js';
import { log, testMetrics } from './support/harness.js';
import { metricSeries, metricValue } from './support/metrics.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2024, 0, 1, 10, 0, 0);

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
};

/** Moves the fake clock forward in steps, letting the async tick handlers and runs progress between steps. */
async function advance(clock: FakeClock, ms: number, step = 1_000): Promise<void> {
  const end = clock.now() + ms;
  while (clock.now() < end) {
    clock.set(Math.min(end, clock.now() + step));
    await flush();
  }
}

/** A job that records when each run started; `body` decides how a run goes (default: succeeds at once). */
function recordingJob(name: string, clock: FakeClock, body: (ctx: JobContext, n: number) => Promise<unknown> = async () => 'ok') {
  const starts: number[] = [];
  const contexts: JobContext[] = [];
  const job: Job = {
    name,
    run: (ctx) => {
      starts.push(clock.now());
      contexts.push(ctx);
      return body(ctx, starts.length);
    },
  };
  return { job, starts, contexts };
}

function entry(job: Job, over: Partial<ScheduledJob> = {}): ScheduledJob {
  return { job, schedule: '17 * * * *', timeoutMs: 10 * MIN, jitterMs: 0, enabled: true, ...over };
}

function setup(jobs: ScheduledJob[], o: { leader?: LeaderLock; random?: () => number; clock?: FakeClock } = {}) {
  const clock = o.clock ?? new FakeClock(T0);
  const metrics = testMetrics();
  const scheduler = new Scheduler({ jobs, clock, metrics: metrics.jobs, log, ...(o.leader ? { leader: o.leader } : {}), ...(o.random ? { random: o.random } : {}) });
  return { clock, metrics, scheduler };
}

const runs = (metrics: ReturnType<typeof testMetrics>, task: string, result: string) => metricValue(metrics, 'candlestack_job_runs_total', { task, result });

test('an hourly job at minute 17 runs at hh:17 UTC, every hour, and the next-run gauge follows', async () => {
  const clock = new FakeClock(T0);
  const r = recordingJob('retention', clock);
  const { metrics, scheduler } = setup([entry(r.job)], { clock });
  scheduler.start();
  assert.equal(await metricValue(metrics, 'candlestack_job_next_run_timestamp_seconds', { task: 'retention' }), Date.UTC(2024, 0, 1, 10, 17) / 1000);
  assert.equal(scheduler.status()[0]!.nextRunAt, Date.UTC(2024, 0, 1, 10, 17));
  await advance(clock, 3 * HOUR);
  assert.deepEqual(r.starts.map((t) => new Date(t).toISOString()), ['2024-01-01T10:17:00.000Z', '2024-01-01T11:17:00.000Z', '2024-01-01T12:17:00.000Z']);
  assert.equal(await runs(metrics, 'retention', 'success'), 3);
  assert.equal(await metricValue(metrics, 'candlestack_job_next_run_timestamp_seconds', { task: 'retention' }), Date.UTC(2024, 0, 1, 13, 17) / 1000);
  const [s] = scheduler.status();
  assert.deepEqual(s, { name: 'retention', schedule: '17 * * * *', enabled: true, running: false, nextRunAt: Date.UTC(2024, 0, 1, 13, 17), lastRun: { at: Date.UTC(2024, 0, 1, 12, 17), result: 'success', durationMs: 0 } });
  await scheduler.stop();
});

test('daily, every-15-minutes and weekly schedules fire at their UTC times', async () => {
  const clock = new FakeClock(T0); // a Monday
  const daily = recordingJob('report', clock);
  const quarter = recordingJob('gap-sweep', clock);
  const weekly = recordingJob('vacuum', clock);
  const { scheduler } = setup([entry(daily.job, { schedule: '5 0 * * *' }), entry(quarter.job, { schedule: '*/15 * * * *' }), entry(weekly.job, { schedule: '45 3 * * 0' })], { clock });
  scheduler.start();
  await advance(clock, 8 * 24 * HOUR, 60_000);
  assert.deepEqual(daily.starts.slice(0, 2).map((t) => new Date(t).toISOString()), ['2024-01-02T00:05:00.000Z', '2024-01-03T00:05:00.000Z']);
  assert.equal(daily.starts.length, 8);
  assert.deepEqual(quarter.starts.slice(0, 3).map((t) => new Date(t).toISOString()), ['2024-01-01T10:15:00.000Z', '2024-01-01T10:30:00.000Z', '2024-01-01T10:45:00.000Z']);
  assert.equal(quarter.starts.length, 8 * 24 * 4, 'every quarter hour from 10:15 on the first day to 10:00 on the ninth');
  assert.deepEqual(weekly.starts.map((t) => new Date(t).toISOString()), ['2024-01-07T03:45:00.000Z']);
  await scheduler.stop();
});

test('a disabled job never runs and has no next run', async () => {
  const clock = new FakeClock(T0);
  const off = recordingJob('vacuum', clock);
  const on = recordingJob('retention', clock);
  const { metrics, scheduler } = setup([entry(off.job, { schedule: '* * * * *', enabled: false }), entry(on.job, { schedule: '* * * * *' })], { clock });
  scheduler.start();
  await advance(clock, 10 * MIN, 10_000);
  assert.equal(off.starts.length, 0);
  assert.equal(on.starts.length, 10, 'the enabled one ran each minute (the control)');
  assert.deepEqual(await metricSeries(metrics, 'candlestack_job_next_run_timestamp_seconds', { task: 'vacuum' }), []);
  assert.deepEqual(await metricSeries(metrics, 'candlestack_job_runs_total', { task: 'vacuum' }), []);
  assert.deepEqual(scheduler.status()[0], { name: 'vacuum', schedule: '* * * * *', enabled: false, running: false, nextRunAt: null, lastRun: null });
  await scheduler.stop();
});

test('a tick while the job still runs is recorded skipped_overlap and starts nothing', async () => {
  const clock = new FakeClock(T0);
  let finish!: () => void;
  const r = recordingJob('retention', clock, (_ctx, n) => (n === 1 ? new Promise<void>((resolve) => (finish = resolve)) : Promise.resolve()));
  const { metrics, scheduler } = setup([entry(r.job, { schedule: '* * * * *', timeoutMs: 10 * MIN })], { clock });
  scheduler.start();
  await advance(clock, 3 * MIN + 30_000, 10_000);
  assert.equal(r.starts.length, 1, 'one run started');
  assert.equal(await runs(metrics, 'retention', 'skipped_overlap'), 2, 'the ticks at 10:02 and 10:03 were skipped');
  assert.equal(await metricValue(metrics, 'candlestack_job_running', { task: 'retention' }), 1);
  assert.equal(scheduler.status()[0]!.running, true);
  assert.equal(scheduler.status()[0]!.lastRun?.result, 'skipped_overlap');
  finish();
  await flush();
  assert.equal(await runs(metrics, 'retention', 'success'), 1);
  assert.equal(await metricValue(metrics, 'candlestack_job_running', { task: 'retention' }), 0);
  assert.equal(scheduler.status()[0]!.running, false);
  await advance(clock, MIN, 10_000);
  assert.equal(r.starts.length, 2, 'the next tick after the run ended starts a run');
  assert.equal(await runs(metrics, 'retention', 'skipped_overlap'), 2);
  await scheduler.stop();
});

test('a run past its timeout is aborted and recorded timeout; one that ignores its signal blocks the next ticks until it ends', async () => {
  const clock = new FakeClock(T0);
  let release!: () => void;
  const r = recordingJob('retention', clock, (ctx, n) =>
    n === 1
      ? new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true }))
      : n === 2
        ? new Promise<void>((resolve) => (release = resolve)) // ignores its signal
        : Promise.resolve(),
  );
  const { metrics, scheduler } = setup([entry(r.job, { schedule: '*/5 * * * *', timeoutMs: 30_000 })], { clock });
  scheduler.start();
  await advance(clock, 5 * MIN + 29_000);
  assert.equal(r.contexts[0]!.signal.aborted, false);
  await advance(clock, 2_000);
  assert.equal(r.contexts[0]!.signal.aborted, true);
  assert.ok(r.contexts[0]!.signal.reason instanceof JobTimeoutError);
  assert.equal(await runs(metrics, 'retention', 'timeout'), 1);
  assert.equal(await metricValue(metrics, 'candlestack_job_last_run_status', { task: 'retention' }), 0);
  assert.equal(await metricValue(metrics, 'candlestack_job_last_failure_timestamp_seconds', { task: 'retention' }), (Date.UTC(2024, 0, 1, 10, 5) + 30_000) / 1000);
  assert.deepEqual(scheduler.status()[0]!.lastRun, { at: Date.UTC(2024, 0, 1, 10, 5), result: 'timeout', durationMs: 30_000 });

  await advance(clock, 5 * MIN); // 10:10: the second run, which will ignore its timeout
  assert.equal(r.starts.length, 2);
  await advance(clock, 5 * MIN); // 10:15: timed out at 10:10:30 but still going
  assert.equal(await runs(metrics, 'retention', 'timeout'), 2);
  assert.equal(r.starts.length, 2);
  assert.equal(await runs(metrics, 'retention', 'skipped_overlap'), 1);
  assert.equal(scheduler.status()[0]!.running, true);
  release();
  await advance(clock, 5 * MIN);
  assert.equal(r.starts.length, 3, 'it ended: 10:20 runs');
  await scheduler.stop();
});

test('jitter delays each run by 0..jitter, from the injected random source', async () => {
  for (const [random, delay] of [
    [0, 0],
    [0.5, 30_000],
    [0.999999, 60_000],
  ] as const) {
    const clock = new FakeClock(T0);
    const r = recordingJob('retention', clock);
    const { scheduler } = setup([entry(r.job, { jitterMs: 60_000 })], { clock, random: () => random });
    scheduler.start();
    await advance(clock, 17 * MIN + delay - 1_000, 500);
    assert.equal(r.starts.length, 0, `random ${random}: not before tick + ${delay} ms`);
    await advance(clock, 2_000);
    assert.deepEqual(r.starts, [Date.UTC(2024, 0, 1, 10, 17) + delay], `random ${random}`);
    assert.ok(r.starts[0]! - Date.UTC(2024, 0, 1, 10, 17) <= 60_000);
    await scheduler.stop();
  }
});

test('the heartbeat gauge is set at start and at least every 10 s, and not after stop', async () => {
  const clock = new FakeClock(T0);
  const { metrics, scheduler } = setup([entry(recordingJob('retention', clock).job)], { clock });
  scheduler.start();
  const beat = () => metricValue(metrics, 'candlestack_scheduler_heartbeat_timestamp_seconds');
  assert.equal(await beat(), T0 / 1000);
  for (let i = 0; i < 30; i++) {
    await advance(clock, 1_000);
    assert.ok(clock.now() / 1000 - (await beat()) <= 10, `fresh at ${clock.now() - T0} ms`);
  }
  assert.equal(await beat(), (T0 + 30_000) / 1000);
  await scheduler.stop();
  await advance(clock, 60_000);
  assert.equal(await beat(), (T0 + 30_000) / 1000);
  assert.equal(clock.pending(), 0, 'stop cancelled every timer');
});

test('a non-leader records nothing; it runs the ticks once it becomes leader', async () => {
  const clock = new FakeClock(T0);
  let leader = false;
  let asked = 0;
  const lock: LeaderLock = { isLeader: async () => (asked++, leader), release: async () => undefined };
  const r = recordingJob('retention', clock);
  const { metrics, scheduler } = setup([entry(r.job, { schedule: '* * * * *' })], { clock, leader: lock });
  scheduler.start();
  await advance(clock, 3 * MIN, 10_000);
  assert.equal(asked, 3, 'asked at each tick');
  assert.equal(r.starts.length, 0);
  assert.deepEqual((await metricSeries(metrics, 'candlestack_job_runs_total', { task: 'retention' })).filter((r) => r.value > 0), [], 'nothing counted while not leader (the series exist at 0 from the start)');
  assert.equal(scheduler.status()[0]!.lastRun, null);
  leader = true;
  await advance(clock, 2 * MIN, 10_000);
  assert.equal(r.starts.length, 2);
  assert.equal(await runs(metrics, 'retention', 'success'), 2);
  await scheduler.stop();
});

test('stop() aborts the running job, waits for it to end, then releases the lock', async () => {
  const clock = new FakeClock(T0);
  const events: string[] = [];
  const r = recordingJob('retention', clock, (ctx) =>
    new Promise((_resolve, reject) =>
      ctx.signal.addEventListener('abort', () => {
        events.push('aborted');
        setTimeout(() => (events.push('job ended'), reject(new Error('aborted'))), 50); // cleans up for a while
      }, { once: true }),
    ),
  );
  const lock: LeaderLock = { isLeader: async () => true, release: async () => void events.push('released') };
  const { metrics, scheduler } = setup([entry(r.job)], { clock, leader: lock });
  scheduler.start();
  await advance(clock, 18 * MIN, 10_000);
  assert.equal(r.starts.length, 1);
  await scheduler.stop();
  events.push('stop resolved');
  assert.deepEqual(events, ['aborted', 'job ended', 'released', 'stop resolved']);
  assert.equal(await runs(metrics, 'retention', 'failure'), 1, 'a run cut short by a stop is a failure (KO)');
  assert.equal(clock.pending(), 0);
  assert.equal(scheduler.status()[0]!.nextRunAt, null);
});

test('runWithTimeout (one run, as `job run` can make it): the value, a timeout, and an outside abort', async () => {
  const clock = new FakeClock(T0);
  const metrics = testMetrics();
  const deps = { clock, metrics: metrics.jobs, log };
  const ok = await runWithTimeout({ name: 'report', run: async () => 'summary' }, { ...deps, timeoutMs: 1_000 });
  assert.deepEqual({ ...ok, settled: null }, { result: 'success', at: T0, durationMs: 0, value: 'summary', settled: null });

  const waitAbort: Job = { name: 'report', run: (ctx) => new Promise((_r, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true })) };
  const timing = runWithTimeout(waitAbort, { ...deps, timeoutMs: 5_000 });
  await flush(); // the job has started
  clock.advance(5_000);
  const timedOut = await timing;
  assert.equal(timedOut.result, 'timeout');
  assert.equal(timedOut.durationMs, 5_000);

  const outside = new AbortController();
  const stopping = runWithTimeout(waitAbort, { ...deps, timeoutMs: 5_000, signal: outside.signal });
  await flush();
  outside.abort(new Error('SIGTERM'));
  const stopped = await stopping;
  assert.equal(stopped.result, 'failure');
  await stopped.settled;
  assert.deepEqual(
    [await runs(metrics, 'report', 'success'), await runs(metrics, 'report', 'timeout'), await runs(metrics, 'report', 'failure')],
    [1, 1, 1],
  );
});

test('every enabled job has its runs_total (by result) and running series at 0 from the start', async () => {
  const clock = new FakeClock(T0);
  const { metrics, scheduler } = setup([entry(recordingJob('retention', clock).job, { schedule: '17 * * * *' }), entry(recordingJob('vacuum', clock).job, { enabled: false })], { clock });
  scheduler.start();
  const runs = await metricSeries(metrics, 'candlestack_job_runs_total', { task: 'retention' });
  assert.deepEqual(runs.map((r) => [r.labels.result, r.value]).sort(), [['failure', 0], ['skipped_overlap', 0], ['success', 0], ['timeout', 0]]);
  assert.equal(await metricValue(metrics, 'candlestack_job_running', { task: 'retention' }), 0);
  assert.equal((await metricSeries(metrics, 'candlestack_job_running', { task: 'retention' })).length, 1);
  assert.deepEqual(await metricSeries(metrics, 'candlestack_job_runs_total', { task: 'vacuum' }), [], 'a disabled job has none');
  await scheduler.stop();
});

test('a job with atStart runs once when the scheduler starts, then on its schedule', async () => {
  const clock = new FakeClock(T0);
  const eager = recordingJob('retention', clock);
  const lazy = recordingJob('vacuum', clock);
  const { scheduler } = setup([entry(eager.job, { schedule: '17 * * * *', atStart: true }), entry(lazy.job, { schedule: '17 * * * *' })], { clock });
  scheduler.start();
  await flush();
  assert.deepEqual(eager.starts, [T0], 'ran at start');
  assert.deepEqual(lazy.starts, [], 'without atStart: waits for its tick');
  await advance(clock, 2 * HOUR, 60_000);
  assert.equal(eager.starts.length, 3, 'then at each hh:17');
  assert.equal(lazy.starts.length, 2);
  await scheduler.stop();
});
