/**
 * The running record of one check for one exchange/symbol: runs, failures, the last result, the last few
 * failures with what they found, and the decaying penalty the score uses.
 *
 * Penalty: every failure adds 1; the total halves every `halfLifeMs` (an exact running sum of exponential
 * decays, O(1) memory). Health = 1 - min(1, penalty), so a failure takes the check to 0 at once and it
 * recovers smoothly; repeated failures keep it down longer. A check whose last failure is older than the
 * score window has its penalty cleared (health 1).
 */
import type { FailureNote, QualityCheck } from './checks.js';

const RECENT_FAILURES_KEPT = 5;

export interface DecaySettings {
  halfLifeMs: number;
  windowMs: number;
}

export class CheckRecord {
  runs = 0;
  failures = 0;
  /** Epoch ms of the last run; -Infinity before the first (a number, so the hot path stores it unboxed). */
  lastRunAt = Number.NEGATIVE_INFINITY;
  lastResult: 'pass' | 'fail' | null = null;
  lastFailureAt: number | null = null;
  /** The check is in a failing episode (state checks count one anomaly per episode). */
  failing = false;
  /** Passes not yet added to the metrics counter (per-trade checks batch them). */
  unflushedPasses = 0;
  readonly recent: FailureNote[] = [];
  private penalty = 0;
  private penaltyAt = 0;

  constructor(readonly check: QualityCheck) {}

  /** Allocation-free: per-trade checks call this for every trade. */
  pass(now: number): void {
    this.runs++;
    this.unflushedPasses++;
    this.lastRunAt = now;
    this.lastResult = 'pass';
    this.failing = false;
  }

  /** Records a failure; returns true when it starts a failing episode. */
  fail(note: FailureNote, halfLifeMs: number): boolean {
    const started = !this.failing;
    this.runs++;
    this.failures++;
    this.lastRunAt = note.at;
    this.lastResult = 'fail';
    this.lastFailureAt = note.at;
    this.failing = true;
    this.penalty = this.decayed(note.at, halfLifeMs) + 1;
    this.penaltyAt = note.at;
    this.recent.push(note);
    if (this.recent.length > RECENT_FAILURES_KEPT) this.recent.shift();
    return started;
  }

  /** 1 when nothing failed recently, 0 right after a failure, recovering with the half-life. */
  health(now: number, s: DecaySettings): number {
    if (this.lastFailureAt === null || now - this.lastFailureAt > s.windowMs) return 1;
    return 1 - Math.min(1, this.decayed(now, s.halfLifeMs));
  }

  /** Ran within the score window (or failed within it): the check weighs in the score. */
  active(now: number, windowMs: number): boolean {
    return now - this.lastRunAt <= windowMs;
  }

  private decayed(now: number, halfLifeMs: number): number {
    if (this.penalty === 0) return 0;
    const age = Math.max(0, now - this.penaltyAt);
    return halfLifeMs > 0 ? this.penalty * Math.pow(2, -age / halfLifeMs) : 0;
  }
}
