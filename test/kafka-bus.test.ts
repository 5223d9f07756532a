/**
 * The Kafka bus against a real Kafka-protocol broker (librdkafka's mock cluster, 3 brokers, multi-partition
 * topics), checked with an independent client (kcat): envelope, keys, headers, the seed's binance_kline JSON,
 * per-symbol order across partitions, a broker outage that loses nothing, and the full-buffer policy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { systemClock } from '../src/core/clock.js';
import type { Kline, Trade } from '../src/core/types.js';
import { KafkaBus } from '../src/bus/kafka.js';
import { instrumentedBreaker } from '../src/telemetry/breaker-metrics.js';
import { KafkaMockCluster, kafkaMockUnavailable, kcatUnavailable } from './support/kafka/mock-cluster.js';
import { log, skipUnlessAvailable, sleep, testMetrics, until } from './support/harness.js';
import { metricSeries, metricValue } from './support/metrics.js';

function unavailable(): string | false {
  const why = kafkaMockUnavailable() ?? kcatUnavailable();
  return skipUnlessAvailable(why === undefined, why ?? '');
}

function kcat(args: string[]) {
  return spawnSync('kcat', args, { encoding: 'utf8', timeout: 20_000 });
}

function trade(symbol: string, id: number): Trade {
  return { type: 'trade', exchange: 'binance', symbol, id, price: '100.5', qty: '0.25', side: id % 2 ? 'buy' : 'sell', count: 1, time: 1_700_000_000_000 + id, receivedAt: 1_700_000_000_010 + id };
}

const topics = (p: string) => ({ trade: `${p}_trades`, kline: `${p}_kline`, candle: `${p}_candles`, gap: `${p}_gaps` });

test('Kafka bus: produce -> consume across 6 partitions keeps every symbol in order; kcat sees envelope and key (no traceparent with tracing off); caughtUp ends with consuming', { timeout: 90_000 }, async (t) => {
  const reason = unavailable();
  if (reason) return t.skip(reason);
  const cluster = await KafkaMockCluster.start(3);
  const names = topics('t1');
  for (const n of Object.values(names)) await cluster.createTopic(n, 6);
  const pm = testMetrics();
  const cm = testMetrics();
  const producer = new KafkaBus({ brokers: cluster.brokers, clientId: 'test-producer', topics: names, clock: systemClock, metrics: pm, log });
  const consumer = new KafkaBus({ brokers: cluster.brokers, clientId: 'test-consumer', topics: names, group: 'g1', fromBeginning: true, clock: systemClock, metrics: cm, log });
  try {
    const got = new Map<string, number[]>();
    consumer.subscribe('trade', (tr) => got.set(tr.symbol, [...(got.get(tr.symbol) ?? []), tr.id]));
    await consumer.start();
    const symbols = ['BTC-USDT', 'ETH-USDT', 'SOL-USDT', 'BNB-USDT', 'XRP-USDT'];
    const perSymbol = 400;
    for (let i = 0; i < perSymbol; i++) for (const s of symbols) producer.publish('trade', trade(s, i));
    await producer.drain();
    await until('every trade consumed', () => symbols.every((s) => (got.get(s)?.length ?? 0) >= perSymbol), 20_000, { pollMs: 50 });
    for (const s of symbols) assert.deepEqual(got.get(s), Array.from({ length: perSymbol }, (_, i) => i), `${s}: all trades, in order, once`);

    assert.equal(await metricValue(pm, 'candlestack_kafka_messages_produced_total', { topic: 't1_trades' }), symbols.length * perSymbol);
    assert.equal(await metricValue(cm, 'candlestack_kafka_messages_consumed_total', { topic: 't1_trades' }), symbols.length * perSymbol);
    assert.ok((await metricSeries(cm, 'candlestack_kafka_consumer_lag', { topic: 't1_trades' })).some((p) => p.value === 0), 'a t1_trades partition with lag 0');

    const out = kcat(['-b', cluster.bootstrap, '-t', names.trade, '-C', '-o', 'beginning', '-e', '-q', '-c', '3', '-p', '0', '-f', '%k\t%h\t%s\n']);
    assert.equal(out.status, 0, out.stderr);
    const [key, headers, value] = out.stdout.split('\n')[0]!.split('\t');
    assert.match(key!, /^binance:[A-Z]+-USDT$/);
    assert.match(headers!, /content-type=application\/json/);
    assert.doesNotMatch(headers!, /traceparent/, 'tracing off: no trace context invented (tracing-roles.test.ts checks it with tracing on)');
    const env = JSON.parse(value!);
    assert.equal(env.v, 1);
    assert.equal(env.type, 'trade');
    assert.equal(env.data.exchange, 'binance');
    // One symbol, one partition: kcat sees each key on exactly one partition.
    const keyed = kcat(['-b', cluster.bootstrap, '-t', names.trade, '-C', '-o', 'beginning', '-e', '-q', '-f', '%k %p\n']);
    const partitionsOf = new Map<string, Set<string>>();
    for (const line of keyed.stdout.trim().split('\n')) {
      const [k, p] = line.split(' ');
      partitionsOf.set(k!, (partitionsOf.get(k!) ?? new Set()).add(p!));
    }
    assert.equal(partitionsOf.size, symbols.length);
    for (const [k, ps] of partitionsOf) assert.equal(ps.size, 1, `${k} stays on one partition`);

    // Reading live; once consuming stops it never reads as caught up again (a stream clock must not close
    // candles on the wall clock during the last commit: the next owner replays those trades).
    await until('the consumer reads live', () => consumer.caughtUp(), 10_000, { pollMs: 50 });
    const stopping = consumer.stopConsuming();
    assert.equal(consumer.caughtUp(), false, 'not caught up while the consumer stops');
    await stopping;
    assert.equal(consumer.caughtUp(), false, 'not caught up once it stopped');
  } finally {
    await producer.stop();
    await consumer.stop();
    await cluster.stop();
  }
});

test("Kafka bus: the exchange's closed klines go to binance_kline as the seed's JSON, read back by kcat", { timeout: 60_000 }, async (t) => {
  const reason = unavailable();
  if (reason) return t.skip(reason);
  const cluster = await KafkaMockCluster.start(3);
  await cluster.createTopic('binance_kline', 3);
  const bus = new KafkaBus({ brokers: cluster.brokers, clientId: 'test-kline', clock: systemClock, metrics: testMetrics(), log });
  try {
    const k: Kline = { type: 'kline', exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', openTime: 1_700_000_040_000, open: '37000.10', high: '37010.00', low: '36990.55', close: '37005.01', volume: '12.345', quoteVolume: '456789.1234', takerBuyVolume: '6.1', tradeCount: 321, closed: true, time: 1_700_000_100_001, receivedAt: 1_700_000_100_050 };
    bus.publish('kline', { ...k, closed: false, openTime: k.openTime + 60_000 }); // still forming: not on binance_kline
    bus.publish('kline', k);
    await bus.drain();
    const out = kcat(['-b', cluster.bootstrap, '-t', 'binance_kline', '-C', '-o', 'beginning', '-e', '-q', '-f', '%k %s\n']);
    assert.equal(out.status, 0, out.stderr);
    const lines = out.stdout.trim().split('\n');
    assert.equal(lines.length, 1, 'only the closed kline');
    const [key, json] = [lines[0]!.slice(0, lines[0]!.indexOf(' ')), lines[0]!.slice(lines[0]!.indexOf(' ') + 1)];
    assert.equal(key, 'binance:BTC-USDT');
    assert.deepEqual(JSON.parse(json), {
      v: 1,
      exchange: 'binance',
      symbol: 'BTC-USDT',
      interval: '1m',
      open_time: 1_700_000_040_000,
      close_time: 1_700_000_099_999,
      open: '37000.10',
      high: '37010.00',
      low: '36990.55',
      close: '37005.01',
      volume: '12.345',
      quote_volume: '456789.1234',
      taker_buy_volume: '6.1',
      trades: 321,
      is_closed: true,
      event_time: 1_700_000_100_001,
      received_at: 1_700_000_100_050,
    });
  } finally {
    await bus.stop();
    await cluster.stop();
  }
});

test('Kafka bus: every broker down, messages wait in the buffer (depth metric), brokers back: nothing lost', { timeout: 90_000 }, async (t) => {
  const reason = unavailable();
  if (reason) return t.skip(reason);
  const cluster = await KafkaMockCluster.start(3);
  const names = topics('t3');
  for (const n of Object.values(names)) await cluster.createTopic(n, 4);
  const pm = testMetrics();
  const producer = new KafkaBus({ brokers: cluster.brokers, clientId: 'test-outage', topics: names, clock: systemClock, metrics: pm, log });
  const consumer = new KafkaBus({ brokers: cluster.brokers, clientId: 'test-outage-c', topics: names, group: 'g3', fromBeginning: true, clock: systemClock, metrics: testMetrics(), log });
  try {
    const got: number[] = [];
    consumer.subscribe('trade', (tr) => got.push(tr.id));
    await consumer.start();
    for (let i = 0; i < 100; i++) producer.publish('trade', trade(i % 2 ? 'BTC-USDT' : 'ETH-USDT', i));
    await producer.drain();
    for (const id of [1, 2, 3]) await cluster.brokerDown(id);
    for (let i = 100; i < 300; i++) producer.publish('trade', trade(i % 2 ? 'BTC-USDT' : 'ETH-USDT', i));
    const errors = await until(
      'produce errors counted while no broker is reachable',
      async () => {
        const n = await metricValue(pm, 'candlestack_kafka_errors_total', { operation: 'produce' });
        return n > 0 ? n : undefined;
      },
      40_000,
      { pollMs: 200 },
    );
    assert.ok(errors > 0, 'produce errors counted while no broker is reachable');
    assert.ok(producer.bufferDepth > 0, 'messages are buffered while no broker is reachable');
    assert.ok((await metricValue(pm, 'candlestack_kafka_buffer_depth')) >= 1);
    for (const id of [1, 2, 3]) await cluster.brokerUp(id);
    await producer.drain();
    assert.equal(producer.bufferDepth, 0);
    await until('all 300 trades consumed', () => new Set(got).size >= 300, 40_000, { pollMs: 50 });
    assert.deepEqual([...new Set(got)].sort((a, b) => a - b), Array.from({ length: 300 }, (_, i) => i), 'nothing lost');
  } finally {
    await producer.stop();
    await consumer.stop();
    await cluster.stop();
  }
});

test('Kafka bus: a full buffer drops the newest messages and counts them', { timeout: 30_000 }, async () => {
  // No broker at all (a closed port): nothing can be sent, so the buffer fills.
  const metrics = testMetrics();
  const bus = new KafkaBus({ brokers: ['127.0.0.1:1'], clientId: 'test-full', bufferMax: 10, clock: systemClock, metrics, log });
  try {
    for (let i = 0; i < 15; i++) bus.publish('trade', trade('BTC-USDT', i));
    assert.equal(bus.bufferDepth, 10);
    assert.equal(await metricValue(metrics, 'candlestack_kafka_messages_dropped_total', { topic: 'candlestack_trades' }), 5);
    assert.equal(await metricValue(metrics, 'candlestack_kafka_buffer_depth'), 10);
  } finally {
    await bus.stop();
  }
});

test('Kafka bus: sends go through the bus_produce breaker: it opens while no broker is reachable, no send is attempted while open, and it closes after recovery with nothing lost', { timeout: 120_000 }, async (t) => {
  const reason = unavailable();
  if (reason) return t.skip(reason);
  const cluster = await KafkaMockCluster.start(3);
  const names = { trade: 'breaker_trades' };
  await cluster.createTopic(names.trade, 2);
  const pm = testMetrics();
  const breaker = instrumentedBreaker('bus_produce', { failureThreshold: 2, openMs: 3_000, halfOpenProbes: 1 }, { clock: systemClock, metrics: pm.breakers, log });
  const producer = new KafkaBus({ brokers: cluster.brokers, clientId: 'test-breaker', topics: names, breaker, clock: systemClock, metrics: pm, log });
  const consumer = new KafkaBus({ brokers: cluster.brokers, clientId: 'test-breaker-c', topics: names, group: 'g-breaker', fromBeginning: true, clock: systemClock, metrics: testMetrics(), log });
  const produceErrors = () => metricValue(pm, 'candlestack_kafka_errors_total');
  try {
    const got = new Set<number>();
    consumer.subscribe('trade', (tr) => got.add(tr.id));
    await consumer.start();
    for (let i = 0; i < 20; i++) producer.publish('trade', trade('BTC-USDT', i));
    await producer.drain();
    assert.equal(breaker.state, 'closed');
    for (const id of [1, 2, 3]) await cluster.brokerDown(id);
    for (let i = 20; i < 60; i++) producer.publish('trade', trade('BTC-USDT', i));
    await until('the bus_produce breaker opens', () => breaker.state === 'open', 60_000, { pollMs: 50 });
    const errorsWhenOpened = await produceErrors();
    await sleep(2_000); // well inside openMs: the producer must not try the broker
    assert.equal(breaker.state, 'open');
    assert.equal(await produceErrors(), errorsWhenOpened, 'no send attempted while the breaker is open');
    assert.ok(producer.bufferDepth > 0, 'messages stay buffered while the breaker is open');
    assert.equal(await metricValue(pm, 'candlestack_circuit_breaker_state', { component: 'bus_produce' }), 1);
    for (const id of [1, 2, 3]) await cluster.brokerUp(id);
    await producer.drain();
    assert.equal(breaker.state, 'closed', 'the half-open probe succeeded and closed the breaker');
    await until('all 60 trades consumed', () => got.size >= 60, 40_000, { pollMs: 50 });
    assert.deepEqual([...got].sort((a, b) => a - b), Array.from({ length: 60 }, (_, i) => i), 'nothing lost');
  } finally {
    await producer.stop();
    await consumer.stop();
    await cluster.stop();
  }
});
