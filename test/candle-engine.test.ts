import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CandleEngine, type LatePolicy } from '../src/pipeline/candle-engine.js';
import type { Candle, CandleEvent, Side, Trade } from '../src/core/types.js';
import type { Timeframe } from '../src/core/timeframe.js';
import { FakeClock } from './support/fake-clock.js';
import { log, testMetrics } from './support/harness.js';
import { metricValue } from './support/metrics.js';
import { mulberry32 } from '../src/core/random.js';

// ── helpers ──────────────────────────────────────────────────────────────────────────────────────────
const U = 100_000_000n;
const units = (s: string): bigint => {
  const [int = '0', frac = ''] = s.split('.');
  return BigInt(int === '' ? '0' : int) * U + BigInt(frac.padEnd(8, '0'));
};
const fmt = (u: bigint): string => `${u / U}.${(u % U).toString().padStart(8, '0')}`;

const MIN = 60_000;
const T0 = Date.UTC(2024, 2, 15, 10, 0, 0); // 2024-03-15 10:00:00 UTC
const GRACE = 2_000;

let nextId = 1;
function trade(time: number, price: string, qty: string, opts: { symbol?: string; side?: Side; count?: number; receivedAt?: number } = {}): Trade {
  return {
    type: 'trade',
    exchange: 'binance',
    symbol: opts.symbol ?? 'BTC-USDT',
    id: nextId++,
    price,
    qty,
    side: opts.side ?? 'buy',
    count: opts.count ?? 1,
    time,
    receivedAt: opts.receivedAt ?? time,
  };
}

function setup(opts: { timeframes?: Timeframe[]; latePolicy?: LatePolicy; graceMs?: number; start?: number; keepClosed?: number } = {}) {
  const clock = new FakeClock(opts.start ?? T0);
  const metrics = testMetrics();
  const events: CandleEvent[] = [];
  const engine = new CandleEngine({
    timeframes: opts.timeframes ?? ['1m'],
    graceMs: opts.graceMs ?? GRACE,
    latePolicy: opts.latePolicy ?? 'drop',
    clock,
    metrics,
    log,
    emit: (e) => events.push(e),
    ...(opts.keepClosed !== undefined ? { keepClosed: opts.keepClosed } : {}),
  });
  /** Moves the clock to `at`, then lets the engine tick. */
  const tickAt = (at: number): void => {
    clock.set(at);
    engine.tick(at);
  };
  /** Moves the clock to the trade's receive time and applies it. */
  const feed = (t: Trade): boolean => {
    clock.set(t.receivedAt);
    return engine.onTrade(t);
  };
  const of = (kind: CandleEvent['kind'], tf?: Timeframe): Candle[] =>
    events.filter((e) => e.kind === kind && (tf === undefined || e.candle.timeframe === tf)).map((e) => e.candle);
  return { clock, metrics, events, engine, tickAt, feed, of };
}

