/**
 * `candlestack job run NAME` and its node-exporter textfile: the file's format (promtool check metrics), the
 * counts and last success carried over a failed run, KO on every failure path (exception, timeout,
 * SIGTERM/SIGINT, a store that does not open), an unknown name (exit 2, no file); and `candlestack jobs
 * list` against a local server answering /api/jobs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { defaultConfig } from '../src/config/config.js';
import { JobTimeoutError, type Job } from '../src/jobs/job.js';
import { applyRun, emptyState, formatTextfile, parseTextfile, textfilePath, TextfileParseError } from '../src/jobs/textfile.js';
import { formatJobsTable, jobRun, jobsList, relativeTime, type JobRunDeps } from '../src/cli/job-command.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { jobMetrics } from '../src/telemetry/catalogue/jobs.js';
import { FakeClock } from './support/fake-clock.js';
import { log, skipUnlessAvailable, sleep, until } from './support/harness.js';
import { toolAvailable } from './support/observability.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const T0 = Date.UTC(2026, 0, 1, 12);

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', cwd: ROOT, timeout: 20_000, env: { ...process.env, CANDLESTACK_LOG_LEVEL: 'error' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The command in a child process without blocking this one (a test server here must keep answering). */
function cliAsync(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-job-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The samples of a textfile, by `name{labels}`. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) if (line && !line.startsWith('#')) out.set(line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1)));
  return out;
}

/** jobRun on a fake job, a real SQLite store in memory and a signal source the test can fire. */
function rig(run: Job['run'], clock = new FakeClock(T0)) {
  const signals = new EventEmitter();
  let closed = 0;
  const deps: JobRunDeps = {
    config: defaultConfig(),
    buildJobs: () => [{ name: 'retention', run }],
    openStore: async () => {
      const store = new SqliteStore(':memory:', () => clock.now());
      const close = store.close.bind(store);
      store.close = async () => {
        closed++;
        await close();
      };
      return store;
    },
    clock,
    log,
    signals: signals as unknown as JobRunDeps['signals'],
  };
  return { deps, signals, clock, closed: () => closed };
}

