/**
 * The job scheduler of `run`/`demo` and `process`: runs each configured job (src/jobs/registry.ts) on its
 * cron schedule (5 fields, UTC), through `runJob`, so every run lands in the `candlestack_job_*` series.
 *
 * - croner only computes the next fire time; the timers are the injected clock's (tests run on FakeClock).
 *   A timer is never set further than a day ahead: a longer wait is re-armed when it fires.
 * - A disabled job is never scheduled. Runs of one job never overlap: a tick while the job still runs (or
 *   waits out its jitter) is recorded `skipped_overlap` and nothing starts.
 * - Jitter: each run starts a random 0..jitterMs after its tick (`random` is injectable).
 * - Timeout: the run's AbortSignal is aborted with a JobTimeoutError and the run is recorded `timeout` at its
 *   deadline; a job that ignores its signal still counts as running (next ticks are skipped) until it ends.
 * - Leader: with a `leader` lock, a tick runs the job only when `isLeader()` says so; a tick of a non-leader
 *   records nothing (it tries to become leader at each tick, so a dead leader is replaced).
 * - `candlestack_job_next_run_timestamp_seconds{task}` is set each time a job is scheduled, and
 *   `candlestack_scheduler_heartbeat_timestamp_seconds` at start and every 10 s.
 * - `stop()` cancels the timers, aborts the running jobs, waits for them to end and releases the lock.
 */
import { Cron } from 'croner';
import type { Clock, Timer } from '../core/clock.js';
import type { Service } from '../core/service.js';
import type { Logger } from '../telemetry/logger.js';
import type { JobMetrics } from '../telemetry/metrics.js';
import { JOB_RESULTS, JobTimeoutError, recordJobRun, runJob, type Job, type JobResult } from './job.js';
import type { LeaderLock } from './leader.js';
import type { Tracing } from '../telemetry/tracing.js';

export interface ScheduledJob {
  job: Job;
  /** Cron, 5 fields (minute hour day-of-month month day-of-week), UTC. */
  schedule: string;
  timeoutMs: number;
  jitterMs: number;
  enabled: boolean;
  /** Also run once right when the scheduler starts. */
  atStart?: boolean;
}

export interface SchedulerOptions {
  jobs: readonly ScheduledJob[];
  clock: Clock;
  metrics: JobMetrics;
  log: Logger;
  /** Without it this process is always leader. */
  leader?: LeaderLock;
  /** A number in [0, 1) for the jitter (default Math.random). */
  random?: () => number;
  /** Traces: each run is a root span `job <name>`. */
  tracing?: Tracing;
}

/** One job's state as GET /api/jobs (and `candlestack jobs list`) shows it. */
export interface JobStatus {
  name: string;
  schedule: string;
  enabled: boolean;
  /** A run of it is in progress here (or waits out its jitter). */
  running: boolean;
  /** Epoch ms of the next tick; null when disabled or the scheduler is stopped. */
  nextRunAt: number | null;
  /** The last run started here and finished (or skipped); null before the first. */
  lastRun: { at: number; result: JobResult; durationMs: number } | null;
}

export const HEARTBEAT_MS = 10_000;
/** Timers are armed at most this far ahead (setTimeout's limit is ~24.8 days; a long wait is re-armed). */
const MAX_TIMER_MS = 86_400_000;

/** A 5-field cron expression in UTC; throws croner's error when it is not one. */
export function parseCron(expr: string): Cron {
  return new Cron(expr, { paused: true, timezone: 'UTC', mode: '5-part' });
}

/** The first fire time strictly after `after` (epoch ms), or null when the expression never fires again. */
export function nextFireTime(cron: Cron, after: number): number | null {
  return cron.nextRun(new Date(after))?.getTime() ?? null;
}

