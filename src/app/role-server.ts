/**
 * The small HTTP server of the collect, process, decide and notify roles: /metrics, /healthz (liveness),
 * /readyz and /api/health (the role's HealthReport, the same model the API server serves), plus the role's
 * own GET `routes` (process: /api/jobs; decide: /api/decision) and POST `postRoutes`. Every request is
 * counted in the same SLA families as the ApiServer's (`candlestack_http_requests_total`,
 * `_http_request_duration_seconds`, by route and status). The serve role and run/demo use the full ApiServer.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Clock } from '../core/clock.js';
import type { Service } from '../core/service.js';
import { countRequest, Listener, sendError, sendJson } from '../api/http.js';
import type { ApiMetrics } from '../telemetry/metrics.js';
import { healthReport, readiness, type HealthSources } from '../api/health.js';
import { BadParameterError } from '../core/errors.js';
import { Tracing } from '../telemetry/tracing.js';
import { UNTRACED_ROUTES, traceRequest } from '../telemetry/http-tracing.js';
import { exposition } from '../telemetry/exposition.js';
import { guardServer, SERVER_OPTIONS, type SocketLimits } from '../api/socket-guard.js';
import { silentLogger, type Logger } from '../telemetry/logger.js';
import { HostPolicy, refusalOf, sendRefusal } from '../api/host-policy.js';

const OFF = Tracing.off();

/** A GET route of a role: answers from the request URL (a BadParameterError thrown or rejected is a 400). */
export type RoleRoute = (url: URL, res: ServerResponse) => void | Promise<void>;
/** A POST route of a role: reads the request itself. */
export type RolePostRoute = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export interface RoleServerOptions {
  host: string;
  port: number;
  role: string;
  registry: Registry;
  health: HealthSources;
  clock: Clock;
  /** The HTTP request counters (the role's `metrics.api`). */
  metrics: Pick<ApiMetrics, 'httpRequests' | 'httpRequestDuration' | 'httpConnections' | 'httpConnectionsRefused' | 'httpConnectionsClosed'>;
  /** Where refused connections and malformed requests are logged (throttled). */
  log?: Logger;
  /** Socket timeouts and connection caps (src/api/socket-guard.ts; defaults there). */
  socketLimits?: Partial<SocketLimits>;
  /** Extra GET routes by path (`/api/jobs`). */
  routes?: Readonly<Record<string, RoleRoute>>;
  /** POST routes by path. */
  postRoutes?: Readonly<Record<string, RolePostRoute>>;
  /** A SERVER span per request (not for /metrics and the probes); off when absent. */
  tracing?: Tracing;
  /** Which Host headers are answered and which Origins may POST (src/api/host-policy.ts); default: loopback, IP literals, `host`. */
  hosts?: HostPolicy;
}

const BUILT_IN = ['/metrics', '/healthz', '/readyz', '/api/health'];

export class RoleServer implements Service {
  readonly name = 'role-server';
  private readonly listener: Listener;
  private readonly hosts: HostPolicy;

  constructor(private readonly o: RoleServerOptions) {
    this.hosts = o.hosts ?? new HostPolicy({ bound: o.host });
    const server = createServer(SERVER_OPTIONS, (req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const known = path === '/api/health' || (o.routes !== undefined && Object.hasOwn(o.routes, path)) || (o.postRoutes !== undefined && Object.hasOwn(o.postRoutes, path));
      const tracing = o.tracing && !UNTRACED_ROUTES.has(path) ? o.tracing : OFF;
      void traceRequest(tracing, req, res, known ? path : undefined, () => this.handle(req, res));
    });
    guardServer(server, o.metrics, o.log ?? silentLogger(), o.socketLimits, () => o.clock.now());
    this.listener = new Listener(server, o.host, o.port);
  }

  start = (): Promise<void> => this.listener.start();
  stop = (): Promise<void> => this.listener.stop();
  get port(): number {
    return this.listener.port;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const o = this.o;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method ?? 'GET';
    const route = o.routes && Object.hasOwn(o.routes, path) ? o.routes[path] : undefined;
    const postRoute = o.postRoutes && Object.hasOwn(o.postRoutes, path) ? o.postRoutes[path] : undefined;
    countRequest(o.metrics, method, route || postRoute || BUILT_IN.includes(path) ? path : 'unknown', res);
    try {
      const refused = refusalOf(this.hosts, req, path);
      if (refused) return sendRefusal(res, refused, o.metrics.httpConnectionsRefused);
      if (postRoute && method === 'POST') return await postRoute(req, res);
      if (method !== 'GET' && method !== 'HEAD') return sendError(res, 405, 'method_not_allowed', postRoute ? 'only POST' : 'only GET');
      if (path === '/healthz') return sendJson(res, 200, { status: 'alive', role: o.role });
      if (path === '/readyz') {
        const r = readiness(this.report());
        return sendJson(res, r.ready ? 200 : 503, r);
      }
      if (path === '/api/health') return sendJson(res, 200, this.report());
      if (path === '/metrics') {
        const { contentType, body } = await exposition(o.registry, req.headers.accept);
        res.writeHead(200, { 'content-type': contentType, vary: 'accept' });
        res.end(body);
        return;
      }
      if (route) return await route(new URL(req.url ?? '/', 'http://localhost'), res);
      const known = [...BUILT_IN, ...Object.keys(o.routes ?? {}), ...Object.keys(o.postRoutes ?? {}).map((p) => `POST ${p}`)];
      sendError(res, 404, 'not_found', `no route ${path}; try ${known.join(', ')}`);
    } catch (err) {
      if (res.headersSent) return void res.end();
      if (err instanceof BadParameterError) return sendError(res, 400, err.code, err.message, err.parameter);
      sendError(res, 500, 'internal_error', String(err));
    }
  }

  private report() {
    return healthReport({ ...this.o.health, role: this.o.role }, this.o.clock.now());
  }
}
