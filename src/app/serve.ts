/**
 * Composition root of `candlestack serve`: the store (candles and indicator values written by the process
 * role) and Kafka's candle, indicator and feature topics (live updates, relayed onto the local bus) -> REST API, live
 * WebSocket /ws, the web dashboard, /metrics and health, port 9001 by default. Each serve instance reads those
 * topics in a group of its own, from the end: live updates only. Data quality lives in the process role
 * (its /metrics: candlestack_data_quality_score); serve runs no QualityMonitor, so /api/quality answers 503
 * quality_unavailable.
 */
import { hostname } from 'node:os';
import type { Config } from '../config/config.js';
import { LiveHub } from '../api/live-ws.js';
import { redactUrl } from '../store/postgres-url.js';
import { indicatorNames } from '../pipeline/indicators/specs.js';
import { buildApiServer, buildMarkets, buildReadCache, kafkaBusFor, liveLimits, roleFoundation, type RoleApp, type RoleDeps } from './parts.js';
import { kafkaImport } from './kafka-relay.js';
import { HttpClient } from '../api/http-client.js';
import { decisionProxyRoutes } from '../api/decision-proxy.js';
import { serveHttp } from '../config/serve-config.js';
import { instrumentedBreaker } from '../telemetry/breaker-metrics.js';

export async function startServe(config: Config, deps: RoleDeps): Promise<RoleApp> {
  const { clock, log } = deps;
  const { startedAt, lifecycle, registry, metrics, store, bus, tracing } = await roleFoundation(config, deps, 'serve', { store: true, series: false });
  const markets = buildMarkets(config);
  const live = new LiveHub({ markets, metrics: metrics.api, log: log.child({ component: 'ws' }), clock, ...liveLimits(config, metrics) });
  bus.subscribe('candle', live.onCandle);
  bus.subscribe('indicator', live.onIndicator);
  bus.subscribe('feature', live.onFeature);
  // The read cache: corrections and backfills arrive on candlestack_candles / _indicators like on every serve instance, so all drop the same keys.
  const cached = buildReadCache(config, { clock, metrics, log }, lifecycle);
  if (cached.cache) {
    bus.subscribe('candle', cached.cache.onCandle);
    bus.subscribe('indicator', cached.cache.onIndicator);
  }
  const kafka = kafkaBusFor(config, 'serve', { clock, metrics, log, tracing }, { group: `candlestack-serve-${hostname()}-${process.pid}-${startedAt}`, fromBeginning: false, breaker: undefined }); // consumes only: no bus_produce breaker
  // With a decision service configured, the dashboard's assistant panel asks it through this instance.
  const decisionUrl = serveHttp(config.http).decisionUrl;
  const decisionBreaker = decisionUrl === null ? null : instrumentedBreaker('serve_decide', config.breakers.defaults, { clock, metrics: metrics.breakers, log: log.child({ component: 'breaker' }) });
  const routes =
    decisionUrl === null ? undefined : decisionProxyRoutes(new HttpClient({ target: 'decide', baseUrl: decisionUrl, timeoutMs: 2_000, retries: 1, backoffMs: 100, breaker: decisionBreaker!, metrics: metrics.api, ...(tracing ? { tracing } : {}) }));
  const ic = config.indicators;
  // The web dashboard too: its market view reads this role's API and /ws; its health view shows this role
  // (the feeds are on the collect role's own /api/health).
  const api = lifecycle.register(
    buildApiServer(config, { clock, metrics, log, tracing, registry, version: deps.version }, {
      store,
      markets,
      live,
      indicatorNames: ic.enabled ? indicatorNames(ic.specs) : [],
      cache: cached.cache,
      redis: cached.redis,
      ...(routes ? { routes } : {}),
      health: { role: 'serve', staleAfterMs: config.feed.staleAfterMs, store: { kind: store.kind, isOpen: () => store.isOpen(), queueDepth: () => 0 }, bus: { kind: kafka.kind }, backfillPending: () => 0, startedAt, breakers: () => [...cached.breakers(), ...(decisionBreaker ? [decisionBreaker.status()] : [])] },
      healthStatus: { store: () => [store.status?.()], bus: () => bus.status() },
    }),
  );
  lifecycle.register(live);
  lifecycle.register(kafkaImport(kafka, bus, ['candle', 'indicator', 'feature']));
  await lifecycle.start();
  log.info({ component: 'app', port: api.port, bus: config.bus, store: redactUrl(config.store.url) }, `candlestack serve listening on http://${config.http.host}:${api.port}`);
  return { port: api.port, metrics, lifecycle, stop: () => lifecycle.stop() };
}
