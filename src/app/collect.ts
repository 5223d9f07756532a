/**
 * Composition root of `candlestack collect`: exchange WebSockets -> collectors -> Kafka (trades, the
 * exchange's closed klines on binance_kline, gaps). Its own /metrics and health on port 8000 by default.
 */
import type { Clock } from '../core/clock.js';
import type { Config } from '../config/config.js';
import { createMetrics, createRegistry, type Metrics } from '../telemetry/metrics.js';
import type { Logger } from '../telemetry/logger.js';
import type { KafkaBus } from '../bus/kafka.js';
import type { Collector } from '../feed/collector.js';
import { buildCollectors, kafkaBusFor } from './parts.js';
import { RoleServer } from './role-server.js';

export interface RoleDeps {
  clock: Clock;
  log: Logger;
  version: string;
  unreachableHint?: string;
}

export interface RoleApp {
  port: number;
  metrics: Metrics;
  stop(): Promise<void>;
}

export interface CollectApp extends RoleApp {
  bus: KafkaBus;
  collectors: Collector[];
}

export async function startCollect(config: Config, deps: RoleDeps): Promise<CollectApp> {
  const { clock, log } = deps;
  const registry = createRegistry();
  const metrics = createMetrics(registry);
  metrics.build.buildInfo.labels(deps.version, 'collect').set(1);
  const bus = kafkaBusFor(config, 'collect', { clock, metrics, log });
  await bus.start();
  const collectors = buildCollectors(config, bus, { clock, metrics, log, unreachableHint: deps.unreachableHint });
  const server = new RoleServer({
    host: config.http.host,
    port: config.http.port,
    role: 'collect',
    registry,
    health: () => {
      const feeds = collectors.flatMap((c) => c.health());
      const reasons = feeds.filter((f) => f.status !== 'connected').map((f) => `feed ${f.exchange}#${f.connection} is ${f.status}`);
      return { status: reasons.length === 0 ? 'ok' : 'degraded', reasons, feeds, bus: { kind: bus.kind, bufferDepth: bus.bufferDepth } };
    },
  });
  const port = await server.listen();
  for (const c of collectors) c.start();
  log.info({ component: 'app', port, bus: config.bus, topics: bus.topicNames, exchanges: config.exchanges.map((e) => `${e.id}:${e.symbols.join(',')}`) }, `candlestack collect: exchanges -> ${config.bus}; metrics on http://${config.http.host}:${port}/metrics`);
  let stopped = false;
  return {
    port,
    metrics,
    bus,
    collectors,
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all(collectors.map((c) => c.stop()));
      await bus.close();
      await server.close();
    },
  };
}
