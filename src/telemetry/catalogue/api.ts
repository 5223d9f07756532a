/** API slice: the HTTP servers (ApiServer and every role's RoleServer), outgoing HTTP calls, the live WebSocket and the Alertmanager webhook receiver (src/api/). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { exemplarHistogram } from '../exemplars.js';

export function apiMetrics(registry: Registry) {
  const r = [registry];
  return {
    httpRequests: new Counter({
      name: 'candlestack_http_requests_total',
      help: 'HTTP requests by route and status code.',
      labelNames: ['method', 'route', 'status'] as const,
      registers: r,
    }),
    httpRequestDuration: exemplarHistogram(registry, {
      name: 'candlestack_http_request_duration_seconds',
      help: 'HTTP request duration by route.',
      labelNames: ['method', 'route'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    }),
    /** Outgoing calls to another service (src/api/http-client.ts), by the called service. */
    httpClientRequests: new Counter({
      name: 'candlestack_http_client_requests_total',
      help: 'Outgoing HTTP calls by target service and outcome (the status code, or timeout, error, circuit_open).',
      labelNames: ['target', 'outcome'] as const,
      registers: r,
    }),
    httpClientRequestDuration: exemplarHistogram(registry, {
      name: 'candlestack_http_client_request_duration_seconds',
      help: 'Outgoing HTTP call duration by target service (attempts that got an answer or failed).',
      labelNames: ['target'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
    /** Socket-level limits of the HTTP servers (src/api/socket-guard.ts). */
    httpConnections: new Gauge({
      name: 'candlestack_http_connections',
      help: 'Open TCP connections to the HTTP server (upgraded /ws sockets included).',
      registers: r,
    }),
    httpConnectionsRefused: new Counter({
      name: 'candlestack_http_connections_refused_total',
      help: 'HTTP connections refused, by reason: total, per_address (over a connection cap), host (a Host header not served), origin (a POST from another origin); answered and closed.',
      labelNames: ['reason'] as const,
      registers: r,
    }),
    httpConnectionsClosed: new Counter({
      name: 'candlestack_http_connections_closed_total',
      help: 'HTTP connections the server closed because of the client, by reason: timeout (headers or request too slow), headers_too_large, malformed, idle.',
      labelNames: ['reason'] as const,
      registers: r,
    }),
    websocketClients: new Gauge({
      name: 'candlestack_websocket_clients',
      help: 'Connected API WebSocket clients.',
      registers: r,
    }),
    websocketMessagesSent: new Counter({
      name: 'candlestack_websocket_messages_sent_total',
      help: 'Messages sent to API WebSocket clients.',
      labelNames: ['type'] as const,
      registers: r,
    }),
    /** POST /api/alerts, the Alertmanager webhook receiver. */
    alertsReceived: new Counter({
      name: 'candlestack_alerts_received_total',
      help: 'Alerts received from Alertmanager by status (firing, resolved) and severity (critical, warning, info, none, other).',
      labelNames: ['status', 'severity'] as const,
      registers: r,
    }),
  };
}

export type ApiMetrics = ReturnType<typeof apiMetrics>;
