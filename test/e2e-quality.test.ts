/**
 * End to end, in process: the simulated Binance injects a price outlier, a trade-id gap and a stall into the
 * running pipeline; GET /api/quality explains each one (what failed, when, on what values) and /metrics
 * counts them, under names that pass promtool.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { systemClock } from '../src/core/clock.js';
import { defaultConfig, type Config } from '../src/config/config.js';
import { startEmbedded } from '../src/app/embedded.js';
import { SimulatedBinance, type SimTrade } from '../src/demo/simulated-binance/server.js';
import type { QualityReport } from '../src/quality/report.js';
import { log, skipUnlessAvailable, sleep, until } from './support/harness.js';
import { metricSeries, metricValue, parseExposition } from './support/metrics.js';

test('an injected outlier, trade-id gap and stall each show in /api/quality and /metrics', { timeout: 60_000 }, async (t) => {
  const sim = new SimulatedBinance({ seed: 5, tradesPerSecond: 150, symbols: ['BTC-USDT', 'ETH-USDT'] });
  const trades: SimTrade[] = [];
  sim.onTrade((x) => trades.push(x));
  const { wsBaseUrl, restBaseUrl } = await sim.start();
  const base = defaultConfig();
  const config: Config = {
    ...base,
    exchanges: [{ ...base.exchanges[0]!, symbols: ['BTC-USDT', 'ETH-USDT'], wsUrl: wsBaseUrl, restUrl: restBaseUrl }],
    timeframes: ['1s', '1m'],
    candles: { graceMs: 300, latePolicy: 'drop', tickMs: 50 },
    feed: { staleAfterMs: 10_000, backoffInitialMs: 100, backoffMaxMs: 500 },
    store: { url: 'sqlite::memory:', flushMs: 100 },
    http: { host: '127.0.0.1', port: 0 },
    quality: { ...base.quality, checkIntervalMs: 200, staleAfterMs: 1_000, candleCheckIntervalMs: 1_000, candlePeriods: 30 },
  };
  const app = await startEmbedded(config, { clock: systemClock, log, version: 'test', role: 'test' });
  const api = `http://127.0.0.1:${app.port}`;
  const report = async (symbol: string) => (await (await fetch(`${api}/api/quality?exchange=binance&symbol=${symbol}`)).json()) as QualityReport;
  const check = (r: QualityReport, name: string) => r.checks.find((c) => c.check === name)!;
  try {
    // warm up: the outlier check judges once it has a robust scale (a few dozen trades)
    await until('BTCUSDT prices being judged', async () => (check(await report('BTC-USDT'), 'price_outlier').runs ?? 0) > 20, 15_000);
    const clean = await report('BTC-USDT');
    assert.equal(check(clean, 'price_outlier').failures, 0, 'no outlier before the injection');

    const injectedAt = Date.now();
    sim.injectOutlier('BTC-USDT', 1.2);
    const spike = trades.filter((x) => x.symbol === 'BTCUSDT').at(-1)!;
    sim.skipTradeIds('ETH-USDT', 5);
    await sleep(500);
    const stallAt = Date.now();
    sim.pauseStreams(2_500);

    const btc = await until('the outlier and the stall in BTCUSDT quality', async () => {
      const r = await report('BTC-USDT');
      return check(r, 'price_outlier').failures > 0 && check(r, 'staleness').failures > 0 ? r : undefined;
    }, 15_000);
    const eth = await until('the gap and the stall in ETHUSDT quality', async () => {
      const r = await report('ETH-USDT');
      return check(r, 'trade_id_gap').recentFailures.some((f) => f.values.missing === 5) && check(r, 'staleness').failures > 0 ? r : undefined;
    }, 15_000);

    // the outlier: which trade, at what price, against what level
    const outlier = check(btc, 'price_outlier');
    assert.equal(outlier.failures, 1, 'one outlier, and not the trade after it');
    const o = outlier.recentFailures[0]!;
    assert.equal(o.anomaly, 'price_outlier');
    assert.equal(o.values.id, spike.id);
    assert.equal(o.values.price, spike.price);
    assert.ok(Math.abs((o.values.logReturn as number) - Math.log(1.2)) < 0.01, `log return ${o.values.logReturn}`);
    assert.ok(o.at >= injectedAt, 'when');
    // the gap: how many ids, from the stream
    const gap = check(eth, 'trade_id_gap').recentFailures.find((f) => f.values.missing === 5)!;
    assert.deepEqual([gap.anomaly, gap.values.cause], ['trade_id_gap', 'trade_id']);
    // the stall: the age of the last trade against the threshold, during the pause
    for (const r of [btc, eth]) {
      const stale = check(r, 'staleness').recentFailures.find((f) => f.at >= stallAt)!;
      assert.ok(stale, `${r.symbol}: stale during the pause`);
      assert.equal(stale.anomaly, 'stale_feed');
      assert.ok((stale.values.ageMs as number) > 1_000 && stale.values.thresholdMs === 1_000);
    }
    assert.ok(btc.failing.includes('price_outlier') && btc.failing.includes('staleness'), `BTCUSDT failing: ${btc.failing}`);
    assert.ok(btc.score < 1 && btc.score >= 0);
    // the stall left no hole in the stored candles: a missing-candle check that covers it (pause + settle) passed
    const afterStall = await until('a missing-candle check covering the stall', async () => {
      const r = await report('BTC-USDT');
      return (check(r, 'missing_candles').lastRun ?? 0) > stallAt + 2_500 + 2_000 ? r : undefined;
    }, 15_000);
    assert.equal(check(afterStall, 'missing_candles').failures, 0, JSON.stringify(check(afterStall, 'missing_candles').recentFailures));

    const all = (await (await fetch(`${api}/api/quality`)).json()) as { scores: { symbol: string; score: number }[] };
    assert.deepEqual(all.scores.map((s) => s.symbol).sort(), ['BTC-USDT', 'ETH-USDT']);

    await sleep(300); // one more evaluation: per-trade passes and the score reach /metrics
    const text = await (await fetch(`${api}/metrics`)).text();
    const metrics = parseExposition(text);
    const checks = (check: string, result: string) => metricValue(metrics, 'candlestack_data_quality_checks_total', { exchange: 'binance', check, result });
    const anomalies = (type: string) => metricValue(metrics, 'candlestack_data_anomalies_detected_total', { exchange: 'binance', type });
    assert.equal(await checks('price_outlier', 'fail'), 1);
    assert.ok((await checks('price_outlier', 'pass')) > 20);
    assert.ok((await checks('trade_id_gap', 'fail')) >= 1);
    assert.ok((await checks('staleness', 'fail')) >= 2);
    assert.equal(await anomalies('price_outlier'), 1);
    assert.ok((await anomalies('trade_id_gap')) >= 1);
    assert.ok((await anomalies('stale_feed')) >= 2);
    // gauges: the series must be there (metricValue reads a missing one as 0)
    const [score] = await metricSeries(metrics, 'candlestack_data_quality_score', { exchange: 'binance', symbol: 'BTC-USDT' });
    assert.ok(score && score.value < 1, `BTC-USDT quality score ${score?.value}`);
    assert.deepEqual((await metricSeries(metrics, 'candlestack_circuit_breaker_state', { component: 'store_write' })).map((x) => x.value), [0]);
    assert.deepEqual((await metricSeries(metrics, 'candlestack_circuit_breaker_state', { component: 'backfill_rest' })).map((x) => x.value), [0]);

    const health = (await (await fetch(`${api}/api/health`)).json()) as { breakers: { component: string; state: string }[] };
    assert.deepEqual(health.breakers.map((b) => [b.component, b.state]), [['store_write', 'closed'], ['backfill_rest', 'closed']]);

    for (const [query, parameter] of [['symbol=NOPE', 'symbol'], ['exchange=kraken&symbol=BTCUSDT', 'exchange'], ['colour=red', 'colour']] as const) {
      const res = await fetch(`${api}/api/quality?${query}`);
      assert.equal(res.status, 400, query);
      const body = (await res.json()) as { error: { code: string; message: string; parameter: string } };
      assert.equal(body.error.parameter, parameter, query);
      assert.equal(body.error.code, 'bad_parameter');
    }

    const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
    const missing = skipUnlessAvailable(promtool.status === 0, 'promtool not installed (Debian package prometheus)');
    if (missing) return t.skip(missing);
    const ours = text.split('\n').filter((l) => !/nodejs_active_(handles|requests|resources)_total/.test(l)).join('\n');
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: ours, encoding: 'utf8' });
    assert.equal(lint.status, 0, `promtool check metrics: ${lint.stdout}${lint.stderr}`);
  } finally {
    await app.stop();
    await sim.stop();
  }
});