test('textfile: HELP and TYPE of every family, the catalogue HELP texts, all results counted, promtool accepts it', (t) => {
  let s = applyRun(emptyState('gap-sweep'), { result: 'success', at: T0, durationMs: 1_250 });
  s = applyRun(s, { result: 'failure', at: T0 + 60_000, durationMs: 30 });
  const text = formatTextfile(s);
  const m = samples(text);
  assert.equal(m.get('candlestack_job_last_success_timestamp_seconds{task="gap-sweep"}'), T0 / 1000);
  assert.equal(m.get('candlestack_job_last_failure_timestamp_seconds{task="gap-sweep"}'), T0 / 1000 + 60);
  assert.equal(m.get('candlestack_job_last_run_status{task="gap-sweep"}'), 0);
  assert.equal(m.get('candlestack_job_last_duration_seconds{task="gap-sweep"}'), 0.03);
  assert.equal(m.get('candlestack_job_runs_total{task="gap-sweep",result="success"}'), 1);
  assert.equal(m.get('candlestack_job_runs_total{task="gap-sweep",result="failure"}'), 1);
  assert.equal(m.get('candlestack_job_runs_total{task="gap-sweep",result="timeout"}'), 0);
  const catalogue = jobMetrics(new Registry()) as Record<string, unknown>;
  for (const key of ['jobRuns', 'jobLastSuccess', 'jobLastFailure', 'jobLastStatus']) {
    const { name, help } = catalogue[key] as { name: string; help: string };
    assert.ok(text.includes(`# HELP ${name} ${help}\n`), `${name} has the catalogue's HELP`);
  }
  assert.match(text, /# TYPE candlestack_job_runs_total counter\n/);
  assert.match(text, /# TYPE candlestack_job_last_run_status gauge\n/);
  assert.equal(textfilePath('/d', 'gap-sweep'), '/d/candlestack_gap_sweep.prom');
  assert.deepEqual(parseTextfile(text, 'gap-sweep'), s, 'the file reads back as the state it was written from');
  assert.throws(() => parseTextfile(text.slice(0, text.length - 20), 'gap-sweep'), TextfileParseError, 'a truncated file is refused');

  const missing = skipUnlessAvailable(toolAvailable('promtool'), 'promtool not installed (Debian package prometheus)');
  if (missing) return t.skip(missing);
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  // the file of a job that never succeeded (no last-success sample) is valid too
  const first = spawnSync('promtool', ['check', 'metrics'], { input: formatTextfile(applyRun(emptyState('retention'), { result: 'timeout', at: T0, durationMs: 5 })), encoding: 'utf8' });
  assert.equal(first.status, 0, first.stdout + first.stderr);
});

test('job run: success writes OK; a later failure writes KO and keeps the last success time and the counts', async (t) => {
  const dir = tempDir(t);
  let fail = false;
  const r = rig(async () => {
    r.clock.advance(2_000);
    if (fail) throw new Error('store is gone');
    return { deleted: 3 };
  });
  const ok = await jobRun({ name: 'retention', textfileDir: dir }, r.deps);
  assert.equal(ok.exitCode, 0);
  assert.equal(ok.result, 'success');
  let m = samples(readFileSync(textfilePath(dir, 'retention'), 'utf8'));
  assert.equal(m.get('candlestack_job_last_run_status{task="retention"}'), 1);
  assert.equal(m.get('candlestack_job_last_success_timestamp_seconds{task="retention"}'), (T0 + 2_000) / 1000);
  assert.equal(m.get('candlestack_job_last_duration_seconds{task="retention"}'), 2);
  assert.equal(m.has('candlestack_job_last_failure_timestamp_seconds{task="retention"}'), false, 'no failure yet');

  fail = true;
  r.clock.advance(3_600_000);
  const ko = await jobRun({ name: 'retention', textfileDir: dir }, r.deps);
  assert.equal(ko.exitCode, 1);
  assert.equal(ko.result, 'failure');
  m = samples(readFileSync(textfilePath(dir, 'retention'), 'utf8'));
  assert.equal(m.get('candlestack_job_last_run_status{task="retention"}'), 0);
  assert.equal(m.get('candlestack_job_last_success_timestamp_seconds{task="retention"}'), (T0 + 2_000) / 1000, 'the last success survives');
  assert.equal(m.get('candlestack_job_last_failure_timestamp_seconds{task="retention"}'), (T0 + 3_604_000) / 1000);
  assert.equal(m.get('candlestack_job_runs_total{task="retention",result="success"}'), 1);
  assert.equal(m.get('candlestack_job_runs_total{task="retention",result="failure"}'), 1);
  assert.equal(r.closed(), 2, 'the store is closed after each run');
  assert.deepEqual(readdirSync(dir), ['candlestack_retention.prom'], 'no temporary file left behind');
});

test('job run: a run outliving its timeout is aborted and recorded as timeout (KO, exit 1)', async (t) => {
  const dir = tempDir(t);
  let aborted: unknown;
  const r = rig(
    (ctx) =>
      new Promise((_, reject) => {
        ctx.signal.addEventListener('abort', () => {
          aborted = ctx.signal.reason;
          reject(ctx.signal.reason);
        });
      }),
  );
  const pending = jobRun({ name: 'retention', textfileDir: dir, timeoutMs: 90_000 }, r.deps);
  await until('the run is waiting on its timeout', () => r.clock.pending() > 0);
  r.clock.advance(89_999);
  await sleep(10);
  assert.equal(aborted, undefined, 'not aborted before its timeout');
  r.clock.advance(1);
  const out = await pending;
  assert.ok((aborted as unknown as object) instanceof JobTimeoutError, 'the job sees the abort');
  assert.equal(out.exitCode, 1);
  assert.equal(out.result, 'timeout');
  const m = samples(readFileSync(textfilePath(dir, 'retention'), 'utf8'));
  assert.equal(m.get('candlestack_job_last_run_status{task="retention"}'), 0);
  assert.equal(m.get('candlestack_job_runs_total{task="retention",result="timeout"}'), 1);
  assert.equal(m.get('candlestack_job_last_duration_seconds{task="retention"}'), 90);
});

test('job run: the configured jobs.<name>.timeoutMs applies when --timeout is not given', async (t) => {
  const dir = tempDir(t);
  const r = rig(() => new Promise(() => {}));
  (r.deps.config as unknown as { jobs: unknown }).jobs = { retention: { timeoutMs: 5_000 } };
  const pending = jobRun({ name: 'retention', textfileDir: dir }, r.deps);
  await until('the run is waiting on its timeout', () => r.clock.pending() > 0);
  r.clock.advance(5_000);
  assert.equal((await pending).result, 'timeout');
});

for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
  test(`job run: ${signal} during the run writes KO and exits ${code}; the job is aborted`, async (t) => {
    const dir = tempDir(t);
    let aborted = false;
    const r = rig((ctx) => new Promise(() => ctx.signal.addEventListener('abort', () => (aborted = true))));
    const pending = jobRun({ name: 'retention', textfileDir: dir }, r.deps);
    await until('the run started', () => r.clock.pending() > 0);
    r.clock.advance(1_500);
    r.signals.emit(signal);
    const out = await pending;
    assert.equal(out.exitCode, code);
    assert.equal(out.signal, signal);
    assert.equal(aborted, true);
    const m = samples(readFileSync(textfilePath(dir, 'retention'), 'utf8'));
    assert.equal(m.get('candlestack_job_last_run_status{task="retention"}'), 0);
    assert.equal(m.get('candlestack_job_runs_total{task="retention",result="failure"}'), 1);
    assert.equal(r.signals.listenerCount(signal), 0, 'the handlers are removed');
  });
}

test('job run: a store that does not open is a failed run (KO); a job not built is exit 2 with no file', async (t) => {
  const dir = tempDir(t);
  const r = rig(async () => 0);
  r.deps.openStore = async () => {
    throw new Error('database is locked');
  };
  const out = await jobRun({ name: 'retention', textfileDir: dir }, r.deps);
  assert.equal(out.exitCode, 1);
  assert.equal(samples(readFileSync(textfilePath(dir, 'retention'), 'utf8')).get('candlestack_job_last_run_status{task="retention"}'), 0);

  const other = tempDir(t);
  const missing = await jobRun({ name: 'vacuum', textfileDir: other }, rig(async () => 0).deps);
  assert.equal(missing.exitCode, 2);
  assert.deepEqual(readdirSync(other), []);
});

test('job run: an unreadable previous file is replaced (counts restart), not fatal', async (t) => {
  const dir = tempDir(t);
  writeFileSync(textfilePath(dir, 'retention'), 'candlestack_job_runs_total{task="retention",result="succ');
  const out = await jobRun({ name: 'retention', textfileDir: dir }, rig(async () => 0).deps);
  assert.equal(out.exitCode, 0);
  const m = samples(readFileSync(textfilePath(dir, 'retention'), 'utf8'));
  assert.equal(m.get('candlestack_job_runs_total{task="retention",result="success"}'), 1);
});

test('candlestack job run retention: a real SQLite store, exit 0 and an OK textfile; usage errors exit 2 with one line and no file', (t) => {
  const dir = tempDir(t);
  const db = join(dir, 'candles.db');
  const ok = cli(['job', 'run', 'retention', '--store', `sqlite:${db}`, '--textfile-dir', dir]);
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  const m = samples(readFileSync(textfilePath(dir, 'retention'), 'utf8'));
  assert.equal(m.get('candlestack_job_last_run_status{task="retention"}'), 1);
  assert.ok(Math.abs(m.get('candlestack_job_last_success_timestamp_seconds{task="retention"}')! - Date.now() / 1000) < 30);

  for (const [args, pattern] of [
    [['job', 'run', 'nope', '--textfile-dir', dir], /job run: unknown job "nope"; expected one of retention, gap-sweep, integrity, report, vacuum/],
    [['job', 'run', '--textfile-dir', dir], /missing the job name/],
    [['job', 'list'], /expected 'job run NAME'/],
    [['job', 'run', 'retention', '--timeout', 'soon'], /--timeout: expected a duration/],
    [['job', 'run', 'retention', '--bogus'], /--bogus/],
    [['jobs', 'show'], /expected 'jobs list'/],
  ] as [string[], RegExp][]) {
    const r = cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
  assert.equal(existsSync(textfilePath(dir, 'nope')), false);

  // the store cannot open (its directory is a file): KO, exit 1
  writeFileSync(join(dir, 'blocker'), '');
  const bad = cli(['job', 'run', 'retention', '--store', `sqlite:${join(dir, 'blocker', 'x.db')}`, '--textfile-dir', dir]);
  assert.equal(bad.code, 1, bad.stderr);
  assert.equal(samples(readFileSync(textfilePath(dir, 'retention'), 'utf8')).get('candlestack_job_last_run_status{task="retention"}'), 0);
  assert.equal(cli(['job', '--help']).code, 0);
  assert.match(cli(['jobs', '--help']).stdout, /Usage: candlestack jobs list/);
});

test('jobs list: an aligned table from /api/jobs; an unreachable instance is one line and exit 1', async (t) => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  const body = {
    jobs: [
      { name: 'retention', schedule: '17 * * * *', enabled: true, running: false, nextRunAt: now + 17 * 60_000, lastRun: { at: new Date(now - 43 * 60_000).toISOString(), result: 'success', durationMs: 420 } },
      { name: 'gap-sweep', schedule: '*/15 * * * *', enabled: true, running: true, nextRunAt: new Date(now + 5 * 60_000).toISOString(), lastRun: { at: now - 10 * 60_000, result: 'failure', durationMs: 12_300 } },
      { name: 'vacuum', schedule: '0 4 * * 0', enabled: false, running: false, nextRunAt: null, lastRun: null },
    ],
  };
  let path = '';
  const server = createServer((req, res) => {
    path = req.url ?? '';
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  let stdout = '';
  let stderr = '';
  const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, now: () => now } as never;
  assert.equal(await jobsList(url, io), 0, stderr);
  assert.equal(path, '/api/jobs');
  const lines = stdout.trimEnd().split('\n');
  assert.equal(lines.length, 4);
  assert.match(lines[0]!, /^JOB\s+SCHEDULE\s+ENABLED\s+RUNNING\s+LAST RUN\s+RESULT\s+DURATION\s+NEXT RUN$/);
  assert.match(lines[1]!, /^retention\s+17 \* \* \* \*\s+yes\s+no\s+43 min ago\s+success\s+0\.4 s\s+in 17 min \(2026-01-01T12:17:00Z\)$/);
  assert.match(lines[2]!, /^gap-sweep\s+\*\/15 \* \* \* \*\s+yes\s+yes\s+10 min ago\s+failure\s+12\.3 s\s+in 5 min/);
  assert.match(lines[3]!, /^vacuum\s+0 4 \* \* 0\s+no\s+no\s+never\s+-\s+-\s+-$/);
  const col = lines[0]!.indexOf('LAST RUN');
  for (const l of lines.slice(1)) assert.match(l.slice(col), /^(\d+ min ago|never)/, 'columns are aligned');

  // the real command against the same server, then against a closed port
  const real = await cliAsync(['jobs', 'list', '--url', url]);
  assert.equal(real.code, 0, real.stderr);
  assert.match(real.stdout, /^JOB +SCHEDULE/);
  assert.match(real.stdout, /\nretention +17 \* \* \* \* +yes +no +\d+ (min|h|d)/);
  server.close();
  await sleep(50);
  stdout = stderr = '';
  assert.equal(await jobsList(url, io), 1);
  assert.equal(stdout, '');
  assert.match(stderr, /^candlestack: cannot reach http:\/\/127\.0\.0\.1:\d+\/api\/jobs \(ECONNREFUSED\): is a candlestack instance running there\?\n$/);
  const dead = cli(['jobs', 'list', '--url', url]);
  assert.equal(dead.code, 1);
  assert.equal(dead.stderr.trim().split('\n').length, 1);
});

test('relativeTime and an empty table', () => {
  assert.equal(relativeTime(1_000, 1_500), 'just now');
  assert.equal(relativeTime(0, 42_000), '42 s ago');
  assert.equal(relativeTime(0, 3 * 3_600_000 + 5 * 60_000), '3 h 5 min ago');
  assert.equal(relativeTime(2 * 86_400_000, 0), 'in 2 d');
  assert.equal(formatJobsTable([], 0).split('\n').length, 2);
});

test('candlestack job run in a real process: SIGTERM while stuck (a store that never answers) writes KO, exit 143; --timeout covers the connect, exit 1', async (t) => {
  const dir = tempDir(t);
  // a "PostgreSQL" that accepts connections and never says a word
  const sockets = new Set<import('node:net').Socket>();
  const silent = createNetServer((s) => sockets.add(s));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const store = `postgres://candlestack@127.0.0.1:${(silent.address() as { port: number }).port}/candlestack`;

  const child = spawn(process.execPath, [MAIN, 'job', 'run', 'retention', '--store', store, '--textfile-dir', dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await until('the job connects to the silent store', () => sockets.size > 0, 10_000);
  child.kill('SIGTERM');
  assert.equal(await exited, 143, output);
  const m = samples(readFileSync(textfilePath(dir, 'retention'), 'utf8'));
  assert.equal(m.get('candlestack_job_last_run_status{task="retention"}'), 0);
  assert.equal(m.get('candlestack_job_runs_total{task="retention",result="failure"}'), 1);

  const started = Date.now();
  const timed = await cliAsync(['job', 'run', 'retention', '--store', store, '--textfile-dir', dir, '--timeout', '1500ms']);
  assert.equal(timed.code, 1, timed.stderr + timed.stdout);
  assert.ok(Date.now() - started < 10_000, 'the timeout ends the run');
  const after = samples(readFileSync(textfilePath(dir, 'retention'), 'utf8'));
  assert.equal(after.get('candlestack_job_runs_total{task="retention",result="timeout"}'), 1);
  assert.equal(after.get('candlestack_job_runs_total{task="retention",result="failure"}'), 1, 'carried over');
  assert.ok(after.get('candlestack_job_last_duration_seconds{task="retention"}')! >= 1.5);
});

test('job run: a textfile directory that does not exist turns a successful run into exit 1 (the monitoring would miss it)', async (t) => {
  const dir = join(tempDir(t), 'missing');
  const out = await jobRun({ name: 'retention', textfileDir: dir }, rig(async () => 0).deps);
  assert.equal(out.result, 'success');
  assert.equal(out.exitCode, 1);
});
