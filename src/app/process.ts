/**
 * Composition root of `candlestack process`: Kafka (trades, klines, gaps) -> candle engine, reconciliation,
 * backfill -> store, and candles back onto Kafka for the serve role. Several instances in one consumer
 * group share the partitions and together write exactly the candles one would:
 *
 * - Offsets are committed only after the store write: the commit barrier publishes the changed forming
 *   candles and awaits CandleWriter.flush(); a failed write leaves the batch uncommitted.
 * - A symbol first seen on this member (start, or a partition moved here) is resumed from the store's latest
 *   candles (`engine.resume`), with the last applied trade id of each: Kafka redelivers from the committed
 *   offset, and the engine skips trades already counted (for exchanges whose ids only grow: ExchangeAdapter.increasingTradeIds), so a crash creates
 *   neither a duplicate nor a gap. A symbol whose partition moves away is forgotten.
 * - Candles close on each symbol's stream clock, not the wall clock: the receive time of its latest consumed
 *   trade. Trades replayed after a crash or delayed by a rebalance are then not "late", and a partition read
 *   ahead of another does not close the other's candles. Once caught up, a symbol quiet for IDLE_CLOSE_MS
 *   lets the wall clock (minus that) close its candles, so a quiet market still gets its bar; while replaying
 *   a backlog (`bus.caughtUp()` false) only the stream clock counts.
 * - No startup gap is raised: trades that arrived while this role was down wait in Kafka.
 * - As in the embedded role: store writes and REST backfill run behind the store_write and backfill_rest
 *   circuit breakers; the QualityMonitor scores the consumed trades, gaps and reconciliations (the scores
 *   are on this role's /metrics; the serve role holds no quality state); the IndicatorEngine
 *   runs on the local candle events, its values are stored (IndicatorWriter) and published on the
 *   `indicator` topic for the serve role's /ws. A symbol assigned here re-warms its indicator series from
 *   the store, so values continue from what another instance wrote.
 */
import { adapterFor, isExchangeId } from '../exchanges/index.js';
import type { Config } from '../config/config.js';
import type { Timer } from '../core/clock.js';
import type { CandleEvent } from '../core/types.js';
import { CandleEngine } from '../pipeline/candle-engine.js';
import { Reconciler } from '../pipeline/reconciler.js';
import { Backfiller } from '../jobs/backfill.js';
import { CandleWriter } from '../store/candle-writer.js';
import { openStore } from '../store/open.js';
import { redactUrl } from '../store/postgres-url.js';
import type { Store } from '../store/store.js';
import type { KafkaBus } from '../bus/kafka.js';
import { createMetrics, createRegistry } from '../telemetry/metrics.js';
import { instrumentedBreaker } from '../telemetry/breaker-metrics.js';
import { breakerSettings, resolveCandleTimeframe } from '../config/quality-config.js';
import { QualityMonitor } from '../quality/monitor.js';
import { setupIndicators } from './indicators.js';
import { buildBackfillSources, kafkaBusFor } from './parts.js';
import { RoleServer } from './role-server.js';
import type { RoleApp, RoleDeps } from './collect.js';

/** How far the wall clock may run ahead of the stream before it closes candles on its own. */
export const IDLE_CLOSE_MS = 10_000;

export interface ProcessApp extends RoleApp {
  bus: KafkaBus;
  engine: CandleEngine;
  store: Store;
  quality: QualityMonitor;
}

