/**
 * Composition root of `candlestack run` (and of `demo`, pointed at simulated exchanges): collectors -> the
 * in-process bus -> the pipeline (candles, reconciliation, backfill, indicators, quality, the scheduled jobs) -> the
 * store -> API, /ws, /metrics and the web dashboard on one port. After a restart the stored forming candles
 * continue and the time spent down is backfilled (a `startup` gap per symbol).
 */
import type { Config } from '../config/config.js';
import type { Collector } from '../feed/collector.js';
import type { CandleEngine } from '../pipeline/candle-engine.js';
import type { Timeframe } from '../core/timeframe.js';
import { restoreAndFindStartupGaps } from '../pipeline/restart.js';
import { repairWindowMs } from '../jobs/backfill.js';
import type { QualityMonitor } from '../quality/monitor.js';
import { LiveHub } from '../api/live-ws.js';
import { redactUrl } from '../store/postgres-url.js';
import type { Metrics } from '../telemetry/metrics.js';
import { buildApiServer, buildCollectors, buildReadCache, buildMarkets, liveLimits, marketsOf, roleFoundation, type RoleDeps } from './parts.js';
import { buildPipeline } from './pipeline.js';
import { buildDecisions } from './decisions.js';
import type { Lifecycle } from './lifecycle.js';
import { embeddedNotifier } from '../assistant/notifier/build.js';

export interface EmbeddedDeps extends RoleDeps {
  role: string;
}

export interface Embedded {
  port: number;
  metrics: Metrics;
  lifecycle: Lifecycle;
  collectors: Collector[];
  engine: CandleEngine;
  quality: QualityMonitor;
  stop(): Promise<void>;
}

export async function startEmbedded(config: Config, deps: EmbeddedDeps): Promise<Embedded> {
  const { clock, log } = deps;
  const { startedAt, lifecycle, registry, metrics, store, bus, tracing } = await roleFoundation(config, deps, deps.role, { store: true, series: true });
  const markets = buildMarkets(config);
  const pipeline = await buildPipeline(config, { clock, metrics, log, tracing, store, bus }, { redelivery: false, jobs: true, candleClock: { kind: 'wall' }, storedRepairs: true, formingIndicatorsWatchedOnly: true });
  const { engine } = pipeline;
  const live = new LiveHub({ markets, metrics: metrics.api, log: log.child({ component: 'ws' }), clock, ...liveLimits(config, metrics), onWatch: (ex, symbol, tf, watched) => {
      engine.setWatched(ex, symbol, tf as Timeframe, watched);
      pipeline.indicators.engine?.setWatched(ex, symbol, tf as Timeframe, watched);
    },
  });
  bus.subscribe('candle', live.onCandle);
  bus.subscribe('indicator', live.onIndicator);
  bus.subscribe('feature', live.onFeature);
  const cached = buildReadCache(config, { clock, metrics, log, tracing }, lifecycle);
  if (cached.cache) {
    bus.subscribe('candle', cached.cache.onCandle);
    bus.subscribe('indicator', cached.cache.onIndicator);
  }
  const collectors = buildCollectors(config, bus, { clock, metrics, log, tracing, unreachableHint: deps.unreachableHint });
  const startupGaps = await restoreAndFindStartupGaps(store, engine, marketsOf(config), clock, repairWindowMs(config.candles.graceMs));
  // Repairs an earlier run queued and was killed before completing (stored), then this start's own gaps,
  // stored before any collector connects: a kill from here on loses none of them.
  await pipeline.backfiller.restore();
  for (const gap of startupGaps) {
    bus.publish('gap', gap);
    collectors.find((c) => c.exchange === gap.exchange)?.resumeFrom(gap.symbol, gap.to);
  }
  await pipeline.backfiller.sync();
  const decisions = buildDecisions(config, { clock, metrics, log, tracing }, { store, markets, features: pipeline.features.latest, env: deps.env ?? process.env });
  // The Telegram bot, when a token is configured: it asks this role's own API, so it starts after the server.
  const notifier = embeddedNotifier(config, { clock, metrics, log, markets, tracing }, () => ({ host: config.http.host, port: api.port }));

  const api = lifecycle.register(
    buildApiServer(config, { clock, metrics, log, tracing, registry, version: deps.version }, {
      store,
      markets,
      live,
      indicatorNames: pipeline.indicators.names,
      quality: pipeline.quality,
      jobs: pipeline.scheduler,
      routes: decisions.routes,
      cache: cached.cache,
      redis: cached.redis,
      onAlerts: notifier?.onAlerts,
      health: {
        role: deps.role,
        feeds: () => collectors.flatMap((c) => c.health()),
        staleAfterMs: config.feed.staleAfterMs,
        store: { kind: store.kind, isOpen: () => store.isOpen(), queueDepth: () => pipeline.writer.pending, writeStall: () => pipeline.writer.stall() },
        bus: { kind: bus.kind },
        backfillPending: () => pipeline.backfiller.pending,
        startedAt,
        breakers: () => [...pipeline.breakerStatus(), ...cached.breakers()],
      },
      healthStatus: {
        feeds: () => collectors.map((c) => c.status()),
        rejects: () => [engine.status()],
        reconciliation: () => pipeline.reconciler.status(),
        store: () => [pipeline.writer.status(), pipeline.indicators.writer?.status(), store.status?.()],
        bus: () => bus.status(),
        backfill: () => pipeline.backfiller.status(),
      },
    }),
  );
  if (notifier) lifecycle.register(notifier.service);
  lifecycle.register(live); // stops after the pipeline: the final tick's candles still reach /ws clients
  for (const s of decisions.services) lifecycle.register(s);
  for (const s of pipeline.services) lifecycle.register(s);
  for (const c of collectors) lifecycle.register(c);
  await lifecycle.start();
  log.info({ component: 'app', port: api.port, host: config.http.host, exchanges: config.exchanges.map((e) => `${e.id}:${e.symbols.join(',')}`), timeframes: config.timeframes, store: redactUrl(config.store.url) }, `candlestack ${deps.role} listening on http://${config.http.host}:${api.port}`);
  return { port: api.port, metrics, lifecycle, collectors, engine, quality: pipeline.quality, stop: () => lifecycle.stop() };
}
