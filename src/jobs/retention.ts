/** Retention: deletes candles older than the configured age per timeframe, on an interval. */
import type { Clock, Timer } from '../core/clock.js';
import type { Timeframe } from '../core/timeframe.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { JobMetrics } from '../telemetry/metrics.js';
import { runJob } from './job.js';
import type { Service } from '../core/service.js';

export interface RetentionOptions {
  store: Store;
  /** Maximum age per timeframe in ms; timeframes not listed are kept forever. */
  maxAgeMs: Partial<Record<Timeframe, number>>;
  intervalMs: number;
  clock: Clock;
  metrics: JobMetrics;
  log: Logger;
}

export class RetentionJob implements Service {
  readonly name = 'retention';
  private timer: Timer | null = null;
  constructor(private readonly o: RetentionOptions) {}

  start(): void {
    void this.run();
    this.timer = this.o.clock.setInterval(() => void this.run(), this.o.intervalMs);
  }

  stop(): void {
    this.timer?.cancel();
  }

  run(): Promise<number | undefined> {
    return runJob('retention', this.o, async () => {
      let deleted = 0;
      const now = this.o.clock.now();
      for (const [tf, age] of Object.entries(this.o.maxAgeMs) as [Timeframe, number][]) {
        deleted += await this.o.store.prune(tf, now - age);
      }
      if (deleted > 0) this.o.log.info({ job: 'retention', deleted }, 'old candles pruned');
      return deleted;
    });
  }
}
