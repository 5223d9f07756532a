/**
 * The bus-produce hook for a broker-backed bus (Kafka, with the scale-out work): `Bus.publish` never waits,
 * so a broker bus puts messages in this bounded outbox and drains it in batches through the `bus_produce`
 * circuit breaker. While the breaker is open nothing is sent and messages stay queued. Beyond `maxBuffered`
 * the oldest message of a droppable topic goes first (forming-candle updates: the next update supersedes
 * them), then, only if nothing droppable is left, the oldest message of any topic. Every dropped message is
 * counted (`candlestack_bus_messages_dropped_total{bus,topic}`) and logged; the broker bus decides what a
 * dropped trade means (it raises a `gap` so the candles it touched are backfilled).
 */
import type { CircuitBreaker } from '../core/circuit-breaker.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../telemetry/logger.js';
import type { BusMetrics } from '../telemetry/metrics.js';
import type { BusTopics, Topic } from './bus.js';

export interface Outgoing<T extends Topic = Topic> {
  topic: T;
  message: BusTopics[T];
}

export interface ProduceGuardOptions {
  /** The bus kind, for the metric label. */
  bus: string;
  breaker: CircuitBreaker;
  /** Sends one batch to the broker; rejects when it failed (the batch is kept and retried). */
  send: (batch: readonly Outgoing[]) => Promise<void>;
  maxBuffered: number;
  maxBatch?: number;
  clock: Clock;
  metrics: BusMetrics;
  log: Logger;
  /** Messages that may be dropped before any other. Default: forming-candle updates. */
  droppable?: (m: Outgoing) => boolean;
  /** Called for every dropped message (after it is counted), e.g. to raise a gap. */
  onDrop?: (m: Outgoing) => void;
}

const formingUpdate = (m: Outgoing): boolean => m.topic === 'candle' && (m.message as BusTopics['candle']).kind === 'update';

export class ProduceGuard {
  private queue: Outgoing[] = [];
  private sending: Promise<void> | null = null;
  private readonly maxBatch: number;
  private readonly droppable: (m: Outgoing) => boolean;
  private droppedSinceLog = 0;
  private lastDropLogAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly o: ProduceGuardOptions) {
    if (!Number.isInteger(o.maxBuffered) || o.maxBuffered < 1) throw new RangeError(`maxBuffered must be an integer >= 1, got ${o.maxBuffered}`);
    this.maxBatch = o.maxBatch ?? 500;
    this.droppable = o.droppable ?? formingUpdate;
  }

  get depth(): number {
    return this.queue.length;
  }

  push<T extends Topic>(topic: T, message: BusTopics[T]): void {
    this.queue.push({ topic, message } as Outgoing);
    if (this.queue.length > this.o.maxBuffered) this.dropOne();
  }

  /** Sends queued messages in batches until the queue is empty, a send fails, or the breaker refuses. */
  async drain(): Promise<void> {
    if (this.sending) return this.sending;
    this.sending = this.drainLoop().finally(() => (this.sending = null));
    return this.sending;
  }

  private async drainLoop(): Promise<void> {
    const breaker = this.o.breaker;
    while (this.queue.length > 0) {
      if (!breaker.tryAcquire()) return;
      const batch = this.queue.slice(0, this.maxBatch);
      try {
        await this.o.send(batch);
      } catch (err) {
        breaker.failure(err);
        this.o.log.warn({ err, bus: this.o.bus, messages: batch.length, queued: this.queue.length }, 'bus produce failed; messages kept for the next attempt');
        return;
      }
      breaker.success();
      // messages pushed meanwhile went to the end; drops only remove from the queue, so the batch may be partly gone
      const sent = new Set(batch);
      this.queue = this.queue.filter((m) => !sent.has(m));
    }
  }

  private dropOne(): void {
    let i = this.queue.findIndex(this.droppable);
    if (i < 0) i = 0;
    const [m] = this.queue.splice(i, 1);
    if (!m) return;
    this.o.metrics.busMessagesDropped.labels(this.o.bus, m.topic).inc();
    this.droppedSinceLog++;
    const now = this.o.clock.now();
    if (now - this.lastDropLogAt >= 10_000) {
      this.lastDropLogAt = now;
      this.o.log.warn({ bus: this.o.bus, topic: m.topic, dropped: this.droppedSinceLog, queued: this.queue.length, bound: this.o.maxBuffered }, 'bus produce buffer full: dropped the oldest messages (droppable topics first); see candlestack_bus_messages_dropped_total');
      this.droppedSinceLog = 0;
    }
    this.o.onDrop?.(m);
  }
}
