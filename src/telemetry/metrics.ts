/**
 * The metrics catalogue: every metric candlestack exposes, one slice per subsystem. Names follow Prometheus
 * conventions with one `candlestack_` prefix; labels are bounded (exchange, symbol, timeframe, connection
 * shard, small enums), never ids. Dashboards and alert rules depend on the names, help texts, labels and
 * buckets (test/metrics-catalogue.test.ts pins them).
 *
 *   slice        file (src/telemetry/catalogue/)   used by
 *   feed         feed.ts                            Collector, FeedConnection, RestClient
 *   candles      candles.ts                         CandleEngine, Reconciler, Backfiller
 *   bus          bus.ts                             MemoryBus, KafkaBus (handler errors), ProduceGuard
 *   kafka        kafka.ts                           KafkaBus, GroupConsumer
 *   store        store.ts                           CandleWriter, IndicatorWriter, PostgresStore (+ db pool)
 *   api          api.ts                             ApiServer (HTTP), LiveHub (WebSocket), AlertReceiver
 *   jobs         jobs.ts                            runJob (retention, backfill)
 *   indicators   indicators.ts                      IndicatorEngine
 *   quality      quality.ts                         QualityMonitor, SymbolQuality
 *   assistant    assistant.ts                       FeatureEngine, DecisionService, Scorer, LlmStrategy
 *   breakers     breakers.ts                        breakerObserver / instrumentedBreaker
 *   build        build.ts                           the composition roots (build_info)
 *   cache        cache.ts                           ReadCache (src/api/cache/)
 *   limits       limits.ts                          RateLimiter, LiveHub caps
 *   notifier     notifier.ts                        the Telegram notifier (src/assistant/notifier/)
 *   logs         logs.ts                            LokiLogSink (src/telemetry/loki-logs.ts)
 *
 * A component is given only the slice(s) it counts in (`metrics: CandleMetrics`, or a `Pick<Metrics, ...>`
 * of the few it needs). A slice's `hot` series (hot.ts) are counted as plain numbers by the component and
 * handed to prom-client at scrape time; the same numbers are what the component's `status()` reports, so
 * /api/health never reads counters back out of prom-client.
 *
 * Nothing here is global: `createMetrics(registry)` registers on the registry it is given; tests build their
 * own. Hot paths cache label children (`counter.labels(...)` once per symbol), never per message.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import { apiMetrics } from './catalogue/api.js';
import { breakerMetrics } from './catalogue/breakers.js';
import { assistantMetrics } from './catalogue/assistant.js';
import { buildMetrics } from './catalogue/build.js';
import { cacheMetrics } from './catalogue/cache.js';
import { limitMetrics } from './catalogue/limits.js';
import { busMetrics } from './catalogue/bus.js';
import { candleMetrics } from './catalogue/candles.js';
import { feedMetrics } from './catalogue/feed.js';
import { indicatorMetrics } from './catalogue/indicators.js';
import { jobMetrics } from './catalogue/jobs.js';
import { kafkaMetrics } from './catalogue/kafka.js';
import { qualityMetrics } from './catalogue/quality.js';
import { storeMetrics } from './catalogue/store.js';
import { notifierMetrics } from './catalogue/notifier.js';
import { logMetrics } from './catalogue/logs.js';

export type { ApiMetrics } from './catalogue/api.js';
export type { BreakerMetrics } from './catalogue/breakers.js';
export type { AssistantMetrics } from './catalogue/assistant.js';
export type { BuildMetrics } from './catalogue/build.js';
export type { CacheMetrics } from './catalogue/cache.js';
export type { LimitMetrics } from './catalogue/limits.js';
export type { BusMetrics } from './catalogue/bus.js';
export type { CandleMetrics } from './catalogue/candles.js';
export type { FeedMetrics } from './catalogue/feed.js';
export type { IndicatorMetrics } from './catalogue/indicators.js';
export type { JobMetrics } from './catalogue/jobs.js';
export type { KafkaMetrics } from './catalogue/kafka.js';
export type { QualityMetrics } from './catalogue/quality.js';
export type { StoreMetrics } from './catalogue/store.js';
export type { NotifierMetrics } from './catalogue/notifier.js';
export type { LogMetrics } from './catalogue/logs.js';

export function createRegistry(options: { defaults?: boolean } = {}): Registry {
  const registry = new Registry();
  if (options.defaults !== false) collectDefaultMetrics({ register: registry });
  return registry;
}

export function createMetrics(registry: Registry) {
  return {
    registry,
    feed: feedMetrics(registry),
    candles: candleMetrics(registry),
    bus: busMetrics(registry),
    kafka: kafkaMetrics(registry),
    store: storeMetrics(registry),
    api: apiMetrics(registry),
    jobs: jobMetrics(registry),
    indicators: indicatorMetrics(registry),
    quality: qualityMetrics(registry),
    breakers: breakerMetrics(registry),
    assistant: assistantMetrics(registry),
    build: buildMetrics(registry),
    cache: cacheMetrics(registry),
    limits: limitMetrics(registry),
    notifier: notifierMetrics(registry),
    logs: logMetrics(registry),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
