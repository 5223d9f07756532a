/**
 * 6. Jobs: seed 004's CRON panels (last success, last status OK/KO in green/red, duration) and seed 001's
 * Airflow panels (runs by result, success rate, next run, scheduler heartbeat) for every job: backfill, the
 * scheduled jobs (retention, gap-sweep, integrity, report, vacuum) and the same jobs run from cron through
 * node-exporter's textfile (`candlestack job run --textfile-dir`, arriving with job="node-exporter").
 */
import { above, below, informational, upDown, vars, type DashboardSpec } from '../builder.js';

// The metrics' `job` label collides with the scrape job: Prometheus keeps it as `task`.
const J = 'task=~"$batch_job"';

export const jobs: DashboardSpec = {
  uid: 'candlestack-jobs',
  title: 'candlestack / Jobs',
  description: 'Batch jobs (backfill after gaps, the scheduled jobs, the same jobs run from cron): did they run, did they succeed, how long did they take, when do they run next.',
  tags: ['jobs'],
  variables: [{ name: 'batch_job', label: 'Job', query: 'label_values(candlestack_job_runs_total, task)', multi: true }, vars.exchange()],
  rows: [
    {
      title: 'Health',
      panels: [
        {
          title: 'Last success',
          description: 'When each job last succeeded, as "x minutes ago" (in-process runs and cron runs through the textfile alike).',
          type: 'stat',
          unit: 'dateTimeFromNow',
          thresholds: informational,
          w: 6,
          targets: [{ expr: `max by (task) (candlestack_job_last_success_timestamp_seconds{${J}}) * 1000`, legend: '{{task}}' }],
        },
        {
          title: 'Last run',
          description: 'Result of the last run: OK (green) or KO (red), as seed 004 shows its cron jobs. JobFailed when KO for 5 min.',
          type: 'stat',
          unit: 'short',
          thresholds: upDown,
          w: 6,
          mappings: [
            { value: 0, text: 'KO', color: 'red' },
            { value: 1, text: 'OK', color: 'green' },
          ],
          targets: [{ expr: `min by (task) (candlestack_job_last_run_status{${J}})`, legend: '{{task}}' }],
        },
        {
          title: 'Time since last success',
          description: 'Hourly jobs (retention, gap-sweep): orange after 2 h, red after 3 h; JobNotSucceededRecently fires at 3 h for hourly jobs, 26 h for daily ones (integrity, report) and 8 d for the weekly vacuum. Backfill runs only when a gap is pending.',
          type: 'bargauge',
          unit: 's',
          thresholds: above(7200, 10800),
          w: 6,
          targets: [{ expr: `task:candlestack_job_last_success_age:seconds{${J}}`, legend: '{{task}}' }],
        },
        {
          title: 'Success rate',
          description: 'Successful runs / all runs: red below 90%, orange below 99%.',
          unit: 'percentunit',
          thresholds: below(0.9, 0.99),
          min: 0,
          max: 1,
          w: 6,
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
      title: 'Schedule',
      panels: [
        {
          title: 'Next run',
          description: 'When the scheduler runs each job next ("in x minutes"); empty for disabled jobs and where no scheduler runs.',
          type: 'stat',
          unit: 'dateTimeFromNow',
          thresholds: informational,
          targets: [{ expr: `min by (task) (candlestack_job_next_run_timestamp_seconds{${J}}) * 1000`, legend: '{{task}}' }],
        },
        {
          title: 'Running now',
          description: 'Runs in progress per job (0 or 1: runs of one job never overlap; an overlapping tick is counted as skipped_overlap).',
          type: 'stat',
          unit: 'short',
          thresholds: informational,
          targets: [{ expr: `sum by (task) (candlestack_job_running{${J}})`, legend: '{{task}}' }],
        },
        {
          title: 'Scheduler heartbeat age',
          description: 'Seconds since each scheduler (run, demo, process) last checked its schedules; it does every 10 s. Orange after 30 s, red after 60 s (SchedulerHeartbeatMissing).',
          type: 'stat',
          unit: 's',
          thresholds: above(30, 60),
          targets: [
            {
              expr: 'time() - max by (instance) (candlestack_scheduler_heartbeat_timestamp_seconds) and on (instance) max by (instance) (candlestack_build_info{role=~"run|demo|process"})',
              legend: '{{instance}}',
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
          description: 'p95 and average run duration of the in-process runs (Airflow: DAG run duration). The duration of a cron run is in its textfile as candlestack_job_last_duration_seconds.',
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
