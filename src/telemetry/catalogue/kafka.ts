/** Kafka slice: the Kafka bus's producer and group consumer (src/bus/kafka.ts, src/bus/kafka-consumer.ts). */
import { Counter, Gauge, type Registry } from 'prom-client';

export function kafkaMetrics(registry: Registry) {
  const r = [registry];
  return {
    kafkaProduced: new Counter({
      name: 'candlestack_kafka_messages_produced_total',
      help: 'Messages the Kafka bus delivered to the broker (acknowledged).',
      labelNames: ['topic'] as const,
      registers: r,
    }),
    kafkaConsumed: new Counter({
      name: 'candlestack_kafka_messages_consumed_total',
      help: 'Messages the Kafka bus consumed from the broker.',
      labelNames: ['topic'] as const,
      registers: r,
    }),
    kafkaBytesProduced: new Counter({
      name: 'candlestack_kafka_bytes_produced_total',
      help: 'Bytes of message values the Kafka bus delivered to the broker (before compression).',
      labelNames: ['topic'] as const,
      registers: r,
    }),
    kafkaBytesConsumed: new Counter({
      name: 'candlestack_kafka_bytes_consumed_total',
      help: 'Bytes of message values the Kafka bus consumed.',
      labelNames: ['topic'] as const,
      registers: r,
    }),
    kafkaErrors: new Counter({
      name: 'candlestack_kafka_errors_total',
      help: 'Kafka bus errors by operation (produce, consume, commit, decode, connect).',
      labelNames: ['operation'] as const,
      registers: r,
    }),
    kafkaConsumerLag: new Gauge({
      name: 'candlestack_kafka_consumer_lag',
      help: 'Messages between the consumed position and the partition end, per partition (as of the last fetch).',
      labelNames: ['topic', 'partition'] as const,
      registers: r,
    }),
    kafkaBufferDepth: new Gauge({
      name: 'candlestack_kafka_buffer_depth',
      help: 'Messages waiting in the Kafka producer buffer (grows while the broker is unreachable).',
      registers: r,
    }),
    kafkaDropped: new Counter({
      name: 'candlestack_kafka_messages_dropped_total',
      help: 'Messages dropped because the Kafka producer buffer was full (policy: drop the newest, count it).',
      labelNames: ['topic'] as const,
      registers: r,
    }),
  };
}

export type KafkaMetrics = ReturnType<typeof kafkaMetrics>;
