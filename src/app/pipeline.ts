/**
 * The processing stages, built once for every role that builds candles (run/demo and process), on the role's
 * local in-process bus:
 *
 *   trade ─► CandleEngine ─► candle ─► CandleWriter (store_write breaker) ─► store
 *     │                        ├─────► Reconciler ◄─ kline        (exchange klines vs ours)
 *     │                        └─────► indicators ─► indicator ─► IndicatorWriter
 *     └─► QualityMonitor ◄─ gap ─► CandleEngine.markGap, Backfiller (backfill_rest breaker) ─► CandleEngine
 *
 * plus the job scheduler (optional: retention, vacuum, ... on their cron schedules, src/jobs/) and the candle clock (candle-clock.ts: run/demo close on the wall clock, the
 * process role on each symbol's stream clock). What feeds the bus (collectors, or the Kafka import) and what
 * else listens to it (the LiveHub, the Kafka export) is the root's business.
 *
 * `services` are in start order; a root registers them on its Lifecycle (stopped in reverse: the final
 * candle tick first, then quality and the jobs, the indicator writer, and the candle writer, which flushes
 * the store last).
 */
import type { Clock } from '../core/clock.js';
import type { Service } from '../core/service.js';
import type { ExchangeId } from '../core/exchange-id.js';
import type { Config } from '../config/config.js';
import type { Bus } from '../bus/bus.js';
import { adapterFor, isExchangeId } from '../exchanges/index.js';
import { CandleEngine } from '../pipeline/candle-engine.js';
import { Reconciler } from '../pipeline/reconciler.js';
import { Backfiller } from '../jobs/backfill.js';
import { Scheduler } from '../jobs/scheduler.js';
import { buildJobs, scheduledJobs } from '../jobs/registry.js';
import { alwaysLeader } from '../jobs/leader.js';
import { CandleWriter } from '../store/candle-writer.js';
import type { Store } from '../store/store.js';
import { QualityMonitor } from '../quality/monitor.js';
import { instrumentedBreaker } from '../telemetry/breaker-metrics.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { breakerSettings, resolveCandleTimeframe } from '../config/quality-config.js';
import type { BreakerStatus, CircuitBreaker } from '../core/circuit-breaker.js';
import { buildBackfillSources } from './parts.js';
import { setupIndicators, type IndicatorsRuntime } from './indicators.js';
import { FeatureEngine } from '../assistant/feature-engine.js';
import type { Tracing } from '../telemetry/tracing.js';
import { streamClockTicker, wallClockTicker, type StreamClockTicker } from '../pipeline/candle-clock.js';

export interface PipelineDeps {
  clock: Clock;
  metrics: Metrics;
  log: Logger;
  store: Store;
  /** The role's local bus: the stages subscribe to it and publish candles and indicators on it. */
  bus: Bus;
  /** The role's traces: store batches, backfill runs, scheduled jobs (off when absent). */
  tracing?: Tracing;
}

export interface PipelineOptions {
  /**
   * The bus may redeliver trades (a Kafka consumer after a crash or rebalance): skip a trade whose id is not
   * above the last one applied to its symbol, for exchanges whose ids only grow.
   */
  redelivery: boolean;
  /**
   * Run the scheduled jobs (`jobs:` config: retention, vacuum, ...). With several processes on one PostgreSQL
   * store, the store's leader lock makes one of them run each tick.
   */
  jobs: boolean;
  /** What closes candles (candle-clock.ts): the wall clock, or each symbol's stream clock while `caughtUp()` says whether the consumer reads live. */
  candleClock: { kind: 'wall' } | { kind: 'stream'; caughtUp: () => boolean };
  /**
   * Keep the backfiller's pending repairs in the store (the store's `repairs`), to be re-queued by
   * `backfiller.restore()` after a restart: run/demo, where one process owns every symbol.
   */
  storedRepairs?: boolean;
  /** Indicator values over forming candles only for the series watched on this process's /ws (run/demo). */
  formingIndicatorsWatchedOnly?: boolean;
}

export interface Pipeline {
  engine: CandleEngine;
  writer: CandleWriter;
  reconciler: Reconciler;
  backfiller: Backfiller;
  quality: QualityMonitor;
  indicators: IndicatorsRuntime;
  /** The feature vector of every closed candle (src/assistant/feature-engine.ts): stored, and for /ws and the decision service. */
  features: FeatureEngine;
  /** The job scheduler when `options.jobs` (its status() is GET /api/jobs). */
  scheduler: Scheduler | null;
  breakers: { storeWrite: CircuitBreaker; backfillRest: CircuitBreaker };
  /** In start order; the candle clock is last, so its final tick (wall clock) runs before the writers stop. */
  services: Service[];
  breakerStatus(): BreakerStatus[];
  /** Drops a symbol's state everywhere it is held (its Kafka partition moved to another consumer). */
  forget(exchange: ExchangeId, symbol: string): void;
}