describe('CandleEngine: UTC alignment', () => {
  test('1m/5m/1h/4h/1d candles open on UTC boundaries', () => {
    const at = Date.UTC(2024, 2, 15, 13, 47, 23, 456);
    const { engine, feed, tickAt, of } = setup({ timeframes: ['1d', '4h', '1h', '5m', '1m'], start: at });
    feed(trade(at, '100', '1'));
    tickAt(at + 1);
    const opens = new Map(of('update').map((c) => [c.timeframe, c.openTime]));
    assert.deepEqual(Object.fromEntries(opens), {
      '1m': Date.UTC(2024, 2, 15, 13, 47),
      '5m': Date.UTC(2024, 2, 15, 13, 45),
      '1h': Date.UTC(2024, 2, 15, 13, 0),
      '4h': Date.UTC(2024, 2, 15, 12, 0),
      '1d': Date.UTC(2024, 2, 15),
    });
    for (const tf of ['1m', '5m', '1h', '4h', '1d'] as const) {
      assert.equal(engine.forming('binance', 'BTC-USDT', tf)?.openTime, opens.get(tf));
    }
  });

  test('a trade exactly on a boundary belongs to the new period, one ms before to the old one', () => {
    const boundary = Date.UTC(2024, 2, 15, 14, 0, 0);
    const { engine, feed, tickAt, of } = setup({ timeframes: ['1m', '1h', '4h'], start: boundary - 10 });
    feed(trade(boundary - 1, '100', '1'));
    feed(trade(boundary, '101', '2'));
    tickAt(boundary + GRACE); // the 13:59 minute and 13:00 hour close
    const closedMinute = of('close', '1m');
    assert.equal(closedMinute.length, 1);
    assert.equal(closedMinute[0]!.openTime, boundary - MIN);
    assert.equal(closedMinute[0]!.volume, '1.00000000');
    const closedHour = of('close', '1h');
    assert.equal(closedHour.length, 1);
    assert.equal(closedHour[0]!.openTime, boundary - 3_600_000);
    assert.equal(engine.forming('binance', 'BTC-USDT', '1h')?.openTime, boundary);
    assert.equal(engine.forming('binance', 'BTC-USDT', '1h')?.volume, '2.00000000');
    // 14:00 is not a 4h boundary (12:00 is): both trades share the 12:00 4h candle
    assert.equal(of('close', '4h').length, 0);
    assert.equal(engine.forming('binance', 'BTC-USDT', '4h')?.openTime, Date.UTC(2024, 2, 15, 12));
    assert.equal(engine.forming('binance', 'BTC-USDT', '4h')?.volume, '3.00000000');
  });
});

