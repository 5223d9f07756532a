/**
 * Data-quality checks on REAL recorded Binance frames (test/fixtures/binance): quiet on the clean recording,
 * firing on a crafted defect of it. Real components: the collector over a local WebSocket server replaying
 * the frames, the candle engine, the reconciler, the batched writer and SQLite.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { systemClock, type Clock } from '../src/core/clock.js';
import type { Candle, CandleEvent, Trade } from '../src/core/types.js';
import { MemoryBus } from '../src/bus/memory.js';
import { binance } from '../src/exchanges/binance/feed.js';
import { Collector } from '../src/feed/collector.js';
import { CandleEngine } from '../src/pipeline/candle-engine.js';
import { Reconciler } from '../src/pipeline/reconciler.js';
import { klineToCandle } from '../src/core/kline.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { CandleWriter } from '../src/store/candle-writer.js';
import { QualityMonitor } from '../src/quality/monitor.js';
import { defaultQualitySettings } from '../src/quality/settings.js';
import type { Timeframe } from '../src/core/timeframe.js';
import { FakeClock } from './support/fake-clock.js';
import { log, sleep, testMetrics } from './support/harness.js';
import { APRIL, AUGUST, loadFrames, tradesOf } from './support/binance-fixtures.js';
import { fixtureLines } from './support/fixtures.js';
import type { ExchangeId } from '../src/core/exchange-id.js';
import { metricSeries } from './support/metrics.js';

function monitorFor(clock: Clock, markets: { exchange: ExchangeId; symbols: string[] }[], store = new SqliteStore(':memory:', () => clock.now()), candleTimeframe: Timeframe = '1m') {
  const metrics = testMetrics();
  const monitor = new QualityMonitor({ settings: defaultQualitySettings(), markets, candleTimeframe, candleSettleMs: 0, store, clock, metrics: metrics.quality, log });
  const check = (symbol: string, name: string) => monitor.explain('binance', symbol)!.checks.find((c) => c.check === name)!;
  return { monitor, metrics, store, check };
}

/** Serves the recorded frames to whoever connects, like Binance's combined stream would. */
async function replayServer(lines: string[]): Promise<{ url: string; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', (ws) => {
    for (const l of lines) ws.send(l);
  });
  await new Promise((r) => wss.once('listening', r));
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => wss.close(() => r())),
  };
}

/** Runs the real collector over the lines; returns the monitor after every trade went through. */
async function collect(lines: string[], expectedTrades: number) {
  const server = await replayServer(lines);
  const symbols = ['BTC-USDT', 'ETH-USDT', 'DOT-USDT'];
  const { monitor, metrics, check } = monitorFor(systemClock, [{ exchange: 'binance', symbols }]);
  const bus = new MemoryBus(metrics.bus, log);
  let trades = 0;
  bus.subscribe('trade', (t) => (trades++, monitor.onTrade(t)));
  bus.subscribe('gap', monitor.onGap);
  const collector = new Collector({
    adapter: binance,
    endpoints: { wsBaseUrl: server.url, restBaseUrl: 'http://127.0.0.1:9' },
    subscription: { symbols, timeframes: ['1m'], tradeStream: 'aggTrade', klines: true },
    staleAfterMs: 30_000,
    backoff: { initialMs: 100, maxMs: 1_000 },
    bus,
    clock: systemClock,
    metrics: metrics.feed,
    log,
  });
  collector.start();
  try {
    const deadline = Date.now() + 5_000;
    while (trades < expectedTrades && Date.now() < deadline) await sleep(10);
    assert.equal(trades, expectedTrades, 'every recorded trade went through the collector');
  } finally {
    await collector.stop();
    await server.close();
  }
  monitor.evaluate();
  return { monitor, metrics, check };
}

