/**
 * The scale-out roles over a real Kafka-protocol broker (librdkafka's mock cluster, 3 brokers, 6 partitions
 * per topic): `collect | process | serve` give the same candles as the offline builder (and so as `run`, see
 * e2e-pipeline.test.ts) on the same simulated trades, and serve's /ws pushes the feature vectors process
 * computed (over candlestack_features); two `process` instances in one group both consume and together equal one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Partitioners } from 'kafkajs';
import { systemClock } from '../src/core/clock.js';
import { startCollect } from '../src/app/collect.js';
import { startProcess } from '../src/app/process.js';
import { startServe } from '../src/app/serve.js';
import { DEFAULT_KAFKA_TOPICS, messageKey } from '../src/bus/kafka-codec.js';
import type { Trade } from '../src/core/types.js';
import type { Metrics } from '../src/telemetry/metrics.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { kafkaMockUnavailable } from './support/kafka/mock-cluster.js';
import { assertSameCandles, offlineCandles, type ComparableCandle } from './support/offline.js';
import { SYMBOLS, TOPIC_PARTITIONS, kafkaFixture } from './support/roles-fixture.js';
import { log, skipUnlessAvailable, sleep, until } from './support/harness.js';
import { metricSeries, metricValue, scrapeMetric, scrapeMetrics } from './support/metrics.js';

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
    // Feature vectors: computed once by process, over candlestack_features to serve's /ws subscribers, the
    // same vector process stored (GET /api/features), one per closed candle of the subscribed series.
    type LiveFeature = { type: 'feature'; exchange: string; symbol: string; timeframe: string; openTime: number; close: number; values: Record<string, number | null> };
    const features = live.filter((m): m is LiveFeature => (m as { type: string }).type === 'feature');
    assert.ok(features.length >= 3, `serve pushes feature vectors from Kafka (${features.length})`);
    const closes = new Set(live.filter((m) => (m as { type: string; kind?: string }).type === 'candle' && (m as { kind?: string }).kind === 'close').map((m) => (m as { candle: { openTime: number } }).candle.openTime));
    for (const f of features) {
      assert.deepEqual([f.exchange, f.symbol, f.timeframe], ['binance', 'BTC-USDT', '1s'], 'only the subscribed series');
      assert.ok(closes.has(f.openTime), `the vector of a closed candle (${f.openTime})`);
    }
    assert.equal(new Set(features.map((f) => f.openTime)).size, features.length, 'one vector per candle');
    const last = features.at(-1)!;
    const stored = await until('process to store the vector serve pushed', async () => {
      const r = (await (await fetch(`http://127.0.0.1:${serve.port}/api/features?symbol=BTC-USDT&timeframe=1s&from=${last.openTime}&to=${last.openTime}`)).json()) as { features: { openTime: number; close: number; values: Record<string, number | null> }[] };
      return r.features[0];
    }, 10_000, { pollMs: 200 });
    assert.deepEqual({ openTime: stored.openTime, close: stored.close, values: stored.values }, { openTime: last.openTime, close: last.close, values: last.values });
    assert.ok((await scrapeMetric(`http://127.0.0.1:${serve.port}`, 'candlestack_kafka_messages_consumed_total', { topic: 'candlestack_features' })) >= features.length, 'serve consumed them from candlestack_features');
    assert.equal(await scrapeMetric(`http://127.0.0.1:${serve.port}`, 'candlestack_features_calculated_total', { timeframe: '1s' }), 0, 'serve computes none itself');

    const compared = await until('serve to answer the candles of the offline builder', async () => {
      let n = 0;
      for (const symbol of SYMBOLS) {
        const res = await fetch(`http://127.0.0.1:${serve.port}/api/candles?symbol=${symbol}&timeframe=1s&limit=5000`);
        const body = (await res.json()) as { candles: ComparableCandle[] };
        n += assertSameCandles(symbol, body.candles, await offlineCandles(fx.trades, symbol, fx.dir), startAt, stopAt);
      }
      return n;
    }, 30_000, { pollMs: 500, retryOnThrow: true });
    assert.ok(compared >= 4 * 4, `enough candles compared (${compared})`);
    const page = await fetch(`http://127.0.0.1:${serve.port}/`);
    assert.equal(page.status, 200, 'serve serves the web dashboard');
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    for (const [port, name] of [[collect.port, 'collect'], [processRole.port, 'process']] as const) {
      assert.equal(await scrapeMetric(`http://127.0.0.1:${port}`, 'candlestack_build_info', { version: 'test', role: name }), 1);
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    }
    assert.ok((await scrapeMetric(`http://127.0.0.1:${collect.port}`, 'candlestack_kafka_messages_produced_total', { topic: 'candlestack_trades' })) >= 1);
    const processMetrics = await scrapeMetrics(`http://127.0.0.1:${processRole.port}`);
    const jobs = (await (await fetch(`http://127.0.0.1:${processRole.port}/api/jobs`)).json()) as { jobs: { name: string; enabled: boolean }[] };
    assert.deepEqual(jobs.jobs.map((j) => j.name), ['retention', 'vacuum', 'gap-sweep', 'integrity', 'report'], 'process runs the scheduler and serves /api/jobs');
    assert.equal((await fetch(`http://127.0.0.1:${collect.port}/api/jobs`)).status, 404, 'collect runs no scheduler');
    assert.equal((await fetch(`http://127.0.0.1:${serve.port}/api/jobs`)).status, 503, 'serve runs no scheduler');
    assert.ok((await metricValue(processMetrics, 'candlestack_scheduler_heartbeat_timestamp_seconds')) > 0);
    assert.ok((await metricValue(processMetrics, 'candlestack_kafka_messages_consumed_total', { topic: 'candlestack_trades' })) >= 1);
    const lag = await metricSeries(processMetrics, 'candlestack_kafka_consumer_lag', { topic: 'candlestack_trades' });
    assert.ok(lag.some((p) => p.labels.partition !== undefined && p.value >= 0), `consumer lag per partition (${JSON.stringify(lag)})`);
  } finally {
    await collect.stop();
    await processRole.stop();
    await serve.stop();
    await fx.cleanup();
  }
});

/**
 * One symbol on each partition of the trade topic (checked in the test, with the partitioner the Kafka bus's
 * producer uses): whichever partitions the group gives a member, it owns symbols that trade.
 */
