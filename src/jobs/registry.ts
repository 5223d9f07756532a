/**
 * The scheduled jobs, by name: `buildJobs` builds every job this build has, `scheduledJobs` pairs them with
 * their `jobs.<name>` config for the Scheduler. Adding a job is one line in JOB_BUILDERS (its name must be one
 * of JOB_NAMES, src/config/jobs-config.ts, which gives it its config entry and default schedule).
 */
import type { Clock } from '../core/clock.js';
import type { Config } from '../config/config.js';
import type { JobName } from '../config/jobs-config.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { BackfillSource } from './backfill.js';
import { gapSweepJob } from './gap-sweep.js';
import { integrityJob } from './integrity.js';
import type { Job } from './job.js';
import { configuredMarkets, reportJob, type MarketQuality } from './report.js';
import { repairJobDeps } from './repair-jobs.js';
import { RetentionJob } from './retention.js';
import type { ScheduledJob } from './scheduler.js';
import { VacuumJob } from './vacuum.js';

export interface JobDeps {
  store: Store;
  clock: Clock;
  metrics: Metrics;
  log: Logger;
  /** The exchanges' REST kline sources (src/app/parts.ts buildBackfillSources): gap-sweep and integrity need them. */
  sources?: ReadonlyMap<string, BackfillSource>;
  /** The QualityMonitor's scores, for the daily report (absent: the report has no quality line). */
  quality?: () => readonly MarketQuality[];
}

/** Builds the job, or undefined when a dependency it needs is not given (no REST sources: no repair jobs). */
type JobBuilder = (config: Config, deps: JobDeps) => Job | undefined;

/** One line per job. */
const JOB_BUILDERS: Partial<Record<JobName, JobBuilder>> = {
  retention: (config, { store, clock }) => new RetentionJob({ store, maxAgeMs: config.retention, clock }),
  vacuum: (_config, { store }) => new VacuumJob({ store }),
  'gap-sweep': (config, deps) => deps.sources && gapSweepJob(repairJobDeps(deps.sources, deps), { markets: seriesOf(config), timeframes: config.timeframes, graceMs: config.candles.graceMs }),
  integrity: (config, deps) => deps.sources && integrityJob(repairJobDeps(deps.sources, deps), { markets: seriesOf(config) }),
  report: (config, { store, clock, quality }) => reportJob({ store, clock, ...(quality ? { quality } : {}) }, { markets: configuredMarkets(config), timeframes: config.timeframes }),
};

/** Each configured exchange with its symbols. */
const seriesOf = (config: Config) => config.exchanges.map((ex) => ({ exchange: ex.id, symbols: ex.symbols }));

/** Every job this build has (the ones in JOB_BUILDERS whose dependencies are given), in JOB_BUILDERS order. */
export function buildJobs(config: Config, deps: JobDeps): Job[] {
  return Object.values(JOB_BUILDERS).flatMap((build) => build(config, deps) ?? []);
}

/** The jobs with their schedule, timeout, jitter and `enabled` from `config.jobs`. */
export function scheduledJobs(config: Config, jobs: readonly Job[]): ScheduledJob[] {
  return jobs.map((job) => {
    const c = config.jobs[job.name as JobName];
    if (!c) throw new Error(`job ${job.name} has no entry in the jobs config`);
    return { job, schedule: c.schedule, timeoutMs: c.timeoutMs, jitterMs: c.jitterMs, enabled: c.enabled, atStart: c.atStart };
  });
}
