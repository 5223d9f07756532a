/** Jobs slice: every batch job run (src/jobs/job.ts: retention, backfill, the scheduled jobs) and the scheduler. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function jobMetrics(registry: Registry) {
  const r = [registry];
  return {
    jobRuns: new Counter({
      name: 'candlestack_job_runs_total',
      help: 'Batch job runs by result (success, failure, timeout, skipped_overlap).',
      labelNames: ['task', 'result'] as const,
      registers: r,
    }),
    jobLastSuccess: new Gauge({
      name: 'candlestack_job_last_success_timestamp_seconds',
      help: 'Time of the last successful run of the job.',
      labelNames: ['task'] as const,
      registers: r,
    }),
    jobLastStatus: new Gauge({
      name: 'candlestack_job_last_run_status',
      help: '1 when the last run of the job succeeded, 0 when it failed.',
      labelNames: ['task'] as const,
      registers: r,
    }),
    jobLastFailure: new Gauge({
      name: 'candlestack_job_last_failure_timestamp_seconds',
      help: 'Time of the last failed (or timed-out) run of the job.',
      labelNames: ['task'] as const,
      registers: r,
    }),
    jobRunning: new Gauge({
      name: 'candlestack_job_running',
      help: 'Runs of the job in progress (0 or 1: runs of one job never overlap).',
      labelNames: ['task'] as const,
      registers: r,
    }),
    jobNextRun: new Gauge({
      name: 'candlestack_job_next_run_timestamp_seconds',
      help: 'When the scheduler runs the job next.',
      labelNames: ['task'] as const,
      registers: r,
    }),
    schedulerHeartbeat: new Gauge({
      name: 'candlestack_scheduler_heartbeat_timestamp_seconds',
      help: 'Last time the job scheduler checked its schedules (it does at least every 10 s while it runs).',
      registers: r,
    }),
    jobDuration: new Histogram({
      name: 'candlestack_job_duration_seconds',
      help: 'Batch job run duration.',
      labelNames: ['task'] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      registers: r,
    }),
  };
}

export type JobMetrics = ReturnType<typeof jobMetrics>;
