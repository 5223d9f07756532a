/**
 * The repair jobs built from the config (the scheduler's registry, `buildJobs(config, deps)` in registry.ts, adds
 * one line per job; this local one lists gap-sweep and integrity so they can be run and tested here).
 */
import type { Config } from '../config/config.js';
import { marketsOf } from '../app/parts.js';
import { gapSweepJob, type JobWorkDeps } from './gap-sweep.js';
import { integrityJob } from './integrity.js';
import type { Job } from './job.js';

export function buildRepairJobs(config: Config, deps: JobWorkDeps): Job[] {
  const markets = marketsOf(config);
  return [gapSweepJob(deps, { markets, timeframes: config.timeframes, graceMs: config.candles.graceMs }), integrityJob(deps, { markets })];
}
