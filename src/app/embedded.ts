/**
 * Composition root of the embedded (all-in-one) role used by `candlestack run` and `candlestack demo`:
 * collectors -> in-process bus -> candle engine (+ reconciliation, backfill) -> SQLite -> API, /ws, /metrics.
 * Everything is built here and passed in; nothing reaches for a global.
 */
import type { Clock, Timer } from '../core/clock.js';
import type { GapEvent } from '../core/types.js';
import type { Timeframe } from '../core/timeframe.js';
import type { Config } from '../config/config.js';
import { MemoryBus } from '../bus/memory.js';
import type { Collector } from '../feed/collector.js';
import { CandleEngine } from '../pipeline/candle-engine.js';
import { Reconciler } from '../pipeline/reconciler.js';
import { Backfiller } from '../jobs/backfill.js';
import { buildApiServer, buildBackfillSources, buildCollectors, buildMarkets } from './parts.js';
import { RetentionJob } from '../jobs/retention.js';
import { CandleWriter } from '../store/candle-writer.js';
import { openStore } from '../store/open.js';
import { redactUrl } from '../store/postgres-url.js';
import { LiveHub } from '../api/live-ws.js';
import { setupIndicators } from './indicators.js';
import { createMetrics, createRegistry, type Metrics } from '../telemetry/metrics.js';
import type { Logger } from '../telemetry/logger.js';
import { initializeSeries } from '../telemetry/initial-series.js';
import { instrumentedBreaker } from '../telemetry/breaker-metrics.js';
import { breakerSettings, resolveCandleTimeframe } from '../config/quality-config.js';
import { QualityMonitor } from '../quality/monitor.js';

export interface EmbeddedDeps {
  clock: Clock;
  log: Logger;
  version: string;
  role: string;
  /** Added to the "cannot connect" log line (e.g. how to run offline). */
  unreachableHint?: string;
}

export interface Embedded {
  port: number;
  metrics: Metrics;
  collectors: Collector[];
  engine: CandleEngine;
  quality: QualityMonitor;
  stop(): Promise<void>;
}

/** The longest outage a restart tries to backfill. */
const MAX_STARTUP_GAP_MS = 7 * 86_400_000;

