/** Small HTTP helpers: JSON responses, the JSON error body every API error uses, listening and closing. */
import type { Server, ServerResponse } from 'node:http';
import type { ApiMetrics } from '../telemetry/metrics.js';
import type { AddressInfo } from 'node:net';
import { sendMaybeCompressed } from './compress.js';
import { activeTraceExemplar, observeTraced } from '../telemetry/exemplars.js';

export interface ErrorBody {
  error: { code: string; message: string; parameter?: string };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  // Large bodies (pages of candles) are compressed when the client accepts it; see compress.ts.
  sendMaybeCompressed(res, status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers }, JSON.stringify(body));
}

export function sendError(res: ServerResponse, status: number, code: string, message: string, parameter?: string): void {
  const body: ErrorBody = { error: parameter === undefined ? { code, message } : { code, message, parameter } };
  sendJson(res, status, body);
}

/** An http.Server on host:port: `start` listens (a taken port is a clear error), `stop` closes it now, `port` is the bound one. */
export class Listener {
  private bound: number | null = null;

  constructor(
    private readonly server: Server,
    private readonly host: string,
    private readonly wanted: number,
  ) {}

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) =>
        reject(err.code === 'EADDRINUSE' ? new Error(`port ${this.wanted} on ${this.host} is already in use; choose another with --port`, { cause: err }) : err);
      this.server.once('error', onError);
      this.server.listen(this.wanted, this.host, () => {
        this.server.off('error', onError);
        this.bound = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  /** The bound port (the chosen one with port 0); throws before `start`. */
  get port(): number {
    if (this.bound === null) throw new Error('server not started');
    return this.bound;
  }

  /** Open keep-alive connections are ended, not waited for. */
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * Counts one request in the SLA families every role's HTTP server emits (`candlestack_http_requests_total`,
 * `candlestack_http_request_duration_seconds`), when its response finishes. `route` is the matched route
 * (bounded: `unknown` for anything else), never the raw path.
 */
export function countRequest(metrics: Pick<ApiMetrics, 'httpRequests' | 'httpRequestDuration'>, method: string, route: string, res: ServerResponse): void {
  // Called inside the request's SERVER span (traceRequest): its trace id is the duration's exemplar.
  const exemplar = activeTraceExemplar();
  const t0 = performance.now();
  res.on('finish', () => {
    const value = (performance.now() - t0) / 1000;
    observeTraced(metrics.httpRequestDuration, { method, route }, value, exemplar);
    metrics.httpRequests.labels(method, route, String(res.statusCode)).inc();
  });
}
