/** Runs a batch job and records its health: runs by result, duration, last status, last success time. */
import type { Clock } from '../core/clock.js';
import type { Logger } from '../telemetry/logger.js';
import type { JobMetrics } from '../telemetry/metrics.js';

export async function runJob<T>(name: string, deps: { clock: Clock; metrics: JobMetrics; log: Logger }, fn: () => Promise<T>): Promise<T | undefined> {
  const { clock, metrics, log } = deps;
  const started = clock.now();
  try {
    const result = await fn();
    const now = clock.now();
    metrics.jobRuns.labels(name, 'success').inc();
    metrics.jobLastStatus.labels(name).set(1);
    metrics.jobLastSuccess.labels(name).set(now / 1000);
    metrics.jobDuration.labels(name).observe((now - started) / 1000);
    return result;
  } catch (err) {
    metrics.jobRuns.labels(name, 'failure').inc();
    metrics.jobLastStatus.labels(name).set(0);
    metrics.jobDuration.labels(name).observe((clock.now() - started) / 1000);
    log.error({ err, job: name }, 'job failed');
    return undefined;
  }
}
