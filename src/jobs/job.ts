/**
 * Batch jobs and their health. A `Job` is a named unit of work the scheduler (src/jobs/scheduler.ts), the
 * `candlestack job run NAME` command and the in-process callers run the same way: through `runJob`, which
 * records the seeds' job-health vocabulary (runs by result, duration, last status, last success and last
 * failure time, running).
 */
import type { Clock } from '../core/clock.js';
import type { Logger } from '../telemetry/logger.js';
import type { JobMetrics } from '../telemetry/metrics.js';
import { SpanKind } from '@opentelemetry/api';
import type { Tracing } from '../telemetry/tracing.js';

/** The job's name on its span (candlestack's own attribute; semconv has none for a scheduled job). */
export const ATTR_JOB_NAME = 'candlestack.job.name';

/** How a run ended: `timeout` when it outlived its timeout, `skipped_overlap` when a run of the same job was still going. */
export const JOB_RESULTS = ['success', 'failure', 'timeout', 'skipped_overlap'] as const;
export type JobResult = (typeof JOB_RESULTS)[number];

export interface JobContext {
  /** Aborted when the run times out or the process stops: long work checks it between steps. */
  readonly signal: AbortSignal;
  readonly log: Logger;
}

export interface Job {
  /** The `task` label and the name in config (`jobs.<name>`) and on the command line. */
  readonly name: string;
  /** One run; resolves with a summary for the log (e.g. rows deleted), rejects on failure. */
  run(ctx: JobContext): Promise<unknown>;
}

/** Thrown into a run that outlived its timeout (recorded as `timeout`). */
export class JobTimeoutError extends Error {
  override name = 'JobTimeoutError';
  constructor(job: string, timeoutMs: number) {
    super(`job ${job} did not finish within ${timeoutMs} ms`);
  }
}

/** Records one run's end in the job-health metrics (also used for `skipped_overlap`, which has no duration). */
export function recordJobRun(metrics: JobMetrics, name: string, result: JobResult, at: number, durationMs?: number): void {
  metrics.jobRuns.labels(name, result).inc();
  if (result === 'skipped_overlap') return;
  metrics.jobLastStatus.labels(name).set(result === 'success' ? 1 : 0);
  if (result === 'success') metrics.jobLastSuccess.labels(name).set(at / 1000);
  else metrics.jobLastFailure.labels(name).set(at / 1000);
  if (durationMs !== undefined) metrics.jobDuration.labels(name).observe(durationMs / 1000);
}

/** Runs `fn` as job `name` and records its health; a failure is logged and yields undefined (never throws). */
export async function runJob<T>(name: string, deps: { clock: Clock; metrics: JobMetrics; log: Logger; tracing?: Tracing }, fn: () => Promise<T>): Promise<T | undefined> {
  const { clock, metrics, log, tracing } = deps;
  const started = clock.now();
  const running = metrics.jobRunning.labels(name);
  running.inc();
  try {
    // With tracing, the run is one span `job <name>` (a root: runs start on a timer); what it calls (REST, the store) are its children.
    const result = tracing?.enabled ? await tracing.span(`job ${name}`, { kind: SpanKind.INTERNAL, attributes: { [ATTR_JOB_NAME]: name } }, fn) : await fn();
    recordJobRun(metrics, name, 'success', clock.now(), clock.now() - started);
    return result;
  } catch (err) {
    recordJobRun(metrics, name, err instanceof JobTimeoutError ? 'timeout' : 'failure', clock.now(), clock.now() - started);
    log.error({ err, job: name }, err instanceof JobTimeoutError ? 'job timed out' : 'job failed');
    return undefined;
  } finally {
    running.dec();
  }
}
