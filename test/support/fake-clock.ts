/** A manual clock for time-based tests: timers fire only when the test advances time. */
import type { Clock, Timer } from '../../src/core/clock.js';

interface Scheduled {
  at: number;
  seq: number;
  fn: () => void;
  every: number | null;
  cancelled: boolean;
}

export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: Scheduled[] = [];

  constructor(start = Date.UTC(2024, 0, 1)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.add(fn, ms, null);
  }

  setInterval(fn: () => void, ms: number): Timer {
    return this.add(fn, ms, Math.max(1, ms));
  }

  /** Moves time forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    this.set(this.t + ms);
  }

  /** Moves time to `to` (never backwards), firing due timers in order. */
  set(to: number): void {
    for (;;) {
      const next = this.timers.filter((s) => !s.cancelled && s.at <= to).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.t = Math.max(this.t, next.at);
      if (next.every === null) next.cancelled = true;
      else next.at += next.every;
      next.fn();
    }
    this.timers = this.timers.filter((s) => !s.cancelled);
    this.t = Math.max(this.t, to);
  }

  pending(): number {
    return this.timers.filter((s) => !s.cancelled).length;
  }

  private add(fn: () => void, ms: number, every: number | null): Timer {
    const s: Scheduled = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, every, cancelled: false };
    this.timers.push(s);
    return { cancel: () => (s.cancelled = true) };
  }
}
