/**
 * `candlestack job run NAME` (one run of a named job, for cron, systemd timers or an Airflow BashOperator;
 * exit 0 on success, 1 on failure or timeout) and `candlestack jobs list` (the scheduler's view, from a
 * running instance's /api/jobs).
 *
 * With --textfile-dir the run's health goes to node-exporter's textfile collector (src/jobs/textfile.ts).
 * Like seed 004's trap, KO is written on every failure path once the job is known: the store does not open,
 * the job throws, it outlives --timeout, or SIGTERM/SIGINT arrive during the run (KO, then exit 143/130).
 * An unknown job name is a usage error: exit 2, and no file.
 */
import { parseArgs } from 'node:util';
import type { Clock } from '../core/clock.js';
import { CandlestackError, ConfigError } from '../core/errors.js';
import { SETTING_OPTIONS, loadConfig, settingFlags, settingsHelp, type Config } from '../config/config.js';
import { duration } from '../config/fields.js';
import { JobTimeoutError, runJob, type Job, type JobResult } from '../jobs/job.js';
import { recordTextfileRun } from '../jobs/textfile.js';
import type { JobDeps } from '../jobs/registry.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import { createMetrics, createRegistry } from '../telemetry/metrics.js';
import { buildBackfillSources } from '../app/parts.js';

// The job names (the `task` label) come from the jobs config: `job run` checks one before opening the store.
import { JOB_NAMES } from '../config/jobs-config.js';

const DEFAULT_TIMEOUT_MS = 10 * 60_000;
const MAX_TIMEOUT_MS = 7 * 86_400_000;

export const JOB_HELP = () => `Usage: candlestack job run NAME [--textfile-dir DIR] [--timeout DURATION] [flags]

Runs job NAME (${JOB_NAMES.join(', ')}) once against the configured store and exits: 0 when it
succeeded, 1 when it failed or timed out, 2 on a usage error. For cron, systemd timers or an Airflow
BashOperator; a running 'run' or 'process' instance schedules the same jobs itself.

Job flags:
  --textfile-dir DIR     after the run, write DIR/candlestack_<job>.prom for node-exporter's textfile
                         collector (last success/failure time, last status 1 OK / 0 KO, last duration, runs
                         by result); written to a temporary file and renamed. KO is written on every
                         failure: error, timeout, SIGTERM (exit 143) or SIGINT (exit 130) during the run
  --timeout DURATION     abort the run after DURATION (e.g. 90s, 10m; default the job's configured timeout,
                         or 10m)

Flags:
${settingsHelp()}
  -h, --help             show this help
`;

export const JOBS_HELP = `Usage: candlestack jobs list [--url URL] [--config FILE] [--port PORT]

Lists the jobs a running instance schedules (GET URL/api/jobs): schedule, enabled, running, last run (when
and its result) and next run. URL defaults to http://127.0.0.1:<configured port>. Exit 1 when the instance
cannot be reached.

Flags:
  --url URL              the instance's base URL
  --config FILE, --port PORT  as for 'run' (to find the default URL)
  -h, --help             show this help
`;

/** A usage error of `job` / `jobs` (printed as one line, exit 2). */
export class JobUsageError extends CandlestackError {
  override name = 'JobUsageError';
  constructor(message: string) {
    super('usage', message);
  }
}

export interface JobRunArgs {
  name: string;
  textfileDir?: string;
  /** From --timeout; undefined: the job's configured timeout, or 10m. */
  timeoutMs?: number;
}