describe('CandleEngine: closing on the clock', () => {
  test('a tick closes the symbols watched live first, each symbol\'s own timeframes in their order', () => {
    const { engine, feed, tickAt, of } = setup({ timeframes: ['1m', '5m'] });
    const symbols = ['AAA-USDT', 'BBB-USDT', 'CCC-USDT', 'DDD-USDT'];
    for (const symbol of symbols) feed(trade(T0 + 4 * MIN + 1_000, '100', '1', { symbol }));
    engine.setWatched('binance', 'CCC-USDT', '5m', true);
    tickAt(T0 + 5 * MIN + GRACE);
    assert.deepEqual(of('close').map((c) => `${c.symbol} ${c.timeframe}`), ['CCC-USDT 1m', 'CCC-USDT 5m', 'AAA-USDT 1m', 'AAA-USDT 5m', 'BBB-USDT 1m', 'BBB-USDT 5m', 'DDD-USDT 1m', 'DDD-USDT 5m']);
    engine.setWatched('binance', 'CCC-USDT', '5m', false);
    tickAt(T0 + 6 * MIN + GRACE);
    assert.deepEqual(of('close').slice(8).map((c) => c.symbol), symbols, 'unwatched: back in the usual order');
  });

  test('a quiet market still gets its bar at end + grace, not before', () => {
    const { feed, tickAt, of } = setup();
    feed(trade(T0 + 30_000, '100.5', '0.25', { side: 'sell' }));
    feed(trade(T0 + 40_000, '101', '0.75'));
    for (let t = T0 + 41_000; t < T0 + MIN + GRACE; t += 500) {
      tickAt(t);
      assert.equal(of('close').length, 0, `no close at +${t - T0} ms`);
    }
    tickAt(T0 + MIN + GRACE - 1);
    assert.equal(of('close').length, 0);
    tickAt(T0 + MIN + GRACE);
    const closed = of('close');
    assert.equal(closed.length, 1);
    const c = closed[0]!;
    assert.equal(c.openTime, T0);
    assert.equal(c.closed, true);
    assert.equal(c.source, 'trades');
    assert.equal(c.revision, 0);
    assert.equal(c.open, '100.5');
    assert.equal(c.high, '101');
    assert.equal(c.low, '100.5');
    assert.equal(c.close, '101');
    assert.equal(c.volume, '1.00000000');
    assert.equal(c.quoteVolume, fmt((units('100.5') * units('0.25') + units('101') * units('0.75')) / U));
    assert.equal(c.takerBuyVolume, '0.75000000');
    assert.equal(c.tradeCount, 2);
    // ticking again does not close it twice
    tickAt(T0 + MIN + GRACE + 10_000);
    assert.equal(of('close').filter((x) => x.openTime === T0).length, 1);
  });

  test('empty periods: o=h=l=c=previous close, zero volume, no trades', async () => {
    const { feed, tickAt, of, engine, metrics } = setup();
    feed(trade(T0 + 5_000, '200', '1'));
    feed(trade(T0 + 50_000, '199.5', '1'));
    tickAt(T0 + 5 * MIN + GRACE); // 10:00 closes with trades, 10:01..10:04 close empty
    const closed = of('close');
    assert.deepEqual(
      closed.map((c) => c.openTime),
      [T0, T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN, T0 + 4 * MIN],
    );
    for (const c of closed.slice(1)) {
      assert.equal(c.open, '199.5');
      assert.equal(c.high, '199.5');
      assert.equal(c.low, '199.5');
      assert.equal(c.close, '199.5');
      assert.equal(c.volume, '0.00000000');
      assert.equal(c.quoteVolume, '0.00000000');
      assert.equal(c.takerBuyVolume, '0.00000000');
      assert.equal(c.tradeCount, 0);
      assert.equal(c.vwap, '199.5');
      assert.equal(c.closed, true);
    }
    const forming = engine.forming('binance', 'BTC-USDT', '1m');
    assert.equal(forming?.openTime, T0 + 5 * MIN);
    assert.equal(forming?.open, '199.5');
    assert.equal(await metricValue(metrics, 'candlestack_candles_completed_total', { exchange: 'binance', timeframe: '1m' }), 5);
  });

  test('a trade in the next period moves the candle to a closing slot; an out-of-order trade within grace is applied', async () => {
    const { feed, tickAt, of, metrics } = setup();
    feed(trade(T0 + 30_000, '100', '1'));
    feed(trade(T0 + MIN + 500, '105', '2', { receivedAt: T0 + MIN + 600 })); // next minute: 10:00 goes to `closing`
    assert.equal(of('close').length, 0, 'not closed by the next trade');
    // an earlier trade of 10:00 arrives late but inside the grace period
    feed(trade(T0 + 59_900, '98', '0.5', { side: 'sell', receivedAt: T0 + MIN + 1_500 }));
    tickAt(T0 + MIN + GRACE - 1);
    assert.equal(of('close').length, 0);
    tickAt(T0 + MIN + GRACE);
    const closed = of('close');
    assert.equal(closed.length, 1);
    const c = closed[0]!;
    assert.equal(c.openTime, T0);
    assert.equal(c.tradeCount, 2);
    assert.equal(c.volume, '1.50000000');
    assert.equal(c.takerBuyVolume, '1.00000000');
    assert.equal(c.low, '98');
    assert.equal(c.high, '100');
    assert.equal(c.quoteVolume, '149.00000000');
    assert.equal(await metricValue(metrics, 'candlestack_late_trades_total', { action: 'dropped' }), 0);
    // the next minute holds only its own trade and opened at 10:00's close
    const next = of('update').filter((x) => x.openTime === T0 + MIN).at(-1);
    assert.equal(next?.tradeCount, 1);
    assert.equal(next?.volume, '2.00000000');
    assert.equal(next?.open, '105');
  });
});

