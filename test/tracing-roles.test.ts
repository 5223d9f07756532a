/**
 * One trace across the scale-out roles, as the real SDK exports it to a local OTLP receiver: collect's
 * PRODUCER span (`send candlestack_trades`, its context in every message's traceparent header) → process's
 * CONSUMER span (`process candlestack_trades`, over librdkafka's mock cluster) → the store write of those
 * candles (`upsert candles`, CLIENT). Each role exports under its own service.name; tracing off sends no
 * traceparent header.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { systemClock } from '../src/core/clock.js';
import { startCollect } from '../src/app/collect.js';
import { startProcess } from '../src/app/process.js';
import { DEFAULT_KAFKA_TOPICS } from '../src/bus/kafka-codec.js';
import { kafkaMockUnavailable } from './support/kafka/mock-cluster.js';
import { kafkaFixture } from './support/roles-fixture.js';
import { log, skipUnlessAvailable, sleep, until } from './support/harness.js';
import { OtlpReceiver, SPAN_KIND, parentOf, type ReceivedSpan } from './support/otlp-receiver.js';

function unavailable(): string | false {
  const why = kafkaMockUnavailable();
  return skipUnlessAvailable(why === undefined, why ?? '');
}

test('one trace: collect send → Kafka → process consume → store upsert; service.name per role', { timeout: 120_000 }, async (t) => {
  const reason = unavailable();
  if (reason) return t.skip(reason);
  const receiver = await new OtlpReceiver().start();
  const fx = await kafkaFixture(21, { symbols: ['BTC-USDT', 'ETH-USDT'] });
  fx.config.tracing = { ...fx.config.tracing, endpoint: receiver.endpoint };
  const deps = { clock: systemClock, log, version: 'test' };
  const processRole = await startProcess(fx.config, deps);
  const collect = await startCollect(fx.config, deps);
  let headers: Record<string, string> = {};
  try {
    await until('trades to reach the store', async () => (await fetch(`http://127.0.0.1:${processRole.port}/metrics`)).text().then((m) => /candlestack_store_rows_written_total\{[^}]*\} [1-9]/.test(m)), 30_000, { pollMs: 300 });
    await sleep(1_500);
    headers = await firstMessageHeaders(fx.cluster.bootstrap);
  } finally {
    await collect.stop(); // the lifecycle's last service: the tracing flush
    await processRole.stop();
    await fx.cleanup();
  }
  try {
    const spans = receiver.spans;
    const collectSpans = spans.filter((s) => s.resource['service.name'] === 'candlestack-collect');
    const processSpans = spans.filter((s) => s.resource['service.name'] === 'candlestack-process');
    assert.ok(collectSpans.length > 0 && processSpans.length > 0, `spans of both roles (${spans.length})`);

    const upserts = processSpans.filter((s) => s.name === 'upsert candles');
    assert.ok(upserts.length > 0, 'store writes are spans');
    const chain = upserts
      .map((u) => ({ upsert: u, consume: parentOf(u, spans) }))
      .map((c) => ({ ...c, send: c.consume && parentOf(c.consume, spans) }))
      .find((c): c is { upsert: ReceivedSpan; consume: ReceivedSpan; send: ReceivedSpan } => c.consume?.name === 'process candlestack_trades' && c.send?.name === 'send candlestack_trades');
    assert.ok(chain, `an upsert whose parent is a trade batch consumed from a collect send: ${upserts.map((u) => parentOf(u, spans)?.name).join(', ')}`);
    const { upsert, consume, send } = chain;
    assert.equal(new Set([upsert.traceId, consume.traceId, send.traceId]).size, 1, 'one trace');
    assert.equal(send.parentSpanId, '', 'the producer batch is the root');
    assert.equal(send.kind, SPAN_KIND.PRODUCER);
    assert.equal(send.resource['service.name'], 'candlestack-collect');
    assert.equal(send.attributes['messaging.system'], 'kafka');
    assert.equal(send.attributes['messaging.operation.type'], 'send');
    assert.equal(send.attributes['messaging.destination.name'], 'candlestack_trades');
    assert.ok(Number(send.attributes['messaging.batch.message_count']) >= 1);
    assert.equal(consume.kind, SPAN_KIND.CONSUMER);
    assert.equal(consume.resource['service.name'], 'candlestack-process');
    assert.equal(consume.attributes['messaging.operation.type'], 'process');
    assert.equal(consume.attributes['messaging.consumer.group.name'], fx.config.kafka.group);
    assert.match(String(consume.attributes['messaging.destination.partition.id']), /^\d+$/);
    assert.equal(upsert.kind, SPAN_KIND.CLIENT);
    assert.equal(upsert.attributes['db.system.name'], 'sqlite');
    assert.equal(upsert.attributes['db.operation.name'], 'upsert');
    assert.equal(upsert.attributes['db.collection.name'], 'candles');
    assert.ok(Number(upsert.attributes['db.operation.batch.size']) >= 1);
    assert.ok(upsert.startNs + 1_000_000n >= consume.startNs, 'the write follows the consumption'); // to 1 ms: the SDK starts spans at Date.now()

    // No per-trade spans: far fewer sends than trades.
    const sends = collectSpans.filter((s) => s.name === 'send candlestack_trades');
    const sent = sends.reduce((n, s) => n + Number(s.attributes['messaging.batch.message_count']), 0);
    assert.ok(sends.length < sent, `${sends.length} send spans for ${sent} trades`);

    assert.match(headers.traceparent ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, 'traceparent on the wire');
    const [, traceId, spanId] = headers.traceparent!.split('-');
    const producer = spans.find((s) => s.traceId === traceId && s.spanId === spanId);
    assert.ok(producer && producer.kind === SPAN_KIND.PRODUCER, 'the header is the send span of that message');
  } finally {
    await receiver.stop();
  }
});

/** The headers of the first message on the trade topic, read by a plain kafkajs consumer. */
async function firstMessageHeaders(bootstrap: string): Promise<Record<string, string>> {
  const kafka = new Kafka({ clientId: 'trace-check', brokers: bootstrap.split(','), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `trace-check-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic: DEFAULT_KAFKA_TOPICS.trade, fromBeginning: true });
  const got = new Promise<Record<string, string>>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => resolve(Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]))),
    });
  });
  try {
    return await Promise.race([got, sleep(20_000).then(() => ({}))]);
  } finally {
    await consumer.disconnect();
  }
}