class Entry {
  readonly cron: Cron;
  timer: Timer | null = null;
  nextRunAt: number | null = null;
  /** A run is in progress (until the job's own promise settles), or a jittered start waits. */
  active = false;
  abort: AbortController | null = null;
  lastRun: JobStatus['lastRun'] = null;
  constructor(readonly s: ScheduledJob) {
    this.cron = parseCron(s.schedule);
  }
}

export class Scheduler implements Service {
  readonly name = 'scheduler';
  private readonly entries: Entry[];
  private heartbeat: Timer | null = null;
  private started = false;
  private stopped = false;
  /** Tick handlers and runs in flight (for stop and `whenIdle`). */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly random: () => number;

  constructor(private readonly o: SchedulerOptions) {
    this.entries = o.jobs.map((s) => new Entry(s));
    this.random = o.random ?? Math.random;
    const names = o.jobs.map((s) => s.job.name);
    if (new Set(names).size !== names.length) throw new Error(`Scheduler: a job is listed twice (${names.join(', ')})`);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    // Every enabled job's series exist from the start (at 0): increase()-based alerts see the first failure
    // or timeout, and the dashboard shows "not running" instead of no data.
    const m = this.o.metrics;
    for (const e of this.entries) {
      if (!e.s.enabled) continue;
      const task = e.s.job.name;
      m.jobRunning.labels(task).set(0);
      for (const result of JOB_RESULTS) m.jobRuns.labels(task, result).inc(0);
    }
    this.beat();
    this.heartbeat = this.o.clock.setInterval(() => this.beat(), HEARTBEAT_MS);
    for (const e of this.entries) {
      if (!e.s.enabled) continue;
      this.arm(e, this.o.clock.now());
      if (e.s.atStart) this.track(this.tick(e, this.o.clock.now()));
    }
    this.o.log.info({ jobs: this.entries.map((e) => `${e.s.job.name}${e.s.enabled ? ` (${e.s.schedule})` : ' (disabled)'}`) }, 'job scheduler started');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.heartbeat?.cancel();
    for (const e of this.entries) {
      e.timer?.cancel();
      e.timer = null;
      e.nextRunAt = null;
      e.abort?.abort(new Error('the scheduler is stopping'));
    }
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    await this.o.leader?.release().catch((err: unknown) => this.o.log.warn({ err }, 'releasing the job leader lock failed'));
  }

  status(): JobStatus[] {
    return this.entries.map((e) => ({
      name: e.s.job.name,
      schedule: e.s.schedule,
      enabled: e.s.enabled,
      running: e.active,
      nextRunAt: e.nextRunAt,
      lastRun: e.lastRun,
    }));
  }

  /** Resolves once no tick is being handled and no run is in progress (tests). */
  async whenIdle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private beat(): void {
    this.o.metrics.schedulerHeartbeat.set(this.o.clock.now() / 1000);
  }

  /** Schedules the entry's next tick after `after`. */
  private arm(e: Entry, after: number): void {
    if (this.stopped) return;
    const next = nextFireTime(e.cron, after);
    e.nextRunAt = next;
    if (next === null) {
      this.o.metrics.jobNextRun.remove(e.s.job.name);
      this.o.log.warn({ job: e.s.job.name, schedule: e.s.schedule }, 'the job schedule fires no more; not scheduled');
      return;
    }
    this.o.metrics.jobNextRun.labels(e.s.job.name).set(next / 1000);
    this.wait(e, next);
  }

