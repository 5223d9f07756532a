/**
 * Which Host headers and Origins the HTTP servers answer (issue 19: DNS rebinding, cross-site pages).
 *
 * A DNS-rebinding page reaches the server under the attacker's own name, so a browser sends that name as Host:
 * only names the server knows are answered. Accepted by default: loopback names (`localhost`, `*.localhost`),
 * any IP literal (an address cannot be rebound), the bound address, and `http.allowedHosts` (exact names,
 * `.example.com` for the name and its subdomains, `*` for any). A request without Host (HTTP/1.0) is not a
 * browser's and is accepted.
 *
 * A cross-site page can open a WebSocket to any server (the browser sends its Origin but enforces nothing), so
 * a /ws upgrade (and a POST) carrying an Origin is accepted only same-origin — the Origin's host and port equal
 * the Host header's — or when the Origin is in `http.allowedOrigins` (`scheme://host[:port]`, `*` for any).
 * Without an Origin the client is not a browser page (curl, Prometheus, Alertmanager, a script) and is accepted.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { sendError } from './http.js';

export interface HostPolicyOptions {
  /** The address the server listens on (`127.0.0.1`, `0.0.0.0`, a name). */
  bound?: string;
  /** More Host names to answer (`serve`, `.example.com`, `*`). */
  allowedHosts?: readonly string[];
  /** More Origins a /ws upgrade or a POST may come from (`https://dash.example.com`, `*`). */
  allowedOrigins?: readonly string[];
}

/** Routes answered whatever the Host: probes and the scrape target, read-only and carrying no market data but the metrics. */
export const ANY_HOST_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

export class HostPolicy {
  private readonly names = new Set<string>();
  private readonly suffixes: string[] = [];
  private readonly anyHost: boolean;
  private readonly origins = new Set<string>();
  private readonly anyOrigin: boolean;

  constructor(o: HostPolicyOptions = {}) {
    const bound = o.bound === undefined ? null : hostname(o.bound);
    if (bound) this.names.add(bound);
    for (const h of o.allowedHosts ?? []) {
      const name = h.trim().toLowerCase().replace(/\.$/, '');
      if (name.startsWith('.')) this.suffixes.push(name);
      else if (name !== '') this.names.add(name);
    }
    this.anyHost = this.names.has('*');
    for (const origin of o.allowedOrigins ?? []) this.origins.add(origin === '*' ? '*' : new URL(origin).origin);
    this.anyOrigin = this.origins.has('*');
  }

  /** Whether a request with this Host header is answered. */
  hostAllowed(host: string | undefined): boolean {
    if (host === undefined || host === '') return true;
    if (this.anyHost) return true;
    const name = hostname(host);
    if (name === null) return false;
    if (isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost') || this.names.has(name)) return true;
    return this.suffixes.some((s) => name.endsWith(s) || name === s.slice(1));
  }

  /** Whether a request with this Origin (and Host) is accepted: no Origin, the same origin, or an allowed one. */
  originAllowed(origin: string | undefined, host: string | undefined): boolean {
    if (origin === undefined) return true;
    if (this.anyOrigin) return true;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false; // "null" (a sandboxed or file: page) and anything unparsable
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    if (this.origins.has(url.origin)) return true;
    if (host === undefined) return false;
    const h = hostPort(host, url.protocol === 'https:' ? '443' : '80');
    return h !== null && h.name === hostname(url.host) && h.port === (url.port || (url.protocol === 'https:' ? '443' : '80'));
  }
}

/** `Example.COM:8000` -> `example.com`; `[::1]:8000` -> `::1`; null when it is not a host[:port]. */
function hostname(host: string): string | null {
  return hostPort(host, '')?.name ?? null;
}

function hostPort(host: string, defaultPort: string): { name: string; port: string } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:/?#@[\]]+))(?::(\d{1,5}))?$/.exec(host.trim());
  if (!m) return null;
  const name = (m[1] ?? m[2] ?? '').toLowerCase().replace(/\.$/, '');
  return name === '' ? null : { name, port: m[3] ?? defaultPort };
}

/** The message of a refused Host, naming the setting that would allow it. */
export function hostRefusal(host: string | undefined): string {
  const shown = JSON.stringify((host ?? '').slice(0, 100));
  return `Host ${shown} is not served here (DNS-rebinding protection); add its name to http.allowedHosts (CANDLESTACK_ALLOWED_HOSTS) to allow it`;
}

/** The message of a refused Origin, naming the setting that would allow it. */
export function originRefusal(origin: string | undefined): string {
  const shown = JSON.stringify((origin ?? '').slice(0, 100));
  return `Origin ${shown} is not this server's origin (cross-site requests are refused); add it to http.allowedOrigins (CANDLESTACK_ALLOWED_ORIGINS) to allow it`;
}

/** Why a request is refused: its Host is not served, or it is a cross-site POST. */
export interface Refusal {
  reason: 'host' | 'origin';
  code: 'host_not_allowed' | 'origin_not_allowed';
  message: string;
}

/** The refusal of a plain HTTP request (null: answer it): a Host not served (except on ANY_HOST_PATHS), a POST from another origin. */
export function refusalOf(policy: HostPolicy, req: IncomingMessage, path: string): Refusal | null {
  const host = req.headers.host;
  if (!ANY_HOST_PATHS.has(path) && !policy.hostAllowed(host)) return { reason: 'host', code: 'host_not_allowed', message: hostRefusal(host) };
  if (req.method === 'POST' && !policy.originAllowed(req.headers.origin, host)) return { reason: 'origin', code: 'origin_not_allowed', message: originRefusal(req.headers.origin) };
  return null;
}

/** Answers a refusal: 403 JSON naming the header, the connection closed, counted in `candlestack_http_connections_refused_total{reason}`. */
export function sendRefusal(res: ServerResponse, r: Refusal, refused: { labels(reason: string): { inc(): void } }): void {
  refused.labels(r.reason).inc();
  res.setHeader('connection', 'close');
  sendError(res, 403, r.code, r.message, r.reason === 'host' ? 'Host' : 'Origin');
}