describe('CandleEngine: late trades', () => {
  test("policy 'drop' counts late_trades_total{action=dropped} and leaves the candle alone", async () => {
    const { feed, tickAt, of, events, metrics } = setup({ latePolicy: 'drop' });
    feed(trade(T0 + 10_000, '100', '1'));
    tickAt(T0 + MIN + GRACE);
    const before = events.length;
    assert.equal(feed(trade(T0 + 59_000, '150', '3', { receivedAt: T0 + MIN + GRACE + 100 })), true);
    tickAt(T0 + MIN + GRACE + 1_000);
    assert.equal(await metricValue(metrics, 'candlestack_late_trades_total', { exchange: 'binance', timeframe: '1m', action: 'dropped' }), 1);
    assert.equal(of('correction').length, 0);
    const after = events.slice(before);
    assert.ok(after.every((e) => e.candle.openTime !== T0), 'no event re-publishes the closed candle');
    const text = await metrics.registry.getSingleMetricAsString('candlestack_late_trades_total');
    assert.match(text, /candlestack_late_trades_total\{exchange="binance",timeframe="1m",action="dropped"\} 1/);
  });

  test("policy 'amend' re-emits a correction with revision 1 and the amended values", async () => {
    const { feed, tickAt, of, metrics } = setup({ latePolicy: 'amend' });
    feed(trade(T0 + 10_000, '100', '1'));
    feed(trade(T0 + 20_000, '99', '1', { side: 'sell' }));
    tickAt(T0 + MIN + GRACE);
    const original = of('close')[0]!;
    feed(trade(T0 + 59_999, '101.25', '0.5', { receivedAt: T0 + MIN + GRACE + 500 }));
    const corrections = of('correction');
    assert.equal(corrections.length, 1);
    const c = corrections[0]!;
    assert.equal(c.openTime, T0);
    assert.equal(c.revision, 1);
    assert.equal(c.closed, true);
    assert.equal(c.tradeCount, original.tradeCount + 1);
    assert.equal(c.volume, '2.50000000');
    assert.equal(c.takerBuyVolume, '1.50000000');
    assert.equal(c.quoteVolume, fmt(units(original.quoteVolume) + (units('101.25') * units('0.5')) / U));
    assert.equal(c.high, '101.25');
    assert.equal(c.low, '99');
    assert.equal(c.open, '100');
    assert.equal(c.close, '101.25');
    assert.equal(await metricValue(metrics, 'candlestack_late_trades_total', { action: 'amended' }), 1);
    // a second late trade increments the revision again
    feed(trade(T0 + 59_999, '101.25', '0.5', { receivedAt: T0 + MIN + GRACE + 600 }));
    assert.equal(of('correction').at(-1)?.revision, 2);
  });

  test("policy 'amend': a trade older than the kept closed candles is counted too_old", async () => {
    const { feed, tickAt, of, metrics } = setup({ latePolicy: 'amend', keepClosed: 2 });
    feed(trade(T0 + 10_000, '100', '1'));
    tickAt(T0 + 10 * MIN + GRACE);
    feed(trade(T0 + 10_000, '100', '1', { receivedAt: T0 + 10 * MIN + GRACE + 1 }));
    assert.equal(of('correction').length, 0);
    assert.equal(await metricValue(metrics, 'candlestack_late_trades_total', { action: 'too_old' }), 1);
  });
});

// ── rollups over a random multi-symbol stream ───────────────────────────────────────────────────────

function randomStream(seed: number, symbols: string[], start: number, durationMs: number): Trade[] {
  const rand = mulberry32(seed);
  const out: Trade[] = [];
  for (const [si, symbol] of symbols.entries()) {
    let priceUnits = BigInt(Math.floor((10 + rand() * 60_000) * 1e8));
    let t = start + Math.floor(rand() * 500); // every symbol trades in the first second
    // one symbol goes quiet for a few minutes so empty 1m candles appear inside 5m/15m periods
    const quietFrom = si === 0 ? start + 7 * MIN + 10_000 : Infinity;
    const quietTo = si === 0 ? start + 13 * MIN + 30_000 : Infinity;
    while (t < start + durationMs) {
      if (t < quietFrom || t >= quietTo) {
        const step = BigInt(Math.floor((rand() - 0.5) * 2e8 * (Number(priceUnits) / 1e8) * 0.001));
        priceUnits = priceUnits + step > 1000n ? priceUnits + step : priceUnits;
        const decimals = Math.floor(rand() * 9);
        const p8 = fmt(priceUnits);
        const price = decimals === 8 ? p8 : p8.slice(0, p8.length - (8 - decimals)).replace(/\.$/, ''); // vary the format
        const qUnits = BigInt(1 + Math.floor(rand() * (rand() < 0.1 ? 5e10 : 5e7)));
        const qty = rand() < 0.5 ? fmt(qUnits) : fmt(qUnits).replace(/0+$/, '').replace(/\.$/, '');
        out.push(trade(t, price, qty, { symbol, side: rand() < 0.5 ? 'buy' : 'sell', count: 1 + Math.floor(rand() * 3), receivedAt: t + Math.floor(rand() * 40) }));
      }
      t += 1 + Math.floor(rand() * 4_000);
    }
  }
  return out.sort((a, b) => a.receivedAt - b.receivedAt || a.time - b.time);
}

