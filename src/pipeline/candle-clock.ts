/**
 * What closes candles: a ticker calling the engine every `tickMs`. Candles close on a clock, not on the next
 * trade, so a quiet market still gets its bar.
 *
 * - `wallClockTicker` (run/demo): the wall clock. Its stop makes one last tick, so periods that ended close.
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

export function wallClockTicker(engine: CandleEngine, clock: Clock, tickMs: number): Service {
  let timer: Timer | null = null;
  return {
    name: 'candle-clock',
    start: () => void (timer = clock.setInterval(() => engine.tick(), tickMs)),
    stop() {
      timer?.cancel();
      engine.tick();
    },
  };
}

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
