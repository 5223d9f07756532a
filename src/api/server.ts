/**
 * The API server of run, demo and serve: REST API, live WebSocket (/ws), the web dashboard, health endpoints
 * and /metrics on one port (collect and process serve /metrics and health from src/app/role-server.ts).
 * Every error is JSON: a bad parameter is a 400 naming it, an unknown route a 404.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import type { Clock } from '../core/clock.js';
import { BadParameterError } from '../core/errors.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { ApiMetrics } from '../telemetry/metrics.js';
import { AlertReceiver, type WebhookMessage } from './alerts-webhook.js';
import { healthReport, readiness, type HealthSources } from './health.js';
import { countRequest, Listener, sendError, sendJson } from './http.js';
import type { Service } from '../core/service.js';
import type { LiveHub } from './live-ws.js';
import type { Markets } from './markets.js';
import type { HealthDetails } from './health-details.js';
import { ASSETS_PREFIX, type WebAssets } from './web-assets.js';
import { parseSeriesRange, rejectUnknown } from './params.js';
import { indicatorsPlan } from './indicators-route.js';
import type { PlanRoute, ReadCache, ReadPlan } from './cache/read-cache.js';
import type { Candle } from '../core/types.js';
import { featuresPlan, featuresUnavailable } from './features-route.js';
import { sendQuality, type QualitySource } from './quality-route.js';
import { sendJobs, type JobsSource } from './jobs-route.js';
import type { RateLimiter } from './rate-limit.js';
import type { RateLimitGroup } from '../config/serve-config.js';
import { Tracing } from '../telemetry/tracing.js';
import { UNTRACED_ROUTES, traceRequest } from '../telemetry/http-tracing.js';
import { exposition } from '../telemetry/exposition.js';
import { guardServer, SERVER_OPTIONS, type SocketLimits } from './socket-guard.js';
import { HostPolicy, hostRefusal, originRefusal, refusalOf, sendRefusal } from './host-policy.js';
import { refuseUpgrade } from './rate-limit.js';

export const MAX_CANDLES_LIMIT = 5000;
const OFF = Tracing.off();

const DEFAULT_CANDLES_LIMIT = 500;

/** How long a read waits for the store before the request is answered 503 (issue 19: reads hung 15 s on a locked table). */
export const READ_DEADLINE_MS = 10_000;

class StoreDeadlineError extends Error {
  override name = 'StoreDeadlineError';
}

/** The read's result, or a StoreDeadlineError after `ms` (the read itself is left to finish or fail on its own). */
function withDeadline<T>(read: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreDeadlineError(`no answer from the store within ${ms} ms`)), ms);
    timer.unref();
  });
  read.catch(() => undefined);
  return Promise.race([read, deadline]).finally(() => clearTimeout(timer));
}

/**
 * A store error that says "not now" rather than "bug": the read deadline, PostgreSQL's lock or statement
 * timeouts and connection failures (SQLSTATE classes 08, 53, 57 and 55P03), a pool that could not connect.
 */
