/**
 * The Kafka bus (kafkajs): the same Bus interface as the in-process one, with a broker between stages.
 *
 * Producer: `publish` never waits. Messages are encoded at once (kafka-codec.ts) into a bounded in-memory
 * buffer, sent in batches (up to `batchMax`, after `lingerMs`) gzip-compressed, acks from all in-sync
 * replicas, one request in flight so retries do not reorder (idempotence optional, see `idempotent`). While the
 * broker is unreachable the buffer grows (`candlestack_kafka_buffer_depth`) and the failed batch is retried
 * first, so order is kept. Policy when the buffer is full (`bufferMax`, default 200 000 messages): the newest
 * message is dropped and counted (`candlestack_kafka_messages_dropped_total{topic}`), logged at most once a
 * second; a trade lost this way shows up downstream as a trade-id gap, which the process role backfills.
 *
 * Consumer: one consumer in a consumer group (`group`), so several instances share the partitions. Offsets
 * are committed every `commitIntervalMs` (and on close), each time only after `beforeCommit` resolved (the
 * process role writes the store there); offsets whose barrier failed stay uncommitted and are redelivered
 * after a crash or rebalance (consumers must be idempotent: the process role skips trades by id). `onKeyAcquired` runs before
 * the first message of an `exchange:symbol` key on this member (after start or a rebalance: the process role
 * restores that symbol's candles from the store), `onKeysRevoked` when a rebalance takes its partition away.
 * `caughtUp()` is false during a rebalance and from a (re)assignment until every assigned partition has been
 * read to the end offset it had then: a role replaying a backlog must not close candles on the wall clock.
 */
import { CompressionTypes, Kafka, Partitioners, logLevel, type Admin, type Consumer, type EachBatchPayload, type Producer } from 'kafkajs';
import type { Clock, Timer } from '../core/clock.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { TOPICS, type Bus, type BusTopics, type Handler, type Topic } from './bus.js';
import { DEFAULT_KAFKA_TOPICS, decode, encode, messageKey, newTraceparent, type KafkaTopicNames } from './kafka-codec.js';

export interface KafkaBusOptions {
  brokers: string[];
  clientId: string;
  topics?: Partial<KafkaTopicNames>;
  /** Consumer group; required to subscribe. */
  group?: string;
  /** A new group starts at the beginning of the topics (true) or at their end (false, default). */
  fromBeginning?: boolean;
  beforeCommit?: () => Promise<void>;
  /** Commit (and run beforeCommit) at most this often, default 1000 ms: one store write per interval, not per batch. */
  commitIntervalMs?: number;
  onKeyAcquired?: (exchange: string, symbol: string) => Promise<void>;
  onKeysRevoked?: (keys: { exchange: string; symbol: string }[]) => void;
  /** The topic whose partitions decide which keys this member owns (default trade). */
  ownershipTopic?: Topic;
  /**
   * kafkajs' idempotent producer (default off): it asks the cluster controller for a producer id, which
   * librdkafka's mock cluster does not name, so the tests run without it. Either way one request is in flight
   * (retries keep order), and consumers are idempotent: trades are deduplicated by id, candles are upserts.
   */
  idempotent?: boolean;
  bufferMax?: number;
  batchMax?: number;
  lingerMs?: number;
  clock: Clock;
  metrics: Metrics;
  log: Logger;
}

interface Pending {
  topic: Topic;
  key: string;
  value: string;
}

type Counter = { inc(n?: number): void };