/** The candle of a longer timeframe computed from its 1m candles, by Binance's rules. */
function rollup(minutes: Candle[]): { open: bigint; high: bigint; low: bigint; close: bigint; volume: string; quoteVolume: string; takerBuyVolume: string; tradeCount: number } {
  const traded = minutes.filter((m) => m.tradeCount > 0);
  const last = minutes.at(-1)!;
  // Empty 1m candles carry the previous close; they contribute no price of their own (the longer candle opens at
  // its first trade, like Binance's), so prices come from the minutes that traded.
  const src = traded.length > 0 ? traded : [last];
  const sum = (f: 'volume' | 'quoteVolume' | 'takerBuyVolume'): string => fmt(minutes.reduce((s, m) => s + units(m[f]), 0n));
  return {
    open: units(src[0]!.open),
    high: src.reduce((mx, m) => (units(m.high) > mx ? units(m.high) : mx), units(src[0]!.high)),
    low: src.reduce((mn, m) => (units(m.low) < mn ? units(m.low) : mn), units(src[0]!.low)),
    close: units(last.close),
    volume: sum('volume'),
    quoteVolume: sum('quoteVolume'),
    takerBuyVolume: sum('takerBuyVolume'),
    tradeCount: minutes.reduce((s, m) => s + m.tradeCount, 0),
  };
}

describe('CandleEngine: rollups', () => {
  test('every 5m/15m/1h candle equals the rollup of its 1m candles (random 30-minute stream, 3 symbols)', () => {
    const symbols = ['BTC-USDT', 'ETH-USDT', 'DOGE-USDT'];
    const start = Date.UTC(2024, 2, 15, 10, 0, 0);
    const { engine, feed, tickAt, of } = setup({ timeframes: ['1m', '5m', '15m', '1h'], start, keepClosed: 100 });
    const trades = randomStream(20240315, symbols, start, 30 * MIN);
    assert.ok(trades.length > 1000, `stream has ${trades.length} trades`);
    let lastTick = start;
    for (const t of trades) {
      if (t.receivedAt - lastTick >= 250) {
        tickAt(t.receivedAt);
        lastTick = t.receivedAt;
      }
      assert.equal(feed(t), true);
    }
    tickAt(start + 60 * MIN + GRACE); // closes the hour and everything in it
    const closes = of('close');
    const key = (c: Candle): string => `${c.symbol}|${c.timeframe}|${c.openTime}`;
    assert.equal(new Set(closes.map(key)).size, closes.length, 'each period closes once');
    assert.equal(of('correction').length, 0);

    let checked = 0;
    for (const symbol of symbols) {
      const minutes = closes.filter((c) => c.symbol === symbol && c.timeframe === '1m').sort((a, b) => a.openTime - b.openTime);
      assert.equal(minutes.length, 60, `${symbol}: one 1m candle per minute of the hour`);
      // the raw trade stream agrees with the 1m candles (nothing lost or double counted)
      const own = trades.filter((t) => t.symbol === symbol);
      assert.equal(fmt(minutes.reduce((s, m) => s + units(m.volume), 0n)), fmt(own.reduce((s, t) => s + units(t.qty), 0n)));
      assert.equal(minutes.reduce((s, m) => s + m.tradeCount, 0), own.reduce((s, t) => s + t.count, 0));
      if (symbol === 'BTC-USDT') {
        assert.ok(minutes.some((m) => m.tradeCount === 0 && m.openTime < start + 30 * MIN), 'BTCUSDT has quiet minutes inside the stream');
      }
      for (const tf of ['5m', '15m', '1h'] as const) {
        const len = { '5m': 5, '15m': 15, '1h': 60 }[tf] * MIN;
        const bars = closes.filter((c) => c.symbol === symbol && c.timeframe === tf);
        assert.equal(bars.length, (60 * MIN) / len, `${symbol} ${tf} bar count`);
        for (const bar of bars) {
          const inside = minutes.filter((m) => m.openTime >= bar.openTime && m.openTime < bar.openTime + len);
          assert.equal(inside.length, len / MIN);
          const r = rollup(inside);
          const where = `${symbol} ${tf} ${new Date(bar.openTime).toISOString()}`;
          assert.equal(units(bar.open), r.open, `${where} open`);
          assert.equal(units(bar.high), r.high, `${where} high`);
          assert.equal(units(bar.low), r.low, `${where} low`);
          assert.equal(units(bar.close), r.close, `${where} close`);
          assert.equal(bar.volume, r.volume, `${where} volume`);
          assert.equal(bar.quoteVolume, r.quoteVolume, `${where} quoteVolume`);
          assert.equal(bar.takerBuyVolume, r.takerBuyVolume, `${where} takerBuyVolume`);
          assert.equal(bar.tradeCount, r.tradeCount, `${where} tradeCount`);
          checked++;
        }
      }
    }
    assert.equal(checked, symbols.length * (12 + 4 + 1));
    // forming candles of the next hour open at the last close of the hour
    for (const symbol of symbols) {
      const lastMinute = closes.filter((c) => c.symbol === symbol && c.timeframe === '1m').at(-1)!;
      assert.equal(engine.forming('binance', symbol, '1h')?.open, lastMinute.close);
    }
  });
});

