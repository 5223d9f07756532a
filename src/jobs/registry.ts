/**
 * The named jobs (`retention`, `gap-sweep`, `integrity`, `report`, `vacuum`) built from config, for the
 * scheduler and `candlestack job run NAME`. Minimal version: only `retention` (the scheduler's branch
 * brings the full registry and the `jobs:` config).
 */
import type { Clock } from '../core/clock.js';
import type { Timeframe } from '../core/timeframe.js';
import type { Config } from '../config/config.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Job, JobContext } from './job.js';

export interface JobDeps {
  store: Store;
  clock: Clock;
  metrics: Metrics;
  log: Logger;
}

/** Retention as a Job: deletes candles older than `config.retention` per timeframe; resolves with the rows deleted. */
export function retentionJob(config: Config, deps: JobDeps): Job {
  return {
    name: 'retention',
    async run(ctx: JobContext) {
      let deleted = 0;
      const now = deps.clock.now();
      for (const [tf, age] of Object.entries(config.retention) as [Timeframe, number | undefined][]) {
        if (age === undefined) continue;
        ctx.signal.throwIfAborted();
        deleted += await deps.store.prune(tf, now - age);
      }
      if (deleted > 0) ctx.log.info({ job: 'retention', deleted }, 'old candles pruned');
      return { deleted };
    },
  };
}

export function buildJobs(config: Config, deps: JobDeps): Job[] {
  return [retentionJob(config, deps)];
}
