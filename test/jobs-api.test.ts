/**
 * GET /api/jobs, the scheduler's view that `candlestack jobs list` reads: its shape on `run` (the embedded
 * root wires the scheduler from config.jobs), on the ApiServer with a scheduler that has run, 503 without one,
 * and on the process role's RoleServer route table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbedded } from '../src/app/embedded.js';
import { RoleServer } from '../src/app/role-server.js';
import { sendJobs } from '../src/api/jobs-route.js';
import { defaultConfig, type Config } from '../src/config/config.js';
import { systemClock } from '../src/core/clock.js';
import { SimulatedBinance } from '../src/demo/simulated-binance/server.js';
import { Scheduler } from '../src/jobs/scheduler.js';
import { startTestApi } from './support/api.js';
import { FakeClock } from './support/fake-clock.js';
import { log, testMetrics } from './support/harness.js';

const getJson = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as any };
};

test('run: /api/jobs lists every job of the build with its configured schedule and next run', { timeout: 30_000 }, async () => {
  const sim = new SimulatedBinance({ seed: 5, tradesPerSecond: 20, symbols: ['BTC-USDT'] });
  const { wsBaseUrl, restBaseUrl } = await sim.start();
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-jobs-api-'));
  const base = defaultConfig();
  const config: Config = {
    ...base,
    exchanges: [{ ...base.exchanges[0]!, symbols: ['BTC-USDT'], klines: false, wsUrl: wsBaseUrl, restUrl: restBaseUrl }],
    timeframes: ['1m'],
    store: { url: `sqlite:${join(dir, 'jobs.db')}`, flushMs: 100 },
    http: { host: '127.0.0.1', port: 0 },
    jobs: { ...base.jobs, retention: { ...base.jobs.retention, schedule: '*/5 * * * *', atStart: false }, vacuum: { ...base.jobs.vacuum, enabled: false } },
  };
  const app = await startEmbedded(config, { clock: systemClock, log, version: 'test', role: 'run' });
  try {
    const before = Date.now();
    const { status, body } = await getJson(`http://127.0.0.1:${app.port}/api/jobs`);
    assert.equal(status, 200);
    assert.deepEqual(Object.keys(body), ['jobs']);
    assert.deepEqual(body.jobs.map((j: { name: string }) => j.name), ['retention', 'vacuum', 'gap-sweep', 'integrity', 'report']);
    const [retention, vacuum] = body.jobs;
    assert.deepEqual(Object.keys(retention), ['name', 'schedule', 'enabled', 'running', 'nextRunAt', 'lastRun']);
    assert.deepEqual({ ...retention, nextRunAt: 'checked below' }, { name: 'retention', schedule: '*/5 * * * *', enabled: true, running: false, nextRunAt: 'checked below', lastRun: null });
    const fiveMinutes = 5 * 60_000;
    assert.equal(retention.nextRunAt % fiveMinutes, 0, 'on a multiple of 5 minutes');
    assert.ok(retention.nextRunAt > before - 1_000 && retention.nextRunAt <= before + fiveMinutes, String(retention.nextRunAt));
    assert.deepEqual(vacuum, { name: 'vacuum', schedule: '45 3 * * 0', enabled: false, running: false, nextRunAt: null, lastRun: null });
    const index = await getJson(`http://127.0.0.1:${app.port}/api`);
    assert.equal(index.body.endpoints.jobs, '/api/jobs');
  } finally {
    await app.stop();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

async function ranScheduler() {
  const clock = new FakeClock(Date.UTC(2024, 0, 1, 10, 0));
  const metrics = testMetrics();
  const scheduler = new Scheduler({
    jobs: [{ job: { name: 'retention', run: async () => 3 }, schedule: '17 * * * *', timeoutMs: 60_000, jitterMs: 0, enabled: true }],
    clock,
    metrics: metrics.jobs,
    log,
  });
  scheduler.start();
  clock.set(Date.UTC(2024, 0, 1, 10, 17));
  await scheduler.whenIdle();
  return { scheduler, metrics };
}

const RAN = { jobs: [{ name: 'retention', schedule: '17 * * * *', enabled: true, running: false, nextRunAt: Date.UTC(2024, 0, 1, 11, 17), lastRun: { at: Date.UTC(2024, 0, 1, 10, 17), result: 'success', durationMs: 0 } }] };

test('ApiServer: /api/jobs is the scheduler status; 503 jobs_unavailable without a scheduler; no parameters', async () => {
  const { scheduler, metrics } = await ranScheduler();
  const api = await startTestApi({ metrics, jobs: scheduler });
  const none = await startTestApi();
  try {
    assert.deepEqual(await getJson(`${api.url}/api/jobs`), { status: 200, body: RAN });
    const missing = await getJson(`${none.url}/api/jobs`);
    assert.equal(missing.status, 503);
    assert.equal(missing.body.error.code, 'jobs_unavailable');
    assert.equal((await getJson(`${api.url}/api/jobs?name=retention`)).status, 400);
  } finally {
    await scheduler.stop();
    await api.close();
    await none.close();
  }
});

test('RoleServer (process): /api/jobs from its route table; unknown paths list it', async () => {
  const { scheduler, metrics } = await ranScheduler();
  const server = new RoleServer({
    host: '127.0.0.1',
    port: 0,
    role: 'process',
    registry: metrics.registry,
    clock: systemClock,
    metrics: metrics.api,
    health: { startedAt: Date.now(), staleAfterMs: 10_000, store: { kind: 'sqlite', isOpen: () => true, queueDepth: () => 0 }, bus: { kind: 'kafka' } },
    routes: { '/api/jobs': (url, res) => sendJobs(url, res, scheduler) },
  });
  await server.start();
  try {
    const base = `http://127.0.0.1:${server.port}`;
    assert.deepEqual(await getJson(`${base}/api/jobs`), { status: 200, body: RAN });
    assert.equal((await getJson(`${base}/api/jobs?x=1`)).status, 400);
    const unknown = await getJson(`${base}/nope`);
    assert.equal(unknown.status, 404);
    assert.match(JSON.stringify(unknown.body), /\/api\/jobs/);
    assert.equal((await getJson(`${base}/healthz`)).body.status, 'alive');
  } finally {
    await server.stop();
    await scheduler.stop();
  }
});