export async function startProcess(config: Config, deps: RoleDeps & { store?: Store }): Promise<ProcessApp> {
  const { clock, log } = deps;
  const registry = createRegistry();
  const metrics = createMetrics(registry);
  metrics.build.buildInfo.labels(deps.version, 'process').set(1);
  const store = deps.store ?? (await openStore(config.store.url, () => clock.now(), { metrics: metrics.store, log: log.child({ component: 'store' }) }));
  const breakerDeps = { clock, metrics: metrics.breakers, log: log.child({ component: 'breaker' }) };
  const breakers = {
    storeWrite: instrumentedBreaker('store_write', breakerSettings(config.breakers, 'store_write'), breakerDeps),
    backfillRest: instrumentedBreaker('backfill_rest', breakerSettings(config.breakers, 'backfill_rest'), breakerDeps),
  };
  const writer = new CandleWriter({ store, clock, metrics: metrics.store, log: log.child({ component: 'store' }), flushMs: config.store.flushMs, breaker: breakers.storeWrite, maxBufferedRows: config.breakers.storeBufferRows });
  const quality = new QualityMonitor({
    settings: config.quality,
    markets: config.exchanges.map((ex) => ({ exchange: ex.id, symbols: ex.symbols })),
    candleTimeframe: resolveCandleTimeframe(config.quality, config.timeframes),
    candleSettleMs: config.candles.graceMs + 2 * config.store.flushMs + 1_000,
    store,
    clock,
    metrics: metrics.quality,
    log: log.child({ component: 'quality' }),
  });

  let bus: KafkaBus | undefined;
  const engine = new CandleEngine({
    timeframes: config.timeframes,
    graceMs: config.candles.graceMs,
    latePolicy: config.candles.latePolicy,
    clock,
    metrics,
    log: log.child({ component: 'candles' }),
    dedupeTradeIds: (exchange) => isExchangeId(exchange) && adapterFor(exchange).increasingTradeIds,
    emit: (e) => onCandle(e),
  });
  const reconciler = new Reconciler({ engine, clock, metrics: metrics.candles, log: log.child({ component: 'reconcile' }), onResult: quality.onReconcile });
  const backfiller = new Backfiller({ sources: buildBackfillSources(config, { clock, metrics, log }), engine, timeframes: config.timeframes, graceMs: config.candles.graceMs, clock, metrics, log: log.child({ component: 'backfill' }), breaker: breakers.backfillRest });
  let indicators: Awaited<ReturnType<typeof setupIndicators>> | undefined;
  const onCandle = (e: CandleEvent) => {
    writer.onEvent(e);
    reconciler.onCandle(e);
    indicators?.onCandle(e);
    bus?.publish('candle', e);
  };

  const resume = async (exchange: string, symbol: string) => {
    const latest = await store.latest(exchange, [symbol]);
    // A candle left forming just before the latest (it was in its grace period at the crash) is final now.
    for (const c of latest) {
      const [prev] = await store.query({ exchange, symbol, timeframe: c.timeframe, to: c.openTime - 1, limit: 1 });
      if (prev && !prev.closed) onCandle({ type: 'candle', kind: 'close', candle: { ...prev, closed: true } });
    }
    engine.resume(exchange, symbol, latest);
    await indicators?.engine?.warmUp(store, config.timeframes.map((timeframe) => ({ exchange, symbol, timeframe })), clock.now());
    log.info({ component: 'process', exchange, symbol, restored: latest.length }, 'symbol assigned: candle state resumed from the store');
  };

  bus = kafkaBusFor(config, 'process', { clock, metrics, log }, {
    group: config.kafka.group,
    fromBeginning: true,
    commitIntervalMs: config.kafka.commitIntervalMs,
    beforeCommit: async () => {
      engine.publishForming();
      if (!(await writer.flush())) throw new Error('store write failed');
    },
    onKeyAcquired: resume,
    onKeysRevoked: (keys) => {
      for (const k of keys) {
        streamTime.delete(`${k.exchange}:${k.symbol}`);
        engine.forget(k.exchange, k.symbol);
        writer.discard(k.exchange, k.symbol);
      }
      log.info({ component: 'process', symbols: keys.map((k) => `${k.exchange}:${k.symbol}`) }, 'partitions moved away: symbols released');
    },
  });
  const kafka = bus;
  indicators = await setupIndicators({ config, store, bus: kafka, direct: true, clock, metrics, log });
  // Stream time per symbol: the receive time of its latest consumed trade.
  const streamTime = new Map<string, number>();
  kafka.subscribe('trade', (t) => {
    const key = `${t.exchange}:${t.symbol}`;
    if (t.receivedAt > (streamTime.get(key) ?? 0)) streamTime.set(key, t.receivedAt);
    engine.onTrade(t);
    quality.onTrade(t);
  });
  const tick = () => {
    const wall = clock.now();
    const live = kafka.caughtUp();
    engine.tickEach((exchange, symbol) => {
      const own = streamTime.get(`${exchange}:${symbol}`) ?? 0;
      return Math.min(wall, live ? Math.max(own, wall - IDLE_CLOSE_MS) : own);
    });
  };
  kafka.subscribe('kline', reconciler.onKline);
  kafka.subscribe('gap', (g) => {
    engine.markGap(g.exchange, g.symbol, g.from, g.to);
    backfiller.onGap(g);
    quality.onGap(g);
  });

  const server = new RoleServer({
    host: config.http.host,
    port: config.http.port,
    role: 'process',
    registry,
    health: () => {
      const reasons: string[] = [];
      if (!store.isOpen()) reasons.push(`store ${store.kind} is not open`);
      return { status: reasons.length ? 'down' : 'ok', reasons, store: { kind: store.kind, open: store.isOpen(), queueDepth: writer.depth }, bus: { kind: kafka.kind, caughtUp: kafka.caughtUp() }, backfill: { pending: backfiller.pending }, breakers: [breakers.storeWrite.status(), breakers.backfillRest.status()] };
    },
  });
  const port = await server.listen();
  const timers: Timer[] = [clock.setInterval(tick, config.candles.tickMs)];
  writer.start();
  indicators.start();
  reconciler.start();
  backfiller.start();
  quality.start();
  await kafka.start();
  log.info({ component: 'app', port, bus: config.bus, group: config.kafka.group, store: redactUrl(config.store.url) }, `candlestack process: ${config.bus} -> candles -> ${store.kind}; metrics on http://${config.http.host}:${port}/metrics`);

  let stopped = false;
  return {
    port,
    metrics,
    bus: kafka,
    engine,
    store,
    quality,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const t of timers) t.cancel();
      backfiller.stop();
      reconciler.stop();
      await quality.stop();
      await writer.stop();
      await indicators?.stop();
      await kafka.close();
      await server.close();
      if (!deps.store) await store.close();
    },
  };
}
