/**
 * Bench 1: ingest vs its ceiling. Raw Binance trade frames through the live path (Collector.handleFrame:
 * parse -> validate -> id continuity -> metrics -> bus -> candles on 6 timeframes) against a loop that only
 * JSON.parses the same frames.
 */
import type { Clock } from '../src/core/clock.js';
import { MemoryBus } from '../src/bus/memory.js';
import { binance } from '../src/exchanges/binance/feed.js';
import { Collector } from '../src/feed/collector.js';
import { CandleEngine } from '../src/pipeline/candle-engine.js';
import { createMetrics, createRegistry } from '../src/telemetry/metrics.js';
import { silentLogger } from '../src/telemetry/logger.js';
import type { Timeframe } from '../src/core/timeframe.js';
import { makeWorkload, opsPerSecond, type Workload } from './workload.js';

export const TIMEFRAMES: Timeframe[] = ['1m', '5m', '15m', '1h', '4h', '1d'];

/** The live ingest path, wired as in the embedded role but without sockets. */
export function ingestPipeline(w: Workload) {
  let now = w.trades[0]!.time;
  const clock: Clock = { now: () => now, setTimeout: () => ({ cancel() {} }), setInterval: () => ({ cancel() {} }) };
  const metrics = createMetrics(createRegistry({ defaults: false }));
  const log = silentLogger();
  const bus = new MemoryBus(metrics.bus, log);
  let candleEvents = 0;
  const engine = new CandleEngine({ timeframes: TIMEFRAMES, graceMs: 2000, latePolicy: 'drop', clock, metrics, log, emit: (e) => bus.publish('candle', e) });
  bus.subscribe('trade', (t) => void engine.onTrade(t));
  bus.subscribe('candle', () => void candleEvents++);
  const collector = new Collector({
    adapter: binance,
    endpoints: binance.defaultEndpoints,
    subscription: { symbols: w.symbols, timeframes: TIMEFRAMES, tradeStream: 'trade', klines: false },
    staleAfterMs: 30_000,
    backoff: { initialMs: 1000, maxMs: 60_000 },
    bus,
    clock,
    metrics: metrics.feed,
    log,
  });
  return {
    metrics,
    engine,
    bus,
    run(frames: readonly string[], receivedAt: readonly number[]) {
      for (let i = 0; i < frames.length; i++) {
        now = receivedAt[i]!;
        collector.handleFrame(frames[i]!, now);
      }
      engine.tick(now);
      return candleEvents;
    },
  };
}

export function benchIngest(count = 200_000, symbols = 1000) {
  const w = makeWorkload(count, symbols, 10_000);
  const receivedAt = w.trades.map((t) => t.receivedAt);
  let sink = 0;
  const ceiling = opsPerSecond(count, () => {
    for (const f of w.frames) sink += (JSON.parse(f) as { data: { t: number } }).data.t & 1;
  });
  const full = opsPerSecond(count, () => {
    sink += ingestPipeline(w).run(w.frames, receivedAt);
  });
  if (sink === -1) console.log('unreachable');
  return { ceiling, full, ratio: full / ceiling, frameBytes: Math.round(w.frames.reduce((n, f) => n + f.length, 0) / count) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(benchIngest()));
}
