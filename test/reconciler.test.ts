import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CandleEngine } from '../src/pipeline/candle-engine.js';
import { RECONCILED_FIELDS, Reconciler, diffCandle } from '../src/pipeline/reconciler.js';
import type { Candle, CandleEvent, Kline, Side, Trade } from '../src/core/types.js';
import { FakeClock } from './support/fake-clock.js';
import { log, testMetrics } from './support/harness.js';
import { metricValue } from './support/metrics.js';

const MIN = 60_000;
const GRACE = 2_000;
const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);

let nextId = 1;
function trade(time: number, price: string, qty: string, side: Side = 'buy', symbol = 'BTC-USDT'): Trade {
  return { type: 'trade', exchange: 'binance', symbol, id: nextId++, price, qty, side, count: 1, time, receivedAt: time };
}

/** The exchange's kline for the two trades that every test feeds (100 × 1 buy, 102.5 × 0.4 sell). */
function kline(over: Partial<Kline> = {}): Kline {
  return {
    type: 'kline',
    exchange: 'binance',
    symbol: 'BTC-USDT',
    timeframe: '1m',
    openTime: T0,
    open: '100.00000000',
    high: '102.50000000',
    low: '100.00000000',
    close: '102.50000000',
    volume: '1.40000000',
    quoteVolume: '141.00000000',
    takerBuyVolume: '1.00000000',
    tradeCount: 2,
    closed: true,
    time: T0 + MIN + 100,
    receivedAt: T0 + MIN + 100,
    ...over,
  };
}

function setup(holdMs = 60_000) {
  const clock = new FakeClock(T0);
  const metrics = testMetrics();
  const events: CandleEvent[] = [];
  // the reconciler listens to the engine's events, as in the running pipeline
  let reconciler: Reconciler | undefined;
  const engine = new CandleEngine({
    timeframes: ['1m'],
    graceMs: GRACE,
    latePolicy: 'drop',
    clock,
    metrics,
    log,
    emit: (e) => {
      events.push(e);
      reconciler?.onCandle(e);
    },
  });
  reconciler = new Reconciler({ engine, clock, metrics: metrics.candles, log, holdMs });
  const at = (t: number): void => {
    clock.set(t);
    engine.tick(t);
  };
  const tradeTheMinute = (symbol = 'BTC-USDT'): void => {
    clock.set(T0 + 10_000);
    engine.onTrade(trade(T0 + 10_000, '100.00000000', '1.00000000', 'buy', symbol));
    clock.set(T0 + 20_000);
    engine.onTrade(trade(T0 + 20_000, '102.50000000', '0.40000000', 'sell', symbol));
  };
  const count = (result: string) => metricValue(metrics, 'candlestack_reconciliations_total', { result });
  const fieldCount = (field: string) => metricValue(metrics, 'candlestack_reconciliation_mismatches_total', { field });
  const results = async () => ({ match: await count('match'), mismatch: await count('mismatch'), skipped: await count('skipped'), unmatched: await count('unmatched') });
  return { clock, metrics, events, engine, reconciler, at, tradeTheMinute, count, fieldCount, results };
}

