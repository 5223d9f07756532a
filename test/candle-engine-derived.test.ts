/**
 * Longer timeframes are fed from a per-symbol batch of trades of one period of the shortest timeframe
 * (CandleEngine.onTrade, CandleState.mergeBatch). The invariant: an engine with several timeframes publishes,
 * for each timeframe, exactly the events an engine with that timeframe alone publishes (where every trade is
 * applied one by one), on dense streams with out-of-order, same-time, late and amended trades, ticks at
 * various intervals, and listeners that look into the engine while it publishes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CandleEngine, type LatePolicy } from '../src/pipeline/candle-engine.js';
import type { CandleEvent, Trade } from '../src/core/types.js';
import type { Timeframe } from '../src/core/timeframe.js';
import { log, testMetrics } from './support/harness.js';
import { mulberry32 } from '../src/core/random.js';


function stream(seed: number, n: number): Trade[] {
  const r = mulberry32(seed);
  const price = [43_000.5, 0.0012];
  const ids = [1, 1];
  let t = Date.UTC(2024, 0, 1, 23, 40) + Math.floor(r() * 600_000);
  const out: Trade[] = [];
  for (let i = 0; i < n; i++) {
    const s = r() < 0.7 ? 0 : 1;
    t += Math.floor(r() * r() * 800);
    const k = r();
    const time = k < 0.1 ? t - Math.floor(r() * 4_000) : k < 0.13 ? t - Math.floor(r() * 400_000) : t;
    price[s] = Math.max(1e-8, price[s]! * (1 + (r() - 0.5) * 0.004));
    let p = price[s]!.toFixed(r() < 0.8 ? 8 : Math.floor(r() * 9));
    if (r() < 0.02) p = String(Number(p)); // same value, other text: ties on high/low keep the first
    const q = (r() * 3).toFixed(Math.floor(r() * 9));
    out.push({ type: 'trade', exchange: 'binance', symbol: s === 0 ? 'BTC-USDT' : 'XRP-ETH', id: ids[s]!++, price: p, qty: q, side: r() < 0.5 ? 'buy' : 'sell', count: r() < 0.05 ? 3 : 1, time, receivedAt: t });
  }
  return out;
}

interface Run {
  timeframes: Timeframe[];
  latePolicy: LatePolicy;
  graceMs: number;
  tickMs: number;
  /** A listener reading the engine on some events (as the reconciler does). */
  peek: boolean;
  /** Watch this timeframe live for a while, then not, then again (prompt updates via `defer`). */
  watch?: Timeframe;
}

function run(trades: readonly Trade[], o: Run): string[] {
  let now = 0;
  const clock = { now: () => now, setTimeout: () => ({ cancel() {} }), setInterval: () => ({ cancel() {} }) };
  const out: string[] = [];
  let n = 0;
  const deferred: (() => void)[] = [];
  const engine: CandleEngine = new CandleEngine({
    timeframes: o.timeframes,
    graceMs: o.graceMs,
    latePolicy: o.latePolicy,
    clock,
    metrics: testMetrics(),
    log,
    ...(o.watch ? { defer: (fn: () => void) => void deferred.push(fn) } : {}),
    emit: (e: CandleEvent) => {
      out.push(JSON.stringify(e));
      if (o.peek && n++ % 5 === 0) {
        // reads only its own timeframe, so a single-timeframe engine sees the same
        const c = e.candle;
        engine.forming(c.exchange, c.symbol, c.timeframe);
        engine.lookupClosed(c.exchange, c.symbol, c.timeframe, c.openTime);
      }
    },
  });
  let lastTick = 0;
  let i = 0;
  for (const t of trades) {
    now = t.receivedAt;
    if (o.watch && o.timeframes.includes(o.watch)) {
      if (i % 3_000 === 0) engine.setWatched('binance', 'BTC-USDT', o.watch, i % 6_000 === 0);
      if (i % 4 === 2) for (const fn of deferred.splice(0)) fn(); // the end of a batch of trades (not aligned with the toggles)
    }
    i++;
    engine.onTrade(t);
    if (now - lastTick >= o.tickMs) {
      engine.tick(now);
      lastTick = now;
    }
  }
  engine.closeAll(now + 1);
  return out;
}

const byTimeframe = (events: string[], tf: Timeframe) => events.filter((e) => (JSON.parse(e) as CandleEvent).candle.timeframe === tf);

describe('derived timeframes (batched) equal timeframes computed alone', () => {
  const configs: Run[] = [
    { timeframes: ['1m', '5m', '15m', '1h', '4h', '1d'], latePolicy: 'amend', graceMs: 2_000, tickMs: 250, peek: false },
    { timeframes: ['1m', '5m', '15m', '1h', '4h', '1d'], latePolicy: 'amend', graceMs: 5_000, tickMs: 60_000, peek: true },
    { timeframes: ['1m', '5m', '1h'], latePolicy: 'drop', graceMs: 1_000, tickMs: 1e15, peek: false },
    { timeframes: ['1s', '1m', '3m', '5m'], latePolicy: 'amend', graceMs: 500, tickMs: 10_000, peek: true },
    { timeframes: ['3m', '5m', '15m', '1h'], latePolicy: 'amend', graceMs: 2_000, tickMs: 30_000, peek: false }, // 5m is not a multiple of 3m
    { timeframes: ['1m', '5m', '15m', '1h'], latePolicy: 'amend', graceMs: 2_000, tickMs: 20_000, peek: false, watch: '5m' },
    { timeframes: ['1m', '5m', '15m', '1h'], latePolicy: 'drop', graceMs: 2_000, tickMs: 20_000, peek: true, watch: '1m' },
  ];
  for (const [i, c] of configs.entries()) {
    test(`${c.timeframes.join(',')}, late ${c.latePolicy}, grace ${c.graceMs} ms, tick ${c.tickMs} ms${c.peek ? ', listener reads the engine' : ''}${c.watch ? `, ${c.watch} watched on and off` : ''}`, () => {
      const trades = stream(100 + i, 30_000);
      const all = run(trades, c);
      for (const tf of c.timeframes) {
        const alone = run(trades, { ...c, timeframes: [tf] });
        const mine = byTimeframe(all, tf);
        assert.ok(alone.length > 0, `${tf}: events published`);
        assert.equal(mine.length, alone.length, `${tf}: event count`);
        for (let k = 0; k < alone.length; k++) assert.equal(mine[k], alone[k], `${tf}: event ${k}`);
      }
    });
  }
});
