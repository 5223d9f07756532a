/**
 * Socket-level limits of an HTTP server (issue 19: 22,000 idle sockets exhausted the file descriptors and
 * `/healthz` stopped answering, with nothing logged):
 * - timeouts: the request headers must arrive within `headersTimeoutMs`, the whole request within
 *   `requestTimeoutMs`; a socket with no traffic for `idleTimeoutMs` is closed (a keep-alive socket between
 *   requests after `keepAliveTimeoutMs`). Upgraded /ws sockets leave the HTTP server's timeouts (ws clears them)
 *   and are governed by the live hub.
 * - caps: at most `maxConnections` open sockets, and `maxPerAddress` from one remote address; a socket over a
 *   cap is answered `503` (JSON) and closed at once, counted by reason. The caps sit below the process's file
 *   descriptor limit, so health probes keep getting a socket.
 * - malformed requests (a parse error, headers too large, a timeout) get a JSON error and a closed socket,
 *   counted by kind, instead of Node's plain-text default.
 * Refusals and timeouts are logged at most once per reason per minute, with the number since.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../telemetry/logger.js';
import type { ApiMetrics } from '../telemetry/metrics.js';
import { LogThrottle } from '../telemetry/log-throttle.js';

export interface SocketLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
  maxPerAddress: number;
}

export const DEFAULT_SOCKET_LIMITS: SocketLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 4_096,
  maxPerAddress: 256,
};

/**
 * Options for `createServer`: Node checks the headers and request timeouts of open connections every
 * `connectionsCheckingInterval` (30 s by default, which would let a slow client hold a socket that long past them).
 */
export const SERVER_OPTIONS = { connectionsCheckingInterval: 1_000 } as const;

export const REFUSAL_REASONS = ['total', 'per_address'] as const;
export const CLOSE_REASONS = ['timeout', 'headers_too_large', 'malformed', 'idle'] as const;

type GuardMetrics = Pick<ApiMetrics, 'httpConnections' | 'httpConnectionsRefused' | 'httpConnectionsClosed'>;

export interface GuardedServer {
  /** Open sockets now, and from how many addresses. */
  readonly open: number;
  readonly addresses: number;
}

function body(status: number, code: string, message: string): string {
  const json = JSON.stringify({ error: { code, message } });
  const reason = status === 503 ? 'Service Unavailable' : status === 408 ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request';
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`;
}

export function guardServer(server: Server, metrics: GuardMetrics, log: Logger, limits: Partial<SocketLimits> = {}, now: () => number = Date.now): GuardedServer {
  const l = { ...DEFAULT_SOCKET_LIMITS, ...limits };
  server.headersTimeout = l.headersTimeoutMs;
  server.requestTimeout = l.requestTimeoutMs;
  server.keepAliveTimeout = l.keepAliveTimeoutMs;
  server.setTimeout(l.idleTimeoutMs, (socket: Socket) => {
    metrics.httpConnectionsClosed.labels('idle').inc();
    socket.destroy();
  });
  const throttle = new LogThrottle(now, 60_000);
  const perAddress = new Map<string, number>();
  let open = 0;
  const refused = { total: metrics.httpConnectionsRefused.labels('total'), per_address: metrics.httpConnectionsRefused.labels('per_address') };
  for (const k of CLOSE_REASONS) metrics.httpConnectionsClosed.labels(k).inc(0);
  refused.total.inc(0);
  refused.per_address.inc(0);

  const refuse = (socket: Socket, reason: 'total' | 'per_address', address: string) => {
    refused[reason].inc();
    const suppressed = throttle.take(reason);
    if (suppressed >= 0) {
      log.warn({ reason, address, open, limit: reason === 'total' ? l.maxConnections : l.maxPerAddress, suppressed }, 'HTTP connection refused: over the connection cap');
    }
    socket.on('error', () => undefined);
    socket.end(body(503, 'too_many_connections', reason === 'total' ? 'the server is at its connection limit; retry later' : 'too many connections from your address; close some and retry'));
    socket.destroySoon?.();
  };

  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    const mine = perAddress.get(address) ?? 0;
    if (open >= l.maxConnections) return refuse(socket, 'total', address);
    if (mine >= l.maxPerAddress) return refuse(socket, 'per_address', address);
    open++;
    perAddress.set(address, mine + 1);
    metrics.httpConnections.set(open);
    socket.once('close', () => {
      open--;
      const n = (perAddress.get(address) ?? 1) - 1;
      if (n <= 0) perAddress.delete(address);
      else perAddress.set(address, n);
      metrics.httpConnections.set(open);
    });
  });

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const code = err.code ?? '';
    const kind = code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'timeout' : code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : 'malformed';
    metrics.httpConnectionsClosed.labels(kind).inc();
    const suppressed = throttle.take(`client:${kind}`);
    if (suppressed >= 0) log.info({ kind, code, address: socket.remoteAddress, suppressed }, 'malformed or slow HTTP request closed');
    if (!socket.writable || code === 'ECONNRESET') return void socket.destroy();
    const status = kind === 'timeout' ? 408 : kind === 'headers_too_large' ? 431 : 400;
    const message = kind === 'timeout' ? 'the request did not arrive in time' : kind === 'headers_too_large' ? 'the request headers are too large' : 'the request is not valid HTTP/1.1';
    socket.end(body(status, kind === 'malformed' ? 'bad_request' : kind === 'timeout' ? 'request_timeout' : 'headers_too_large', message));
  });

  return {
    get open() {
      return open;
    },
    get addresses() {
      return perAddress.size;
    },
  };
}
