/**
 * Leader election on the real PostgreSQL: two schedulers, each on its own store (its own pool) over the same
 * database and schema, as two `process` instances are. Each schedule tick runs exactly once in total; when the
 * leader stops (or its session dies) the other takes over at its next tick. The lock is per schema.
 */
import { after, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Job } from '../src/jobs/job.js';
import { Scheduler } from '../src/jobs/scheduler.js';
import { PostgresStore } from '../src/store/postgres.js';
import { FakeClock } from './support/fake-clock.js';
import { log, testMetrics, until } from './support/harness.js';
import { metricValue } from './support/metrics.js';
import { adminPool, backends, pgSkip, terminate, testSchema } from './support/postgres.js';

const skip = await pgSkip();
const admin = adminPool();
after(() => admin.end());

const MIN = 60_000;
const T0 = Date.UTC(2024, 0, 1, 10, 0, 0);

async function open(t: TestContext, url: string): Promise<PostgresStore> {
  const store = await PostgresStore.open({ url, now: () => 1, metrics: testMetrics().store, log });
  t.after(() => store.close());
  return store;
}

interface Instance {
  id: string;
  /** Each its own (kept in step by tick()): a crashed instance's clock simply stops. */
  clock: FakeClock;
  store: PostgresStore;
  scheduler: Scheduler;
  metrics: ReturnType<typeof testMetrics>;
}

/** Two instances starting at T0; every run is pushed to `runs` with who ran it and when. */
async function pair(t: TestContext, urls: [string, string], runs: { id: string; at: number }[]): Promise<[Instance, Instance]> {
  const make = async (id: string, url: string): Promise<Instance> => {
    const clock = new FakeClock(T0);
    const store = await open(t, url);
    const metrics = testMetrics();
    const job: Job = { name: 'retention', run: async () => void runs.push({ id, at: clock.now() }) };
    const scheduler = new Scheduler({ jobs: [{ job, schedule: '* * * * *', timeoutMs: 30_000, jitterMs: 0, enabled: true }], clock, metrics: metrics.jobs, log, leader: store.leaderLock('jobs') });
    t.after(() => scheduler.stop());
    scheduler.start();
    return { id, clock, store, scheduler, metrics };
  };
  return [await make('a', urls[0]), await make('b', urls[1])];
}

/** Moves the instances' clocks to the next minute and waits until each has handled the tick (leader check, run). */
async function tick(instances: readonly Instance[]): Promise<number> {
  const at = instances[0]!.clock.now() + MIN;
  for (const i of instances) i.clock.set(at);
  await Promise.all(instances.map((i) => i.scheduler.whenIdle()));
  return at;
}

const byTick = (runs: { id: string; at: number }[], at: number) => runs.filter((r) => r.at === at).map((r) => r.id);

describe('job leader election on PostgreSQL', { skip }, () => {
  test('two schedulers on one database: one run per tick; when the leader stops the other takes over', async (t) => {
    const schema = testSchema(t, admin);
    const runs: { id: string; at: number }[] = [];
    const [a, b] = await pair(t, [schema.url, schema.url], runs);
    const ticks: number[] = [];
    for (let i = 0; i < 5; i++) ticks.push(await tick([a, b]));
    for (const at of ticks) assert.equal(byTick(runs, at).length, 1, `tick ${new Date(at).toISOString()}: ${JSON.stringify(byTick(runs, at))}`);
    const leaderId = runs[0]!.id;
    assert.ok(runs.every((r) => r.id === leaderId), 'the same instance ran every tick');
    const [leader, other] = leaderId === 'a' ? [a, b] : [b, a];
    assert.equal(await metricValue(leader.metrics, 'candlestack_job_runs_total', { task: 'retention', result: 'success' }), 5);
    assert.equal(await metricValue(other.metrics, 'candlestack_job_runs_total', { task: 'retention', result: 'success' }), 0, 'the other recorded nothing');

    await leader.scheduler.stop();
    const later: number[] = [];
    for (let i = 0; i < 3; i++) later.push(await tick([other]));
    for (const at of later) assert.deepEqual(byTick(runs, at), [other.id], `after the leader stopped, tick ${new Date(at).toISOString()}`);
  });

  test('a leader that dies without releasing the lock hands over: the server frees it with the session', async (t) => {
    const schema = testSchema(t, admin);
    const runs: { id: string; at: number }[] = [];
    const instances = await pair(t, [schema.url, schema.url], runs);
    const first = await tick(instances);
    assert.equal(byTick(runs, first).length, 1);
    const leader = instances.find((i) => i.id === runs[0]!.id)!;
    const other = instances.find((i) => i !== leader)!;
    const holder = async () => (await admin.query<{ pid: number }>("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = ANY($1)", [await backends(admin, schema.applicationName)])).rows.map((r) => r.pid);
    const [held] = await holder();
    assert.equal((await holder()).length, 1, 'one session holds the advisory lock');
    // The leader crashes: its clock stops (no more ticks, no release) and the server ends its lock session.
    await terminate(admin, [held!]);
    // pg_terminate_backend only signals the backend: the lock is free once the session has ended.
    await until('the lock session to end', async () => (await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [held])).rows.length === 0);
    for (let i = 0; i < 2; i++) {
      const next = await tick([other]);
      assert.deepEqual(byTick(runs, next), [other.id]);
    }
    const now = await holder();
    assert.equal(now.length, 1);
    assert.notEqual(now[0], held, 'a new session holds the lock');
  });

  test('the lock is per schema: schedulers on two schemas both run', async (t) => {
    const runs: { id: string; at: number }[] = [];
    const instances = await pair(t, [testSchema(t, admin).url, testSchema(t, admin).url], runs);
    const at = await tick(instances);
    assert.deepEqual(byTick(runs, at).sort(), ['a', 'b']);
  });
});
