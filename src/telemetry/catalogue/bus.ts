/** Bus slice: the in-process bus, the handler errors of every bus, the produce guard's drops (src/bus/). */
import { Counter, type Registry } from 'prom-client';
import { HotSeries } from '../hot.js';

export function busMetrics(registry: Registry) {
  const r = [registry];
  /** Counted series (hot.ts): the buses count these; their status() reads the same numbers. */
  const hot = {
    busPublished: new HotSeries(),
    busConsumed: new HotSeries(),
    busHandlerErrors: new HotSeries(),
  };
  return {
    hot,
    busPublished: new Counter({
      name: 'candlestack_bus_messages_published_total',
      help: 'Messages published on the bus.',
      labelNames: ['bus', 'topic'] as const,
      registers: r,
      collect: hot.busPublished.collect,
    }),
    busConsumed: new Counter({
      name: 'candlestack_bus_messages_consumed_total',
      help: 'Messages delivered to bus subscribers.',
      labelNames: ['bus', 'topic'] as const,
      registers: r,
      collect: hot.busConsumed.collect,
    }),
    busHandlerErrors: new Counter({
      name: 'candlestack_bus_handler_errors_total',
      help: 'Bus subscriber handlers that threw.',
      labelNames: ['bus', 'topic'] as const,
      registers: r,
      collect: hot.busHandlerErrors.collect,
    }),
  };
}

export type BusMetrics = ReturnType<typeof busMetrics>;
