/**
 * Each data-quality check on crafted bad input (and quiet around it), the score and its decay, and the
 * metrics, on a fake clock. Clean input is the recorded real BTCUSDT aggTrades (test/fixtures/binance).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Trade } from '../src/core/types.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { QualityMonitor } from '../src/quality/monitor.js';
import { defaultQualitySettings, type QualitySettings } from '../src/quality/settings.js';
import { RollingWindow } from '../src/quality/rolling-window.js';
import { mulberry32 } from '../src/core/random.js';
import { FakeClock } from './support/fake-clock.js';
import { log, testMetrics } from './support/harness.js';
import type { ExchangeId } from '../src/core/exchange-id.js';
import { APRIL, loadFrames, tradesOf } from './support/binance-fixtures.js';
import { metricSeries, metricValue } from './support/metrics.js';

const REAL_BTC = tradesOf(loadFrames(APRIL)).filter((t) => t.symbol === 'BTC-USDT');

function setup(over: Partial<QualitySettings> = {}, markets: { exchange: ExchangeId; symbols: string[] }[] = [{ exchange: 'binance', symbols: ['BTC-USDT'] }]) {
  const clock = new FakeClock(REAL_BTC[0]!.time);
  const metrics = testMetrics();
  const settings = { ...defaultQualitySettings(), ...over };
  const store = new SqliteStore(':memory:', () => clock.now());
  const monitor = new QualityMonitor({ settings, markets, candleTimeframe: '1m', candleSettleMs: 0, store, clock, metrics: metrics.quality, log });
  /** Feeds a trade received at its own time (the clock follows). */
  const feed = (t: Trade) => {
    clock.set(Math.max(clock.now(), t.time));
    monitor.onTrade({ ...t, receivedAt: clock.now() });
  };
  const check = (name: string, exchange: ExchangeId = 'binance', symbol = 'BTC-USDT') => monitor.explain(exchange, symbol)!.checks.find((c) => c.check === name)!;
  const value = (name: string, labels: Record<string, string>) => metricValue(metrics, name, labels);
  return { clock, metrics, monitor, feed, check, value, settings };
}

/** A real trade moved to a new id, time and (optionally) price/qty. */
function variant(base: Trade, over: Partial<Trade>): Trade {
  return { ...base, ...over };
}

const last = REAL_BTC.at(-1)!;

