/**
 * The split roles carry what the embedded role has beyond candles: over a real Kafka-protocol broker
 * (librdkafka's mock cluster), the process role computes and stores indicators and publishes them on the
 * `indicator` topic, scores data quality and runs the store_write / backfill_rest / bus_produce circuit breakers; the serve
 * role answers /api/indicators from the store and pushes `indicator` events to /ws.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { systemClock } from '../src/core/clock.js';
import type { Config } from '../src/config/config.js';
import { startCollect } from '../src/app/collect.js';
import { startProcess } from '../src/app/process.js';
import { startServe } from '../src/app/serve.js';
import { kafkaMockUnavailable } from './support/kafka/mock-cluster.js';
import { kafkaFixture } from './support/roles-fixture.js';
import { log, skipUnlessAvailable, until } from './support/harness.js';
import { metricSeries, metricValue, scrapeMetrics } from './support/metrics.js';

interface ApiIndicators {
  names: string[];
  indicators: { openTime: number; values: Record<string, Record<string, number | null>> }[];
}

test('process stores and publishes indicators, scores quality and runs breakers; serve serves /api/indicators and live indicators', { timeout: 120_000 }, async (t) => {
  const why = kafkaMockUnavailable();
  const reason = skipUnlessAvailable(why === undefined, why ?? '');
  if (reason) return t.skip(reason);
  const fx = await kafkaFixture(13);
  const config: Config = {
    ...fx.config,
    indicators: { enabled: true, forming: true, history: 500, specs: [{ kind: 'sma', period: 2 }, { kind: 'ema', period: 3 }] },
  };
  const deps = { clock: systemClock, log, version: 'test' };
  const processRole = await startProcess(config, deps);
  const serve = await startServe(config, deps);
  const collect = await startCollect(config, deps);
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${serve.port}/ws`);
    const live: { type: string; values?: Record<string, unknown> }[] = [];
    ws.on('message', (d) => live.push(JSON.parse(String(d)) as { type: string }));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ op: 'subscribe', exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1s' }));

    const base = `http://127.0.0.1:${serve.port}`;
    const body = await until('a stored sma2 value served by /api/indicators', async () => {
      const res = await fetch(`${base}/api/indicators?exchange=binance&symbol=BTCUSDT&timeframe=1s&limit=100`);
      assert.equal(res.status, 200);
      const b = (await res.json()) as ApiIndicators;
      assert.ok(b.indicators.some((p) => typeof p.values['sma2']?.['value'] === 'number'), `a stored sma2 value (${JSON.stringify(b).slice(0, 300)})`);
      return b;
    }, 30_000, { pollMs: 500, retryOnThrow: true });
    assert.deepEqual(body.names, ['sma2', 'ema3']);
    await until('serve to push indicator events from Kafka to /ws', () => live.some((m) => m.type === 'indicator'), 30_000, { pollMs: 500 });
    ws.close();

    // Quality state lives in the process role; serve says so instead of inventing a score.
    const q = await fetch(`${base}/api/quality`);
    assert.equal(q.status, 503);
    assert.equal(((await q.json()) as { error: { code: string } }).error.code, 'quality_unavailable');

    const metrics = await until('the BTC-USDT quality score on the process role /metrics', async () => {
      const scraped = await scrapeMetrics(`http://127.0.0.1:${processRole.port}`);
      const [score] = await metricSeries(scraped, 'candlestack_data_quality_score', { exchange: 'binance', symbol: 'BTC-USDT' });
      return score && score.value >= 0 ? scraped : undefined;
    }, 30_000, { pollMs: 500, retryOnThrow: true });
    for (const component of ['store_write', 'backfill_rest']) {
      const states = await metricSeries(metrics, 'candlestack_circuit_breaker_state', { component });
      assert.ok(states.length === 1 && states[0]!.value >= 0, `${component} breaker state exposed (${JSON.stringify(states)})`);
    }
    assert.ok((await metricValue(metrics, 'candlestack_kafka_messages_produced_total', { topic: 'candlestack_indicators' })) >= 1);
    const health = (await (await fetch(`http://127.0.0.1:${processRole.port}/api/health`)).json()) as { breakers: { component: string }[] };
    assert.deepEqual(health.breakers.map((b) => b.component).sort(), ['backfill_rest', 'bus_produce', 'store_write']);
  } finally {
    await collect.stop();
    await processRole.stop();
    await serve.stop();
    await fx.cleanup();
  }
});
