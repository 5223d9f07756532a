/**
 * The scale-out roles over a real Kafka-protocol broker (librdkafka's mock cluster, 3 brokers, 6 partitions
 * per topic): `collect | process | serve` give the same candles as the offline builder (and so as `run`, see
 * e2e-pipeline.test.ts) on the same simulated trades; two `process` instances in one group equal one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { systemClock } from '../src/core/clock.js';
import { startCollect } from '../src/app/collect.js';
import { startProcess } from '../src/app/process.js';
import { startServe } from '../src/app/serve.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { kafkaMockUnavailable } from './support/kafka/mock-cluster.js';
import { assertSameCandles, eventually, offlineCandles, type ComparableCandle } from './support/offline.js';
import { SYMBOLS, kafkaFixture } from './support/roles-fixture.js';
import { log, skipUnlessAvailable } from './support/harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function unavailable(): string | false {
  const why = kafkaMockUnavailable();
  return skipUnlessAvailable(why === undefined, why ?? '');
}

async function storedCandles(path: string, symbol: string): Promise<ComparableCandle[]> {
  const store = new SqliteStore(path);
  try {
    return await store.query({ exchange: 'binance', symbol, timeframe: '1s', limit: 5000 });
  } finally {
    await store.close();
  }
}

test('collect | process | serve over Kafka serve the same candles as the offline builder, live /ws included', { timeout: 120_000 }, async (t) => {
  const reason = unavailable();
  if (reason) return t.skip(reason);
  const fx = await kafkaFixture(11);
  const deps = { clock: systemClock, log, version: 'test' };
  const processRole = await startProcess(fx.config, deps);
  const serve = await startServe(fx.config, deps);
  const collect = await startCollect(fx.config, deps);
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${serve.port}/ws`);
    const live: unknown[] = [];
    ws.on('message', (d) => live.push(JSON.parse(String(d))));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ op: 'subscribe', exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1s' }));
    await sleep(1_000);
    const startAt = Math.ceil(Date.now() / 1000) * 1000 + 1000; // the first whole second fully after the subscription
    await sleep(6_000);
    const stopAt = Math.floor(Date.now() / 1000) * 1000;
    await sleep(1_000);
    ws.close();
    assert.ok(live.some((m) => (m as { type: string; kind: string }).type === 'candle' && (m as { kind: string }).kind === 'close'), 'serve relays live candles from Kafka');

    const compared = await eventually(async () => {
      let n = 0;
      for (const symbol of SYMBOLS) {
        const res = await fetch(`http://127.0.0.1:${serve.port}/api/candles?symbol=${symbol}&timeframe=1s&limit=5000`);
        const body = (await res.json()) as { candles: ComparableCandle[] };
        n += assertSameCandles(symbol, body.candles, await offlineCandles(fx.trades, symbol, fx.dir), startAt, stopAt);
      }
      return n;
    });
    assert.ok(compared >= 4 * 4, `enough candles compared (${compared})`);
    const page = await fetch(`http://127.0.0.1:${serve.port}/`);
    assert.equal(page.status, 200, 'serve serves the web dashboard');
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    for (const [port, name] of [[collect.port, 'collect'], [processRole.port, 'process']] as const) {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.match(text, new RegExp(`candlestack_build_info\\{version="test",role="${name}"\\} 1`));
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    }
    const collectMetrics = await (await fetch(`http://127.0.0.1:${collect.port}/metrics`)).text();
    assert.match(collectMetrics, /candlestack_kafka_messages_produced_total\{topic="candlestack_trades"\} [1-9]/);
    const processMetrics = await (await fetch(`http://127.0.0.1:${processRole.port}/metrics`)).text();
    assert.match(processMetrics, /candlestack_kafka_messages_consumed_total\{topic="candlestack_trades"\} [1-9]/);
    assert.match(processMetrics, /candlestack_kafka_consumer_lag\{topic="candlestack_trades",partition="\d"\} \d/);
  } finally {
    await collect.stop();
    await processRole.stop();
    await serve.stop();
    await fx.cleanup();
  }
});

test('two process instances in one consumer group write exactly the candles one would', { timeout: 120_000 }, async (t) => {
  const reason = unavailable();
  if (reason) return t.skip(reason);
  const fx = await kafkaFixture(12);
  const deps = { clock: systemClock, log, version: 'test' };
  const a = await startProcess(fx.config, deps);
  const collect = await startCollect(fx.config, deps);
  let b: Awaited<ReturnType<typeof startProcess>> | undefined;
  try {
    await sleep(1_000);
    const startAt = Math.ceil(Date.now() / 1000) * 1000 + 1000;
    await sleep(2_000);
    b = await startProcess(fx.config, deps); // joins mid-stream: the group rebalances, partitions move
    await sleep(5_000);
    const stopAt = Math.floor(Date.now() / 1000) * 1000;
    const path = fx.config.store.url.slice('sqlite:'.length);
    await eventually(async () => {
      for (const symbol of SYMBOLS) assertSameCandles(symbol, await storedCandles(path, symbol), await offlineCandles(fx.trades, symbol, fx.dir), startAt, stopAt);
    });
    const consumedBy = await Promise.all([a, b].map(async (p) => (await p.metrics.kafka.kafkaConsumed.get()).values.reduce((n, v) => n + v.value, 0)));
    log.info({ consumedBy }, 'messages consumed per process instance');
  } finally {
    await collect.stop();
    await a.stop();
    await b?.stop();
    await fx.cleanup();
  }
});
