/**
 * Wiring of the indicators on a role's local bus: the IndicatorEngine on candle events, warmed up from the
 * store, publishing `indicator` events that the IndicatorWriter stores. Whoever else wants them subscribes to
 * the same bus (run/demo: the LiveHub pushes them to /ws; process: the Kafka export forwards them to serve).
 */
import type { Bus } from '../bus/bus.js';
import type { Clock } from '../core/clock.js';
import type { Service } from '../core/service.js';
import type { Config } from '../config/config.js';
import { IndicatorEngine, type SeriesKey } from '../pipeline/indicators/engine.js';
import { IndicatorWriter } from '../store/indicator-writer.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';

export interface IndicatorsRuntime extends Service {
  /** Configured indicator names (empty when indicators are off). */
  names: string[];
  engine: IndicatorEngine | null;
  /** Stores the indicator values (null when indicators are off); its status() counts failed writes. */
  writer: IndicatorWriter | null;
}

export interface IndicatorsDeps {
  config: Config;
  store: Store;
  bus: Bus;
  clock: Clock;
  metrics: Metrics;
  log: Logger;
  /** Forming values only for the series watched live (run/demo: the engine's setWatched is told by the LiveHub). */
  formingWatchedOnly?: boolean;
}

/** Builds, warms up (from the last stored candles of every series) and subscribes the indicators. */
export async function setupIndicators(d: IndicatorsDeps): Promise<IndicatorsRuntime> {
  const ic = d.config.indicators;
  if (!ic.enabled || ic.specs.length === 0) return { name: 'indicators', names: [], engine: null, writer: null, start() {}, stop() {} };
  const log = d.log.child({ component: 'indicators' });
  const writer = new IndicatorWriter({ store: d.store, clock: d.clock, metrics: d.metrics.store, log, flushMs: d.config.store.flushMs });
  const engine = new IndicatorEngine({ specs: ic.specs, forming: ic.forming, history: ic.history, metrics: d.metrics.indicators, log, emit: (e) => d.bus.publish('indicator', e), formingWatchedOnly: d.formingWatchedOnly ?? false });
  const keys: SeriesKey[] = d.config.exchanges.flatMap((ex) => ex.symbols.flatMap((symbol) => d.config.timeframes.map((timeframe) => ({ exchange: ex.id, symbol, timeframe }))));
  await engine.warmUp(d.store, keys, d.clock.now());
  d.bus.subscribe('candle', engine.onCandle);
  d.bus.subscribe('indicator', writer.onEvent);
  return {
    name: 'indicators',
    names: engine.names,
    engine,
    writer,
    start: () => writer.start(),
    async stop() {
      engine.flush();
      await writer.stop();
    },
  };
}
