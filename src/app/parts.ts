/**
 * Small builders shared by the composition roots (run/demo, collect, process, serve): a role's telemetry,
 * store and local bus (registered on its lifecycle), the collectors of the configured exchanges, the backfill
 * sources (REST), the markets list, the API server with the web dashboard, and the Kafka bus of a role.
 */
import { HostPolicy } from '../api/host-policy.js';
import type { Clock } from '../core/clock.js';
import type { Config } from '../config/config.js';
import { kafkaBrokers } from '../config/config.js';
import { ConfigError } from '../core/errors.js';
import type { Bus } from '../bus/bus.js';
import { KafkaBus, type KafkaBusOptions } from '../bus/kafka.js';
import { adapterFor } from '../exchanges/index.js';
import { Collector } from '../feed/collector.js';
import { RestClient } from '../feed/rest-client.js';
import type { BackfillSource } from '../jobs/backfill.js';
import { Markets } from '../api/markets.js';
import { ApiServer, type ApiServerOptions } from '../api/server.js';
import { HealthDetails, type HealthStatusSources } from '../api/health-details.js';
import { DEFAULT_WEB_DIR, WebAssets } from '../api/web-assets.js';
import type { Registry } from 'prom-client';
import type { Logger } from '../telemetry/logger.js';
import { createMetrics, createRegistry, type Metrics } from '../telemetry/metrics.js';
import { service } from '../core/service.js';
import { instrumentedBreaker } from '../telemetry/breaker-metrics.js';
import { breakerSettings } from '../config/quality-config.js';
import { MemoryBus } from '../bus/memory.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/store.js';
import type { ExchangeId } from '../exchanges/index.js';
import { Lifecycle } from './lifecycle.js';
import { ClientIdentifier, FallbackBuckets, MemoryBuckets, RateLimiter, RedisBuckets } from '../api/rate-limit.js';
import { RedisLink } from '../api/redis-link.js';
import { ReadCache } from '../api/cache/read-cache.js';
import { MemoryCache } from '../api/cache/memory.js';
import { RedisCache } from '../api/cache/redis.js';
import type { CacheBackend } from '../api/cache/backend.js';
import type { BreakerStatus } from '../core/circuit-breaker.js';
import { resolveApiKeys, serveHttp } from '../config/serve-config.js';
import { initializeSeries } from '../telemetry/initial-series.js';
import { Tracing } from '../telemetry/tracing.js';
import type { LokiLogSink } from '../telemetry/loki-logs.js';

export interface PartDeps {
  clock: Clock;
  metrics: Metrics;
  log: Logger;
  /** The role's traces (off when absent). */
  tracing?: Tracing;
}

/** What every role root is given. */
export interface RoleDeps {
  clock: Clock;
  log: Logger;
  version: string;
  /** Added to the "cannot connect" log line (e.g. how to run offline). */
  unreachableHint?: string;
  /** A store opened by the caller (tests); the role then does not close it. */
  store?: Store;
  /** Traces built by the caller (tests: pointed at a local receiver); the role flushes it at stop but does not shut it down. Default: from config.tracing. */
  tracing?: Tracing;
  /** Secrets read from the environment (the llm API key); the process environment when absent. */
  env?: NodeJS.ProcessEnv;
  /** The process's Loki log sink (built before the role, with the logger), when log.loki.url is set: its counts join the role's metrics. */
  lokiLogs?: Pick<LokiLogSink, 'countInto'> | null;
}

/** What every role root returns. */
export interface RoleApp {
  port: number;
  metrics: Metrics;
  lifecycle: Lifecycle;
  stop(): Promise<void>;
}

/** What every role starts from: its lifecycle, telemetry and local bus, and its store if it has one. */
export interface RoleFoundation {
  startedAt: number;
  lifecycle: Lifecycle;
  registry: Registry;
  metrics: Metrics;
  bus: MemoryBus;
  /** The role's traces (service.name candlestack-<role>): registered first, so flushed last. */
  tracing: Tracing;
}

/**
 * The first lines of every root: a lifecycle, the role's traces (started first, flushed last), the role's telemetry (build_info; with `series`, the error and
 * event counters of the collectors and the pipeline at 0, initial-series.ts, for the roles that count them),
 * the store if the role has one (registered first: closed last) and the local bus.
 */
export async function roleFoundation(config: Config, deps: RoleDeps, role: string, o: { store: true; series: boolean }): Promise<RoleFoundation & { store: Store }>;
export async function roleFoundation(config: Config, deps: RoleDeps, role: string, o: { store: false; series: boolean }): Promise<RoleFoundation>;
export async function roleFoundation(config: Config, deps: RoleDeps, role: string, o: { store: boolean; series: boolean }): Promise<RoleFoundation & { store?: Store }> {
  const startedAt = deps.clock.now();
  const lifecycle = new Lifecycle(deps.log);
  const tracing = roleTracing(config, deps, role, lifecycle);
  const { registry, metrics } = roleTelemetry(deps.version, role);
  deps.lokiLogs?.countInto(metrics.logs);
  const store = o.store ? await openRoleStore(config, deps, metrics, lifecycle) : undefined;
  const bus = localBus(metrics, deps.log, lifecycle);
  if (o.series) initializeSeries(metrics, { exchanges: config.exchanges, timeframes: config.timeframes, store: store?.kind, bus: bus.kind });
  return { startedAt, lifecycle, registry, metrics, bus, tracing, ...(store ? { store } : {}) };
}

