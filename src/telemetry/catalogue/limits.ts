/** Limits slice: the API's rate limits (src/api/rate-limit.ts) and the live WebSocket's caps (src/api/live-ws.ts). */
import { Counter, type Registry } from 'prom-client';

export function limitMetrics(registry: Registry) {
  const r = [registry];
  return {
    rateLimitExceeded: new Counter({
      name: 'candlestack_rate_limit_exceeded_total',
      help: 'Requests refused with 429 because the client (address or API key) was over its rate limit, by route.',
      labelNames: ['route'] as const,
      registers: r,
    }),
    websocketRefused: new Counter({
      name: 'candlestack_websocket_refused_total',
      help: 'Live WebSocket connections or subscriptions refused by reason (connection_cap, subscription_cap, origin: a page of another origin).',
      labelNames: ['reason'] as const,
      registers: r,
    }),
    websocketDropped: new Counter({
      name: 'candlestack_websocket_dropped_total',
      help: 'Live WebSocket clients disconnected by the server by reason (slow_reader: unsent data over the bound; no_pong).',
      labelNames: ['reason'] as const,
      registers: r,
    }),
  };
}

export type LimitMetrics = ReturnType<typeof limitMetrics>;
