/**
 * Composition root of `candlestack decide` (port 8002): the decision service over the shared store (the
 * candles the process role writes), /api/decision, /metrics and health on a RoleServer. It reads no Kafka
 * topic: decisions are made from stored closed candles, and scored from them too.
 */
import type { Config } from '../config/config.js';
import { redactUrl } from '../store/postgres-url.js';
import { buildMarkets, hostPolicy, roleFoundation, type RoleApp, type RoleDeps } from './parts.js';
import { buildDecisions } from './decisions.js';
import { RoleServer } from './role-server.js';

export async function startDecide(config: Config, deps: RoleDeps): Promise<RoleApp> {
  const { clock, log } = deps;
  const { startedAt, lifecycle, registry, metrics, store, bus, tracing } = await roleFoundation(config, deps, 'decide', { store: true, series: false });
  const decisions = buildDecisions(config, { clock, metrics, log, tracing }, { store, markets: buildMarkets(config), env: deps.env ?? process.env });
  const health = { startedAt, staleAfterMs: config.feed.staleAfterMs, store: { kind: store.kind, isOpen: () => store.isOpen(), queueDepth: () => 0 }, bus: { kind: bus.kind } };
  const server = lifecycle.register(new RoleServer({ hosts: hostPolicy(config), host: config.http.host, port: config.http.port, role: 'decide', registry, clock, metrics: metrics.api, log, health, routes: decisions.routes, tracing }));
  for (const s of decisions.services) lifecycle.register(s);
  await lifecycle.start();
  log.info({ component: 'app', port: server.port, strategy: config.decide.strategy, store: redactUrl(config.store.url) }, `candlestack decide (${config.decide.strategy}) listening on http://${config.http.host}:${server.port}/api/decision`);
  return { port: server.port, metrics, lifecycle, stop: () => lifecycle.stop() };
}
