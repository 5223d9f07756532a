/**
 * What closes candles: a ticker calling the engine every `tickMs`. Candles close on a clock, not on the next
 * trade, so a quiet market still gets its bar.
 *
 * - `wallClockTicker` (run/demo): the wall clock, on ticks aligned to the periods' ends + grace. Its stop makes
 *   one last tick, so periods that ended close.
 * - `streamClockTicker` (process role, Kafka): each symbol's own stream clock, the receive time of its
 *   latest consumed trade. Trades replayed after a crash or delayed by a rebalance are then not "late", and a
 *   partition read ahead of another does not close the other's candles. Once caught up, a symbol quiet for
 *   `idleCloseMs` lets the wall clock (minus that) close its candles; while replaying a backlog (`caughtUp()`
 *   false) only the stream clock counts.
 */
import type { Clock, Timer } from '../core/clock.js';
import type { Service } from '../core/service.js';
import type { Trade } from '../core/types.js';
import type { CandleEngine } from './candle-engine.js';
import type { ExchangeId } from '../core/exchange-id.js';

/** How far the wall clock may run ahead of a symbol's stream before it closes that symbol's candles. */
export const IDLE_CLOSE_MS = 10_000;

/**
 * Ticks on the instants where (t - graceMs) is a multiple of tickMs, so a period that ends on a multiple of
 * tickMs closes right when its grace is over, not up to a tick later (a free-running interval started at any
 * phase added 0 to tickMs, 250 ms by default, to every close). Each tick schedules the next aligned instant
 * after it: a tick that ran long skips the instants it overran instead of bunching up.
 */
export function wallClockTicker(engine: CandleEngine, clock: Clock, tickMs: number, graceMs = 0): Service {
  let timer: Timer | null = null;
  let stopped = false;
  const alignedAfter = (t: number): number => t - mod(t - graceMs, tickMs) + tickMs;
  let target = 0;
  const schedule = (): void => {
    timer = clock.setTimeout(fire, Math.max(0, target - clock.now()));
  };
  const fire = (): void => {
    // a timer may fire a millisecond early: the tick is for the instant it was set for
    const at = Math.max(clock.now(), target);
    engine.tick(at);
    target = alignedAfter(Math.max(clock.now(), at));
    if (!stopped) schedule();
  };
  return {
    name: 'candle-clock',
    start() {
      stopped = false;
      target = alignedAfter(clock.now());
      schedule();
    },
    stop() {
      stopped = true;
      timer?.cancel();
      engine.tick();
    },
  };
}

const mod = (a: number, m: number): number => ((a % m) + m) % m;

export interface StreamClockTicker extends Service {
  /** Advances the trade's symbol's stream clock (subscribe it to the trade topic). */
  onTrade(t: Trade): void;
  /** Forgets a symbol (its partition moved away). */
  forget(exchange: ExchangeId, symbol: string): void;
}

export function streamClockTicker(engine: CandleEngine, clock: Clock, tickMs: number, caughtUp: () => boolean, idleCloseMs = IDLE_CLOSE_MS): StreamClockTicker {
  const streamTime = new Map<string, number>();
  let timer: Timer | null = null;
  const tick = () => {
    const wall = clock.now();
    const live = caughtUp();
    engine.tickEach((exchange, symbol) => {
      const own = streamTime.get(`${exchange}:${symbol}`) ?? 0;
      return Math.min(wall, live ? Math.max(own, wall - idleCloseMs) : own);
    });
  };
  return {
    name: 'candle-stream-clock',
    onTrade(t) {
      const key = `${t.exchange}:${t.symbol}`;
      if (t.receivedAt > (streamTime.get(key) ?? 0)) streamTime.set(key, t.receivedAt);
    },
    forget: (exchange, symbol) => void streamTime.delete(`${exchange}:${symbol}`),
    start: () => void (timer = clock.setInterval(tick, tickMs)),
    stop: () => timer?.cancel(),
  };
}
