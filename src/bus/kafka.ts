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
 * Sends go through the `bus_produce` circuit breaker (`breaker`): after `failureThreshold` failed sends in a
 * row it opens, and for `openFor` no send is attempted (no connection storm against a broker that is down);
 * messages keep buffering under the same bound, and the first send after that is the half-open probe.
 *
 * Consumer (kafka-consumer.ts): one consumer in a group (`group`), so several instances share the partitions. Offsets
 * are committed every `commitIntervalMs` (and on close), each time only after `beforeCommit` resolved (the
 * process role writes the store there); offsets whose barrier failed stay uncommitted and are redelivered
 * after a crash or rebalance (consumers must be idempotent: the process role skips trades by id). `onKeyAcquired` runs before
 * the first message of an `exchange:symbol` key on this member (after start or a rebalance: the process role
 * restores that symbol's candles from the store), `onKeysRevoked` when a rebalance takes its partition away.
 * `caughtUp()` is false during a rebalance and from a (re)assignment until every assigned partition has been
 * read to the end offset it had then: a role replaying a backlog must not close candles on the wall clock.
 */
import { CompressionTypes, Kafka, Partitioners, logLevel, type Producer } from 'kafkajs';
import type { Clock, Timer } from '../core/clock.js';
import type { ExchangeId } from '../core/exchange-id.js';
import type { BreakerStatus, CircuitBreaker } from '../core/circuit-breaker.js';
import type { Logger } from '../telemetry/logger.js';
import type { HotCounter } from '../telemetry/hot.js';
import type { Metrics } from '../telemetry/metrics.js';
import { TOPICS, type Bus, type BusTopics, type Handler, type Topic } from './bus.js';
import { GroupConsumer } from './kafka-consumer.js';
import { errorText } from '../telemetry/log-throttle.js';
import { DEFAULT_KAFKA_TOPICS, decode, encode, messageKey, type KafkaTopicNames } from './kafka-codec.js';
import { SpanKind } from '@opentelemetry/api';
import type { Tracing } from '../telemetry/tracing.js';
import { ATTR_MESSAGING_BATCH_MESSAGE_COUNT, ATTR_MESSAGING_CLIENT_ID, ATTR_MESSAGING_DESTINATION_NAME, ATTR_MESSAGING_OPERATION_NAME, ATTR_MESSAGING_OPERATION_TYPE, ATTR_MESSAGING_SYSTEM } from '../telemetry/semconv.js';

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
  onKeyAcquired?: (exchange: ExchangeId, symbol: string) => Promise<void>;
  onKeysRevoked?: (keys: { exchange: ExchangeId; symbol: string }[]) => void;
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
  /** Acks a send waits for: -1 every in-sync replica (default: an acked trade survives a broker loss), 1 the leader only. */
  acks?: -1 | 1;
  /** Compression of each batch: 'gzip' (default) or 'none' (kafkajs has no other codec built in). */
  compression?: 'gzip' | 'none';
  /** The `bus_produce` breaker around sends (none: every retry is attempted). */
  breaker?: CircuitBreaker;
  clock: Clock;
  /** Kafka metrics; subscriber errors count under the bus slice's bus_handler_errors_total{bus="kafka"}. */
  metrics: Pick<Metrics, 'kafka' | 'bus'>;
  log: Logger;
  /**
   * Traces: each send is one PRODUCER span, and its context is the `traceparent` header of every message in
   * it (a consumer continues that trace); each consumed batch one CONSUMER span. Off (or absent): no span, no
   * traceparent header.
   */
  tracing?: Tracing;
}

/** What the Kafka bus has counted (`KafkaBus.status()`). */
export interface KafkaBusStatus {
  /** Subscriber handlers that threw, over every topic. */
  handlerErrors: number;
  /** Messages waiting in the producer buffer. */
  bufferDepth: number;
}

interface Pending {
  topic: Topic;
  key: string;
  value: string;
}

type Counter = { inc(n?: number): void };

const PLAIN_HEADERS: Record<string, string> = { 'content-type': 'application/json' };

export class KafkaBus implements Bus {
  readonly kind = 'kafka';
  readonly topicNames: KafkaTopicNames;
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private consumer: GroupConsumer | null = null;
  private readonly handlers = new Map<Topic, Handler<Topic>[]>();
  private readonly m: Record<Topic, { produced: Counter; bytesOut: Counter; dropped: Counter; handlerErrors: HotCounter }>;
  private queue: Pending[] = [];
  private sending = false;
  private connected = false;
  private timer: Timer | null = null;
  private closed = false;
  private started = false;
  private consumingStopped = false;
  private readonly bufferMax: number;
  private readonly batchMax: number;
  private readonly lingerMs: number;
  private readonly acks: -1 | 1;
  private readonly compression: CompressionTypes;
  private readonly lastLog = new Map<string, number>();
  private idle: Promise<void> = Promise.resolve();
  private idleResolve: (() => void) | null = null;

