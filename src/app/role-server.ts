/**
 * The small HTTP server of the collect and process roles: /metrics, /healthz (liveness), /readyz and
 * /api/health (the role's own health report). The serve role uses the full ApiServer instead.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { sendError, sendJson } from '../api/http.js';

export interface RoleHealth {
  status: 'ok' | 'degraded' | 'down';
  /** Why not ready (empty when ready). */
  reasons: string[];
  [detail: string]: unknown;
}

export interface RoleServerOptions {
  host: string;
  port: number;
  role: string;
  registry: Registry;
  health: () => RoleHealth;
}

export class RoleServer {
  private readonly server: Server;

  constructor(private readonly o: RoleServerOptions) {
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, 'method_not_allowed', 'only GET');
      if (path === '/healthz') return sendJson(res, 200, { status: 'alive', role: o.role });
      if (path === '/readyz') {
        const h = o.health();
        return sendJson(res, h.reasons.length === 0 ? 200 : 503, { ready: h.reasons.length === 0, reasons: h.reasons });
      }
      if (path === '/api/health') return sendJson(res, 200, { role: o.role, ...o.health() });
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
      sendError(res, 404, 'not_found', `no route ${path}; try /metrics, /healthz, /readyz or /api/health`);
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) =>
        reject(err.code === 'EADDRINUSE' ? new Error(`port ${this.o.port} on ${this.o.host} is already in use; choose another with --port`, { cause: err }) : err);
      this.server.once('error', onError);
      this.server.listen(this.o.port, this.o.host, () => {
        this.server.off('error', onError);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