const ONE_SYMBOL_PER_PARTITION = ['ETH-USDT', 'AAVE-USDT', 'AVAX-USDT', 'BTC-USDT', 'TRX-USDT', 'DOGE-USDT'];

/** The partition of the trade topic the Kafka bus (kafkajs DefaultPartitioner, src/bus/kafka.ts) writes a symbol's trades to. */
function tradePartition(symbol: string): number {
  const partitionMetadata = Array.from({ length: TOPIC_PARTITIONS }, (_, partitionId) => ({ partitionId, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));
  const key = messageKey({ type: 'trade', exchange: 'binance', symbol } as Trade);
  return Partitioners.DefaultPartitioner()({ topic: DEFAULT_KAFKA_TOPICS.trade, partitionMetadata, message: { key, value: null } });
}

test('two process instances in one consumer group both consume and write exactly the candles one would', { timeout: 120_000 }, async (t) => {
  const reason = unavailable();
  if (reason) return t.skip(reason);
  const partitions = Array.from({ length: TOPIC_PARTITIONS }, (_, i) => i);
  assert.deepEqual(ONE_SYMBOL_PER_PARTITION.map(tradePartition).sort(), partitions, 'a symbol on every partition of the trade topic');
  const fx = await kafkaFixture(12, { symbols: ONE_SYMBOL_PER_PARTITION });
  const deps = { clock: systemClock, log, version: 'test' };
  const a = await startProcess(fx.config, deps);
  const collect = await startCollect(fx.config, deps);
  let b: Awaited<ReturnType<typeof startProcess>> | undefined;
  const consumed = (p: { metrics: Metrics }) => metricValue(p.metrics, 'candlestack_kafka_messages_consumed_total', { topic: fx.config.kafka.topics.trade });
  try {
    await sleep(1_000);
    const startAt = Math.ceil(Date.now() / 1000) * 1000 + 1000;
    await sleep(2_000);
    b = await startProcess(fx.config, deps); // joins mid-stream: the group rebalances, partitions move
    await sleep(5_000);
    const stopAt = Math.floor(Date.now() / 1000) * 1000;
    const path = fx.config.store.url.slice('sqlite:'.length);
    await until('the two instances to store the candles of the offline builder', async () => {
      for (const symbol of fx.symbols) assertSameCandles(symbol, await storedCandles(path, symbol), await offlineCandles(fx.trades, symbol, fx.dir), startAt, stopAt);
      return true;
    }, 30_000, { pollMs: 500, retryOnThrow: true });
    // After the rebalance both members own partitions with traffic: each one's count keeps growing (one left
    // without partitions, or idle, would stand still while the other consumed everything).
    const second = b;
    const [fromA, fromB] = [await consumed(a), await consumed(second)];
    await until('both instances to consume new trades', async () => (await consumed(a)) > fromA && (await consumed(second)) > fromB, 15_000);
    log.info({ consumedBy: [await consumed(a), await consumed(second)] }, 'trades consumed per process instance');
  } finally {
    await collect.stop();
    await a.stop();
    await b?.stop();
    await fx.cleanup();
  }
});