describe('CandleEngine: update events', () => {
  test('at most one update per candle per tick, and only when it changed', () => {
    const { feed, tickAt, events, of } = setup({ timeframes: ['1m', '5m'] });
    tickAt(T0 + 1_000);
    assert.equal(events.length, 0, 'nothing to publish before any trade');
    for (let i = 0; i < 10; i++) feed(trade(T0 + 2_000 + i, `${100 + i}`, '1'));
    assert.equal(events.length, 0, 'trades alone publish nothing');
    tickAt(T0 + 3_000);
    const updates = of('update');
    assert.equal(updates.length, 2, 'one per timeframe');
    assert.deepEqual(updates.map((u) => u.timeframe).sort(), ['1m', '5m']);
    for (const u of updates) {
      assert.equal(u.tradeCount, 10);
      assert.equal(u.close, '109');
      assert.equal(u.closed, false);
    }
    events.length = 0;
    tickAt(T0 + 4_000);
    tickAt(T0 + 5_000);
    assert.equal(events.length, 0, 'unchanged candles are not republished');
    feed(trade(T0 + 5_500, '50', '1', { symbol: 'ETH-USDT' }));
    tickAt(T0 + 6_000);
    assert.equal(events.length, 2);
    assert.ok(events.every((e) => e.kind === 'update' && e.candle.symbol === 'ETH-USDT'));
  });
});

