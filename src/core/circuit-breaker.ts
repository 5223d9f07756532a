/**
 * A circuit breaker around an external call that can fail repeatedly (REST backfill, store writes, bus
 * produce). Pure state machine on an injected clock, no timers and no I/O:
 *
 *   closed ──(failureThreshold consecutive failures)──► open ──(openMs elapsed)──► half_open
 *   half_open ──(halfOpenProbes successful probes)──► closed
 *   half_open ──(a probe fails)──► open (for another openMs)
 *
 * While closed every call goes ahead. While open every call is refused (the caller does something stated:
 * buffer, retry later). While half-open at most `halfOpenProbes` calls are in flight at a time as probes.
 * The open -> half_open move happens when the breaker is next asked (`state`, `tryAcquire`), so a caller
 * that polls on its own schedule (a flush interval, a job tick) drives it; nothing runs in the background.
 */
import type { Clock } from './clock.js';
import { CandlestackError } from './errors.js';

export const BREAKER_STATES = ['closed', 'open', 'half_open'] as const;
export type BreakerState = (typeof BREAKER_STATES)[number];
/** Value of the state gauge: 0 closed, 1 open, 2 half-open. */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, number>> = { closed: 0, open: 1, half_open: 2 };

/** The components that have a breaker (a bounded label value). */
export const BREAKER_COMPONENTS = ['backfill_rest', 'store_write', 'bus_produce', 'decide_llm', 'cache'] as const;
export type BreakerComponent = (typeof BREAKER_COMPONENTS)[number];

export interface BreakerSettings {
  /** Consecutive failures that open a closed breaker. */
  failureThreshold: number;
  /** How long an open breaker refuses calls before it lets probes through. */
  openMs: number;
  /** Successful probes that close a half-open breaker (also the most probes in flight at once). */
  halfOpenProbes: number;
}

/** What a breaker reports; telemetry/breaker-metrics.ts turns it into metrics and logs. */
export interface BreakerObserver {
  transition(from: BreakerState, to: BreakerState, why: string): void;
  failure(err: unknown): void;
  rejected(): void;
}

export interface BreakerStatus {
  component: string;
  state: BreakerState;
  consecutiveFailures: number;
  /** When the breaker last opened (epoch ms), or null. */
  openedAt: number | null;
  /** When an open breaker lets the next probe through (epoch ms), or null when not open. */
  retryAt: number | null;
  lastError: string | null;
}

/** Thrown by `CircuitBreaker.call` when the breaker refuses the call. */
export class CircuitOpenError extends CandlestackError {
  override name = 'CircuitOpenError';
  readonly component: string;
  readonly retryAt: number;
  constructor(component: string, retryAt: number) {
    super('circuit_open', `${component} circuit is open; next attempt after ${new Date(retryAt).toISOString()}`);
    this.component = component;
    this.retryAt = retryAt;
  }
}

export function validateBreakerSettings(s: BreakerSettings): BreakerSettings {
  if (!Number.isInteger(s.failureThreshold) || s.failureThreshold < 1) throw new RangeError(`failureThreshold must be an integer >= 1, got ${s.failureThreshold}`);
  if (!Number.isFinite(s.openMs) || s.openMs < 0) throw new RangeError(`openMs must be a duration >= 0, got ${s.openMs}`);
  if (!Number.isInteger(s.halfOpenProbes) || s.halfOpenProbes < 1) throw new RangeError(`halfOpenProbes must be an integer >= 1, got ${s.halfOpenProbes}`);
  return s;
}

const NO_OBSERVER: BreakerObserver = { transition: () => {}, failure: () => {}, rejected: () => {} };

export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private failures = 0;
  private openedAt: number | null = null;
  private probesInFlight = 0;
  private probeSuccesses = 0;
  private lastError: string | null = null;
  private readonly settings: BreakerSettings;

  constructor(
    readonly component: string,
    settings: BreakerSettings,
    private readonly clock: Clock,
    private readonly observer: BreakerObserver = NO_OBSERVER,
  ) {
    this.settings = validateBreakerSettings({ ...settings });
  }

  /** The current state; an open breaker whose open time has passed becomes half-open here. */
  get state(): BreakerState {
    if (this.current === 'open' && this.clock.now() >= this.retryAt) this.move('half_open', `open for ${this.settings.openMs} ms`);
    return this.current;
  }

  /** When the next call may go ahead: now unless open, else the end of the open period. */
  get retryAt(): number {
    return this.current === 'open' && this.openedAt !== null ? this.openedAt + this.settings.openMs : this.clock.now();
  }

  /**
   * Asks to make one call. True: make it, then report `success()` or `failure()`. False: refused (counted);
   * the caller keeps its work for later.
   */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'half_open' && this.probesInFlight < this.settings.halfOpenProbes - this.probeSuccesses) {
      this.probesInFlight++;
      return true;
    }
    this.observer.rejected();
    return false;
  }

  success(): void {
    const state = this.current;
    if (state === 'closed') {
      this.failures = 0;
    } else if (state === 'half_open') {
      this.probesInFlight = Math.max(0, this.probesInFlight - 1);
      if (++this.probeSuccesses >= this.settings.halfOpenProbes) this.move('closed', `${this.probeSuccesses} probe(s) succeeded`);
    }
    // open: a call that started before the breaker opened finished well; the open period still runs out.
  }

  failure(err?: unknown): void {
    this.lastError = err === undefined ? this.lastError : err instanceof Error ? err.message : String(err);
    this.observer.failure(err);
    const state = this.current;
    if (state === 'closed') {
      if (++this.failures >= this.settings.failureThreshold) this.open(`${this.failures} consecutive failures`);
    } else if (state === 'half_open') {
      this.probesInFlight = Math.max(0, this.probesInFlight - 1);
      this.open('a probe failed');
    }
    // open: a call that started before the breaker opened failed too; nothing changes.
  }

  /** Runs `fn` through the breaker: refused with CircuitOpenError, else its result is reported. */
  async call<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.tryAcquire()) throw new CircuitOpenError(this.component, this.retryAt);
    try {
      const result = await fn();
      this.success();
      return result;
    } catch (err) {
      this.failure(err);
      throw err;
    }
  }

  status(): BreakerStatus {
    const state = this.state;
    return {
      component: this.component,
      state,
      consecutiveFailures: this.failures,
      openedAt: this.openedAt,
      retryAt: state === 'open' ? this.retryAt : null,
      lastError: this.lastError,
    };
  }

  private open(why: string): void {
    this.openedAt = this.clock.now();
    this.move('open', why);
  }

  private move(to: BreakerState, why: string): void {
    const from = this.current;
    if (from === to) return;
    this.current = to;
    if (to === 'closed') this.failures = 0;
    this.probesInFlight = 0;
    this.probeSuccesses = 0;
    this.observer.transition(from, to, why);
  }
}