/** The role's Tracing (the caller's, or from config.tracing), registered first on the lifecycle: it stops, flushing the last spans, after everything else. */
export function roleTracing(config: Config, deps: RoleDeps, role: string, lifecycle: Lifecycle): Tracing {
  const tracing = deps.tracing ?? Tracing.fromConfig(config.tracing, { role, version: deps.version });
  lifecycle.register(service('tracing', () => {}, () => (deps.tracing ? tracing.flush() : tracing.shutdown())));
  if (tracing.enabled) deps.log.info({ component: 'tracing', service: tracing.resourceAttributes['service.name'] }, 'tracing on: spans exported over OTLP/HTTP');
  return tracing;
}

/** The role's own registry (with the process metrics) and metrics catalogue, `build_info` set. */
export function roleTelemetry(version: string, role: string): { registry: Registry; metrics: Metrics } {
  const registry = createRegistry();
  const metrics = createMetrics(registry);
  metrics.build.buildInfo.labels(version, role).set(1);
  return { registry, metrics };
}

/** Opens the configured store (or takes the caller's) and registers it first, so it closes last. */
export async function openRoleStore(config: Config, deps: RoleDeps, metrics: Metrics, lifecycle: Lifecycle): Promise<Store> {
  if (deps.store) return deps.store;
  const store = await openStore(config.store.url, () => deps.clock.now(), { metrics: metrics.store, log: deps.log.child({ component: 'store' }) });
  lifecycle.register(service('store', () => {}, () => store.close()));
  return store;
}

/** The role's in-process bus; stopped after everything that publishes on it. */
export function localBus(metrics: Metrics, log: Logger, lifecycle: Lifecycle): MemoryBus {
  const bus = new MemoryBus(metrics.bus, log.child({ component: 'bus' }));
  lifecycle.register(service('bus', () => {}, () => bus.stop()));
  return bus;
}

/** The configured exchanges and their symbols. */
export function marketsOf(config: Config): { exchange: ExchangeId; symbols: string[] }[] {
  return config.exchanges.map((ex) => ({ exchange: ex.id, symbols: ex.symbols }));
}

export function buildBackfillSources(config: Config, deps: PartDeps): Map<string, BackfillSource> {
  const sources = new Map<string, BackfillSource>();
  for (const ex of config.exchanges) {
    const adapter = adapterFor(ex.id);
    const rest = new RestClient({ exchange: ex.id, clock: deps.clock, metrics: deps.metrics.feed, log: deps.log.child({ component: 'collector' }), ...(deps.tracing ? { tracing: deps.tracing } : {}) });
    sources.set(ex.id, { adapter, endpoints: { wsBaseUrl: ex.wsUrl, restBaseUrl: ex.restUrl }, rest });
  }
  return sources;
}

export function buildCollectors(config: Config, bus: Bus, deps: PartDeps & { unreachableHint?: string }): Collector[] {
  return config.exchanges.map((ex) => {
    const adapter = adapterFor(ex.id);
    return new Collector({
      adapter,
      endpoints: { wsBaseUrl: ex.wsUrl, restBaseUrl: ex.restUrl },
      subscription: { symbols: ex.symbols, timeframes: config.timeframes.filter((tf) => adapter.klineTimeframes.includes(tf)), tradeStream: ex.tradeStream, klines: ex.klines },
      staleAfterMs: config.feed.staleAfterMs,
      backoff: { initialMs: config.feed.backoffInitialMs, maxMs: config.feed.backoffMaxMs },
      bus,
      clock: deps.clock,
      metrics: deps.metrics.feed,
      log: deps.log.child({ component: 'collector' }),
      unreachableHint: deps.unreachableHint,
    });
  });
}

export function buildMarkets(config: Config): Markets {
  return new Markets(config.exchanges.map((ex) => ({ exchange: ex.id, symbols: ex.symbols, timeframes: config.timeframes, codec: adapterFor(ex.id).symbols })));
}

/** The API server (REST, /ws, /metrics) with the web dashboard at `/` and the health view's detail. */
export function buildApiServer(
  config: Config,
  deps: PartDeps & { registry: Registry; version: string },
  parts: Pick<ApiServerOptions, 'store' | 'markets' | 'live' | 'health' | 'indicatorNames' | 'quality' | 'jobs' | 'routes' | 'onAlerts'> & { healthStatus: HealthStatusSources; redis?: RedisLink | null; cache?: ReadCache | null },
): ApiServer {
  const log = deps.log.child({ component: 'api' });
  const { healthStatus, redis, ...rest } = parts;
  return new ApiServer({
    host: config.http.host,
    port: config.http.port,
    registry: deps.registry,
    metrics: deps.metrics.api,
    clock: deps.clock,
    log,
    version: deps.version,
    web: WebAssets.load(DEFAULT_WEB_DIR, log),
    ...(deps.tracing ? { tracing: deps.tracing } : {}),
    healthDetails: new HealthDetails({ status: healthStatus, clock: deps.clock, staleAfterMs: config.feed.staleAfterMs }),
    limiter: rateLimiter(config, deps, redis ?? null),
    hosts: hostPolicy(config),
    ...rest,
  });
}

