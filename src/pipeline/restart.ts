/**
 * Continuing after a restart, from the stored candles.
 *
 * - `restoreAndFindStartupGaps` (run/demo, one process owns every symbol): the stored forming candles continue,
 *   and the time the process was down (up to MAX_STARTUP_GAP_MS) becomes a `startup` gap per symbol, which
 *   marks the candles it touched and is backfilled from the exchange's REST klines.
 * - `resumeSymbol` (process role): a symbol first seen on this consumer (start, or a partition moved here)
 *   continues from its latest stored candles without consulting the wall clock; Kafka redelivers what
 *   happened since from the committed offset, and the engine skips trades already counted. No startup gap:
 *   trades that arrived while the role was down wait in Kafka.
 */
import type { Clock } from '../core/clock.js';
import type { CandleEvent, GapEvent } from '../core/types.js';
import type { Store } from '../store/store.js';
import type { CandleEngine } from './candle-engine.js';
import type { ExchangeId } from '../core/exchange-id.js';

/** The longest outage a restart tries to backfill. */
export const MAX_STARTUP_GAP_MS = 7 * 86_400_000;

export async function restoreAndFindStartupGaps(store: Store, engine: CandleEngine, markets: readonly { exchange: ExchangeId; symbols: readonly string[] }[], clock: Clock): Promise<GapEvent[]> {
  const gaps: GapEvent[] = [];
  for (const m of markets) {
    const latest = await store.latest(m.exchange, [...m.symbols]);
    engine.restore(latest);
    for (const symbol of m.symbols) {
      const last = Math.max(...latest.filter((c) => c.symbol === symbol).map((c) => c.openTime), Number.NEGATIVE_INFINITY);
      const now = clock.now();
      const from = Number.isFinite(last) ? Math.max(last, now - MAX_STARTUP_GAP_MS) : now;
      gaps.push({ type: 'gap', exchange: m.exchange, symbol, from, to: now, cause: 'startup' });
    }
  }
  return gaps;
}

/**
 * Resumes one symbol in the engine from the store. A candle left forming just before the latest (it was in
 * its grace period at the crash) is final now: it is published closed through `publish`. Returns how many
 * stored candles the symbol resumed from.
 */
export async function resumeSymbol(store: Store, engine: CandleEngine, exchange: ExchangeId, symbol: string, publish: (e: CandleEvent) => void): Promise<number> {
  const latest = await store.latest(exchange, [symbol]);
  for (const c of latest) {
    const [prev] = await store.query({ exchange, symbol, timeframe: c.timeframe, to: c.openTime - 1, limit: 1 });
    if (prev && !prev.closed) publish({ type: 'candle', kind: 'close', candle: { ...prev, closed: true } });
  }
  engine.resume(exchange, symbol, latest);
  return latest.length;
}