  constructor(private readonly o: KafkaBusOptions) {
    this.topicNames = { ...DEFAULT_KAFKA_TOPICS, ...o.topics };
    this.bufferMax = o.bufferMax ?? 200_000;
    this.batchMax = o.batchMax ?? 2_000;
    this.lingerMs = o.lingerMs ?? 5;
    this.acks = o.acks ?? -1;
    this.compression = o.compression === 'none' ? CompressionTypes.None : CompressionTypes.GZIP;
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
    const mt = o.metrics.kafka;
    const bus = o.metrics.bus;
    this.m = Object.fromEntries(
      TOPICS.map((t) => {
        const name = this.topicNames[t];
        return [
          t,
          {
            produced: mt.kafkaProduced.labels(name),
            bytesOut: mt.kafkaBytesProduced.labels(name),
            dropped: mt.kafkaDropped.labels(name),
            handlerErrors: bus.hot.busHandlerErrors.counter(bus.busHandlerErrors, 'kafka', t),
          },
        ];
      }),
    ) as unknown as KafkaBus['m'];
    mt.kafkaBufferDepth.set(0);
  }

  /** The `bus_produce` breaker's status (none without a breaker). */
  breakerStatus(): BreakerStatus[] {
    return this.o.breaker ? [this.o.breaker.status()] : [];
  }

  get bufferDepth(): number {
    return this.queue.length;
  }

  status(): KafkaBusStatus {
    let handlerErrors = 0;
    for (const t of TOPICS) handlerErrors += this.m[t].handlerErrors.value;
    return { handlerErrors, bufferDepth: this.queue.length };
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
    this.o.metrics.kafka.kafkaBufferDepth.set(this.queue.length);
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
    this.consumer = new GroupConsumer(this.kafka, {
      group: this.o.group!,
      fromBeginning: this.o.fromBeginning ?? false,
      topics: new Map([...this.handlers.keys()].map((t) => [this.topicNames[t], t])),
      ownershipTopic: this.o.ownershipTopic ?? 'trade',
      commitIntervalMs: this.o.commitIntervalMs ?? 1_000,
      beforeCommit: this.o.beforeCommit,
      onKeyAcquired: this.o.onKeyAcquired,
      onKeysRevoked: this.o.onKeysRevoked,
      deliver: (topic, value, where) => this.deliver(topic, value, where),
      ...(this.o.tracing ? { tracing: this.o.tracing } : {}),
      warn: (kind, ctx, msg) => this.warnOnce(kind, ctx, msg),
      clock: this.o.clock,
      metrics: this.o.metrics.kafka,
      log: this.o.log,
    });
    await this.consumer.start();
  }

  /**
   * True when the consumer is reading live: no rebalance under way, every (re)assigned partition read up to
   * the end offset it had at assignment, and a fetch completed within the last 2 s (fetches stall in a
   * rebalance or an outage, and a role must not then close candles on the wall clock).
   */
  caughtUp(): boolean {
    // Once consuming stops, nothing more will be read: never "caught up", so a stream clock closes no candle
    // on the wall clock while the last commit runs (a lagging instance would otherwise close its backlog's
    // periods empty, and the next owner would drop the redelivered trades as late).
    if (this.consumingStopped) return false;
    return this.consumer?.caughtUp() ?? true;
  }

  /** Resolves once every buffered message has been acknowledged by the broker. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.sending) {
      this.schedule(0);
      await this.idle;
    }
  }

  /** Stops consuming: the last commit (after the barrier) and leaving the group. The producer keeps sending. */
  async stopConsuming(): Promise<void> {
    if (this.consumer) this.consumingStopped = true;
    const consumer = this.consumer;
    this.consumer = null;
    await consumer?.stop();
  }