describe('per-trade checks', () => {
  test('the real recording passes every per-trade check', () => {
    const { feed, check } = setup();
    for (const t of REAL_BTC) feed(t);
    for (const name of ['out_of_order', 'price_outlier', 'volume_sanity']) {
      assert.equal(check(name).failures, 0, `${name}: ${JSON.stringify(check(name).recentFailures)}`);
    }
    assert.equal(check('out_of_order').runs, REAL_BTC.length);
    assert.equal(check('volume_sanity').runs, REAL_BTC.length);
    assert.equal(check('price_outlier').runs, REAL_BTC.length - 17, 'judged once 16 returns give a robust scale (warm-up)');
  });

  test('out of order: a trade stamped before the previous one fails, with both times; the stream then carries on', () => {
    const { feed, check } = setup();
    for (const t of REAL_BTC) feed(t);
    feed(variant(last, { id: last.id + 1, time: last.time - 1_500 }));
    const c = check('out_of_order');
    assert.equal(c.failures, 1);
    assert.deepEqual(c.recentFailures[0]!.values, { id: last.id + 1, time: last.time - 1_500, previousId: last.id, previousTime: last.time });
    feed(variant(last, { id: last.id + 2, time: last.time + 10 }));
    assert.equal(check('out_of_order').failures, 1);
    assert.equal(check('out_of_order').lastResult, 'pass');
  });

  test('price outlier: a 3 % spike fails against the robust scale; the trade after it is judged against the level before it', () => {
    const { feed, check } = setup();
    for (const t of REAL_BTC) feed(t);
    const spike = (Number(last.price) * 1.03).toFixed(2);
    feed(variant(last, { id: last.id + 1, time: last.time + 5, price: spike }));
    feed(variant(last, { id: last.id + 2, time: last.time + 10 }));
    const c = check('price_outlier');
    assert.equal(c.failures, 1, 'only the spike, not the return to the level');
    const v = c.recentFailures[0]!.values;
    assert.equal(v.price, spike);
    assert.equal(v.reference, Number(last.price));
    assert.ok(Math.abs((v.logReturn as number) - Math.log(1.03)) < 1e-4);
    assert.equal(c.lastResult, 'pass');
  });

  test('price outlier: the same 2 % jump is an outlier in a calm market and not in a volatile one (robust scale)', () => {
    /** 200 trades whose log returns are N(0, σ) (seeded), then one +2 % trade; returns the outlier failures. */
    const run = (sigma: number, bounce = false) => {
      const { feed, check } = setup({ outlierMinJump: 0.001 });
      const rng = mulberry32(42);
      let price = 100;
      for (let i = 0; i < 200; i++) {
        const z = Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
        price *= Math.exp(bounce ? (i % 2 === 0 ? sigma : -sigma) : sigma * z);
        feed(variant(last, { id: i, time: last.time + i * 10, price: price.toFixed(6) }));
      }
      feed(variant(last, { id: 200, time: last.time + 2_000, price: (price * 1.02).toFixed(6) }));
      return check('price_outlier').failures;
    };
    assert.equal(run(0.0001), 1, 'calm (σ 0.01 %): 2 % is far beyond 10 robust σ');
    assert.equal(run(0.005), 0, 'volatile (σ 0.5 %): 2 % is within 10 robust σ');
    assert.equal(run(0.005, true), 0, 'a ±0.5 % bid-ask bounce (MAD 0) is still a 0.5 % scale: no false alarms');
  });

  test('price outlier: confirmTrades outliers in a row are a level shift, after which the new level passes', () => {
    const { feed, check } = setup();
    for (const t of REAL_BTC) feed(t);
    const up = (Number(last.price) * 1.05).toFixed(2);
    for (let i = 1; i <= 5; i++) feed(variant(last, { id: last.id + i, time: last.time + i, price: up }));
    assert.equal(check('price_outlier').failures, 3, 'three outliers, then the level is accepted');
    assert.equal(check('price_outlier').lastResult, 'pass');
  });

  test('volume sanity: zero quantity, zero price and an absurd size fail, each with its anomaly type', async () => {
    const { feed, check, value } = setup();
    for (const t of REAL_BTC) feed(t);
    feed(variant(last, { id: last.id + 1, qty: '0.00000000' }));
    feed(variant(last, { id: last.id + 2, price: '0.00000000' }));
    feed(variant(last, { id: last.id + 3, qty: '5000.00000000' })); // ~10^6 × the recent median of ~0.004
    feed(variant(last, { id: last.id + 4, qty: '2.50000000' })); // large but plausible (~600×)
    const c = check('volume_sanity');
    assert.deepEqual(c.recentFailures.map((f) => f.anomaly), ['absurd_size', 'invalid_trade', 'invalid_trade']);
    assert.equal(c.lastResult, 'pass');
    assert.equal(await value('candlestack_data_anomalies_detected_total', { type: 'invalid_trade' }), 2);
    assert.equal(await value('candlestack_data_anomalies_detected_total', { type: 'absurd_size' }), 1);
  });
});

