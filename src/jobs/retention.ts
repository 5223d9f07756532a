/** Retention: deletes candles (and their indicator values) older than the configured age per timeframe. */
import type { Clock } from '../core/clock.js';
import type { Timeframe } from '../core/timeframe.js';
import type { Store } from '../store/store.js';
import type { Job, JobContext } from './job.js';

export interface RetentionOptions {
  store: Store;
  /** Maximum age per timeframe in ms; timeframes not listed are kept forever. */
  maxAgeMs: Partial<Record<Timeframe, number>>;
  clock: Clock;
}

/** The `retention` job: one run prunes every timeframe once; resolves with the number of candles deleted. */
export class RetentionJob implements Job {
  readonly name = 'retention';
  constructor(private readonly o: RetentionOptions) {}

  async run(ctx: JobContext): Promise<number> {
    let deleted = 0;
    const now = this.o.clock.now();
    for (const [tf, age] of Object.entries(this.o.maxAgeMs) as [Timeframe, number][]) {
      ctx.signal.throwIfAborted();
      deleted += await this.o.store.prune(tf, now - age);
    }
    if (deleted > 0) ctx.log.info({ job: 'retention', deleted }, 'old candles pruned');
    return deleted;
  }
}
