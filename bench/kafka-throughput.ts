/**
 * Messages per second through the Kafka bus on this machine: N trades published through KafkaBus (gzip
 * batches, acks=all) into librdkafka's mock cluster (3 brokers, 6 partitions), then consumed back by a
 * consumer group, against the same machine's encode-only rate as a baseline. Run alone:
 * `npm run build && node dist/bench/kafka-throughput.js [N]`. Needs librdkafka-dev (see test/support/kafka/).
 */
import { systemClock } from '../src/core/clock.js';
import type { Trade } from '../src/core/types.js';
import { KafkaBus } from '../src/bus/kafka.js';
import { encode } from '../src/bus/kafka-codec.js';
import { createMetrics, createRegistry } from '../src/telemetry/metrics.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { KafkaMockCluster, kafkaMockUnavailable } from '../test/support/kafka/mock-cluster.js';

export interface KafkaBench {
  messages: number;
  producedPerSecond: number;
  consumedPerSecond: number;
  encodePerSecond: number;
  bytesPerMessage: number;
}

const SYMBOLS = Array.from({ length: 50 }, (_, i) => `SYM${i}USDT`);

function trade(i: number): Trade {
  return { type: 'trade', exchange: 'binance', symbol: SYMBOLS[i % SYMBOLS.length]!, id: i, price: '64123.45000000', qty: '0.00123000', side: i % 3 ? 'buy' : 'sell', count: 1, time: 1_700_000_000_000 + i, receivedAt: 1_700_000_000_005 + i };
}

export async function benchKafka(n = 100_000): Promise<KafkaBench | string> {
  const why = kafkaMockUnavailable();
  if (why) return why;
  const cluster = await KafkaMockCluster.start(3);
  const log = silentLogger();
  try {
    for (const t of ['candlestack_trades', 'binance_kline', 'candlestack_candles', 'candlestack_gaps']) await cluster.createTopic(t, 6);
    let t0 = performance.now();
    let bytes = 0;
    for (let i = 0; i < n; i++) bytes += encode('trade', trade(i))!.length;
    const encodePerSecond = n / ((performance.now() - t0) / 1000);

    const producer = new KafkaBus({ brokers: cluster.brokers, clientId: 'bench-p', bufferMax: n + 1, batchMax: 5_000, clock: systemClock, metrics: createMetrics(createRegistry({ defaults: false })), log });
    t0 = performance.now();
    for (let i = 0; i < n; i++) producer.publish('trade', trade(i));
    await producer.drain();
    const producedPerSecond = n / ((performance.now() - t0) / 1000);
    await producer.stop();

    const consumer = new KafkaBus({ brokers: cluster.brokers, clientId: 'bench-c', group: 'bench', fromBeginning: true, clock: systemClock, metrics: createMetrics(createRegistry({ defaults: false })), log });
    let got = 0;
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    consumer.subscribe('trade', () => {
      if (++got === n) done();
    });
    t0 = performance.now();
    await consumer.start();
    await all;
    const consumedPerSecond = n / ((performance.now() - t0) / 1000);
    await consumer.stop();
    return { messages: n, producedPerSecond, consumedPerSecond, encodePerSecond, bytesPerMessage: bytes / n };
  } finally {
    await cluster.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchKafka(Number(process.argv[2] ?? 100_000));
  if (typeof r === 'string') {
    console.log(`skipped: ${r}`);
  } else {
    const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
    console.log(`Kafka bus, ${fmt(r.messages)} trades (${r.bytesPerMessage.toFixed(0)} B JSON each), mock cluster 3 brokers x 6 partitions:`);
    console.log(`  produce (publish -> acked, gzip batches): ${fmt(r.producedPerSecond)} msg/s`);
    console.log(`  consume (group, decode, dispatch):        ${fmt(r.consumedPerSecond)} msg/s`);
    console.log(`  baseline, encode only:                    ${fmt(r.encodePerSecond)} msg/s  (produce/encode ${(r.producedPerSecond / r.encodePerSecond).toFixed(3)})`);
  }
}
