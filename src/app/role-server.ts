/**
 * The small HTTP server of the collect and process roles: /metrics, /healthz (liveness), /readyz and
 * /api/health (the role's HealthReport, the same model the API server serves), plus the role's own GET
 * `routes` (process: /api/jobs). The serve role and run/demo use the full ApiServer instead.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Clock } from '../core/clock.js';
import type { Service } from '../core/service.js';
import { Listener, sendError, sendJson } from '../api/http.js';
import { healthReport, readiness, type HealthSources } from '../api/health.js';
import { BadParameterError } from '../core/errors.js';
import { Tracing } from '../telemetry/tracing.js';
import { UNTRACED_ROUTES, traceRequest } from '../telemetry/http-tracing.js';

const OFF = Tracing.off();

/** A GET route of a role: answers from the request URL. */
export type RoleRoute = (url: URL, res: ServerResponse) => void;

export interface RoleServerOptions {
  host: string;
  port: number;
  role: string;
  registry: Registry;
  health: HealthSources;
  clock: Clock;
  /** Extra GET routes by path (`/api/jobs`). */
  routes?: Readonly<Record<string, RoleRoute>>;
  /** A SERVER span per request (not for /metrics and the probes); off when absent. */
  tracing?: Tracing;
}

export class RoleServer implements Service {
  readonly name = 'role-server';
  private readonly listener: Listener;

  constructor(private readonly o: RoleServerOptions) {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const known = path === '/api/health' || (o.routes !== undefined && Object.hasOwn(o.routes, path));
      const tracing = o.tracing && !UNTRACED_ROUTES.has(path) ? o.tracing : OFF;
      traceRequest(tracing, req, res, known ? path : undefined, () => this.handle(req, res, path));
    });
    this.listener = new Listener(server, o.host, o.port);
  }

  private handle(req: IncomingMessage, res: ServerResponse, path: string): void {
    const o = this.o;
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, 'method_not_allowed', 'only GET');
    if (path === '/healthz') return sendJson(res, 200, { status: 'alive', role: o.role });
    if (path === '/readyz') {
      const r = readiness(this.report());
      return sendJson(res, r.ready ? 200 : 503, r);
    }
    if (path === '/api/health') return sendJson(res, 200, this.report());
    if (path === '/metrics') {
      void o.registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': o.registry.contentType });
          res.end(body);
        },
        (err: unknown) => sendError(res, 500, 'metrics_failed', String(err)),
      );
      return;
    }
    const route = o.routes && Object.hasOwn(o.routes, path) ? o.routes[path] : undefined;
    if (route) {
      const url = new URL(req.url ?? '/', 'http://localhost');
      try {
        return route(url, res);
      } catch (err) {
        if (err instanceof BadParameterError) return sendError(res, 400, err.code, err.message, err.parameter);
        return sendError(res, 500, 'internal_error', String(err));
      }
    }
    const known = ['/metrics', '/healthz', '/readyz', '/api/health', ...Object.keys(o.routes ?? {})];
    sendError(res, 404, 'not_found', `no route ${path}; try ${known.join(', ')}`);
  }

  start = (): Promise<void> => this.listener.start();
  stop = (): Promise<void> => this.listener.stop();
  get port(): number {
    return this.listener.port;
  }

  private report() {
    return healthReport({ ...this.o.health, role: this.o.role }, this.o.clock.now());
  }
}
