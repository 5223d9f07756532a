/**
 * The consuming half of the Kafka bus: one kafkajs consumer in a consumer group. It decodes nothing itself:
 * each message value goes to `deliver`. What it owns is the group protocol around the messages:
 *
 * - commits every `commitIntervalMs` (and on stop), each time only after `beforeCommit` resolved;
 * - `onKeyAcquired` before the first message of an `exchange:symbol` key on this member, `onKeysRevoked`
 *   when a rebalance takes the key's partition (of `ownershipTopic`) away;
 * - consumer lag per partition, and `caughtUp()` (no rebalance, every assigned partition read up to its end
 *   offset at assignment, a fetch within the last 2 s).
 */
import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Clock } from '../core/clock.js';
import { ROOT_CONTEXT, SpanKind, trace, type Context, type Link } from '@opentelemetry/api';
import type { Tracing } from '../telemetry/tracing.js';
import {
  ATTR_MESSAGING_BATCH_MESSAGE_COUNT,
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_DESTINATION_PARTITION_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
} from '../telemetry/semconv.js';

import { isExchangeId, type ExchangeId } from '../core/exchange-id.js';
import type { Logger } from '../telemetry/logger.js';
import type { KafkaMetrics } from '../telemetry/metrics.js';
import type { Topic } from './bus.js';

/** Links kept on a consumer span (the other producer batches in one fetch). */
const MAX_LINKS = 32;

export interface GroupConsumerOptions {
  group: string;
  fromBeginning: boolean;
  /** Kafka topic names to subscribe to, with the bus topic each carries. */
  topics: Map<string, Topic>;
  ownershipTopic: Topic;
  commitIntervalMs: number;
  beforeCommit?: () => Promise<void>;
  onKeyAcquired?: (exchange: ExchangeId, symbol: string) => Promise<void>;
  onKeysRevoked?: (keys: { exchange: ExchangeId; symbol: string }[]) => void;
  /** Decodes and dispatches one message value (never throws). */
  deliver: (topic: Topic, value: Buffer, where: { topic: string; partition: number; offset: string }) => void;
  /** One CONSUMER span per fetched batch, continuing the producer's trace from the `traceparent` header (off when absent). */
  tracing?: Tracing;
  warn: (kind: string, ctx: Record<string, unknown>, msg: string) => void;
  clock: Clock;
  metrics: KafkaMetrics;
  log: Logger;
}

type Counter = { inc(n?: number): void };

export class GroupConsumer {
  private readonly consumer: Consumer;
  private readonly admin: Admin;
  private readonly owned = new Set<string>();
  private readonly keysByPartition = new Map<string, Set<string>>();
  private readonly lag = new Map<string, { set(v: number): void }>();
  private readonly m = new Map<string, { consumed: Counter; bytesIn: Counter }>();
  /** Partitions still replaying to the end offset they had at assignment: "topic/partition" -> end offset. */
  private readonly catchUp = new Map<string, bigint>();
  /** Offsets consumed but not yet committed: "topic/partition" -> next offset. */
  private readonly uncommitted = new Map<string, { topic: string; partition: number; offset: string }>();
  private assigning = true;
  private lastFetchAt = 0;
  private lastCommitAt = 0;

