/** The real Collector with the Kraken adapter against the simulated venue speaking Kraken v2 on loopback. */
import { systemClock } from '../../src/core/clock.js';
import type { GapEvent, Kline, Trade } from '../../src/core/types.js';
import type { ExchangeAdapter } from '../../src/exchanges/adapter.js';
import { kraken } from '../../src/exchanges/kraken/feed.js';
import { Collector } from '../../src/feed/collector.js';
import { MemoryBus } from '../../src/bus/memory.js';
import { SimulatedVenue, type VenueContext } from '../../src/demo/simulated-venue/venue.js';
import { krakenProtocol, type KrakenProtocolOptions } from '../../src/demo/simulated-venue/kraken.js';
import { log, testMetrics } from './harness.js';

export const SYMBOLS = ['BTC-USD', 'ETH-USD'];

export interface Rig {
  venue: SimulatedVenue;
  collector: Collector;
  bus: MemoryBus;
  metrics: ReturnType<typeof testMetrics>;
  trades: Trade[];
  klines: Kline[];
  gaps: GapEvent[];
  pings: { n: number };
  stop(): Promise<void>;
}

export async function rig(o: { adapter?: ExchangeAdapter; protocol?: KrakenProtocolOptions; staleAfterMs?: number; klines?: boolean } = {}): Promise<Rig> {
  const base = krakenProtocol({ heartbeatMs: 200, ...o.protocol });
  const pings = { n: 0 };
  const protocol = { ...base, onMessage: (s: Parameters<typeof base.onMessage>[0], text: string, ctx: VenueContext) => (text.includes('"ping"') && pings.n++, base.onMessage(s, text, ctx)) };
  const venue = new SimulatedVenue({ protocol, symbols: SYMBOLS, seed: 5, tradesPerSecond: 40 });
  const endpoints = await venue.start();
  const metrics = testMetrics();
  const bus = new MemoryBus(metrics.bus, log);
  const r = { trades: [] as Trade[], klines: [] as Kline[], gaps: [] as GapEvent[] };
  bus.subscribe('trade', (t) => void r.trades.push(t));
  bus.subscribe('kline', (k) => void r.klines.push(k));
  bus.subscribe('gap', (g) => void r.gaps.push(g));
  const collector = new Collector({
    adapter: o.adapter ?? kraken,
    endpoints,
    subscription: { symbols: SYMBOLS, timeframes: ['1m'], tradeStream: 'trade', klines: o.klines ?? false },
    staleAfterMs: o.staleAfterMs ?? 5_000,
    backoff: { initialMs: 50, maxMs: 200 },
    bus,
    clock: systemClock,
    metrics: metrics.feed,
    log,
  });
  collector.start();
  return { venue, collector, bus, metrics, ...r, pings, stop: async () => (await collector.stop(), await venue.stop()) };
}
