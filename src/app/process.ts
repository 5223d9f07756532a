/**
 * Composition root of `candlestack process`: Kafka (trades, klines, gaps) -> the pipeline -> the store, and
 * candles and indicator values back onto Kafka for the serve role. Several instances in one consumer group
 * share the partitions and together write exactly the candles one would:
 *
 * - Offsets are committed only after the store write: the commit barrier publishes the changed forming
 *   candles and awaits CandleWriter.flush(); a failed write leaves the batch uncommitted.
 * - A symbol first seen on this member (start, or a partition moved here) is resumed from the store
 *   (pipeline/restart.ts `resumeSymbol`, indicators re-warmed), and trades already counted are skipped by id
 *   (ExchangeAdapter.increasingTradeIds), so a crash creates neither a duplicate nor a gap. A symbol whose
 *   partition moves away is forgotten.
 * - Candles close on each symbol's stream clock (pipeline/candle-clock.ts), not the wall clock.
 * - No startup gap is raised: trades that arrived while this role was down wait in Kafka.
 * - Data quality is scored here (this role's /metrics: candlestack_data_quality_score); serve holds none.
 * - The scheduled jobs run here too (retention, vacuum, ...: src/jobs/scheduler.ts); with several instances on
 *   PostgreSQL the store's leader lock makes exactly one run each tick. /api/jobs shows them.
 */
import type { Config } from '../config/config.js';
import { resumeSymbol } from '../pipeline/restart.js';
import { redactUrl } from '../store/postgres-url.js';
import type { KafkaBus } from '../bus/kafka.js';
import type { CandleEngine } from '../pipeline/candle-engine.js';
import type { QualityMonitor } from '../quality/monitor.js';
import type { Store } from '../store/store.js';
import { buildPipeline, type Pipeline } from './pipeline.js';
import { kafkaBusFor, hostPolicy, roleFoundation, type RoleApp, type RoleDeps } from './parts.js';
import { kafkaExport, kafkaImport } from './kafka-relay.js';
import { RoleServer } from './role-server.js';
import { sendJobs } from '../api/jobs-route.js';

export interface ProcessApp extends RoleApp {
  bus: KafkaBus;
  engine: CandleEngine;
  store: Store;
  quality: QualityMonitor;
}

export async function startProcess(config: Config, deps: RoleDeps): Promise<ProcessApp> {
  const { clock, log } = deps;
  const { startedAt, lifecycle, registry, metrics, store, bus, tracing } = await roleFoundation(config, deps, 'process', { store: true, series: true });
  let pipeline: Pipeline | undefined;
  const kafka = kafkaBusFor(config, 'process', { clock, metrics, log, tracing }, {
    group: config.kafka.group,
    fromBeginning: true,
    commitIntervalMs: config.kafka.commitIntervalMs,
    beforeCommit: async () => {
      pipeline!.engine.publishForming();
      if (!(await pipeline!.writer.flush())) throw new Error('store write failed');
    },
    onKeyAcquired: async (exchange, symbol) => {
      const restored = await resumeSymbol(store, pipeline!.engine, exchange, symbol, (e) => bus.publish('candle', e));
      await pipeline!.indicators.engine?.warmUp(store, config.timeframes.map((timeframe) => ({ exchange, symbol, timeframe })), clock.now());
      log.info({ component: 'process', exchange, symbol, restored }, 'symbol assigned: candle state resumed from the store');
    },
    onKeysRevoked: (keys) => {
      for (const k of keys) pipeline!.forget(k.exchange, k.symbol);
      log.info({ component: 'process', symbols: keys.map((k) => `${k.exchange}:${k.symbol}`) }, 'partitions moved away: symbols released');
    },
  });
  // The Kafka callbacks above run only once the consumer starts, after this assignment.
  const built = (pipeline = await buildPipeline(config, { clock, metrics, log, tracing, store, bus }, { redelivery: true, jobs: true, candleClock: { kind: 'stream', caughtUp: () => kafka.caughtUp() } }));
  const server = lifecycle.register(
    new RoleServer({
      hosts: hostPolicy(config),
      host: config.http.host,
      port: config.http.port,
      role: 'process',
      registry,
      clock,
      tracing,
      metrics: metrics.api,
      log,
      health: {
        startedAt,
        staleAfterMs: config.feed.staleAfterMs,
        store: { kind: store.kind, isOpen: () => store.isOpen(), queueDepth: () => built.writer.pending, writeStall: () => built.writer.stall() },
        bus: { kind: kafka.kind, caughtUp: () => kafka.caughtUp() },
        backfillPending: () => built.backfiller.pending,
        breakers: () => [...built.breakerStatus(), ...kafka.breakerStatus()],
      },
      routes: { '/api/jobs': (url, res) => sendJobs(url, res, built.scheduler) },
    }),
  );
  lifecycle.register(kafkaExport(bus, kafka, ['candle', 'indicator', 'feature']));
  for (const s of built.services) lifecycle.register(s);
  lifecycle.register(kafkaImport(kafka, bus, ['trade', 'kline', 'gap']));
  await lifecycle.start();
  log.info({ component: 'app', port: server.port, bus: config.bus, group: config.kafka.group, store: redactUrl(config.store.url) }, `candlestack process: ${config.bus} -> candles -> ${store.kind}; metrics on http://${config.http.host}:${server.port}/metrics`);
  return { port: server.port, metrics, lifecycle, bus: kafka, engine: built.engine, store, quality: built.quality, stop: () => lifecycle.stop() };
}