function storeUnavailable(err: unknown): boolean {
  if (err instanceof StoreDeadlineError) return true;
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && (/^(08|53|57)/.test(code) || code === '55P03' || code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT')) return true;
  const message = err instanceof Error ? err.message : '';
  return /timeout exceeded when trying to connect|Connection terminated|store .* is closed/i.test(message);
}

export interface ApiServerOptions {
  host: string;
  port: number;
  store: Store;
  markets: Markets;
  health: HealthSources;
  live: LiveHub;
  registry: Registry;
  metrics: ApiMetrics;
  clock: Clock;
  log: Logger;
  version: string;
  /** Configured indicator names, served by /api/indicators (none when absent). */
  indicatorNames?: readonly string[];
  /** The web dashboard served at `/` (assets under /assets/); without it `/` answers 503. */
  web?: WebAssets;
  /** Adds the health view's detail (message counts, reconciliation, store and bus counters, levels) to /api/health. */
  healthDetails?: HealthDetails;
  /** Data-quality scores and explanations for /api/quality. */
  quality?: QualitySource;
  /** The job scheduler for /api/jobs (503 without one). */
  jobs?: JobsSource | null;
  /** Rate limits per client and route group (rate-limit.ts); none: nothing is limited. */
  limiter?: RateLimiter;
  /** The read cache in front of the store for /api/candles and /api/indicators (cache/read-cache.ts); none: every read goes to the store. */
  cache?: ReadCache | null;
  /** A SERVER span per request (src/telemetry/http-tracing.ts); off when absent. */
  tracing?: Tracing;
  /** More GET routes by path, from other parts (the decision service: /api/decision, /api/decisions). */
  routes?: Readonly<Record<string, (url: URL, res: ServerResponse) => Promise<void> | void>>;
  /** Socket timeouts and connection caps (src/api/socket-guard.ts; defaults there). */
  socketLimits?: Partial<SocketLimits>;
  /** A store read not answered within this long is a 503 (default READ_DEADLINE_MS). */
  readDeadlineMs?: number;
  /** Alertmanager notifications received on POST /api/alerts, after validation (run/demo: the Telegram notifier). */
  onAlerts?: (message: WebhookMessage) => void;
  /** Which Host headers are answered and which Origins may POST (src/api/host-policy.ts); default: loopback, IP literals, `host`. */
  hosts?: HostPolicy;
}

/** The rate-limit group of a GET route: /metrics its own, the JSON API `reads`; health probes, the page and its assets none. */
function limitGroup(path: string): RateLimitGroup | null {
  if (path === '/metrics') return 'metrics';
  if (path === '/healthz' || path === '/readyz' || path === '/' || path.startsWith(ASSETS_PREFIX)) return null;
  return 'reads';
}

type RouteHandler = (url: URL, res: ServerResponse, req: IncomingMessage) => Promise<void> | void;
/** Routes that take a request body (POST). */
type BodyRouteHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export class ApiServer implements Service {
  readonly name = 'api';
  private readonly server: Server;
  private readonly listener: Listener;
  private readonly routes: ReadonlyMap<string, RouteHandler>;
  private readonly postRoutes: ReadonlyMap<string, BodyRouteHandler>;
  private readonly hosts: HostPolicy;

  constructor(private readonly o: ApiServerOptions) {
    this.hosts = o.hosts ?? new HostPolicy({ bound: o.host });
    this.routes = new Map<string, RouteHandler>([
      ['/', (u, res, req) => (o.web ? o.web.servePage(u, res, req) : sendError(res, 503, 'dashboard_not_built', 'no dashboard is configured; the JSON API is listed at /api'))],
      ['/api', (_u, res) => this.index(res)],
      ['/api/candles', this.read('/api/candles', (u) => this.candlesPlan(u))],
      ['/api/symbols', (_u, res) => this.symbols(res)],
      ['/api/health', async (_u, res) => sendJson(res, 200, o.healthDetails ? await o.healthDetails.extend(this.report()) : this.report())],
      ['/healthz', (_u, res) => sendJson(res, 200, { status: 'alive' })],
      ['/readyz', (_u, res) => this.ready(res)],
      ['/metrics', (_u, res, req) => this.metricsText(req, res)],
      ['/api/indicators', this.read('/api/indicators', (u) => indicatorsPlan({ store: o.store, markets: o.markets, names: o.indicatorNames ?? [] }, u))],
      ['/api/quality', (u, res) => sendQuality(u, res, o.markets, o.quality)],
      ['/api/jobs', (u, res) => sendJobs(u, res, o.jobs)],
      ['/api/features', o.store.assistant ? this.read('/api/features', (u) => featuresPlan({ store: o.store.assistant!, markets: o.markets }, u)) : featuresUnavailable],
      ...Object.entries(o.routes ?? {}),
    ]);
    this.postRoutes = new Map<string, BodyRouteHandler>([['/api/alerts', new AlertReceiver({ metrics: o.metrics, log: o.log, clock: o.clock, onMessage: o.onAlerts }).handle]]);
    this.server = createServer(SERVER_OPTIONS, (req, res) => void this.handle(req, res));
    this.server.on('upgrade', (req, socket, head) => {
      const path = (req.url ?? '').split('?')[0];
      if (path === '/ws') void this.upgrade(req, socket, head);
      else socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    });
    guardServer(this.server, o.metrics, o.log, o.socketLimits, () => o.clock.now());
    this.listener = new Listener(this.server, o.host, o.port);
  }

  start = (): Promise<void> => this.listener.start();
  /** Closes the HTTP server and its connections (the LiveHub, a service of its own, closes the /ws clients). */
  stop = (): Promise<void> => this.listener.stop();
  get port(): number {
    return this.listener.port;
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    try {
      if (!this.hosts.hostAllowed(req.headers.host)) {
        this.o.metrics.httpConnectionsRefused.labels('host').inc();
        return refuseUpgrade(socket, 403, 'host_not_allowed', hostRefusal(req.headers.host));
      }
      // a cross-site page can open a WebSocket anywhere (the browser enforces nothing): refused before the handshake
      if (!this.hosts.originAllowed(req.headers.origin, req.headers.host)) return this.o.live.refuse(socket, 'origin', 403, 'origin_not_allowed', originRefusal(req.headers.origin));
      if (this.o.limiter && !(await this.o.limiter.admitUpgrade(req, socket, 'ws', '/ws'))) return;
      this.o.live.handleUpgrade(req, socket, head);
    } catch (err) {
      this.o.log.error({ err }, 'websocket upgrade failed');
      socket.destroy();
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const asset = url.pathname.startsWith(ASSETS_PREFIX) ? this.o.web?.assetHandler(url.pathname) : undefined;
    const handler = this.routes.get(url.pathname) ?? asset;
    const postHandler = this.postRoutes.get(url.pathname);
    const route = asset ? ASSETS_PREFIX : handler || postHandler ? url.pathname : 'unknown';
    const tracing = this.o.tracing && !UNTRACED_ROUTES.has(route) ? this.o.tracing : OFF;
    return traceRequest(tracing, req, res, route === 'unknown' ? undefined : route, () => this.dispatch(req, res, url, route, handler, postHandler));
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse, url: URL, route: string, handler: RouteHandler | undefined, postHandler: BodyRouteHandler | undefined): Promise<void> {
    const method = req.method ?? 'GET';
    countRequest(this.o.metrics, method, route, res);
    try {
      const refused = refusalOf(this.hosts, req, url.pathname);
      if (refused) return sendRefusal(res, refused, this.o.metrics.httpConnectionsRefused);
      const group = method === 'POST' ? null : limitGroup(url.pathname);
      if (group !== null && this.o.limiter && !(await this.o.limiter.admit(req, res, group, route))) return;
      if (!handler && !postHandler) return sendError(res, 404, 'not_found', `no route ${url.pathname}; see /api for the list`);
      if (postHandler && method === 'POST') return await postHandler(req, res);
      if (!handler) {
        res.setHeader('allow', 'POST');
        return sendError(res, 405, 'method_not_allowed', `${method} is not allowed on ${url.pathname}; use POST`);
      }
      if (method !== 'GET' && method !== 'HEAD') {
        res.setHeader('allow', 'GET, HEAD');
        return sendError(res, 405, 'method_not_allowed', `${method} is not allowed on ${url.pathname}; use GET`);
      }
      await handler(url, res, req);
    } catch (err) {
      if (err instanceof BadParameterError) return sendError(res, 400, err.code, err.message, err.parameter);
      if (storeUnavailable(err)) {
        this.o.log.warn({ err: (err as Error).message, path: url.pathname }, 'store unavailable for a read: answered 503');
        if (!res.headersSent) res.setHeader('retry-after', '5');
        if (!res.headersSent) return sendError(res, 503, 'store_unavailable', 'the store did not answer in time; retry later');
        return void res.end();
      }
      this.o.log.error({ err, path: url.pathname }, 'request failed');
      if (!res.headersSent) sendError(res, 500, 'internal_error', 'internal error; see the server log');
    }
  }

  private index(res: ServerResponse): void {
    sendJson(res, 200, {
      name: 'candlestack',
      version: this.o.version,
      endpoints: {
        dashboard: '/',
        candles: '/api/candles?exchange=&symbol=&timeframe=&from=&to=&limit=',
        symbols: '/api/symbols',
        health: '/api/health',
        live: 'ws: /ws then {"op":"subscribe","exchange":"binance","symbol":"BTC-USDT","timeframe":"1m"}',
        liveness: '/healthz',
        readiness: '/readyz',
        metrics: '/metrics',
        indicators: '/api/indicators?exchange=&symbol=&timeframe=&names=&from=&to=&limit=',
        alerts: 'POST /api/alerts (Alertmanager webhook, payload version 4)',
        quality: '/api/quality?exchange=&symbol=',
        jobs: '/api/jobs',
        features: '/api/features?exchange=&symbol=&timeframe=&from=&to=&limit=',
        ...(this.o.routes?.['/api/decision'] ? { decision: '/api/decision?exchange=&symbol=&timeframe=' } : {}),
      },
    });
  }

  /** A read route: through the cache when there is one (closed ranges only), else straight from the store. */
  private read(name: string, plan: PlanRoute): RouteHandler {
    const cache = this.o.cache;
    if (cache) return cache.route(name, plan);
    return async (u, res) => sendJson(res, 200, await plan(u).load());
  }

  private candlesPlan(url: URL): ReadPlan<{ candles: Candle[] }> {
    const p = url.searchParams;
    rejectUnknown(p, ['exchange', 'symbol', 'timeframe', 'from', 'to', 'limit']);
    const { exchange, symbol, timeframe, from, to, limit } = parseSeriesRange(p, this.o.markets, DEFAULT_CANDLES_LIMIT, MAX_CANDLES_LIMIT);
    return {
      exchange,
      symbol,
      timeframe,
      from,
      to,
      variant: String(limit),
      load: async () => {
        const candles = await withDeadline(this.o.store.query({ exchange, symbol, timeframe, from, to, limit }), this.o.readDeadlineMs ?? READ_DEADLINE_MS);
        return { exchange, symbol, timeframe, count: candles.length, candles };
      },
      cacheableBody: (b) => b.candles.every((c) => c.closed),
    };
  }

  private async symbols(res: ServerResponse): Promise<void> {
    const stored = await withDeadline(this.o.store.series(), this.o.readDeadlineMs ?? READ_DEADLINE_MS);
    sendJson(res, 200, {
      symbols: this.o.markets.list.flatMap((m) =>
        m.symbols.map((symbol) => ({
          exchange: m.exchange,
          symbol,
          native: m.codec.toNative(symbol),
          timeframes: m.timeframes,
          stored: Object.fromEntries(stored.filter((s) => s.exchange === m.exchange && s.symbol === symbol).map((s) => [s.timeframe, { candles: s.candles, firstOpenTime: s.firstOpenTime, lastOpenTime: s.lastOpenTime }])),
        })),
      ),
    });
  }

  private report() {
    return healthReport(this.o.health, this.o.clock.now());
  }

  private ready(res: ServerResponse): void {
    const r = readiness(this.report());
    sendJson(res, r.ready ? 200 : 503, r);
  }

  /** OpenMetrics (with exemplars) when the scraper asks for it, else the classic text format (exposition.ts). */
  private async metricsText(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { contentType, body } = await exposition(this.o.registry, req.headers.accept);
    res.writeHead(200, { 'content-type': contentType, vary: 'accept' });
    res.end(body);
  }
}
