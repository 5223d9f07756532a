/**
 * /metrics of a running demo pipeline: every family the foundation promises is exposed, with bounded
 * labels, and the exposition passes Prometheus' own linter (promtool check metrics).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { systemClock } from '../src/core/clock.js';
import { defaultConfig } from '../src/config/config.js';
import { startDemo } from '../src/demo/demo.js';
import { log, skipUnlessAvailable, sleep } from './support/harness.js';
import { metricValue, parseExposition } from './support/metrics.js';

const FAMILIES = [
  'candlestack_trades_received_total',
  'candlestack_collector_errors_total',
  'candlestack_websocket_reconnections_total',
  'candlestack_collector_status',
  'candlestack_last_trade_timestamp_seconds',
  'candlestack_messages_rejected_total',
  'candlestack_trade_id_gaps_total',
  'candlestack_candles_completed_total',
  'candlestack_candle_close_latency_seconds',
  'candlestack_late_trades_total',
  'candlestack_reconciliation_mismatches_total',
  'candlestack_reconciliations_total',
  'candlestack_candle_close_price',
  'candlestack_candle_volume',
  'candlestack_bus_messages_published_total',
  'candlestack_bus_messages_consumed_total',
  'candlestack_store_write_duration_seconds',
  'candlestack_store_errors_total',
  'candlestack_http_requests_total',
  'candlestack_http_request_duration_seconds',
  'candlestack_websocket_clients',
  'candlestack_websocket_messages_sent_total',
  'candlestack_job_last_success_timestamp_seconds',
  'candlestack_indicator_calculation_duration_seconds',
  'candlestack_features_calculated_total',
  'candlestack_indicator_values_calculated_total',
  'candlestack_feature_calculation_duration_seconds',
  'process_cpu_seconds_total',
  'process_resident_memory_bytes',
  'nodejs_eventloop_lag_seconds',
  'nodejs_heap_size_used_bytes',
];

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });

test('/metrics exposes the catalogue families and passes promtool check metrics', { timeout: 30_000 }, async (t) => {
  const config = defaultConfig();
  config.http = { host: '127.0.0.1', port: 0 };
  config.timeframes = ['1s', '1m'];
  config.candles = { ...config.candles, graceMs: 200, tickMs: 50 };
  config.store = { url: 'sqlite::memory:', flushMs: 100 };
  const demo = await startDemo(config, { rate: 200, seed: 3, chaos: false, symbolsGiven: false, storeGiven: true }, { clock: systemClock, log, version: 'test' });
  try {
    await sleep(2_500);
    demo.sim!.skipTradeIds('BTC-USDT', 3);
    await sleep(1_000);
    const api = `http://127.0.0.1:${demo.port}`;
    await fetch(`${api}/api/candles?timeframe=nope`);
    const text = await (await fetch(`${api}/metrics`)).text();
    for (const family of FAMILIES) assert.match(text, new RegExp(`^# TYPE ${family} `, 'm'), `${family} is exposed`);
    const samples = parseExposition(text);
    assert.equal(await metricValue(samples, 'candlestack_http_requests_total', { method: 'GET', route: '/api/candles', status: '400' }), 1);
    assert.equal(await metricValue(samples, 'candlestack_trade_id_gaps_total', { exchange: 'binance', symbol: 'BTC-USDT', cause: 'stream' }), 1);
    assert.ok((await metricValue(samples, 'candlestack_candles_completed_total', { exchange: 'binance', timeframe: '1s' })) >= 1);
    // Bounded labels: no label carries an id or a timestamp.
    for (const line of text.split('\n')) if (!line.startsWith('#')) assert.doesNotMatch(line, /="\d{6,}"/, line);

    const promtoolMissing = skipUnlessAvailable(promtool.status === 0, 'promtool not installed (Debian package prometheus)');
    if (promtoolMissing) return t.skip(promtoolMissing);
    // prom-client's nodejs_active_* gauges end in _total, which promtool flags; they are not ours.
    const ours = text.split('\n').filter((l) => !/nodejs_active_(handles|requests|resources)_total/.test(l)).join('\n');
    const check = spawnSync('promtool', ['check', 'metrics'], { input: ours, encoding: 'utf8' });
    assert.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
  } finally {
    await demo.stop();
  }
});