describe('CandleEngine: backfill', () => {
  test('applyBackfill replaces a closed candle, emits a correction, and the next empty candle uses its close', () => {
    const { engine, feed, tickAt, of } = setup();
    feed(trade(T0 + 10_000, '100', '1'));
    tickAt(T0 + MIN + GRACE);
    engine.markGap('binance', 'BTC-USDT', T0, T0 + 30_000);
    assert.equal(engine.lookupClosed('binance', 'BTC-USDT', '1m', T0)?.incomplete, true);
    const exchange: Candle = {
      exchange: 'binance',
      symbol: 'BTC-USDT',
      timeframe: '1m',
      openTime: T0,
      open: '99.00000000',
      high: '107.00000000',
      low: '98.00000000',
      close: '105.00000000',
      volume: '12.50000000',
      quoteVolume: '1300.00000000',
      takerBuyVolume: '6.00000000',
      tradeCount: 40,
      vwap: '104.00000000',
      closed: true,
      source: 'trades',
      revision: 0,
    };
    assert.equal(engine.applyBackfill(exchange), true);
    const corrections = of('correction');
    assert.equal(corrections.length, 1);
    const c = corrections[0]!;
    assert.equal(c.source, 'backfill');
    assert.equal(c.revision, 1);
    assert.equal(c.closed, true);
    for (const f of ['open', 'high', 'low', 'close', 'volume', 'quoteVolume', 'takerBuyVolume', 'tradeCount'] as const) {
      assert.equal(c[f], exchange[f], f);
    }
    const held = engine.lookupClosed('binance', 'BTC-USDT', '1m', T0);
    assert.equal(held?.incomplete, false);
    assert.equal(held?.candle.volume, '12.50000000');
    // the forming 10:01 candle had no trades: it now starts from the backfilled close
    tickAt(T0 + 2 * MIN + GRACE);
    const next = of('close').find((x) => x.openTime === T0 + MIN)!;
    assert.equal(next.tradeCount, 0);
    assert.equal(next.open, '105.00000000');
    assert.equal(next.high, '105.00000000');
    assert.equal(next.low, '105.00000000');
    assert.equal(next.close, '105.00000000');
  });

  test('applyBackfill refuses a period that is still forming', () => {
    const { engine, feed, of } = setup();
    feed(trade(T0 + 10_000, '100', '1'));
    const forming = engine.forming('binance', 'BTC-USDT', '1m')!;
    assert.equal(engine.applyBackfill({ ...forming, closed: true, volume: '5' }), false);
    assert.equal(of('correction').length, 0);
    assert.equal(engine.forming('binance', 'BTC-USDT', '1m')?.volume, '1.00000000');
  });
});

describe('CandleEngine: restore', () => {
  const stored: Candle = {
    exchange: 'binance',
    symbol: 'BTC-USDT',
    timeframe: '1m',
    openTime: T0,
    open: '100.00000000',
    high: '110.00000000',
    low: '95.00000000',
    close: '101.00000000',
    volume: '3.00000000',
    quoteVolume: '300.12345678',
    takerBuyVolume: '1.00000000',
    tradeCount: 7,
    vwap: '100.04115226',
    closed: false,
    source: 'trades',
    revision: 0,
  };

  test('a stored forming candle continues to accumulate', () => {
    const { engine, feed, tickAt, of } = setup({ start: T0 + 40_000 });
    engine.restore([stored], T0 + 40_000);
    assert.equal(engine.forming('binance', 'BTC-USDT', '1m')?.volume, '3.00000000');
    feed(trade(T0 + 50_000, '111', '0.5'));
    feed(trade(T0 + 51_000, '94.5', '0.25', { side: 'sell' }));
    tickAt(T0 + MIN + GRACE);
    const c = of('close').find((x) => x.openTime === T0)!;
    assert.ok(c);
    assert.equal(c.open, '100.00000000');
    assert.equal(c.high, '111');
    assert.equal(c.low, '94.5');
    assert.equal(c.close, '94.5');
    assert.equal(c.volume, '3.75000000');
    assert.equal(c.takerBuyVolume, '1.50000000');
    assert.equal(c.tradeCount, 9);
    assert.equal(c.quoteVolume, fmt(units('300.12345678') + (units('111') * units('0.5') + units('94.5') * units('0.25')) / U));
  });

  test('a stored forming candle whose period ended is closed and marked incomplete', () => {
    const { engine, of } = setup({ start: T0 + 10 * MIN });
    engine.restore([stored], T0 + 10 * MIN);
    const closed = of('close').find((x) => x.openTime === T0);
    assert.equal(closed?.volume, '3.00000000');
    assert.equal(engine.lookupClosed('binance', 'BTC-USDT', '1m', T0)?.incomplete, true);
  });

  test('a stored closed candle seeds the following (empty) candles with its close', () => {
    const { engine, tickAt, of } = setup({ start: T0 + 3 * MIN + 10_000 });
    engine.restore([{ ...stored, closed: true }], T0 + 3 * MIN + 10_000);
    tickAt(T0 + 4 * MIN + GRACE);
    const closes = of('close');
    assert.deepEqual(
      closes.map((c) => c.openTime),
      [T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN],
    );
    for (const c of closes) {
      assert.equal(c.open, '101.00000000');
      assert.equal(c.close, '101.00000000');
      assert.equal(c.tradeCount, 0);
    }
  });
});