describe('quality on recorded Binance frames', () => {
  const april = fixtureLines('binance', APRIL);
  const aprilTrades = tradesOf(loadFrames(APRIL)).length;

  test('clean recording through the real collector: no trade-id gap, no out-of-order trade, outlier or bad volume', { timeout: 15_000 }, async () => {
    const { monitor, check } = await collect(april, aprilTrades);
    for (const symbol of ['BTC-USDT', 'ETH-USDT', 'DOT-USDT']) {
      for (const name of ['trade_id_gap', 'out_of_order', 'price_outlier', 'volume_sanity', 'staleness']) {
        const c = check(symbol, name);
        if (name !== 'price_outlier') assert.ok(c.runs > 0, `${symbol} ${name} ran`);
        assert.equal(c.failures, 0, `${symbol} ${name}: ${JSON.stringify(c.recentFailures)}`);
      }
      assert.equal(monitor.explain('binance', symbol)!.score, 1);
    }
    assert.equal(check('BTC-USDT', 'out_of_order').runs, 67, 'every BTCUSDT aggTrade was checked');
    assert.equal(check('BTC-USDT', 'price_outlier').runs, 67 - 17, 'BTCUSDT prices judged after the warm-up (ETH and DOT have too few trades)');
  });

  test('one BTCUSDT frame removed from the recording: the collector reports the gap and the trade_id_gap check fails on it', { timeout: 15_000 }, async () => {
    const i = april.findIndex((l) => l.includes('"a":665077480,'));
    assert.ok(i > 0, 'aggTrade 665077480 is in the recording');
    const { monitor, metrics, check } = await collect([...april.slice(0, i), ...april.slice(i + 1)], aprilTrades - 1);
    const gap = check('BTC-USDT', 'trade_id_gap');
    assert.equal(gap.failures, 1);
    assert.equal(gap.recentFailures[0]!.anomaly, 'trade_id_gap');
    assert.deepEqual({ missing: gap.recentFailures[0]!.values.missing, cause: gap.recentFailures[0]!.values.cause }, { missing: 1, cause: 'trade_id' });
    assert.equal(check('ETH-USDT', 'trade_id_gap').failures, 0, 'the other symbols are unaffected');
    assert.deepEqual(monitor.explain('binance', 'BTC-USDT')!.failing, ['trade_id_gap']);
    const anomalies = await metricSeries(metrics, 'candlestack_data_anomalies_detected_total');
    assert.deepEqual(anomalies.map((s) => [s.labels.type, s.value]), [['trade_id_gap', 1]]);
  });

  test('reconciliation: the live replay of 14:46 matches the closed klines (pass); an altered kline fails with both values', () => {
    const frames = loadFrames(AUGUST);
    const MINUTE = 1628952360000;
    const clock = new FakeClock(frames[0]!.E);
    const { monitor, check } = monitorFor(clock, [{ exchange: 'binance', symbols: ['FTM-USDT', 'SXP-BTC', 'XMR-BTC'] }]);
    let reconciler: Reconciler | undefined;
    const engine = new CandleEngine({ timeframes: ['1m'], graceMs: 2_000, latePolicy: 'drop', clock, metrics: testMetrics(), log, emit: (e) => reconciler?.onCandle(e) });
    reconciler = new Reconciler({ engine, clock, metrics: testMetrics().candles, log, holdMs: 60_000, onResult: monitor.onReconcile });
    // recording began mid-minute: each symbol resumes from its first 14:46 kline snapshot (as after a restart)
    const restoreAt = new Map([['FTM-USDT', 1628952396573], ['SXP-BTC', 1628952398392], ['XMR-BTC', 1628952417151]]);
    const restoredL = new Map<string, number>();
    for (const x of frames) {
      clock.set(x.E);
      engine.tick(clock.now());
      if (x.kind === 'kline') {
        if (restoreAt.get(x.kline.symbol) === x.E && x.kline.openTime === MINUTE) {
          engine.restore([klineToCandle(x.kline, 'trades')], x.E);
          restoredL.set(x.kline.symbol, x.L);
        }
        reconciler.onKline(x.kline);
      } else {
        const L = restoredL.get(x.trade.symbol);
        if (L !== undefined && x.f > L) engine.onTrade(x.trade);
      }
    }
    assert.equal(check('FTM-USDT', 'reconciliation').runs, 1);
    assert.equal(check('SXP-BTC', 'reconciliation').runs, 1);
    for (const s of ['FTM-USDT', 'SXP-BTC', 'XMR-BTC']) assert.equal(check(s, 'reconciliation').failures, 0, s);

    const closedFtm = frames.find((x) => x.kind === 'kline' && x.kline.symbol === 'FTM-USDT' && x.kline.closed)!;
    assert.ok(closedFtm.kind === 'kline');
    reconciler.onKline({ ...closedFtm.kline, close: '0.34000000' });
    const rec = check('FTM-USDT', 'reconciliation');
    assert.equal(rec.failures, 1);
    const f = rec.recentFailures[0]!;
    assert.equal(f.anomaly, 'kline_mismatch');
    assert.deepEqual(f.values.fields, ['close']);
    assert.deepEqual([(f.values.ours as Candle).close, (f.values.theirs as Candle).close], [closedFtm.kline.close, '0.34000000']);
  });

  test('missing candles: every 1s period of the recording is stored (pass); a series with holes fails naming them', async () => {
    const trades = tradesOf(loadFrames(APRIL)).filter((t) => t.symbol === 'BTC-USDT');
    const clock = new FakeClock(trades[0]!.time);
    const { monitor, metrics, store, check } = monitorFor(clock, [{ exchange: 'binance', symbols: ['BTC-USDT', 'SOL-USDT'] }], undefined, '1s');
    const writer = new CandleWriter({ store, clock, metrics: metrics.store, log, flushMs: 1_000 });
    const engine = new CandleEngine({ timeframes: ['1s'], graceMs: 0, latePolicy: 'drop', clock, metrics, log, emit: (e: CandleEvent) => writer.onEvent(e) });
    for (const t of trades) {
      clock.set(t.time);
      engine.tick(t.time);
      engine.onTrade(t as Trade);
      monitor.onTrade({ ...t, receivedAt: t.time });
    }
    clock.advance(3_000);
    engine.tick(clock.now());
    await writer.flush();
    // SOLUSDT: ten 1s candles stored, with periods 4 and 7 missing
    const base = Math.floor(trades[0]!.time / 1000) * 1000;
    const sol = (i: number): Candle => ({ exchange: 'binance', symbol: 'SOL-USDT', timeframe: '1s', openTime: base + i * 1000, open: '1', high: '1', low: '1', close: '1', volume: '0', quoteVolume: '0', takerBuyVolume: '0', tradeCount: 0, vwap: '1', closed: true, source: 'trades', revision: 0 });
    await store.upsert([0, 1, 2, 3, 5, 6, 8, 9].map(sol));
    clock.set(base + 10_000); // the last period checked is the one before now: base + 9 s
    engine.tick(clock.now());
    await writer.flush();
    await monitor.checkCandles(clock.now());

    const btc = check('BTC-USDT', 'missing_candles');
    assert.equal(btc.runs, 1);
    assert.equal(btc.failures, 0, JSON.stringify(btc.recentFailures));
    const solCheck = check('SOL-USDT', 'missing_candles');
    assert.equal(solCheck.failures, 1);
    const v = solCheck.recentFailures[0]!.values;
    assert.deepEqual({ expected: v.expected, found: v.found, missing: v.missing }, { expected: 10, found: 8, missing: [new Date(base + 4000).toISOString(), new Date(base + 7000).toISOString()] });
    await store.close();
  });
});
