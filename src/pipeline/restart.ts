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
import type { Candle, CandleEvent, GapEvent } from '../core/types.js';
import type { Store } from '../store/store.js';
import type { CandleEngine } from './candle-engine.js';
import type { ExchangeId } from '../core/exchange-id.js';
import { timeframeMs } from '../core/timeframe.js';

/** The longest outage a restart tries to backfill. */
export const MAX_STARTUP_GAP_MS = 7 * 86_400_000;

/**
 * Stored candles before a series' latest that a restart looks at for ones left forming. A stop inside a
 * period's grace leaves one (the 1s candle before the latest; the previous 1m in the first seconds of a minute);
 * a few more cover a store that fell behind before the stop.
 */
export const ORPHAN_LOOKBACK = 5;

/**
 * Stored candles before a series' latest that a restart looks through for a missing period. A process killed
 * again before it backfilled its startup gap leaves a hole the next start would not see (its gap starts at the
 * latest stored candle, after the hole); the gap reaches back to the oldest hole found here instead.
 */
export const HOLE_LOOKBACK = 300;

/**
 * `repairWindowMs`: how long the backfiller waits after a period ends before it repairs it (grace + settle +
 * its check interval). A process stopped within that time of its latest candle may have had repairs pending;
 * those are stored and re-queued by `Backfiller.restore()`, and the startup gap also reaches back that far
 * before the latest stored candle, for work queued in the moment before a kill and not yet stored.
 */
export async function restoreAndFindStartupGaps(store: Store, engine: CandleEngine, markets: readonly { exchange: ExchangeId; symbols: readonly string[] }[], clock: Clock, repairWindowMs = 0): Promise<GapEvent[]> {
  const gaps: GapEvent[] = [];
  for (const m of markets) {
    const latest = await store.latest(m.exchange, [...m.symbols]);
    const orphans = await closeOrphans(store, latest);
    const holes = await oldestHoles(store, latest);
    engine.restore(latest);
    for (const symbol of m.symbols) {
      const last = Math.min(
        Math.max(...latest.filter((c) => c.symbol === symbol).map((c) => c.openTime), Number.NEGATIVE_INFINITY) - repairWindowMs,
        orphans.get(symbol) ?? Number.POSITIVE_INFINITY,
        holes.get(symbol) ?? Number.POSITIVE_INFINITY,
      );
      const now = clock.now();
      const from = Number.isFinite(last) ? Math.max(last, now - MAX_STARTUP_GAP_MS) : now;
      gaps.push({ type: 'gap', exchange: m.exchange, symbol, from, to: now, cause: 'startup' });
    }
  }
  return gaps;
}

/**
 * Closes the stored candles left forming before each series' latest (the process stopped while they were in
 * their grace period, so their close was never written): written closed, and the earliest open time per symbol
 * returned, so that the startup gap reaches back to them — they lost the trades held in memory at the stop,
 * are backfilled from the exchange's klines and replaced (or stay marked by the gap when it has none).
 */
async function closeOrphans(store: Store, latest: readonly Candle[]): Promise<Map<string, number>> {
  const earliest = new Map<string, number>();
  const closed: Candle[] = [];
  for (const c of latest) {
    const before = await store.query({ exchange: c.exchange, symbol: c.symbol, timeframe: c.timeframe, to: c.openTime - 1, limit: ORPHAN_LOOKBACK });
    for (const p of before) {
      if (p.closed) continue;
      closed.push({ ...p, closed: true });
      earliest.set(p.symbol, Math.min(earliest.get(p.symbol) ?? Number.POSITIVE_INFINITY, p.openTime));
    }
  }
  if (closed.length > 0) await store.upsert(closed);
  return earliest;
}

/** Per symbol, the open time of the oldest period missing among the last HOLE_LOOKBACK stored candles of any of its series. */
async function oldestHoles(store: Store, latest: readonly Candle[]): Promise<Map<string, number>> {
  const oldest = new Map<string, number>();
  for (const c of latest) {
    const ms = timeframeMs(c.timeframe);
    const series = await store.query({ exchange: c.exchange, symbol: c.symbol, timeframe: c.timeframe, to: c.openTime, limit: HOLE_LOOKBACK });
    for (let i = 1; i < series.length; i++) {
      if (series[i]!.openTime - series[i - 1]!.openTime <= ms) continue;
      const hole = series[i - 1]!.openTime + ms;
      oldest.set(c.symbol, Math.min(oldest.get(c.symbol) ?? Number.POSITIVE_INFINITY, hole));
      break;
    }
  }
  return oldest;
}

/**
 * Resumes one symbol in the engine from the store. Candles left forming before the latest (in their grace
 * period at the crash) are final now: they are published closed through `publish`. Returns how many
 * stored candles the symbol resumed from.
 */
export async function resumeSymbol(store: Store, engine: CandleEngine, exchange: ExchangeId, symbol: string, publish: (e: CandleEvent) => void): Promise<number> {
  const latest = await store.latest(exchange, [symbol]);
  for (const c of latest) {
    const before = await store.query({ exchange, symbol, timeframe: c.timeframe, to: c.openTime - 1, limit: ORPHAN_LOOKBACK });
    for (const prev of before) if (!prev.closed) publish({ type: 'candle', kind: 'close', candle: { ...prev, closed: true } });
  }
  engine.resume(exchange, symbol, latest);
  return latest.length;
}