describe('periodic checks', () => {
  test('staleness: fails while no trade arrives for longer than staleAfter (one anomaly per episode), passes again after a trade', async () => {
    const { clock, monitor, feed, check, value } = setup({ staleAfterMs: 10_000 });
    for (const t of REAL_BTC) feed(t);
    monitor.evaluate();
    assert.equal(check('staleness').failures, 0);
    for (let i = 0; i < 4; i++) {
      clock.advance(5_000);
      monitor.evaluate();
    }
    const c = check('staleness');
    assert.equal(c.failures, 2, 'at 15 s and 20 s without a trade');
    assert.deepEqual(c.recentFailures[0]!.values, { lastTradeReceivedAt: last.time, ageMs: 20_000, thresholdMs: 10_000 });
    assert.equal(await value('candlestack_data_anomalies_detected_total', { type: 'stale_feed' }), 1, 'one stale episode');
    assert.equal(await value('candlestack_data_quality_checks_total', { check: 'staleness', result: 'fail' }), 2);
    feed(variant(last, { id: last.id + 1, time: clock.now() }));
    monitor.evaluate();
    assert.equal(check('staleness').lastResult, 'pass');
  });

  test('trade-id gaps: a gap event fails the check with what is missing; startup gaps and reconnects without lost ids do not', () => {
    const { monitor, feed, check } = setup();
    feed(REAL_BTC[0]!);
    monitor.onGap({ type: 'gap', exchange: 'binance', symbol: 'BTC-USDT', from: 1, to: 2, cause: 'startup' });
    monitor.onGap({ type: 'gap', exchange: 'binance', symbol: 'BTC-USDT', from: 1, to: 2, cause: 'reconnect' });
    monitor.evaluate();
    assert.equal(check('trade_id_gap').failures, 0);
    assert.equal(check('trade_id_gap').runs, 1, 'a pass: trades arrived and ids stayed consecutive');
    monitor.onGap({ type: 'gap', exchange: 'binance', symbol: 'BTC-USDT', from: last.time - 1000, to: last.time, cause: 'trade_id', missing: 7 });
    const c = check('trade_id_gap');
    assert.equal(c.failures, 1);
    assert.deepEqual(c.recentFailures[0]!.values, { missing: 7, from: last.time - 1000, to: last.time, cause: 'trade_id' });
  });

  test('cross-exchange divergence: quiet with one exchange, passes within maxDivergence, fails beyond it on both sides; the spread gauge in bps', async () => {
    const markets: { exchange: ExchangeId; symbols: string[] }[] = [
      { exchange: 'binance', symbols: ['BTC-USDT'] },
      { exchange: 'coinbase', symbols: ['BTC-USDT'] },
      { exchange: 'kraken', symbols: ['ETH-USDT'] },
    ];
    const { clock, monitor, check, value, metrics } = setup({ maxDivergence: 0.01 }, markets);
    const spread = () => value('candlestack_cross_exchange_spread_bps', { symbol: 'BTC-USDT' });
    const trade = (exchange: ExchangeId, symbol: string, id: number, price: string): Trade => ({ type: 'trade', exchange, symbol, id, price, qty: '1.00000000', side: 'buy', count: 1, time: clock.now(), receivedAt: clock.now() });
    monitor.onTrade(trade('binance', 'BTC-USDT', 1, '100.00'));
    monitor.evaluate();
    assert.equal(check('cross_exchange', 'binance', 'BTC-USDT').runs, 0, 'one exchange only: not run');
    monitor.onTrade(trade('coinbase', 'BTC-USDT', 1, '100.50'));
    monitor.onTrade(trade('kraken', 'ETH-USDT', 1, '3000'));
    monitor.evaluate();
    assert.deepEqual([check('cross_exchange', 'binance', 'BTC-USDT').runs, check('cross_exchange', 'coinbase', 'BTC-USDT').runs], [1, 1]);
    assert.equal(check('cross_exchange', 'kraken', 'ETH-USDT').runs, 0, 'a symbol on one exchange only');
    assert.equal(check('cross_exchange', 'binance', 'BTC-USDT').failures, 0);
    assert.ok(Math.abs((await spread()) - 0.5 / 100.25 * 10_000) < 1e-9, 'spread (high - low) / median in bps');
    monitor.onTrade(trade('kraken', 'BTC-USDT', 1, '103.00')); // a third exchange, 3 % above
    monitor.evaluate();
    const c = check('cross_exchange', 'kraken', 'BTC-USDT');
    assert.equal(c.failures, 1, 'kraken diverges from the median of the three');
    assert.deepEqual(c.recentFailures[0]!.values.others, { binance: 100, coinbase: 100.5 });
    assert.equal(c.recentFailures[0]!.values.median, 100.5);
    assert.ok(Math.abs((await spread()) - 3 / 100.5 * 10_000) < 1e-9, 'three exchanges: 100, 100.5, 103 -> 298.5 bps');
    assert.equal(check('cross_exchange', 'binance', 'BTC-USDT').failures, 0, 'binance is 0.5 % from the median: within 1 %');
    clock.advance(120_000); // binance and coinbase go stale: one fresh exchange left, the check does not run
    monitor.onTrade(trade('kraken', 'BTC-USDT', 2, '103.00'));
    monitor.evaluate();
    assert.equal(check('cross_exchange', 'kraken', 'BTC-USDT').runs, 1);
    const series = await metricSeries(metrics, 'candlestack_cross_exchange_spread_bps');
    assert.deepEqual(series, [], 'one fresh price: no spread series rather than a stale one');
  });
});