export async function startEmbedded(config: Config, deps: EmbeddedDeps): Promise<Embedded> {
  const { clock, log } = deps;
  const startedAt = clock.now();
  const registry = createRegistry();
  const metrics = createMetrics(registry);
  metrics.build.buildInfo.labels(deps.version, deps.role).set(1);

  const qualityTimeframe = resolveCandleTimeframe(config.quality, config.timeframes);
  const breakerDeps = { clock, metrics: metrics.breakers, log: log.child({ component: 'breaker' }) };
  const breakers = {
    storeWrite: instrumentedBreaker('store_write', breakerSettings(config.breakers, 'store_write'), breakerDeps),
    backfillRest: instrumentedBreaker('backfill_rest', breakerSettings(config.breakers, 'backfill_rest'), breakerDeps),
  };
  const bus = new MemoryBus(metrics.bus, log.child({ component: 'bus' }));
  const store = await openStore(config.store.url, () => clock.now(), { metrics: metrics.store, log: log.child({ component: 'store' }) });
  initializeSeries(metrics, { exchanges: config.exchanges, timeframes: config.timeframes, store: store.kind, bus: bus.kind });
  const writer = new CandleWriter({ store, clock, metrics: metrics.store, log: log.child({ component: 'store' }), flushMs: config.store.flushMs, breaker: breakers.storeWrite, maxBufferedRows: config.breakers.storeBufferRows });
  const quality = new QualityMonitor({
    settings: config.quality,
    markets: config.exchanges.map((ex) => ({ exchange: ex.id, symbols: ex.symbols })),
    candleTimeframe: qualityTimeframe,
    candleSettleMs: config.candles.graceMs + 2 * config.store.flushMs + 1_000,
    store,
    clock,
    metrics: metrics.quality,
    log: log.child({ component: 'quality' }),
  });
  const engine = new CandleEngine({
    timeframes: config.timeframes,
    graceMs: config.candles.graceMs,
    latePolicy: config.candles.latePolicy,
    clock,
    metrics,
    log: log.child({ component: 'candles' }),
    emit: (e) => bus.publish('candle', e),
    defer: (fn) => void setImmediate(fn),
  });
  const reconciler = new Reconciler({ engine, clock, metrics: metrics.candles, log: log.child({ component: 'reconcile' }), onResult: quality.onReconcile });

  const sources = buildBackfillSources(config, { clock, metrics, log });
  const collectors = buildCollectors(config, bus, { clock, metrics, log, unreachableHint: deps.unreachableHint });
  const backfiller = new Backfiller({ sources, engine, timeframes: config.timeframes, graceMs: config.candles.graceMs, clock, metrics, log: log.child({ component: 'backfill' }), breaker: breakers.backfillRest });
  const retention = new RetentionJob({ store, maxAgeMs: config.retention, intervalMs: 3_600_000, clock, metrics: metrics.jobs, log: log.child({ component: 'retention' }) });

  const markets = buildMarkets(config);
  const live = new LiveHub({ markets, metrics: metrics.api, log: log.child({ component: 'ws' }), clock, onWatch: (ex, symbol, tf, watched) => engine.setWatched(ex, symbol, tf as Timeframe, watched) });
  const indicators = await setupIndicators({ config, store, bus, live, clock, metrics, log });

  bus.subscribe('trade', (t) => void engine.onTrade(t));
  bus.subscribe('candle', writer.onEvent);
  bus.subscribe('candle', reconciler.onCandle);
  bus.subscribe('candle', live.onCandle);
  bus.subscribe('kline', reconciler.onKline);
  bus.subscribe('gap', (g) => engine.markGap(g.exchange, g.symbol, g.from, g.to));
  bus.subscribe('gap', backfiller.onGap);
  bus.subscribe('trade', quality.onTrade);
  bus.subscribe('gap', quality.onGap);

  // Resume after a restart: continue the stored forming candles, and backfill what happened while down.
  for (const ex of config.exchanges) {
    const latest = await store.latest(ex.id, ex.symbols);
    engine.restore(latest);
    for (const symbol of ex.symbols) {
      const last = Math.max(...latest.filter((c) => c.symbol === symbol).map((c) => c.openTime), Number.NEGATIVE_INFINITY);
      const now = clock.now();
      const from = Number.isFinite(last) ? Math.max(last, now - MAX_STARTUP_GAP_MS) : now;
      const gap: GapEvent = { type: 'gap', exchange: ex.id, symbol, from, to: now, cause: 'startup' };
      bus.publish('gap', gap);
    }
  }

  const api = buildApiServer(config, { clock, metrics, log, registry, version: deps.version }, {
    store,
    markets,
    live,
    indicatorNames: indicators.names,
    quality,
    health: {
      feeds: () => collectors.flatMap((c) => c.health()),
      staleAfterMs: config.feed.staleAfterMs,
      store: { kind: store.kind, isOpen: () => store.isOpen(), queueDepth: () => writer.depth },
      bus: { kind: bus.kind },
      backfillPending: () => backfiller.pending,
      startedAt,
      breakers: () => [breakers.storeWrite.status(), breakers.backfillRest.status()],
    },
    healthStatus: {
      feeds: () => collectors.map((c) => c.status()),
      rejects: () => [engine.status()],
      reconciliation: () => reconciler.status(),
      store: () => [writer.status(), indicators.writer?.status(), store.status?.()],
      bus: () => bus.status(),
      backfill: () => backfiller.status(),
    },
  });
  const port = await api.listen();

  const timers: Timer[] = [clock.setInterval(() => engine.tick(), config.candles.tickMs)];
  writer.start();
  indicators.start();
  reconciler.start();
  backfiller.start();
  retention.start();
  live.start();
  quality.start();
  for (const c of collectors) c.start();
  log.info({ component: 'app', port, host: config.http.host, exchanges: config.exchanges.map((e) => `${e.id}:${e.symbols.join(',')}`), timeframes: config.timeframes, store: redactUrl(config.store.url) }, `candlestack ${deps.role} listening on http://${config.http.host}:${port}`);

  let stopped = false;
  return {
    port,
    metrics,
    collectors,
    engine,
    quality,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const t of timers) t.cancel();
      await Promise.all(collectors.map((c) => c.stop()));
      backfiller.stop();
      retention.stop();
      reconciler.stop();
      await quality.stop();
      engine.tick();
      await writer.stop();
      await indicators.stop();
      await api.close();
      await bus.close();
      await store.close();
    },
  };
}
