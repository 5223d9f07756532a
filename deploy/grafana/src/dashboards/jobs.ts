/** 6. Jobs: seed 004's CRON panels (last success, last status, duration) and seed 001's Airflow panels (runs, success rate) mapped onto backfill and retention. */
import { above, below, informational, upDown, vars, type DashboardSpec } from '../builder.js';

// The metrics' `job` label collides with the scrape job: Prometheus keeps it as `task`.
const J = 'task=~"$batch_job"';

export const jobs: DashboardSpec = {
  uid: 'candlestack-jobs',
  title: 'candlestack / Jobs',
  description: 'Batch jobs (backfill after gaps, hourly retention): did they run, did they succeed, how long did they take.',
  tags: ['jobs'],
  variables: [{ name: 'batch_job', label: 'Job', query: 'label_values(candlestack_job_runs_total, task)', multi: true }, vars.exchange()],
  rows: [
    {
      title: 'Health',
      panels: [
        {
          title: 'Time since last success',
          description: 'Retention runs hourly: orange after 2 h, red after 3 h (JobNotSucceededRecently). Backfill runs only when a gap is pending.',
          type: 'bargauge',
          unit: 's',
          thresholds: above(7200, 10800),
          targets: [{ expr: `task:candlestack_job_last_success_age:seconds{${J}}`, legend: '{{task}}' }],
        },
        {
          title: 'Last run',
          description: 'Status of the last run (JobFailed when failed for 5 min).',
          type: 'stat',
          unit: 'short',
          thresholds: upDown,
          mappings: [
            { value: 0, text: 'FAILED', color: 'red' },
            { value: 1, text: 'OK', color: 'green' },
          ],
          targets: [{ expr: `candlestack_job_last_run_status{${J}}`, legend: '{{task}}' }],
        },
        {
          title: 'Success rate',
          description: 'Successful runs / all runs: red below 90%, orange below 99%.',
          unit: 'percentunit',
          thresholds: below(0.9, 0.99),
          min: 0,
          max: 1,
          targets: [
            {
              expr: `sum by (task) (rate(candlestack_job_runs_total{${J},result="success"}[$__rate_interval])) / sum by (task) (rate(candlestack_job_runs_total{${J}}[$__rate_interval]))`,
              legend: '{{task}}',
            },
          ],
        },
      ],
    },
    {
      title: 'Runs',
      panels: [
        {
          title: 'Runs by result',
          description: 'Job runs (Airflow: DAG runs) by result.',
          unit: 'short',
          thresholds: informational,
          bars: true,
          targets: [{ expr: `sum by (task, result) (increase(candlestack_job_runs_total{${J}}[$__rate_interval]))`, legend: '{{task}} {{result}}' }],
        },
        {
          title: 'Duration',
          description: 'p95 and average run duration (Airflow: DAG run duration).',
          unit: 's',
          thresholds: informational,
          targets: [
            { expr: `histogram_quantile(0.95, sum by (task, le) (rate(candlestack_job_duration_seconds_bucket{${J}}[$__rate_interval])))`, legend: 'p95 {{task}}' },
            { expr: `sum by (task) (rate(candlestack_job_duration_seconds_sum{${J}}[$__rate_interval])) / sum by (task) (rate(candlestack_job_duration_seconds_count{${J}}[$__rate_interval]))`, legend: 'avg {{task}}' },
          ],
        },
        {
          title: 'Backfill work',
          description: 'Gaps waiting to be backfilled, and backfill attempts by result (Airflow: task failures).',
          unit: 'short',
          thresholds: informational,
          targets: [
            { expr: 'candlestack_backfill_pending{exchange=~"$exchange"}', legend: 'pending {{exchange}}' },
            { expr: 'sum by (exchange, result) (increase(candlestack_backfill_runs_total{exchange=~"$exchange"}[$__rate_interval]))', legend: 'attempts {{exchange}} {{result}}' },
          ],
        },
      ],
    },
  ],
};