describe('score', () => {
  test('one outlier takes its weight out of the score at once; it recovers with the half-life and is forgotten after the window', async () => {
    const { clock, monitor, feed, value } = setup({ staleAfterMs: 3_600_000 });
    for (const t of REAL_BTC) feed(t);
    monitor.evaluate();
    assert.equal(monitor.explain('binance', 'BTC-USDT')!.score, 1);
    feed(variant(last, { id: last.id + 1, time: last.time + 1, price: (Number(last.price) * 1.1).toFixed(2) }));
    let n = last.id + 2;
    const keepTrading = (ms: number) => {
      clock.advance(ms);
      feed(variant(last, { id: n++, time: clock.now() }));
      monitor.evaluate();
    };
    keepTrading(1);
    // active: staleness 3, trade_id_gap 2, out_of_order 1, price_outlier 1, volume_sanity 1 (Σ 8)
    const r = monitor.explain('binance', 'BTC-USDT')!;
    assert.deepEqual(r.failing, ['price_outlier']);
    assert.ok(Math.abs(r.score - 7 / 8) < 1e-3, `score ${r.score}`);
    assert.ok(Math.abs((await value('candlestack_data_quality_score', { symbol: 'BTC-USDT' })) - r.score) < 1e-9, 'the gauge shows it');
    keepTrading(300_000 - 2); // one half-life
    assert.ok(Math.abs(monitor.explain('binance', 'BTC-USDT')!.score - 7.5 / 8) < 1e-3);
    keepTrading(601_000); // past the 15 min window
    assert.equal(monitor.explain('binance', 'BTC-USDT')!.score, 1);
    assert.deepEqual(monitor.explain('binance', 'BTC-USDT')!.failing, []);
  });

  test('per-trade passes reach the checks counter at each evaluation', async () => {
    const { monitor, feed, value } = setup();
    for (const t of REAL_BTC) feed(t);
    assert.equal(await value('candlestack_data_quality_checks_total', { check: 'out_of_order', result: 'pass' }), 0);
    monitor.evaluate();
    assert.equal(await value('candlestack_data_quality_checks_total', { check: 'out_of_order', result: 'pass' }), REAL_BTC.length);
  });
});

test('RollingWindow: median and MAD over the last n values', () => {
  const w = new RollingWindow(5);
  for (const x of [10, 1, 2, 3, 100, 4, 5]) w.push(x); // keeps 2 3 100 4 5
  assert.equal(w.count, 5);
  assert.equal(w.median(), 4);
  assert.equal(w.mad(4), 1); // |2-4| |3-4| |100-4| |4-4| |5-4| = 2 1 96 0 1 -> median 1
  assert.equal(w.iqr(), 2); // sorted 2 3 4 5 100: Q1 3, Q3 5
  const warm = new RollingWindow(8);
  for (const x of [3, 1, 2, 10]) warm.push(x);
  assert.equal(warm.median(), 2.5);
});

test('RollingWindow: quickselect quantiles equal those of a full sort (random windows, ties included)', () => {
  const rng = mulberry32(9);
  for (let trial = 0; trial < 300; trial++) {
    const size = 3 + Math.floor(rng() * 60);
    const w = new RollingWindow(size);
    const all: number[] = [];
    for (let i = 0, n = 1 + Math.floor(rng() * size * 2); i < n; i++) {
      const x = rng() < 0.3 ? Math.round(rng() * 3) : rng() * 100 - 50;
      w.push(x);
      all.push(x);
    }
    const kept = all.slice(-size).sort((a, b) => a - b);
    const q = (p: number) => {
      const pos = (kept.length - 1) * p;
      const lo = Math.floor(pos);
      return kept[lo]! + ((kept[Math.min(lo + 1, kept.length - 1)]! - kept[lo]!) * (pos - lo));
    };
    for (const p of [0, 0.25, 0.5, 0.75, 1]) assert.ok(Math.abs(w.quantile(p) - q(p)) < 1e-12, `trial ${trial} q${p}`);
    const med = q(0.5);
    const dev = kept.map((x) => Math.abs(x - med)).sort((a, b) => a - b);
    const h = dev.length >> 1;
    assert.ok(Math.abs(w.mad(med) - (dev.length % 2 ? dev[h]! : (dev[h - 1]! + dev[h]!) / 2)) < 1e-12, `trial ${trial} mad`);
  }
});
