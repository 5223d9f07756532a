/**
 * Kafka at a role's edge. Every role runs its stages on its local in-process bus; these two services connect
 * that bus to Kafka:
 *
 * - `kafkaImport`: what the consumer reads from the role's topics is published on the local bus. Its stop is
 *   the role's first (registered last): stop intake, with the last offset commit after the commit barrier.
 * - `kafkaExport`: what the local bus carries on the role's exported topics is produced to Kafka. Its stop is
 *   among the last (registered early): the producer drains what the pipeline published while stopping.
 *
 * One KafkaBus (one client: producer and consumer group) may serve both.
 */
import type { Service } from '../core/service.js';
import type { Bus, Topic } from '../bus/bus.js';
import type { KafkaBus } from '../bus/kafka.js';

export function kafkaImport(kafka: KafkaBus, local: Bus, topics: readonly Topic[]): Service {
  // Subscriptions must exist before the consumer starts (they decide which topics it joins).
  for (const topic of topics) kafka.subscribe(topic, (m) => local.publish(topic, m));
  return { name: 'kafka-consumer', start: () => kafka.start(), stop: () => kafka.stopConsuming() };
}

export function kafkaExport(local: Bus, kafka: KafkaBus, topics: readonly Topic[]): Service {
  const unsubscribe: (() => void)[] = [];
  return {
    name: 'kafka-producer',
    start() {
      for (const topic of topics) unsubscribe.push(local.subscribe(topic, (m) => kafka.publish(topic, m)));
    },
    async stop() {
      await kafka.stop();
      for (const u of unsubscribe) u();
    },
  };
}
