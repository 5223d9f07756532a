/**
 * Small builders shared by the composition roots (run/demo, collect, process, serve): the collectors of the
 * configured exchanges, the backfill sources (REST), the markets list, the API server with the web
 * dashboard, and the Kafka bus of a role.
 */
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
import type { Metrics } from '../telemetry/metrics.js';

export interface PartDeps {
  clock: Clock;
  metrics: Metrics;
  log: Logger;
}

export function buildBackfillSources(config: Config, deps: PartDeps): Map<string, BackfillSource> {
  const sources = new Map<string, BackfillSource>();
  for (const ex of config.exchanges) {
    const adapter = adapterFor(ex.id);
    const rest = new RestClient({ exchange: ex.id, clock: deps.clock, metrics: deps.metrics.feed, log: deps.log.child({ component: 'collector' }) });
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
  parts: Pick<ApiServerOptions, 'store' | 'markets' | 'live' | 'health' | 'indicatorNames' | 'quality'> & { healthStatus: HealthStatusSources },
): ApiServer {
  const log = deps.log.child({ component: 'api' });
  const { healthStatus, ...rest } = parts;
  return new ApiServer({
    host: config.http.host,
    port: config.http.port,
    registry: deps.registry,
    metrics: deps.metrics.api,
    clock: deps.clock,
    log,
    version: deps.version,
    web: WebAssets.load(DEFAULT_WEB_DIR, log),
    healthDetails: new HealthDetails({ status: healthStatus, clock: deps.clock, staleAfterMs: config.feed.staleAfterMs }),
    ...rest,
  });
}

/** The Kafka bus of a role; the config must name a kafka:// bus (the split roles need a broker between them). */
export function kafkaBusFor(config: Config, role: string, deps: PartDeps, options: Partial<KafkaBusOptions> = {}): KafkaBus {
  if (!config.bus.startsWith('kafka://')) throw new ConfigError('--bus', `kafka://HOST:PORT for the ${role} role (memory only works inside one process: use candlestack run)`, config.bus);
  return new KafkaBus({
    brokers: kafkaBrokers(config.bus),
    clientId: `candlestack-${role}`,
    topics: config.kafka.topics,
    clock: deps.clock,
    metrics: deps.metrics,
    log: deps.log.child({ component: 'kafka' }),
    ...options,
  });
}