  private wait(e: Entry, at: number): void {
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, at - this.o.clock.now()));
    e.timer = this.o.clock.setTimeout(() => {
      e.timer = null;
      const now = this.o.clock.now();
      if (now < at) return this.wait(e, at);
      // Ticks missed while the process was suspended are not caught up: the next one is after now.
      this.arm(e, Math.max(at, now));
      this.track(this.tick(e, at));
    }, delay);
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async tick(e: Entry, at: number): Promise<void> {
    const name = e.s.job.name;
    const leader = this.o.leader ? await this.o.leader.isLeader() : true;
    if (this.stopped || !leader) return;
    if (e.active) {
      recordJobRun(this.o.metrics, name, 'skipped_overlap', this.o.clock.now());
      e.lastRun = { at: this.o.clock.now(), result: 'skipped_overlap', durationMs: 0 };
      this.o.log.warn({ job: name, tick: new Date(at).toISOString() }, 'job still running at its next tick; this run is skipped');
      return;
    }
    const jitter = e.s.jitterMs > 0 ? Math.floor(this.random() * (e.s.jitterMs + 1)) : 0;
    e.active = true;
    try {
      if (jitter > 0) await this.delay(e, jitter);
      if (!this.stopped) await this.execute(e);
    } finally {
      e.active = false;
      e.abort = null;
    }
  }

  /** Waits `ms` on the clock; resolves early when the scheduler stops. */
  private delay(e: Entry, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const abort = (e.abort = new AbortController());
      const timer = this.o.clock.setTimeout(resolve, ms);
      abort.signal.addEventListener('abort', () => (timer.cancel(), resolve()), { once: true });
    });
  }

  private async execute(e: Entry): Promise<void> {
    const abort = (e.abort = new AbortController());
    const run = await runWithTimeout(e.s.job, { timeoutMs: e.s.timeoutMs, signal: abort.signal, clock: this.o.clock, metrics: this.o.metrics, log: this.o.log.child({ job: e.s.job.name }), tracing: this.o.tracing });
    e.lastRun = { at: run.at, result: run.result, durationMs: run.durationMs };
    await run.settled; // the entry stays active until the job really ends, even past its timeout
  }
}

export interface TimedRun {
  result: Exclude<JobResult, 'skipped_overlap'>;
  /** Epoch ms the run started. */
  at: number;
  durationMs: number;
  /** What the job resolved with (its summary), undefined when it did not succeed. */
  value: unknown;
  /** Settles when the job's own promise does: later than the result when it ignored its signal past the timeout. */
  settled: Promise<void>;
}

/**
 * One run of `job` through runJob (the job-health metrics) with a timeout: at `timeoutMs` its signal is aborted
 * with a JobTimeoutError and the run is recorded `timeout`. Aborting `signal` (the scheduler stopping, a
 * SIGTERM) aborts the run too; it is then recorded as the job ends (usually `failure`). Never throws. The
 * scheduler runs every tick through it; `candlestack job run` can too.
 */
export async function runWithTimeout(job: Job, o: { timeoutMs: number; signal?: AbortSignal; clock: Clock; metrics: JobMetrics; log: Logger; tracing?: Tracing }): Promise<TimedRun> {
  const abort = new AbortController();
  const forward = () => abort.abort(o.signal?.reason);
  if (o.signal?.aborted) forward();
  else o.signal?.addEventListener('abort', forward, { once: true });
  const at = o.clock.now();
  let running: Promise<unknown> | undefined;
  let timer: Timer | undefined;
  let result: TimedRun['result'] = 'failure';
  const value = await runJob(job.name, o, async () => {
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = o.clock.setTimeout(() => {
        const err = new JobTimeoutError(job.name, o.timeoutMs);
        abort.abort(err);
        reject(err);
      }, o.timeoutMs);
    });
    running = Promise.resolve().then(() => {
      abort.signal.throwIfAborted(); // aborted before it began (an outside abort, a 0 ms timeout): not started
      return job.run({ signal: abort.signal, log: o.log });
    });
    try {
      const out = await Promise.race([running, timedOut]);
      result = 'success';
      return out;
    } catch (err) {
      if (err instanceof JobTimeoutError) result = 'timeout';
      throw err;
    } finally {
      timer?.cancel();
    }
  });
  const durationMs = o.clock.now() - at;
  const settled = (running ?? Promise.resolve()).then(
    () => undefined,
    () => undefined,
  );
  void settled.finally(() => o.signal?.removeEventListener('abort', forward));
  return { result, at, durationMs, value, settled };
}
