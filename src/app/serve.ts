/**
 * Composition root of `candlestack serve`: the store (candles written by the process role) and Kafka's
 * candle topic (live updates) -> REST API, live WebSocket /ws, /metrics and health, port 9001 by default.
 * Each serve instance reads the candle topic in a group of its own, from the end: live updates only.
 * Indicators: /api/indicators reads the values the process role stored; `indicator` events from Kafka are
 * pushed to /ws like candles. Data quality lives in the process role (its /metrics:
 * candlestack_data_quality_score); serve runs no QualityMonitor, so /api/quality answers 503 quality_unavailable.
 */
import { hostname } from 'node:os';
import type { Config } from '../config/config.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/store.js';
import { LiveHub } from '../api/live-ws.js';
import { createMetrics, createRegistry } from '../telemetry/metrics.js';
import { buildApiServer, buildMarkets, kafkaBusFor } from './parts.js';
import { redactUrl } from '../store/postgres-url.js';
import { indicatorNames } from '../pipeline/indicators/specs.js';
import type { RoleApp, RoleDeps } from './collect.js';

export async function startServe(config: Config, deps: RoleDeps & { store?: Store }): Promise<RoleApp> {
  const { clock, log } = deps;
  const startedAt = clock.now();
  const registry = createRegistry();
  const metrics = createMetrics(registry);
  metrics.build.buildInfo.labels(deps.version, 'serve').set(1);
  const store = deps.store ?? (await openStore(config.store.url, () => clock.now(), { metrics: metrics.store, log: log.child({ component: 'store' }) }));
  const markets = buildMarkets(config);
  const live = new LiveHub({ markets, metrics: metrics.api, log: log.child({ component: 'ws' }), clock });
  const group = `candlestack-serve-${hostname()}-${process.pid}-${startedAt}`;
  const bus = kafkaBusFor(config, 'serve', { clock, metrics, log }, { group, fromBeginning: false });
  bus.subscribe('candle', live.onCandle);
  bus.subscribe('indicator', live.onIndicator);
  const ic = config.indicators;
  // The web dashboard too: its market view reads this role's API and /ws; its health view shows this role
  // (the feeds are on the collect role's own /api/health).
  const api = buildApiServer(config, { clock, metrics, log, registry, version: deps.version }, {
    store,
    markets,
    live,
    indicatorNames: ic.enabled ? indicatorNames(ic.specs) : [],
    health: {
      feeds: () => [],
      staleAfterMs: config.feed.staleAfterMs,
      store: { kind: store.kind, isOpen: () => store.isOpen(), queueDepth: () => 0 },
      bus: { kind: bus.kind },
      backfillPending: () => 0,
      startedAt,
    },
    healthStatus: {
      store: () => [store.status?.()],
      bus: () => bus.status(),
    },
  });
  const port = await api.listen();
  live.start();
  await bus.start();
  log.info({ component: 'app', port, bus: config.bus, store: redactUrl(config.store.url) }, `candlestack serve listening on http://${config.http.host}:${port}`);
  let stopped = false;
  return {
    port,
    metrics,
    async stop() {
      if (stopped) return;
      stopped = true;
      await bus.close();
      await api.close();
      if (!deps.store) await store.close();
    },
  };
}
