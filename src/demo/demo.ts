/**
 * Composition root of `candlestack demo`: one simulated exchange per configured exchange on loopback (Binance's
 * own simulator, the others on SimulatedVenue with their protocol), and the same embedded pipeline as `run`
 * pointed at them. The collectors do not know it is a demo: only the endpoints differ. Every venue runs the
 * same seeded price process over the same symbols, so prices agree across exchanges as real ones do.
 */
import { rmSync } from 'node:fs';
import type { Clock, Timer } from '../core/clock.js';
import type { Config, ExchangeConfig } from '../config/config.js';
import { startEmbedded, type Embedded } from '../app/embedded.js';
import type { RoleDeps } from '../app/parts.js';
import { adapterFor } from '../exchanges/index.js';
import type { Logger } from '../telemetry/logger.js';
import type { Tracing } from '../telemetry/tracing.js';
import { SimulatedBinance } from './simulated-binance/server.js';
import { DEFAULT_SYMBOLS } from './simulated-binance/price-process.js';
import { SimulatedVenue } from './simulated-venue/venue.js';
import { VENUE_PROTOCOLS } from './simulated-venue/protocols.js';

export const DEMO_STORE = 'sqlite:data/demo.db';

/** The simulator's default listings, canonical. */
export const DEMO_SYMBOLS: readonly string[] = DEFAULT_SYMBOLS.map((s) => adapterFor('binance').symbols.toCanonical(s) ?? s);

export interface DemoOptions {
  /** Trades per second over all symbols (per exchange). */
  rate: number;
  seed: number;
  /** Inject failures now and then (dropped connections, dropped messages, stalls) to show recovery. */
  chaos: boolean;
  /** Whether --symbols / --store came from the user (else the simulator's symbols and a fresh demo db). */
  symbolsGiven: boolean;
  storeGiven: boolean;
}

/** What the demo (and chaos) drive on any simulated exchange. Symbols are canonical. */
export interface DemoVenue {
  readonly exchange: string;
  dropConnections(): void;
  skipTradeIds(symbol: string, n: number): void;
  pauseStreams(ms: number): void;
  stop(): Promise<void>;
}

export interface Demo extends Embedded {
  /** The simulated Binance, when Binance is one of the demo's exchanges (tests drive it directly). */
  sim: SimulatedBinance | null;
  venues: DemoVenue[];
}

export async function startDemo(config: Config, options: DemoOptions, deps: { clock: Clock; log: Logger; version: string; tracing?: Tracing; lokiLogs?: RoleDeps['lokiLogs'] }): Promise<Demo> {
  const venues: DemoVenue[] = [];
  const exchanges: ExchangeConfig[] = [];
  let binanceSim: SimulatedBinance | null = null;
  try {
    for (const ex of config.exchanges) {
      const symbols = options.symbolsGiven ? ex.symbols : [...DEMO_SYMBOLS];
      const started = await startVenue(ex.id, symbols, options);
      if (started.binance) binanceSim = started.binance;
      venues.push(started.venue);
      deps.log.info({ component: 'demo', exchange: ex.id, ...started.endpoints, symbols, tradesPerSecond: options.rate }, 'simulated exchange listening on loopback');
      exchanges.push({ ...ex, symbols, wsUrl: started.endpoints.wsBaseUrl, restUrl: started.endpoints.restBaseUrl });
    }
  } catch (err) {
    await Promise.all(venues.map((v) => v.stop()));
    throw err;
  }
  const demoConfig: Config = { ...config, exchanges };
  if (!options.storeGiven) {
    demoConfig.store = { ...config.store, url: DEMO_STORE };
    const path = DEMO_STORE.slice('sqlite:'.length);
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  }
  let app: Embedded;
  try {
    app = await startEmbedded(demoConfig, { ...deps, role: 'demo' });
  } catch (err) {
    await Promise.all(venues.map((v) => v.stop()));
    throw err;
  }
  const symbols = exchanges[0]?.symbols ?? [];
  const chaos: Timer | null = options.chaos ? startChaos(venues, symbols, deps.clock, deps.log) : null;
  return {
    ...app,
    sim: binanceSim,
    venues,
    async stop() {
      chaos?.cancel();
      await app.stop();
      await Promise.all(venues.map((v) => v.stop()));
    },
  };
}

async function startVenue(exchange: string, symbols: readonly string[], o: DemoOptions): Promise<{ venue: DemoVenue; endpoints: { wsBaseUrl: string; restBaseUrl: string }; binance?: SimulatedBinance }> {
  if (exchange === 'binance') {
    const codec = adapterFor('binance').symbols;
    const sim = new SimulatedBinance({ seed: o.seed, tradesPerSecond: o.rate, symbols: symbols.map((s) => codec.toNative(s)) });
    const endpoints = await sim.start();
    const venue: DemoVenue = {
      exchange,
      dropConnections: () => sim.dropConnections(),
      skipTradeIds: (symbol, n) => sim.skipTradeIds(codec.toNative(symbol), n),
      pauseStreams: (ms) => sim.pauseStreams(ms),
      stop: () => sim.stop(),
    };
    return { venue, endpoints, binance: sim };
  }
  const protocol = VENUE_PROTOCOLS[exchange];
  if (!protocol) throw new Error(`the demo has no simulated ${exchange} exchange`);
  const sim = new SimulatedVenue({ protocol: protocol(), symbols, seed: o.seed, tradesPerSecond: o.rate });
  const endpoints = await sim.start();
  const venue: DemoVenue = {
    exchange,
    dropConnections: () => sim.dropConnections(),
    skipTradeIds: (symbol, n) => sim.skipTradeIds(symbol, n),
    pauseStreams: (ms) => sim.pauseStreams(ms),
    stop: () => sim.stop(),
  };
  return { venue, endpoints };
}

/** Every 45 s one failure a real feed sees, on one exchange after another: a dropped connection, dropped messages, or a stall. */
function startChaos(venues: readonly DemoVenue[], symbols: readonly string[], clock: Clock, log: Logger): Timer {
  let n = 0;
  return clock.setInterval(() => {
    const venue = venues[n % venues.length]!;
    const symbol = symbols[n % symbols.length]!;
    const action = ['drop connections', `skip 5 trade ids of ${symbol}`, 'stall streams for 40 s'][n++ % 3]!;
    log.warn({ component: 'demo', exchange: venue.exchange, action }, 'chaos: injecting a failure');
    if (action.startsWith('drop')) venue.dropConnections();
    else if (action.startsWith('skip')) venue.skipTradeIds(symbol, 5);
    else venue.pauseStreams(40_000);
  }, 45_000);
}
