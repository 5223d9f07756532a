/**
 * Wiring of the indicators: IndicatorEngine on candle events, warmed up from the store, publishing `indicator`
 * events that the IndicatorWriter stores and (embedded role) the LiveHub pushes to /ws subscribers.
 *
 * Two modes. Default (embedded, in-process bus): candles come from the bus, indicator events go onto the bus
 * and reach the writer and the LiveHub by subscription. `direct` (process role, Kafka bus, which does not loop
 * a role's own messages back to it): the caller feeds candles to `onCandle`; each indicator event is stored
 * by the writer and published on the bus for the serve role's /ws.
 */
import type { Bus } from '../bus/bus.js';
import type { Clock } from '../core/clock.js';
import type { Config } from '../config/config.js';
import type { CandleEvent, IndicatorEvent } from '../core/types.js';
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
  /** Stores the indicator values (null when indicators are off); its status() counts failed writes. */
  writer: IndicatorWriter | null;
  /** Feeds a candle event to the engine (used in `direct` mode; a no-op when indicators are off). */
  onCandle(e: CandleEvent): void;
  start(): void;
  stop(): Promise<void>;
}

export interface IndicatorsDeps {
  config: Config;
  store: Store;
  bus: Bus;
  /** Pushes indicator events to /ws subscribers (default mode only). */
  live?: LiveHub;
  /** Candles come in through `onCandle`, events are stored directly and then published (see above). */
  direct?: boolean;
  clock: Clock;
  metrics: Metrics;
  log: Logger;
}

/** Builds, warms up (from the last stored candles of every series) and subscribes the indicators. */
export async function setupIndicators(d: IndicatorsDeps): Promise<IndicatorsRuntime> {
  const ic = d.config.indicators;
  if (!ic.enabled || ic.specs.length === 0) return { names: [], engine: null, writer: null, onCandle() {}, start() {}, async stop() {} };
  const log = d.log.child({ component: 'indicators' });
  const writer = new IndicatorWriter({ store: d.store, clock: d.clock, metrics: d.metrics.store, log, flushMs: d.config.store.flushMs });
  const emit = d.direct
    ? (e: IndicatorEvent) => {
        writer.onEvent(e);
        d.bus.publish('indicator', e);
      }
    : (e: IndicatorEvent) => d.bus.publish('indicator', e);
  const engine = new IndicatorEngine({ specs: ic.specs, forming: ic.forming, history: ic.history, metrics: d.metrics.indicators, log, emit });
  const keys: SeriesKey[] = d.config.exchanges.flatMap((ex) => ex.symbols.flatMap((symbol) => d.config.timeframes.map((timeframe) => ({ exchange: ex.id, symbol, timeframe }))));
  await engine.warmUp(d.store, keys, d.clock.now());
  if (!d.direct) {
    d.bus.subscribe('candle', engine.onCandle);
    d.bus.subscribe('indicator', writer.onEvent);
    if (d.live) d.bus.subscribe('indicator', d.live.onIndicator);
  }
  return {
    names: engine.names,
    engine,
    writer,
    onCandle: engine.onCandle,
    start: () => writer.start(),
    async stop() {
      engine.flush();
      await writer.stop();
    },
  };
}
