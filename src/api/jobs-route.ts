/**
 * GET /api/jobs (ApiServer of run/demo, RoleServer of process): the scheduler's view of each job, read by
 * `candlestack jobs list`. The shape is stable (ARCHITECTURE.md, "Scheduled jobs"):
 * `{ jobs: [{ name, schedule, enabled, running, nextRunAt, lastRun: { at, result, durationMs } | null }] }`,
 * times in epoch ms. 503 `jobs_unavailable` where no scheduler runs.
 */
import type { ServerResponse } from 'node:http';
import type { JobStatus } from '../jobs/scheduler.js';
import { sendError, sendJson } from './http.js';
import { rejectUnknown } from './params.js';

export interface JobsSource {
  status(): JobStatus[];
}

export function sendJobs(url: URL, res: ServerResponse, jobs: JobsSource | null | undefined): void {
  rejectUnknown(url.searchParams, []);
  if (!jobs) return sendError(res, 503, 'jobs_unavailable', 'no job scheduler runs in this process');
  sendJson(res, 200, { jobs: jobs.status() });
}
