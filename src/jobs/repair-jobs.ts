/**
 * The repair jobs built from the config. The scheduler's registry (`buildJobs(config, deps)` in registry.ts)
 * adds one line per job; this local one lists gap-sweep and integrity so they can be run and tested here.
 */
import type { Clock } from '../core/clock.js';
import type { Config } from '../config/config.js';
import { buildBackfillSources, marketsOf } from '../app/parts.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { gapSweepJob, type GapSweepOptions, type JobWorkDeps } from './gap-sweep.js';
import { integrityJob } from './integrity.js';
import type { Job } from './job.js';
import { RestHistory } from './rest-history.js';

/** What the repair jobs need, from a role's store, clock and metrics: a RestHistory over the configured exchanges' REST sources. */
export function repairJobDeps(config: Config, deps: { store: Store; clock: Clock; metrics: Metrics; log: Logger }): JobWorkDeps {
  const sources = buildBackfillSources(config, deps);
  return { store: deps.store, history: new RestHistory({ sources, store: deps.store }), clock: deps.clock, metrics: deps.metrics.candles };
}

/** gap-sweep over every configured series (`sweep`: window and timeframes; default 24 h, every configured timeframe) and integrity. */
export function buildRepairJobs(config: Config, deps: JobWorkDeps, sweep: Partial<Pick<GapSweepOptions, 'windowMs' | 'timeframes'>> = {}): Job[] {
  const markets = marketsOf(config);
  return [
    gapSweepJob(deps, { markets, timeframes: sweep.timeframes ?? config.timeframes, graceMs: config.candles.graceMs, ...(sweep.windowMs !== undefined ? { windowMs: sweep.windowMs } : {}) }),
    integrityJob(deps, { markets }),
  ];
}