/** The read cache and its Redis link (when `cache.url` is set), or nothing with `cache: false`. */
export interface ReadCacheParts {
  cache: ReadCache | null;
  redis: RedisLink | null;
  /** The `cache` breaker's status for the health report (empty without Redis). */
  breakers: () => BreakerStatus[];
}

/**
 * The read API's cache (`cache:` config): Redis behind the `cache` breaker when it has a URL (the link is
 * registered here, before the API server, so it closes after it), an in-process LRU otherwise. The caller
 * subscribes `cache.onCandle` / `cache.onIndicator` to its local bus (corrections invalidate).
 */
export function buildReadCache(config: Config, deps: PartDeps, lifecycle: Lifecycle): ReadCacheParts {
  const c = config.cache;
  if (!c.enabled) return { cache: null, redis: null, breakers: () => [] };
  const log = deps.log.child({ component: 'cache' });
  const onEvict = (n: number) => deps.metrics.cache.cacheEvictions.inc(n);
  let redis: RedisLink | null = null;
  let backend: CacheBackend;
  if (c.url) {
    const breaker = instrumentedBreaker('cache', breakerSettings(config.breakers, 'cache'), { clock: deps.clock, metrics: deps.metrics.breakers, log: deps.log.child({ component: 'breaker' }) });
    redis = lifecycle.register(new RedisLink({ url: c.url, keyPrefix: c.keyPrefix, timeoutMs: c.timeoutMs, breaker, clock: deps.clock, metrics: deps.metrics.cache, log }));
    backend = new RedisCache({ link: redis, clock: deps.clock, onEvict });
  } else {
    backend = new MemoryCache({ maxBytes: c.maxBytes, clock: deps.clock, onEvict });
  }
  const cache = new ReadCache({ backend, clock: deps.clock, metrics: deps.metrics.cache, log, ttlMs: c.ttlMs, settleMs: c.settleMs });
  const link = redis;
  return { cache, redis, breakers: () => (link ? [link.breaker.status()] : []) };
}

/** The LiveHub's caps (http.live), counted in the limits slice, per client as the rate limiter tells them apart. */
export function liveLimits(config: Config, metrics: Metrics) {
  const http = serveHttp(config.http);
  return { limits: http.live, limitMetrics: metrics.limits, clientOf: new ClientIdentifier({ apiKeys: resolveApiKeys(http), trustProxy: http.trustProxy }).clientOf };
}

/** The Host and Origin allow-lists of every role's HTTP server (http.allowedHosts, http.allowedOrigins). */
export function hostPolicy(config: Config): HostPolicy {
  return new HostPolicy({ bound: config.http.host, allowedHosts: config.http.allowedHosts ?? [], allowedOrigins: config.http.allowedOrigins ?? [] });
}

/** The API's rate limiter: buckets in Redis when the cache has a URL (shared by every serve instance), in-process otherwise. */
export function rateLimiter(config: Config, deps: Pick<PartDeps, 'clock' | 'metrics'>, redis: RedisLink | null): RateLimiter {
  const memory = new MemoryBuckets(deps.clock);
  const http = serveHttp(config.http);
  return new RateLimiter({
    limits: http.rateLimits,
    apiKeys: resolveApiKeys(http),
    trustProxy: http.trustProxy,
    buckets: redis ? new FallbackBuckets(new RedisBuckets(redis), memory) : memory,
    metrics: deps.metrics.limits,
  });
}

/** The Kafka bus of a role, its sends behind the `bus_produce` breaker; the config must name a kafka:// bus (the split roles need a broker between them). */
export function kafkaBusFor(config: Config, role: string, deps: PartDeps, options: Partial<KafkaBusOptions> = {}): KafkaBus {
  if (!config.bus.startsWith('kafka://')) throw new ConfigError('--bus', `kafka://HOST:PORT for the ${role} role (memory only works inside one process: use candlestack run)`, config.bus);
  const breakerLog = deps.log.child({ component: 'breaker' });
  return new KafkaBus({
    brokers: kafkaBrokers(config.bus),
    clientId: `candlestack-${role}`,
    topics: config.kafka.topics,
    // A role that only consumes passes `breaker: undefined` in options (spread below) and gets none.
    breaker: 'breaker' in options ? options.breaker : instrumentedBreaker('bus_produce', breakerSettings(config.breakers, 'bus_produce'), { clock: deps.clock, metrics: deps.metrics.breakers, log: breakerLog }),
    clock: deps.clock,
    metrics: deps.metrics,
    log: deps.log.child({ component: 'kafka' }),
    ...(deps.tracing ? { tracing: deps.tracing } : {}),
    ...options,
  });
}
