/** In-process bus: synchronous fan-out. A throwing subscriber is counted and logged; the others still run. */
import type { HotCounter } from '../telemetry/hot.js';
import type { Logger } from '../telemetry/logger.js';
import { errorText, LogThrottle } from '../telemetry/log-throttle.js';
import type { BusMetrics } from '../telemetry/metrics.js';
import { TOPICS, type Bus, type BusTopics, type Handler, type Topic } from './bus.js';

interface TopicState {
  handlers: Handler<Topic>[];
  published: HotCounter;
  consumed: HotCounter;
  errors: HotCounter;
}

/** What a bus has counted (`status()`), over every topic: the same numbers its metrics expose. */
export interface MemoryBusStatus {
  published: number;
  consumed: number;
  handlerErrors: number;
}

export class MemoryBus implements Bus {
  readonly kind = 'memory';
  private readonly topics: Record<Topic, TopicState>;
  /** One line per topic per 10 s for failing subscribers; the counter has every failure. */
  private readonly errorLog: LogThrottle;

  constructor(metrics: BusMetrics, private readonly log: Logger, now: () => number = Date.now) {
    this.errorLog = new LogThrottle(now, 10_000);
    this.topics = Object.fromEntries(
      TOPICS.map((t) => [
        t,
        {
          handlers: [],
          published: metrics.hot.busPublished.counter(metrics.busPublished, 'memory', t),
          consumed: metrics.hot.busConsumed.counter(metrics.busConsumed, 'memory', t),
          errors: metrics.hot.busHandlerErrors.counter(metrics.busHandlerErrors, 'memory', t),
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
        const suppressed = this.errorLog.take(topic);
        if (suppressed >= 0) this.log.error({ err: errorText(err), topic, suppressed }, 'bus subscriber failed');
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

  status(): MemoryBusStatus {
    const s: MemoryBusStatus = { published: 0, consumed: 0, handlerErrors: 0 };
    for (const t of TOPICS) {
      const state = this.topics[t];
      s.published += state.published.value;
      s.consumed += state.consumed.value;
      s.handlerErrors += state.errors.value;
    }
    return s;
  }

  async stop(): Promise<void> {
    for (const t of TOPICS) this.topics[t].handlers = [];
  }
}