export class KafkaBus implements Bus {
  readonly kind = 'kafka';
  readonly topicNames: KafkaTopicNames;
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private consumer: Consumer | null = null;
  private admin: Admin | null = null;
  private readonly handlers = new Map<Topic, Handler<Topic>[]>();
  private readonly byName = new Map<string, Topic>();
  private readonly m: Record<Topic, { produced: Counter; bytesOut: Counter; consumed: Counter; bytesIn: Counter; dropped: Counter; handlerErrors: Counter }>;
  private queue: Pending[] = [];
  private sending = false;
  private connected = false;
  private timer: Timer | null = null;
  private closed = false;
  private started = false;
  private readonly bufferMax: number;
  private readonly batchMax: number;
  private readonly lingerMs: number;
  private readonly lastLog = new Map<string, number>();
  private readonly owned = new Set<string>();
  private readonly keysByPartition = new Map<string, Set<string>>();
  private readonly lag = new Map<string, { set(v: number): void }>();
  /** Partitions still replaying to the end offset they had at assignment: "topic/partition" -> end offset. */
  private readonly catchUp = new Map<string, bigint>();
  private assigning = false;
  private lastFetchAt = 0;
  private lastCommitAt = 0;
  /** Offsets consumed but not yet committed: "topic/partition" -> next offset. */
  private readonly uncommitted = new Map<string, { topic: string; partition: number; offset: string }>();
  private idle: Promise<void> = Promise.resolve();
  private idleResolve: (() => void) | null = null;

  constructor(private readonly o: KafkaBusOptions) {
    this.topicNames = { ...DEFAULT_KAFKA_TOPICS, ...o.topics };
    for (const t of TOPICS) this.byName.set(this.topicNames[t], t);
    this.bufferMax = o.bufferMax ?? 200_000;
    this.batchMax = o.batchMax ?? 2_000;
    this.lingerMs = o.lingerMs ?? 5;
    const log = o.log;
    this.kafka = new Kafka({
      clientId: o.clientId,
      brokers: o.brokers,
      connectionTimeout: 3_000,
      retry: { initialRetryTime: 100, maxRetryTime: 2_000, retries: 5 },
      logLevel: logLevel.WARN,
      logCreator: () => (entry) => log.debug({ kafkajs: entry.namespace, message: entry.log.message }, 'kafkajs'),
    });
    this.producer = this.kafka.producer({ idempotent: o.idempotent ?? false, maxInFlightRequests: 1, allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner });
    const mt = o.metrics;
    this.m = Object.fromEntries(
      TOPICS.map((t) => {
        const name = this.topicNames[t];
        return [
          t,
          {
            produced: mt.kafkaProduced.labels(name),
            bytesOut: mt.kafkaBytesProduced.labels(name),
            consumed: mt.kafkaConsumed.labels(name),
            bytesIn: mt.kafkaBytesConsumed.labels(name),
            dropped: mt.kafkaDropped.labels(name),
            handlerErrors: mt.busHandlerErrors.labels('kafka', t),
          },
        ];
      }),
    ) as unknown as KafkaBus['m'];
    mt.kafkaBufferDepth.set(0);
  }

  get bufferDepth(): number {
    return this.queue.length;
  }

  publish<T extends Topic>(topic: T, message: BusTopics[T]): void {
    if (this.closed) return;
    const value = encode(topic, message);
    if (value === null) return;
    if (this.queue.length >= this.bufferMax) {
      this.m[topic].dropped.inc();
      this.warnOnce('buffer_full', { topic, bufferMax: this.bufferMax }, 'Kafka producer buffer full: dropping the newest message');
      return;
    }
    this.queue.push({ topic, key: messageKey(message), value });
    this.o.metrics.kafkaBufferDepth.set(this.queue.length);
    this.schedule(this.lingerMs);
  }

  subscribe<T extends Topic>(topic: T, handler: Handler<T>): () => void {
    if (this.started) throw new Error(`KafkaBus: subscribe to ${topic} before start()`);
    if (!this.o.group) throw new Error('KafkaBus: a consumer group is required to subscribe');
    this.handlers.set(topic, [...(this.handlers.get(topic) ?? []), handler as Handler<Topic>]);
    return () => this.handlers.set(topic, (this.handlers.get(topic) ?? []).filter((h) => h !== handler));
  }