describe('CandleEngine: invalid input', () => {
  test('a trade with an invalid decimal is rejected and counted', async () => {
    const { engine, feed, tickAt, events, metrics } = setup();
    assert.equal(feed(trade(T0 + 1_000, 'abc', '1')), false);
    assert.equal(feed(trade(T0 + 1_000, '100', '-1')), false);
    assert.equal(feed(trade(T0 + 1_000, '', '1')), false);
    tickAt(T0 + 2_000);
    assert.equal(events.length, 0);
    assert.equal(engine.forming('binance', 'BTC-USDT', '1m'), undefined);
    assert.equal(await metricValue(metrics, 'candlestack_messages_rejected_total', { reason: 'invalid_decimal' }), 3);
    // a valid trade afterwards works normally
    assert.equal(feed(trade(T0 + 3_000, '100', '1')), true);
    assert.equal(engine.forming('binance', 'BTC-USDT', '1m')?.volume, '1.00000000');
  });
});

describe('CandleEngine: gaps known before the first trade', () => {
  test('a startup gap marks the first candles incomplete, later ones not', () => {
    const { engine, feed, tickAt } = setup({ timeframes: ['1m', '5m'] });
    engine.markGap('binance', 'BTC-USDT', T0 + 10_000, T0 + 10_000); // raised at start, before any trade
    feed(trade(T0 + 20_000, '100', '1'));
    feed(trade(T0 + MIN + 5_000, '101', '1'));
    tickAt(T0 + 2 * MIN + GRACE);
    assert.equal(engine.lookupClosed('binance', 'BTC-USDT', '1m', T0)?.incomplete, true, 'the minute the gap touched');
    assert.equal(engine.lookupClosed('binance', 'BTC-USDT', '1m', T0 + MIN)?.incomplete, false, 'the next minute is whole');
    tickAt(T0 + 5 * MIN + GRACE);
    assert.equal(engine.lookupClosed('binance', 'BTC-USDT', '5m', T0)?.incomplete, true, 'the 5m period containing it');
  });
});

describe('candle close latency', () => {
  test('is measured when each closed candle is published: slow listeners of the closes before it in the same tick count', async () => {
    const clock = new FakeClock(T0);
    const metrics = testMetrics();
    const closes: string[] = [];
    const engine = new CandleEngine({
      timeframes: ['1m'],
      graceMs: GRACE,
      latePolicy: 'drop',
      clock,
      metrics,
      log,
      emit: (e) => {
        if (e.kind !== 'close') return;
        closes.push(e.candle.symbol);
        clock.set(clock.now() + 300); // each close's listeners (store, indicators, /ws ...) take 300 ms
      },
    });
    for (const symbol of ['AAA-USDT', 'BBB-USDT', 'CCC-USDT']) engine.onTrade(trade(T0 + 1_000, '1.00', '1', { symbol, receivedAt: T0 + 1_000 }));
    const at = T0 + MIN + GRACE;
    clock.set(at);
    engine.tick(at);
    assert.deepEqual(closes, ['AAA-USDT', 'BBB-USDT', 'CCC-USDT']);
    const name = 'candlestack_candle_close_latency_seconds';
    assert.equal(await metricValue(metrics, `${name}_count`, { timeframe: '1m' }), 3);
    // 2.0 s (grace), 2.3 s, 2.6 s after the period end: not 3 x 2.0 s
    assert.ok(Math.abs((await metricValue(metrics, `${name}_sum`, { timeframe: '1m' })) - 6.9) < 1e-9);
    assert.equal(await metricValue(metrics, `${name}_bucket`, { timeframe: '1m', le: '2' }), 1);
    assert.equal(await metricValue(metrics, `${name}_bucket`, { timeframe: '1m', le: '2.5' }), 2);
    assert.equal(await metricValue(metrics, `${name}_bucket`, { timeframe: '1m', le: '3' }), 3);
  });
});
