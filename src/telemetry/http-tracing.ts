/**
 * HTTP spans with the semantic-convention attribute names (HTTP semconv, stable):
 *
 * - `traceRequest`: a request served, as a SERVER span named `GET /api/candles` (method and route; the path
 *   only when it is a known route), a child of the caller's `traceparent`; ends when the response finishes.
 *   5xx is ERROR status (4xx is the client's error, not the server's).
 * - `tracedFetch`: a request made (fetch), as a CLIENT span named `GET` (method; `peer` names the service
 *   called, e.g. `GET serve`), with `traceparent` injected; a status >= 400 or a network error is ERROR.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import { failSpan, SpanKind, SpanStatusCode, type Span, type Tracing } from './tracing.js';

/** Scrapes and probes get no span (a trace every 15 s per Prometheus or kubelet says nothing). */
export const UNTRACED_ROUTES: ReadonlySet<string> = new Set(['/metrics', '/healthz', '/readyz']);

/** Incubating: the logical name of the service called. */
export const ATTR_PEER_SERVICE = 'peer.service';

/**
 * Serves `req` inside a SERVER span; `route` is the matched route template (`/api/candles`) or undefined for an
 * unknown path. Returns what `handle` returns. Off: calls `handle` directly.
 */
export function traceRequest<T>(tracing: Tracing, req: IncomingMessage, res: ServerResponse, route: string | undefined, handle: () => T): T {
  if (!tracing.enabled) return handle();
  const method = req.method ?? 'GET';
  const rawUrl = req.url ?? '/';
  const q = rawUrl.indexOf('?');
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const local = req.socket.localPort;
  const attributes: Record<string, string | number> = {
    [ATTR_HTTP_REQUEST_METHOD]: method,
    [ATTR_URL_PATH]: path,
    [ATTR_URL_SCHEME]: 'http',
    [ATTR_NETWORK_PROTOCOL_VERSION]: req.httpVersion,
  };
  if (q >= 0) attributes[ATTR_URL_QUERY] = rawUrl.slice(q + 1);
  if (route) attributes[ATTR_HTTP_ROUTE] = route;
  const hostHeader = req.headers.host;
  if (hostHeader) attributes[ATTR_SERVER_ADDRESS] = hostHeader.replace(/:\d+$/, '');
  if (local !== undefined) attributes[ATTR_SERVER_PORT] = local;
  if (req.socket.remoteAddress) attributes[ATTR_CLIENT_ADDRESS] = req.socket.remoteAddress;
  const ua = req.headers['user-agent'];
  if (ua) attributes[ATTR_USER_AGENT_ORIGINAL] = ua;
  const { span, context } = tracing.startSpan(route ? `${method} ${route}` : method, { kind: SpanKind.SERVER, attributes, parent: tracing.extract(req.headers) });
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res.statusCode);
    if (res.statusCode >= 500) {
      span.setAttribute(ATTR_ERROR_TYPE, String(res.statusCode));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  };
  res.once('finish', end);
  res.once('close', end);
  try {
    return tracing.with(context, handle);
  } catch (err) {
    failSpan(span, err);
    throw err;
  }
}

export interface TracedFetchOptions {
  /** The service called (`serve`, `decide`, `telegram`): `peer.service`, and the span name's second word. */
  peer?: string;
  /** The request's `fetch` (default the global one). */
  fetch?: typeof fetch;
}

/**
 * `fetch(url, init)` as a CLIENT span, `traceparent` added to the request headers. The span ends when the
 * response headers arrive (the body is the caller's). Off: plain fetch.
 */
export async function tracedFetch(tracing: Tracing, url: string | URL, init: RequestInit = {}, options: TracedFetchOptions = {}): Promise<Response> {
  const doFetch = options.fetch ?? fetch;
  if (!tracing.enabled) return doFetch(url, init);
  const u = typeof url === 'string' ? new URL(url) : url;
  const method = (init.method ?? 'GET').toUpperCase();
  const attributes: Record<string, string | number> = {
    [ATTR_HTTP_REQUEST_METHOD]: method,
    [ATTR_URL_FULL]: redactedUrl(u),
    [ATTR_SERVER_ADDRESS]: u.hostname,
    [ATTR_SERVER_PORT]: Number(u.port || (u.protocol === 'https:' ? 443 : 80)),
  };
  if (options.peer) attributes[ATTR_PEER_SERVICE] = options.peer;
  return tracing.span(options.peer ? `${method} ${options.peer}` : method, { kind: SpanKind.CLIENT, attributes }, async (span) => {
    const headers = new Headers(init.headers);
    const carrier: Record<string, string> = {};
    tracing.inject(carrier);
    for (const [k, v] of Object.entries(carrier)) headers.set(k, v);
    const res = await doFetch(u, { ...init, headers }); // a network error: failSpan (error.type, ERROR) in span()
    markClientStatus(span, res.status);
    return res;
  });
}

/** Sets the response status of a CLIENT span; 4xx and 5xx are errors on the client side. */
export function markClientStatus(span: Span, status: number): void {
  span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
  if (status >= 400) {
    span.setAttribute(ATTR_ERROR_TYPE, String(status));
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
}

/** The URL without credentials or a bot token in the path (Telegram's /bot<token>/method). */
export function redactedUrl(u: URL): string {
  const c = new URL(u.href);
  c.username = '';
  c.password = '';
  c.pathname = c.pathname.replace(/\/bot[^/]+\//, '/bot<redacted>/');
  return c.href;
}
