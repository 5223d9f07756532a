/**
 * One lifecycle per process: services start in the order they were registered and stop in reverse, once.
 *
 * Roots register intake last (collectors, the Kafka consumer) and resources first (store, HTTP server), so a
 * stop runs: stop intake (the Kafka consumer's last commit, after the store-flush barrier) -> drain the
 * pipeline (final candle tick, quality, a backfill run in flight) -> flush the writers (the store) -> drain
 * the Kafka producer -> close the servers -> close the store.
 * A failure while starting stops what already started (in reverse) and rethrows; a failure while stopping
 * is logged and the remaining services still stop.
 */
import type { Service } from '../core/service.js';
import type { Logger } from '../telemetry/logger.js';

export type StopReason = 'SIGTERM' | 'SIGINT' | 'fatal' | 'requested';

export class Lifecycle {
  private readonly services: Service[] = [];
  private readonly started: Service[] = [];
  private stopping: Promise<void> | null = null;
  private inFlight: Promise<unknown> | null = null;

  constructor(private readonly log: Logger) {}

  /** Adds a service (before `start`); returns it, so a root can register and keep a handle in one line. */
  register<S extends Service>(s: S): S {
    if (this.stopping) throw new Error(`Lifecycle: cannot register ${s.name} after stop`);
    this.services.push(s);
    return s;
  }

  /** Starts every registered service not started yet, in order. */
  async start(): Promise<void> {
    for (const s of this.services) {
      if (this.started.includes(s)) continue;
      if (this.stopping) return;
      const starting = Promise.resolve().then(() => s.start());
      // A stop asked for meanwhile waits for this start, then stops this service with the others, in reverse.
      this.inFlight = starting.catch(() => undefined);
      try {
        await starting;
      } catch (err) {
        this.inFlight = null;
        this.log.error({ component: 'lifecycle', service: s.name, err }, `${s.name} failed to start; stopping what started`);
        await this.stop('fatal');
        throw err;
      }
      this.inFlight = null;
      this.started.push(s);
    }
  }

  /** Stops the started services in reverse order; later calls return the same promise. */
  stop(reason: StopReason = 'requested'): Promise<void> {
    this.stopping ??= this.stopAll(reason);
    return this.stopping;
  }

  get stopped(): boolean {
    return this.stopping !== null;
  }

  /**
   * Resolves with the reason once the process is asked to stop: SIGTERM, SIGINT, or a fatal error (an uncaught
   * exception or unhandled rejection, logged at fatal). The caller then awaits `stop()`.
   */
  untilStopRequested(proc: NodeJS.Process = process): Promise<StopReason> {
    return new Promise((resolve) => {
      const onSignal = (signal: 'SIGTERM' | 'SIGINT') => () => {
        this.log.info({ component: 'app', signal }, 'shutting down');
        done(signal);
      };
      const onFatal = (err: unknown) => {
        this.log.fatal({ component: 'app', err }, 'fatal error; shutting down');
        done('fatal');
      };
      const sigterm = onSignal('SIGTERM');
      const sigint = onSignal('SIGINT');
      const done = (reason: StopReason) => {
        proc.off('SIGTERM', sigterm).off('SIGINT', sigint);
        resolve(reason);
      };
      proc.once('SIGTERM', sigterm).once('SIGINT', sigint);
      // Kept for the whole run: a second fatal error during the stop is logged, not a crash mid-flush.
      proc.on('uncaughtException', onFatal).on('unhandledRejection', onFatal);
    });
  }

  private async stopAll(reason: StopReason): Promise<void> {
    await this.inFlight;
    for (const s of [...this.started].reverse()) {
      try {
        await s.stop();
      } catch (err) {
        this.log.error({ component: 'lifecycle', service: s.name, reason, err }, `${s.name} failed to stop cleanly`);
      }
    }
    this.started.length = 0;
  }
}
