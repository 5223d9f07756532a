/**
 * Config section `jobs:` (the scheduled jobs, src/jobs/scheduler.ts): one entry per job name, each with
 * `schedule` (cron, 5 fields, UTC), `timeout`, `jitter` (a random delay of 0..jitter before each run) and
 * `enabled`, `atStart` (also run once when the scheduler starts; default only for retention). An invalid value is a ConfigError naming e.g. `jobs.retention.schedule`.
 */
import { Cron } from 'croner';
import { ConfigError } from '../core/errors.js';
import { bool, duration, type Parse } from './fields.js';
import { leaf, record, section } from './schema.js';

/** Every job name: the `task` label, the key under `jobs:`, the name on the command line. */
export const JOB_NAMES = ['retention', 'gap-sweep', 'integrity', 'report', 'vacuum'] as const;
export type JobName = (typeof JOB_NAMES)[number];

export interface JobConfig {
  /** Cron, 5 fields (minute hour day-of-month month day-of-week), in UTC. */
  schedule: string;
  timeoutMs: number;
  /** Each run starts a random 0..jitterMs after its tick (0: on the tick). */
  jitterMs: number;
  enabled: boolean;
  /** Also run once when the scheduler starts (retention: prune right after a long downtime, as it always did). */
  atStart: boolean;
}

export type JobsConfig = Record<JobName, JobConfig>;

const M = 60_000;
const JOB_DEFAULTS: Record<JobName, Pick<JobConfig, 'schedule' | 'timeoutMs'>> = {
  retention: { schedule: '17 * * * *', timeoutMs: 10 * M },
  'gap-sweep': { schedule: '*/15 * * * *', timeoutMs: 10 * M },
  integrity: { schedule: '30 0 * * *', timeoutMs: 30 * M },
  report: { schedule: '5 0 * * *', timeoutMs: 10 * M },
  vacuum: { schedule: '45 3 * * 0', timeoutMs: 60 * M },
};

const CRON_EXPECTED = 'a cron expression of 5 fields in UTC (minute hour day-of-month month day-of-week), e.g. "17 * * * *"';

/** A 5-field cron expression that fires (croner parses it; `0 0 31 2 *` never fires and is refused). */
export const cron: Parse<string> = (v, field) => {
  if (typeof v !== 'string') throw new ConfigError(field, CRON_EXPECTED, v);
  let fires: Date | null;
  try {
    fires = new Cron(v, { paused: true, timezone: 'UTC', mode: '5-part' }).nextRun(new Date(0));
  } catch (err) {
    throw new ConfigError(field, `${CRON_EXPECTED} (${(err as Error).message.replace(/^CronPattern: /, '').split('\n')[0]})`, v, { cause: err });
  }
  if (fires === null) throw new ConfigError(field, `${CRON_EXPECTED} that fires at some time`, v);
  return v.trim();
};

export const JOBS = record(JOB_NAMES, (name) =>
  section<JobConfig>({
    schedule: leaf(cron, JOB_DEFAULTS[name].schedule),
    timeoutMs: leaf(duration(1_000, 7 * 86_400_000), JOB_DEFAULTS[name].timeoutMs, { file: 'timeout' }),
    jitterMs: leaf(duration(0, 86_400_000), 0, { file: 'jitter' }),
    enabled: leaf(bool, true),
    atStart: leaf(bool, name === 'retention'),
  }),
);