describe('diffCandle', () => {
  const ours = (over: Partial<Candle> = {}): Candle => ({
    exchange: 'binance',
    symbol: 'BTC-USDT',
    timeframe: '1m',
    openTime: T0,
    open: '100',
    high: '102.5',
    low: '100.0',
    close: '102.50',
    volume: '1.4',
    quoteVolume: '141.00000000',
    takerBuyVolume: '1.00000000',
    tradeCount: 2,
    vwap: '100.71428571',
    closed: true,
    source: 'trades',
    revision: 0,
    ...over,
  });

  test('compares decimals by value, not by spelling', () => {
    assert.deepEqual(diffCandle(ours(), kline()), []);
  });

  test('reports each differing field', () => {
    assert.deepEqual(diffCandle(ours({ high: '102.50000001', tradeCount: 3 }), kline()), ['high', 'tradeCount']);
    assert.deepEqual(diffCandle(ours({ volume: 'garbage' }), kline()), ['volume']);
    const all = ours({ open: '1', high: '1', low: '1', close: '1', volume: '1', quoteVolume: '1', takerBuyVolume: '2', tradeCount: 1 });
    assert.deepEqual(diffCandle(all, kline()), [...RECONCILED_FIELDS]);
  });

  test('quote volume is compared to within 1e-8, other fields exactly', () => {
    assert.deepEqual(diffCandle(ours({ quoteVolume: '141.00000001' }), kline()), []);
    assert.deepEqual(diffCandle(ours({ quoteVolume: '140.99999999' }), kline()), []);
    assert.deepEqual(diffCandle(ours({ quoteVolume: '141.00000002' }), kline()), ['quoteVolume']);
    assert.deepEqual(diffCandle(ours({ volume: '1.40000001' }), kline()), ['volume']);
    // across a whole-unit boundary
    assert.deepEqual(diffCandle(ours({ quoteVolume: '140.99999999' }), kline({ quoteVolume: '141.00000000' })), []);
    assert.deepEqual(diffCandle(ours({ quoteVolume: '140.99999998' }), kline({ quoteVolume: '141.00000000' })), ['quoteVolume']);
  });
});

