/**
 * Composition root of `candlestack collect`: exchange WebSockets -> collectors -> the local bus -> Kafka
 * (trades, the exchange's closed klines on binance_kline, gaps). Its own /metrics and health on port 8000 by
 * default.
 */
import type { Config } from '../config/config.js';
import type { KafkaBus } from '../bus/kafka.js';
import type { Collector } from '../feed/collector.js';
import { buildCollectors, kafkaBusFor, hostPolicy, roleFoundation, type RoleApp, type RoleDeps } from './parts.js';
import { kafkaExport } from './kafka-relay.js';
import { RoleServer } from './role-server.js';

export type { RoleApp, RoleDeps } from './parts.js';

export interface CollectApp extends RoleApp {
  bus: KafkaBus;
  collectors: Collector[];
}

export async function startCollect(config: Config, deps: RoleDeps): Promise<CollectApp> {
  const { clock, log } = deps;
  const { startedAt, lifecycle, registry, metrics, bus, tracing } = await roleFoundation(config, deps, 'collect', { store: false, series: true });
  const kafka = kafkaBusFor(config, 'collect', { clock, metrics, log, tracing });
  const collectors = buildCollectors(config, bus, { clock, metrics, log, tracing, unreachableHint: deps.unreachableHint });
  const health = { startedAt, staleAfterMs: config.feed.staleAfterMs, feeds: () => collectors.flatMap((c) => c.health()), bus: { kind: kafka.kind, bufferDepth: () => kafka.bufferDepth }, breakers: () => kafka.breakerStatus() };
  const server = lifecycle.register(new RoleServer({ hosts: hostPolicy(config), host: config.http.host, port: config.http.port, role: 'collect', registry, clock, metrics: metrics.api, log, health, tracing }));
  lifecycle.register(kafkaExport(bus, kafka, ['trade', 'kline', 'gap']));
  for (const c of collectors) lifecycle.register(c);
  await lifecycle.start();
  log.info({ component: 'app', port: server.port, bus: config.bus, topics: kafka.topicNames, exchanges: config.exchanges.map((e) => `${e.id}:${e.symbols.join(',')}`) }, `candlestack collect: exchanges -> ${config.bus}; metrics on http://${config.http.host}:${server.port}/metrics`);
  return { port: server.port, metrics, lifecycle, bus: kafka, collectors, stop: () => lifecycle.stop() };
}
