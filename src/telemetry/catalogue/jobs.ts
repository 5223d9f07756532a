/** Jobs slice: every batch job run (src/jobs/job.ts: retention, backfill). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function jobMetrics(registry: Registry) {
  const r = [registry];
  return {
    jobRuns: new Counter({
      name: 'candlestack_job_runs_total',
      help: 'Batch job runs by result (success, failure).',
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