  constructor(kafka: Kafka, private readonly o: GroupConsumerOptions) {
    this.consumer = kafka.consumer({ groupId: o.group, sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 100, rebalanceTimeout: 10_000 });
    this.admin = kafka.admin();
    for (const name of o.topics.keys()) this.m.set(name, { consumed: o.metrics.kafkaConsumed.labels(name), bytesIn: o.metrics.kafkaBytesConsumed.labels(name) });
    const c = this.consumer;
    c.on(c.events.REBALANCING, () => (this.assigning = true));
    c.on(c.events.FETCH, () => (this.lastFetchAt = o.clock.now()));
    c.on(c.events.GROUP_JOIN, (e) => void this.onAssigned(e.payload.memberAssignment));
    c.on(c.events.CRASH, (e) => {
      o.metrics.kafkaErrors.labels('consume').inc();
      o.log.error({ err: e.payload.error, restart: e.payload.restart }, 'Kafka consumer crashed');
    });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.o.topics.keys()], fromBeginning: this.o.fromBeginning });
    const tracing = this.o.tracing;
    await this.consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (p) => (tracing?.enabled ? this.tracedBatch(tracing, p) : this.eachBatch(p)) });
  }

  caughtUp(): boolean {
    return !this.assigning && this.catchUp.size === 0 && this.o.clock.now() - this.lastFetchAt < 2_000;
  }

  /** Stops fetching, commits what was consumed (after the barrier), leaves the group. */
  async stop(): Promise<void> {
    await this.consumer.stop().catch(() => undefined);
    await this.commit().catch(() => undefined);
    await this.consumer.disconnect().catch(() => undefined);
    await this.admin.disconnect().catch(() => undefined);
  }

  /**
   * A batch as one CONSUMER span `process <topic>`: its parent is the producer context of the batch's first
   * message (the trace continues from the producing role), the other distinct producer contexts are links.
   * Messages of one producer batch share one traceparent, so this reads a few headers, not one per trade.
   */
  private tracedBatch(tracing: Tracing, p: EachBatchPayload): Promise<void> {
    const { batch } = p;
    const seen = new Set<string>();
    let parent: Context | undefined;
    const links: Link[] = [];
    for (const msg of batch.messages) {
      const tp = msg.headers?.traceparent;
      const text = tp === undefined ? undefined : Buffer.isBuffer(tp) ? tp.toString('latin1') : String(tp);
      if (text === undefined || seen.has(text)) continue;
      seen.add(text);
      const ctx = tracing.extract({ traceparent: text });
      const sc = trace.getSpanContext(ctx);
      if (!sc) continue;
      if (parent === undefined) parent = ctx;
      else if (links.length < MAX_LINKS) links.push({ context: sc });
    }
    return tracing.span(
      `process ${batch.topic}`,
      {
        kind: SpanKind.CONSUMER,
        parent: parent ?? ROOT_CONTEXT,
        links,
        attributes: {
          [ATTR_MESSAGING_SYSTEM]: 'kafka',
          [ATTR_MESSAGING_OPERATION_TYPE]: 'process',
          [ATTR_MESSAGING_OPERATION_NAME]: 'process',
          [ATTR_MESSAGING_DESTINATION_NAME]: batch.topic,
          [ATTR_MESSAGING_DESTINATION_PARTITION_ID]: String(batch.partition),
          [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: this.o.group,
          [ATTR_MESSAGING_BATCH_MESSAGE_COUNT]: batch.messages.length,
        },
      },
      () => this.eachBatch(p),
    );
  }

  private async eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const topic = this.o.topics.get(batch.topic);
    const m = this.m.get(batch.topic);
    if (!topic || !m || batch.messages.length === 0) return;
    const partKey = `${batch.topic}/${batch.partition}`;
    const owning = topic === this.o.ownershipTopic;
    let keys = this.keysByPartition.get(partKey);
    if (!keys && owning) this.keysByPartition.set(partKey, (keys = new Set()));
    let last: string | null = null;
    let bytes = 0;
    for (const msg of batch.messages) {
      if (!isRunning() || isStale()) break;
      if (owning && keys) {
        const key = msg.key?.toString() ?? '';
        if (!this.owned.has(key)) {
          const sep = key.indexOf(':');
          const exchange = key.slice(0, sep);
          if (sep > 0 && isExchangeId(exchange) && this.o.onKeyAcquired) await this.o.onKeyAcquired(exchange, key.slice(sep + 1));
          this.owned.add(key);
        }
        keys.add(key);
      }
      if (msg.value) {
        bytes += msg.value.length;
        this.o.deliver(topic, msg.value, { topic: batch.topic, partition: batch.partition, offset: msg.offset });
      }
      resolveOffset(msg.offset);
      last = msg.offset;
    }
    if (last === null) return;
    m.consumed.inc(batch.messages.length);
    m.bytesIn.inc(bytes);
    const next = BigInt(last) + 1n;
    this.lagGauge(batch.topic, batch.partition).set(Math.max(0, Number(BigInt(batch.highWatermark) - next)));
    const end = this.catchUp.get(partKey);
    if (end !== undefined && next >= end) this.catchUp.delete(partKey);
    this.uncommitted.set(partKey, { topic: batch.topic, partition: batch.partition, offset: next.toString() });
    if (this.o.clock.now() - this.lastCommitAt >= this.o.commitIntervalMs) await this.commit();
    await heartbeat();
  }

  /** Runs the barrier (the store write), then commits every consumed offset. */
  private async commit(): Promise<void> {
    if (this.uncommitted.size === 0) return;
    this.lastCommitAt = this.o.clock.now();
    const offsets = [...this.uncommitted.values()];
    try {
      await this.o.beforeCommit?.();
    } catch (err) {
      // Not committed: redelivered after a crash (the consumer skips what the store already has); the next
      // batch's commit covers these offsets once a store write succeeds again.
      this.o.metrics.kafkaErrors.labels('commit').inc();
      this.o.warn('commit', { err: (err as Error).message }, 'offsets not committed: the store write failed; will retry');
      return;
    }
    try {
      await this.consumer.commitOffsets(offsets);
      for (const o of offsets) if (this.uncommitted.get(`${o.topic}/${o.partition}`)?.offset === o.offset) this.uncommitted.delete(`${o.topic}/${o.partition}`);
    } catch (err) {
      // A rebalance or a broker error: not committed, so redelivered to whoever owns the partition next (which
      // skips what the store already has). The heartbeat below raises a rebalance to kafkajs, which rejoins.
      this.o.metrics.kafkaErrors.labels('commit').inc();
      this.o.warn('commit', { err: (err as Error).message }, 'offsets not committed');
    }
  }

  private lagGauge(topic: string, partition: number) {
    const k = `${topic}/${partition}`;
    let g = this.lag.get(k);
    if (!g) this.lag.set(k, (g = this.o.metrics.kafkaConsumerLag.labels(topic, String(partition))));
    return g;
  }

  private async onAssigned(assignment: Record<string, number[]>): Promise<void> {
    this.assigning = true;
    const assigned = new Set(Object.entries(assignment).flatMap(([t, ps]) => ps.map((p) => `${t}/${p}`)));
    const revoked: { exchange: ExchangeId; symbol: string }[] = [];
    for (const [partKey, keys] of this.keysByPartition) {
      if (assigned.has(partKey)) continue;
      for (const key of keys) {
        if (!this.owned.delete(key)) continue;
        const sep = key.indexOf(':');
        const exchange = key.slice(0, sep);
        if (isExchangeId(exchange)) revoked.push({ exchange, symbol: key.slice(sep + 1) });
      }
      this.keysByPartition.delete(partKey);
    }
    if (revoked.length > 0) this.o.onKeysRevoked?.(revoked);
    for (const k of this.uncommitted.keys()) if (!assigned.has(k)) this.uncommitted.delete(k);
    this.catchUp.clear();
    try {
      for (const [topic, partitions] of Object.entries(assignment)) {
        const ends = await this.admin.fetchTopicOffsets(topic);
        const committed = (await this.admin.fetchOffsets({ groupId: this.o.group, topics: [topic] }))[0]?.partitions ?? [];
        for (const p of partitions) {
          const end = BigInt(ends.find((e) => e.partition === p)?.high ?? '0');
          const at = committed.find((c) => c.partition === p)?.offset ?? '-1';
          const low = BigInt(ends.find((e) => e.partition === p)?.low ?? '0');
          const from = at === '-1' ? (this.o.fromBeginning ? low : end) : BigInt(at);
          if (from < end) this.catchUp.set(`${topic}/${p}`, end);
        }
      }
    } catch (err) {
      this.o.metrics.kafkaErrors.labels('consume').inc();
      this.o.log.warn({ err: (err as Error).message }, 'could not read partition end offsets; treating the assignment as caught up');
    } finally {
      this.assigning = false;
    }
    this.o.log.info({ assignment, replaying: [...this.catchUp.keys()] }, 'Kafka partitions assigned');
  }
}