/** A closed period is expected in the store this long after its end: the grace, two flushes and a margin. */
export function candleSettleMs(config: Config): number {
  return config.candles.graceMs + 2 * config.store.flushMs + 1_000;
}

export async function buildPipeline(config: Config, deps: PipelineDeps, options: PipelineOptions): Promise<Pipeline> {
  const { clock, metrics, log, store, bus, tracing } = deps;
  const breakerDeps = { clock, metrics: metrics.breakers, log: log.child({ component: 'breaker' }) };
  const breakers = {
    storeWrite: instrumentedBreaker('store_write', breakerSettings(config.breakers, 'store_write'), breakerDeps),
    backfillRest: instrumentedBreaker('backfill_rest', breakerSettings(config.breakers, 'backfill_rest'), breakerDeps),
  };
  const writer = new CandleWriter({ store, clock, metrics: metrics.store, log: log.child({ component: 'store' }), flushMs: config.store.flushMs, breaker: breakers.storeWrite, maxBufferedRows: config.breakers.storeBufferRows, tracing });
  const quality = new QualityMonitor({
    settings: config.quality,
    markets: config.exchanges.map((ex) => ({ exchange: ex.id, symbols: ex.symbols })),
    candleTimeframe: resolveCandleTimeframe(config.quality, config.timeframes),
    candleSettleMs: candleSettleMs(config),
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
    ...(options.redelivery ? { dedupeTradeIds: (exchange: ExchangeId) => isExchangeId(exchange) && adapterFor(exchange).increasingTradeIds } : {}),
  });
  const reconciler = new Reconciler({ engine, clock, metrics: metrics.candles, log: log.child({ component: 'reconcile' }), onResult: quality.onReconcile });
  const sources = buildBackfillSources(config, { clock, metrics, log, tracing });
  const backfiller = new Backfiller({
    sources,
    engine,
    timeframes: config.timeframes,
    graceMs: config.candles.graceMs,
    clock,
    metrics,
    log: log.child({ component: 'backfill' }),
    breaker: breakers.backfillRest,
    tracing,
    ...(options.storedRepairs && store.repairs ? { repairs: { store: store.repairs, written: () => writer.flush() } } : {}),
  });

  // The indicator engine subscribes to candles first: its values for a candle are out before the candle's
  // own subscribers (writer, reconciler, /ws, Kafka) see the candle.
  const indicators = await setupIndicators({ config, store, bus, clock, metrics, log, formingWatchedOnly: options.formingIndicatorsWatchedOnly ?? false });
  const features = new FeatureEngine({ store, clock, metrics: metrics.assistant, log: log.child({ component: 'features' }), timeframes: config.timeframes, flushMs: config.store.flushMs });
  await features.warmUp(config.exchanges.flatMap((ex) => ex.symbols.flatMap((symbol) => config.timeframes.map((timeframe) => ({ exchange: ex.id, symbol, timeframe })))), clock.now());
  bus.subscribe('candle', features.onCandle);
  // Each vector on the bus like candles and indicators: /ws in run/demo, Kafka (candlestack_features) in process.
  features.onFeature((v) => bus.publish('feature', v));
  bus.subscribe('trade', (t) => void engine.onTrade(t));
  bus.subscribe('candle', writer.onEvent);
  bus.subscribe('candle', reconciler.onCandle);
  bus.subscribe('kline', reconciler.onKline);
  bus.subscribe('gap', (g) => engine.markGap(g.exchange, g.symbol, g.from, g.to));
  bus.subscribe('gap', backfiller.onGap);
  bus.subscribe('trade', quality.onTrade);
  bus.subscribe('gap', quality.onGap);

  const services: Service[] = [writer, indicators, features, reconciler, backfiller];
  const scheduler = options.jobs
    ? new Scheduler({ jobs: scheduledJobs(config, buildJobs(config, { store, clock, metrics, log, sources, quality: () => quality.summary() })), clock, metrics: metrics.jobs, log: log.child({ component: 'jobs' }), leader: store.leaderLock?.('jobs') ?? alwaysLeader, tracing })
    : null;
  if (scheduler) services.push(scheduler);
  services.push(quality);
  let streamClock: StreamClockTicker | null = null;
  if (options.candleClock.kind === 'stream') {
    streamClock = streamClockTicker(engine, clock, config.candles.tickMs, options.candleClock.caughtUp);
    bus.subscribe('trade', streamClock.onTrade);
    services.push(streamClock);
  } else {
    services.push(wallClockTicker(engine, clock, config.candles.tickMs, config.candles.graceMs));
  }
  return {
    engine,
    writer,
    reconciler,
    backfiller,
    quality,
    indicators,
    features,
    scheduler,
    breakers,
    services,
    breakerStatus: () => [breakers.storeWrite.status(), breakers.backfillRest.status()],
    forget(exchange, symbol) {
      streamClock?.forget(exchange, symbol);
      engine.forget(exchange, symbol);
      writer.discard(exchange, symbol);
    },
  };
}
