/**
 * Wiring of the indicators into the embedded role: IndicatorEngine on candle events, warmed up from the store,
 * publishing `indicator` events that the IndicatorWriter stores and the LiveHub pushes to /ws subscribers.
 */
import type { Bus } from '../bus/bus.js';
import type { Clock } from '../core/clock.js';
import type { Config } from '../config/config.js';
import type { LiveHub } from '../api/live-ws.js';
import { IndicatorEngine, type SeriesKey } from '../pipeline/indicators/engine.js';
import { IndicatorWriter } from '../store/indicator-writer.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';

export interface IndicatorsRuntime {
  /** Configured indicator names (empty when indicators are off). */
  names: string[];
  engine: IndicatorEngine | null;
  start(): void;
  stop(): Promise<void>;
}

export interface IndicatorsDeps {
  config: Config;
  store: Store;
  bus: Bus;
  live: LiveHub;
  clock: Clock;
  metrics: Metrics;
  log: Logger;
}

/** Builds, warms up (from the last stored candles of every series) and subscribes the indicators. */
export async function setupIndicators(d: IndicatorsDeps): Promise<IndicatorsRuntime> {
  const ic = d.config.indicators;
  if (!ic.enabled || ic.specs.length === 0) return { names: [], engine: null, start() {}, async stop() {} };
  const log = d.log.child({ component: 'indicators' });
  const engine = new IndicatorEngine({ specs: ic.specs, forming: ic.forming, history: ic.history, metrics: d.metrics, log, emit: (e) => d.bus.publish('indicator', e) });
  const writer = new IndicatorWriter({ store: d.store, clock: d.clock, metrics: d.metrics, log, flushMs: d.config.store.flushMs });
  const keys: SeriesKey[] = d.config.exchanges.flatMap((ex) => ex.symbols.flatMap((symbol) => d.config.timeframes.map((timeframe) => ({ exchange: ex.id, symbol, timeframe }))));
  await engine.warmUp(d.store, keys, d.clock.now());
  d.bus.subscribe('candle', engine.onCandle);
  d.bus.subscribe('indicator', writer.onEvent);
  d.bus.subscribe('indicator', d.live.onIndicator);
  return {
    names: engine.names,
    engine,
    start: () => writer.start(),
    async stop() {
      engine.flush();
      await writer.stop();
    },
  };
}