function parse(command: string, argv: string[], extra: Record<string, { type: 'string' | 'boolean'; short?: string }>): { values: Record<string, unknown>; positionals: string[] } {
  try {
    return parseArgs({ args: argv, options: { ...SETTING_OPTIONS, ...extra, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true });
  } catch (err) {
    const message = (err as Error).message.split('\n')[0]!.replace(/\. To specify a positional argument.*$/s, '');
    throw new JobUsageError(`${message} (see candlestack ${command} --help)`);
  }
}

/** `job run NAME ...` -> args and the config, or 'help'. */
export function parseJobArgs(argv: string[], env: NodeJS.ProcessEnv): 'help' | { args: JobRunArgs; config: Config } {
  const { values, positionals } = parse('job', argv, { 'textfile-dir': { type: 'string' }, timeout: { type: 'string' } });
  if (values.help) return 'help';
  const [sub, name, ...more] = positionals;
  if (sub !== 'run') throw new JobUsageError(`expected 'job run NAME', got ${sub === undefined ? 'nothing' : JSON.stringify(`job ${sub}`)} (see candlestack job --help)`);
  if (name === undefined) throw new JobUsageError(`job run: missing the job name; expected one of ${JOB_NAMES.join(', ')}`);
  if (more.length > 0) throw new JobUsageError(`job run: unexpected argument ${JSON.stringify(more[0])} (one job per run)`);
  if (!(JOB_NAMES as readonly string[]).includes(name)) throw new JobUsageError(`job run: unknown job ${JSON.stringify(name)}; expected one of ${JOB_NAMES.join(', ')}`);
  const config = loadConfig({ file: values.config as string | undefined, env, flags: settingFlags(values) });
  const args: JobRunArgs = { name };
  const dir = values['textfile-dir'] as string | undefined;
  if (dir !== undefined) {
    if (dir === '') throw new ConfigError('--textfile-dir', 'a directory', dir);
    args.textfileDir = dir;
  }
  if (values.timeout !== undefined) args.timeoutMs = duration(1, MAX_TIMEOUT_MS)(values.timeout, '--timeout');
  return { args, config };
}

/** The job's timeout from the `jobs:` config when that section exists (`jobs.<name>.timeoutMs`), else undefined. */
export function configuredTimeoutMs(config: Config, name: string): number | undefined {
  const jobs = (config as unknown as { jobs?: Record<string, { timeoutMs?: unknown } | undefined> }).jobs;
  const t = jobs?.[name]?.timeoutMs;
  return typeof t === 'number' && t > 0 ? t : undefined;
}

/** The signals a run listens to (process in production, an EventEmitter in tests). */
export interface SignalSource {
  on(signal: 'SIGTERM' | 'SIGINT', fn: () => void): unknown;
  off(signal: 'SIGTERM' | 'SIGINT', fn: () => void): unknown;
}

export interface JobRunDeps {
  config: Config;
  buildJobs: (config: Config, deps: JobDeps) => Job[];
  openStore: (config: Config, deps: { clock: Clock; log: Logger; metrics: ReturnType<typeof createMetrics> }) => Promise<Store>;
  clock: Clock;
  log: Logger;
  signals: SignalSource;
}

export interface JobRunOutcome {
  exitCode: number;
  result?: JobResult;
  /** The signal that stopped the run. */
  signal?: 'SIGTERM' | 'SIGINT';
  textfile?: string;
}

const SIGNAL_EXIT = { SIGTERM: 143, SIGINT: 130 } as const;

/** One run of `args.name`; never throws for the job's own failures (they are its exit code). */
export async function jobRun(args: JobRunArgs, deps: JobRunDeps): Promise<JobRunOutcome> {
  const { clock, config } = deps;
  const log = deps.log.child({ component: 'job', job: args.name });
  const metrics = createMetrics(createRegistry({ defaults: false }));
  const started = clock.now();
  const controller = new AbortController();

  let stopSignal: 'SIGTERM' | 'SIGINT' | undefined;
  let onSignal: ((s: 'SIGTERM' | 'SIGINT') => void) | undefined;
  const stopped = new Promise<'signal'>((resolve) => {
    onSignal = (s) => {
      stopSignal ??= s;
      resolve('signal');
    };
  });
  const onTerm = () => onSignal!('SIGTERM');
  const onInt = () => onSignal!('SIGINT');
  deps.signals.on('SIGTERM', onTerm);
  deps.signals.on('SIGINT', onInt);

  // The timeout covers the whole run, opening the store included: a run stuck connecting times out too.
  const timeoutMs = args.timeoutMs ?? configuredTimeoutMs(config, args.name) ?? DEFAULT_TIMEOUT_MS;
  let timer: { cancel(): void } | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = clock.setTimeout(() => resolve('timeout'), timeoutMs)));

  let store: Store | undefined;
  let result: JobResult;
  let unavailable = false;
  try {
    const work = (async (): Promise<JobResult | 'unavailable'> => {
      store = await deps.openStore(config, { clock, log, metrics });
      const job = deps.buildJobs(config, { store, clock, metrics, log, sources: buildBackfillSources(config, { clock, metrics, log }) }).find((j) => j.name === args.name);
      if (!job) return 'unavailable';
      if (controller.signal.aborted) return 'failure';
      let succeeded = false;
      await runJob(args.name, { clock, metrics: metrics.jobs, log }, async () => {
        const summary = await job.run({ signal: controller.signal, log });
        succeeded = !controller.signal.aborted;
        if (succeeded) log.info({ summary }, 'job succeeded');
        return summary;
      });
      return succeeded ? 'success' : 'failure';
    })().catch((err: unknown): JobResult => {
      log.error({ err }, 'job could not run');
      return 'failure';
    });
    const first = await Promise.race([work, stopped, timedOut]);
    if (first === 'signal') {
      controller.abort(new Error(`stopped by ${stopSignal}`));
      log.error({ signal: stopSignal }, 'job stopped by a signal before it finished');
      result = 'failure';
    } else if (first === 'timeout') {
      controller.abort(new JobTimeoutError(args.name, timeoutMs));
      log.error({ timeoutMs }, 'job timed out');
      result = 'timeout';
    } else if (first === 'unavailable') {
      unavailable = true;
      result = 'failure';
    } else {
      result = first;
    }
  } finally {
    timer?.cancel();
    deps.signals.off('SIGTERM', onTerm);
    deps.signals.off('SIGINT', onInt);
  }

  const durationMs = clock.now() - started;
  if (unavailable) {
    await closeQuietly(store, log);
    log.error({}, `job ${args.name} is not built in this version`);
    return { exitCode: 2 };
  }
  const out: JobRunOutcome = { exitCode: stopSignal ? SIGNAL_EXIT[stopSignal] : result === 'success' ? 0 : 1, result, ...(stopSignal ? { signal: stopSignal } : {}) };
  // The textfile first: a stopped or timed-out run may hold the store, and its close may wait.
  if (args.textfileDir !== undefined) {
    try {
      const written = await recordTextfileRun(args.textfileDir, args.name, { result, at: clock.now(), durationMs });
      if (written.warning) log.warn({ textfile: written.path }, written.warning);
      out.textfile = written.path;
    } catch (err) {
      log.error({ err, dir: args.textfileDir }, 'could not write the textfile');
      if (out.exitCode === 0) out.exitCode = 1;
    }
  }
  await closeQuietly(store, log);
  log.info({ result, durationMs, exitCode: out.exitCode }, `job ${args.name}: ${result} in ${durationMs} ms`);
  return out;
}