describe('Reconciler', () => {
  test('a matching exchange kline after our close counts a match', async () => {
    const s = setup();
    s.tradeTheMinute();
    s.at(T0 + MIN + GRACE);
    assert.equal(s.events.filter((e) => e.kind === 'close').length, 1);
    s.reconciler.onKline(kline({ receivedAt: T0 + MIN + GRACE + 500 }));
    assert.deepEqual(await s.results(), { match: 1, mismatch: 0, skipped: 0, unmatched: 0 });
  });

  test('a mismatch is counted once, and per field in reconciliation_mismatches_total{field}', async () => {
    const s = setup();
    s.tradeTheMinute();
    s.at(T0 + MIN + GRACE);
    s.reconciler.onKline(kline({ volume: '1.50000000', high: '103.00000000', tradeCount: 3 }));
    assert.deepEqual(await s.results(), { match: 0, mismatch: 1, skipped: 0, unmatched: 0 });
    assert.equal(await s.fieldCount('volume'), 1);
    assert.equal(await s.fieldCount('high'), 1);
    assert.equal(await s.fieldCount('tradeCount'), 1);
    for (const f of ['open', 'low', 'close', 'quoteVolume', 'takerBuyVolume']) assert.equal(await s.fieldCount(f), 0, f);
    assert.equal(await metricValue(s.metrics, 'candlestack_reconciliation_mismatches_total', { exchange: 'binance', timeframe: '1m', field: 'volume' }), 1);
  });

  test('a kline arriving before our close waits and is compared when the candle closes', async () => {
    const s = setup();
    s.tradeTheMinute();
    s.at(T0 + MIN + 100);
    s.reconciler.onKline(kline({ receivedAt: T0 + MIN + 100 }));
    assert.deepEqual(await s.results(), { match: 0, mismatch: 0, skipped: 0, unmatched: 0 }, 'nothing to compare yet');
    s.at(T0 + MIN + GRACE - 1);
    assert.deepEqual(await s.results(), { match: 0, mismatch: 0, skipped: 0, unmatched: 0 });
    s.at(T0 + MIN + GRACE);
    assert.deepEqual(await s.results(), { match: 1, mismatch: 0, skipped: 0, unmatched: 0 });
    // it is not compared a second time, nor swept as unmatched later
    s.reconciler.sweep(T0 + 60 * MIN);
    assert.deepEqual(await s.results(), { match: 1, mismatch: 0, skipped: 0, unmatched: 0 });
  });

  test('a waiting kline that differs is reported as a mismatch on close', async () => {
    const s = setup();
    s.tradeTheMinute();
    s.at(T0 + MIN + 100);
    s.reconciler.onKline(kline({ close: '101.00000000', receivedAt: T0 + MIN + 100 }));
    s.at(T0 + MIN + GRACE);
    assert.deepEqual(await s.results(), { match: 0, mismatch: 1, skipped: 0, unmatched: 0 });
    assert.equal(await s.fieldCount('close'), 1);
  });

  test('an open (x:false) kline is ignored', async () => {
    const s = setup();
    s.tradeTheMinute();
    s.reconciler.onKline(kline({ closed: false, volume: '9' }));
    s.at(T0 + MIN + GRACE);
    s.reconciler.sweep(T0 + 60 * MIN);
    assert.deepEqual(await s.results(), { match: 0, mismatch: 0, skipped: 0, unmatched: 0 });
  });

  test('a candle marked incomplete (gap) is skipped, kline after our close', async () => {
    const s = setup();
    s.tradeTheMinute();
    s.engine.markGap('binance', 'BTC-USDT', T0 + 30_000, T0 + 40_000);
    s.at(T0 + MIN + GRACE);
    s.reconciler.onKline(kline({ volume: '5.00000000' })); // the exchange saw trades we missed
    assert.deepEqual(await s.results(), { match: 0, mismatch: 0, skipped: 1, unmatched: 0 });
    assert.equal(await s.fieldCount('volume'), 0);
  });

  test('a candle marked incomplete (gap) is skipped, kline before our close', async () => {
    const s = setup();
    s.tradeTheMinute();
    s.engine.markGap('binance', 'BTC-USDT', T0 + 30_000, T0 + 40_000);
    s.at(T0 + MIN + 100);
    s.reconciler.onKline(kline({ volume: '5.00000000', receivedAt: T0 + MIN + 100 }));
    s.at(T0 + MIN + GRACE);
    assert.deepEqual(await s.results(), { match: 0, mismatch: 0, skipped: 1, unmatched: 0 });
    assert.equal(await s.fieldCount('volume'), 0);
  });

  test('a backfilled candle is skipped (it is the exchange data already)', async () => {
    const s = setup();
    s.tradeTheMinute();
    s.at(T0 + MIN + GRACE);
    const closed = s.engine.lookupClosed('binance', 'BTC-USDT', '1m', T0)!.candle;
    assert.equal(s.engine.applyBackfill({ ...closed, volume: '7.00000000' }), true);
    s.reconciler.onKline(kline());
    assert.deepEqual(await s.results(), { match: 0, mismatch: 0, skipped: 1, unmatched: 0 });
  });

  test('a kline that never meets a candle of ours is counted unmatched after holdMs, not before', async () => {
    const s = setup(60_000);
    s.reconciler.start();
    s.clock.set(T0 + MIN + 500);
    s.reconciler.onKline(kline({ symbol: 'ETH-USDT', receivedAt: T0 + MIN + 500 }));
    s.clock.advance(60_000); // exactly holdMs: still waiting
    assert.equal(await s.count('unmatched'), 0);
    s.clock.advance(30_000); // the next sweep is past holdMs
    assert.deepEqual(await s.results(), { match: 0, mismatch: 0, skipped: 0, unmatched: 1 });
    // once swept it is gone: a late candle of ours does not compare against it
    s.tradeTheMinute('ETH-USDT');
    s.at(T0 + 10 * MIN);
    s.clock.advance(120_000);
    assert.deepEqual(await s.results(), { match: 0, mismatch: 0, skipped: 0, unmatched: 1 });
    s.reconciler.stop();
    assert.equal(s.clock.pending(), 0, 'stop() cancels the sweep timer');
  });

  test('sweep() keeps klines younger than holdMs', async () => {
    const s = setup(10_000);
    s.reconciler.onKline(kline({ symbol: 'DOT-USDT', receivedAt: T0 }));
    s.reconciler.sweep(T0 + 10_000);
    assert.equal(await s.count('unmatched'), 0);
    s.reconciler.sweep(T0 + 10_001);
    assert.equal(await s.count('unmatched'), 1);
    s.reconciler.sweep(T0 + 20_000);
    assert.equal(await s.count('unmatched'), 1);
  });
});