  /** Starts consuming the subscribed topics (the producer connects on first use). */
  async start(): Promise<void> {
    this.started = true;
    if (this.handlers.size === 0) return;
    const consumer = this.kafka.consumer({ groupId: this.o.group!, sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 100, rebalanceTimeout: 10_000 });
    this.consumer = consumer;
    this.admin = this.kafka.admin();
    consumer.on(consumer.events.REBALANCING, () => (this.assigning = true));
    consumer.on(consumer.events.FETCH, () => (this.lastFetchAt = this.o.clock.now()));
    consumer.on(consumer.events.GROUP_JOIN, (e) => void this.onAssigned(e.payload.memberAssignment));
    consumer.on(consumer.events.CRASH, (e) => {
      this.o.metrics.kafkaErrors.labels('consume').inc();
      this.o.log.error({ err: e.payload.error, restart: e.payload.restart }, 'Kafka consumer crashed');
    });
    this.assigning = true;
    await consumer.connect();
    await consumer.subscribe({ topics: [...this.handlers.keys()].map((t) => this.topicNames[t]), fromBeginning: this.o.fromBeginning ?? false });
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (p) => this.eachBatch(p) });
  }

  /**
   * True when the consumer is reading live: no rebalance under way, every (re)assigned partition read up to
   * the end offset it had at assignment, and a fetch completed within the last 2 s (fetches stall in a
   * rebalance or an outage, and a role must not then close candles on the wall clock).
   */
  caughtUp(): boolean {
    return !this.assigning && this.catchUp.size === 0 && this.o.clock.now() - this.lastFetchAt < 2_000;
  }

  /** Resolves once every buffered message has been acknowledged by the broker. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.sending) {
      this.schedule(0);
      await this.idle;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Give buffered messages a moment to reach a reachable broker; an unreachable one gets no wait.
    if (this.connected) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([this.drain(), new Promise((r) => (t = setTimeout(r, 5_000)))]);
      clearTimeout(t);
    }
    if (this.queue.length > 0) this.o.log.warn({ buffered: this.queue.length }, 'Kafka bus closed with undelivered messages');
    this.closed = true;
    this.timer?.cancel();
    if (this.consumer) {
      await this.consumer.stop().catch(() => undefined);
      await this.commit().catch(() => undefined);
    }
    await this.consumer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
    await this.producer.disconnect().catch(() => undefined);
    this.handlers.clear();
  }

  // ── producer ────────────────────────────────────────────────────────────────────────────────────

  private schedule(ms: number): void {
    if (this.timer || this.sending || this.closed) return;
    if (!this.idleResolve) this.idle = new Promise((r) => (this.idleResolve = r));
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = null;
      void this.pump();
    }, ms);
  }

  private async pump(): Promise<void> {
    if (this.sending || this.queue.length === 0) return this.settle();
    this.sending = true;
    const batch = this.queue.slice(0, this.batchMax);
    let retryIn = 0;
    try {
      if (!this.connected) {
        await this.producer.connect();
        this.connected = true;
      }
      const byTopic = new Map<Topic, Pending[]>();
      for (const p of batch) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p]);
      await this.producer.sendBatch({
        acks: -1,
        compression: CompressionTypes.GZIP,
        topicMessages: [...byTopic].map(([t, ms]) => ({
          topic: this.topicNames[t],
          messages: ms.map((p) => ({ key: p.key, value: p.value, headers: { traceparent: newTraceparent(), 'content-type': 'application/json' } })),
        })),
      });
      this.queue.splice(0, batch.length);
      for (const [t, ms] of byTopic) {
        this.m[t].produced.inc(ms.length);
        let bytes = 0;
        for (const p of ms) bytes += Buffer.byteLength(p.value);
        this.m[t].bytesOut.inc(bytes);
      }
    } catch (err) {
      this.o.metrics.kafkaErrors.labels(this.connected ? 'produce' : 'connect').inc();
      this.warnOnce('produce', { err: (err as Error).message, buffered: this.queue.length }, 'Kafka produce failed; messages kept in the buffer and retried');
      retryIn = 500;
    } finally {
      this.sending = false;
      this.o.metrics.kafkaBufferDepth.set(this.queue.length);
    }
    if (this.closed) return this.settle();
    if (this.queue.length > 0) this.schedule(retryIn);
    else this.settle();
  }

  private settle(): void {
    if (this.queue.length === 0 && !this.sending && this.idleResolve) {
      const r = this.idleResolve;
      this.idleResolve = null;
      r();
    } else if (this.closed && this.idleResolve) {
      this.idleResolve();
      this.idleResolve = null;
    }
  }

  // ── consumer ────────────────────────────────────────────────────────────────────────────────────

  private async eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const topic = this.byName.get(batch.topic);
    if (!topic || batch.messages.length === 0) return;
    const handlers = this.handlers.get(topic) ?? [];
    const m = this.m[topic];
    const partKey = `${batch.topic}/${batch.partition}`;
    const owning = topic === (this.o.ownershipTopic ?? 'trade');
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
          if (sep > 0 && this.o.onKeyAcquired) await this.o.onKeyAcquired(key.slice(0, sep), key.slice(sep + 1));
          this.owned.add(key);
        }
        keys.add(key);
      }
      if (msg.value) {
        bytes += msg.value.length;
        let message: BusTopics[Topic] | undefined;
        try {
          message = decode(topic, msg.value);
        } catch (err) {
          this.o.metrics.kafkaErrors.labels('decode').inc();
          this.warnOnce('decode', { err: (err as Error).message, topic: batch.topic, partition: batch.partition, offset: msg.offset }, 'undecodable Kafka message skipped');
        }
        if (message) {
          for (const h of handlers) {
            try {
              h(message);
            } catch (err) {
              m.handlerErrors.inc();
              this.o.log.error({ err, topic }, 'bus subscriber failed');
            }
          }
        }
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
    if (this.o.clock.now() - this.lastCommitAt >= (this.o.commitIntervalMs ?? 1_000)) await this.commit();
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
      this.warnOnce('commit', { err: (err as Error).message }, 'offsets not committed: the store write failed; will retry');
      return;
    }
    try {
      await this.consumer!.commitOffsets(offsets);
      for (const o of offsets) if (this.uncommitted.get(`${o.topic}/${o.partition}`)?.offset === o.offset) this.uncommitted.delete(`${o.topic}/${o.partition}`);
    } catch (err) {
      // A rebalance or a broker error: not committed, so redelivered to whoever owns the partition next (which
      // skips what the store already has). The heartbeat below raises a rebalance to kafkajs, which rejoins.
      this.o.metrics.kafkaErrors.labels('commit').inc();
      this.warnOnce('commit', { err: (err as Error).message }, 'offsets not committed');
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
    const revoked: { exchange: string; symbol: string }[] = [];
    for (const [partKey, keys] of this.keysByPartition) {
      if (assigned.has(partKey)) continue;
      for (const key of keys) {
        if (!this.owned.delete(key)) continue;
        const sep = key.indexOf(':');
        revoked.push({ exchange: key.slice(0, sep), symbol: key.slice(sep + 1) });
      }
      this.keysByPartition.delete(partKey);
    }
    if (revoked.length > 0) this.o.onKeysRevoked?.(revoked);
    for (const k of this.uncommitted.keys()) if (!assigned.has(k)) this.uncommitted.delete(k);
    this.catchUp.clear();
    try {
      for (const [topic, partitions] of Object.entries(assignment)) {
        const ends = await this.admin!.fetchTopicOffsets(topic);
        const committed = (await this.admin!.fetchOffsets({ groupId: this.o.group!, topics: [topic] }))[0]?.partitions ?? [];
        for (const p of partitions) {
          const end = BigInt(ends.find((e) => e.partition === p)?.high ?? '0');
          const at = committed.find((c) => c.partition === p)?.offset ?? '-1';
          const low = BigInt(ends.find((e) => e.partition === p)?.low ?? '0');
          const from = at === '-1' ? ((this.o.fromBeginning ?? false) ? low : end) : BigInt(at);
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

  private warnOnce(kind: string, ctx: Record<string, unknown>, msg: string): void {
    const now = this.o.clock.now();
    if (now - (this.lastLog.get(kind) ?? 0) < 1_000) return;
    this.lastLog.set(kind, now);
    this.o.log.warn(ctx, msg);
  }
}