/** Closes the store, giving up after 5 s (a run stopped mid-query may hold it). */
async function closeQuietly(store: Store | undefined, log: Logger): Promise<void> {
  if (!store) return;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([store.close(), new Promise((resolve) => (timer = setTimeout(resolve, 5_000)))]);
  } catch (err) {
    log.warn({ err }, 'store close failed');
  } finally {
    clearTimeout(timer);
  }
}

// ── jobs list ─────────────────────────────────────────────────────────────────────────────────────

export interface JobListEntry {
  name: string;
  schedule: string;
  enabled: boolean;
  running: boolean;
  nextRunAt: number | string | null;
  lastRun: { at: number | string; result: string; durationMs: number } | null;
}

/** `jobs list ...` -> the base URL, or 'help'. */
export function parseJobsArgs(argv: string[], env: NodeJS.ProcessEnv): 'help' | { url: string } {
  const { values, positionals } = parse('jobs', argv, { url: { type: 'string' } });
  if (values.help) return 'help';
  const [sub, ...more] = positionals;
  if (sub !== 'list' || more.length > 0) throw new JobUsageError(`expected 'jobs list', got ${JSON.stringify(['jobs', ...positionals].join(' '))} (see candlestack jobs --help)`);
  if (values.url !== undefined) {
    const url = values.url as string;
    if (!/^https?:\/\/[^\s/]+/.test(url)) throw new ConfigError('--url', 'an http:// or https:// URL', url);
    return { url: url.replace(/\/+$/, '') };
  }
  const config = loadConfig({ file: values.config as string | undefined, env, flags: settingFlags(values) });
  return { url: `http://127.0.0.1:${config.http.port}` };
}