  /** Stops consuming (if still), gives buffered messages up to 5 s to reach the broker, disconnects. */
  async stop(): Promise<void> {
    if (this.closed) return;
    await this.stopConsuming();
    // Give buffered messages a moment to reach a reachable broker; an unreachable one gets no wait.
    if (this.connected) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([this.drain(), new Promise((r) => (t = setTimeout(r, 5_000)))]);
      clearTimeout(t);
    }
    if (this.queue.length > 0) this.o.log.warn({ buffered: this.queue.length }, 'Kafka bus closed with undelivered messages');
    this.closed = true;
    this.timer?.cancel();
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
    const breaker = this.o.breaker;
    if (breaker && !breaker.tryAcquire()) {
      const retryAt = breaker.status().retryAt;
      this.schedule(Math.max(50, Math.min(5_000, (retryAt ?? 0) - this.o.clock.now())));
      return;
    }
    this.sending = true;
    const batch = this.queue.slice(0, this.batchMax);
    let retryIn = 0;
    try {
      if (!this.connected) {
        await this.producer.connect();
        this.connected = true;
      }
      const byTopic = new Map<Topic, Pending[]>();
      for (const p of batch) {
        const list = byTopic.get(p.topic);
        if (list) list.push(p);
        else byTopic.set(p.topic, [p]);
      }
      await this.send(byTopic, batch.length);
      this.queue.splice(0, batch.length);
      breaker?.success();
      for (const [t, ms] of byTopic) {
        this.m[t].produced.inc(ms.length);
        let bytes = 0;
        for (const p of ms) bytes += Buffer.byteLength(p.value);
        this.m[t].bytesOut.inc(bytes);
      }
    } catch (err) {
      breaker?.failure(err);
      this.o.metrics.kafka.kafkaErrors.labels(this.connected ? 'produce' : 'connect').inc();
      this.warnOnce('produce', { err: (err as Error).message, buffered: this.queue.length }, 'Kafka produce failed; messages kept in the buffer and retried');
      retryIn = 500;
    } finally {
      this.sending = false;
      this.o.metrics.kafka.kafkaBufferDepth.set(this.queue.length);
    }
    if (this.closed) return this.settle();
    if (this.queue.length > 0) this.schedule(retryIn);
    else this.settle();
  }

  /** One sendBatch; with tracing, inside a PRODUCER span whose context every message carries. */
  private send(byTopic: Map<Topic, Pending[]>, count: number): Promise<unknown> {
    const tracing = this.o.tracing;
    const sendBatch = (headers: Record<string, string>) =>
      this.producer.sendBatch({
        acks: this.acks,
        compression: this.compression,
        topicMessages: [...byTopic].map(([t, ms]) => ({ topic: this.topicNames[t], messages: ms.map((p) => ({ key: p.key, value: p.value, headers })) })),
      });
    if (!tracing?.enabled) return sendBatch(PLAIN_HEADERS);
    const names = [...byTopic.keys()].map((t) => this.topicNames[t]);
    const attributes: Record<string, string | number> = {
      [ATTR_MESSAGING_SYSTEM]: 'kafka',
      [ATTR_MESSAGING_OPERATION_TYPE]: 'send',
      [ATTR_MESSAGING_OPERATION_NAME]: 'send',
      [ATTR_MESSAGING_BATCH_MESSAGE_COUNT]: count,
      [ATTR_MESSAGING_CLIENT_ID]: this.o.clientId,
    };
    // One destination names the span (semconv `send <destination>`); a mixed batch lists its topics.
    if (names.length === 1) attributes[ATTR_MESSAGING_DESTINATION_NAME] = names[0]!;
    else attributes['candlestack.kafka.topics'] = names.join(',');
    return tracing.span(names.length === 1 ? `send ${names[0]}` : 'send', { kind: SpanKind.PRODUCER, attributes }, () => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      tracing.inject(headers);
      return sendBatch(headers);
    });
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

  private deliver(topic: Topic, value: Buffer, where: { topic: string; partition: number; offset: string }): void {
    let message: BusTopics[Topic];
    try {
      message = decode(topic, value);
    } catch (err) {
      this.o.metrics.kafka.kafkaErrors.labels('decode').inc();
      this.warnOnce('decode', { err: (err as Error).message, ...where }, 'undecodable Kafka message skipped');
      return;
    }
    for (const h of this.handlers.get(topic) ?? []) {
      try {
        h(message);
      } catch (err) {
        this.m[topic].handlerErrors.inc();
        this.warnOnce(`handler:${topic}`, { err: errorText(err), topic }, 'bus subscriber failed');
      }
    }
  }

  private warnOnce(kind: string, ctx: Record<string, unknown>, msg: string): void {
    const now = this.o.clock.now();
    if (now - (this.lastLog.get(kind) ?? 0) < 1_000) return;
    this.lastLog.set(kind, now);
    this.o.log.warn(ctx, msg);
  }
}
