/** In-process bus: synchronous fan-out. A throwing subscriber is counted and logged; the others still run. */
import type { Logger } from '../telemetry/logger.js';
import type { BusMetrics } from '../telemetry/metrics.js';
import { TOPICS, type Bus, type BusTopics, type Handler, type Topic } from './bus.js';

interface TopicState {
  handlers: Handler<Topic>[];
  published: { inc(): void };
  consumed: { inc(n?: number): void };
  errors: { inc(): void };
}

export class MemoryBus implements Bus {
  readonly kind = 'memory';
  private readonly topics: Record<Topic, TopicState>;

  constructor(metrics: BusMetrics, private readonly log: Logger) {
    this.topics = Object.fromEntries(
      TOPICS.map((t) => [
        t,
        {
          handlers: [],
          published: metrics.hot.busPublished.counter(metrics.busPublished, 'memory', t),
          consumed: metrics.hot.busConsumed.counter(metrics.busConsumed, 'memory', t),
          errors: metrics.busHandlerErrors.labels('memory', t),
        },
      ]),
    ) as unknown as Record<Topic, TopicState>;
  }

  publish<T extends Topic>(topic: T, message: BusTopics[T]): void {
    const state = this.topics[topic];
    state.published.inc();
    const handlers = state.handlers;
    for (let i = 0; i < handlers.length; i++) {
      try {
        (handlers[i] as Handler<T>)(message);
      } catch (err) {
        state.errors.inc();
        this.log.error({ err, topic }, 'bus subscriber failed');
      }
    }
    if (handlers.length > 0) state.consumed.inc(handlers.length);
  }

  subscribe<T extends Topic>(topic: T, handler: Handler<T>): () => void {
    const state = this.topics[topic];
    // Copy on write: a subscriber added or removed during a publish does not disturb that publish.
    state.handlers = [...state.handlers, handler as Handler<Topic>];
    return () => {
      state.handlers = state.handlers.filter((h) => h !== handler);
    };
  }

  async close(): Promise<void> {
    for (const t of TOPICS) this.topics[t].handlers = [];
  }
}