const toMs = (t: number | string): number => (typeof t === 'number' ? t : Date.parse(t));

/** "just now", "12 s ago", "5 min ago", "3 h ago", "2 d ago" (and "in 5 min" for the future). */
export function relativeTime(at: number, now: number): string {
  if (!Number.isFinite(at)) return '-';
  const d = Math.abs(now - at);
  const text = d < 1_000 ? null : d < 60_000 ? `${Math.floor(d / 1_000)} s` : d < 3_600_000 ? `${Math.floor(d / 60_000)} min` : d < 86_400_000 ? `${Math.floor(d / 3_600_000)} h ${Math.floor((d % 3_600_000) / 60_000)} min` : `${Math.floor(d / 86_400_000)} d`;
  if (text === null) return 'just now';
  return at <= now ? `${text} ago` : `in ${text}`;
}

/** The aligned table `jobs list` prints. */
export function formatJobsTable(jobs: JobListEntry[], now: number): string {
  const rows = [['JOB', 'SCHEDULE', 'ENABLED', 'RUNNING', 'LAST RUN', 'RESULT', 'DURATION', 'NEXT RUN']];
  for (const j of jobs) {
    rows.push([
      j.name,
      j.schedule,
      j.enabled ? 'yes' : 'no',
      j.running ? 'yes' : 'no',
      j.lastRun ? relativeTime(toMs(j.lastRun.at), now) : 'never',
      j.lastRun ? j.lastRun.result : '-',
      j.lastRun ? `${(j.lastRun.durationMs / 1000).toFixed(1)} s` : '-',
      j.nextRunAt === null || !j.enabled ? '-' : `${relativeTime(toMs(j.nextRunAt), now)} (${new Date(toMs(j.nextRunAt)).toISOString().replace(/\.\d{3}Z$/, 'Z')})`,
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

/** GET URL/api/jobs and print the table; exit 1 (one line) when unreachable or the answer is not the expected shape. */
export async function jobsList(url: string, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; now: () => number }): Promise<number> {
  let body: unknown;
  try {
    const res = await fetch(`${url}/api/jobs`, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) {
      io.stderr.write(`candlestack: ${url}/api/jobs answered ${res.status}${res.status === 404 ? ' (no scheduler on this instance: it runs in run, demo and process)' : ''}\n`);
      return 1;
    }
    body = await res.json();
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    io.stderr.write(`candlestack: cannot reach ${url}/api/jobs (${cause}): is a candlestack instance running there?\n`);
    return 1;
  }
  const jobs = (body as { jobs?: unknown }).jobs;
  if (!Array.isArray(jobs)) {
    io.stderr.write(`candlestack: ${url}/api/jobs did not answer { jobs: [...] }\n`);
    return 1;
  }
  io.stdout.write(jobs.length === 0 ? 'no jobs configured\n' : formatJobsTable(jobs as JobListEntry[], io.now()));
  return 0;
}
