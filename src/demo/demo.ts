/**
 * Composition root of `candlestack demo`: a simulated Binance on loopback, and the same embedded pipeline
 * as `run` pointed at it. The collector does not know it is a demo: only the endpoints differ.
 */
import { rmSync } from 'node:fs';
import type { Clock, Timer } from '../core/clock.js';
import type { Config } from '../config/config.js';
import { startEmbedded, type Embedded } from '../app/embedded.js';
import type { Logger } from '../telemetry/logger.js';
import { SimulatedBinance } from './simulated-binance/server.js';

export const DEMO_STORE = 'sqlite:data/demo.db';

export interface DemoOptions {
  /** Trades per second over all symbols. */
  rate: number;
  seed: number;
  /** Inject failures now and then (dropped connections, dropped messages, stalls) to show recovery. */
  chaos: boolean;
  /** Whether --symbols / --store came from the user (else the simulator's symbols and a fresh demo db). */
  symbolsGiven: boolean;
  storeGiven: boolean;
}

export interface Demo extends Embedded {
  sim: SimulatedBinance;
}

export async function startDemo(config: Config, options: DemoOptions, deps: { clock: Clock; log: Logger; version: string }): Promise<Demo> {
  const sim = new SimulatedBinance({ seed: options.seed, tradesPerSecond: options.rate, ...(options.symbolsGiven ? { symbols: config.exchanges[0]!.symbols } : {}) });
  const { wsBaseUrl, restBaseUrl } = await sim.start();
  deps.log.info({ component: 'demo', wsBaseUrl, restBaseUrl, symbols: sim.symbols, tradesPerSecond: options.rate }, 'simulated Binance listening on loopback');
  const binance = { ...config.exchanges[0]!, id: 'binance' as const, symbols: sim.symbols, wsUrl: wsBaseUrl, restUrl: restBaseUrl };
  const demoConfig: Config = { ...config, exchanges: [binance] };
  if (!options.storeGiven) {
    demoConfig.store = { ...config.store, url: DEMO_STORE };
    const path = DEMO_STORE.slice('sqlite:'.length);
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  }
  let app: Embedded;
  try {
    app = await startEmbedded(demoConfig, { ...deps, role: 'demo' });
  } catch (err) {
    await sim.stop();
    throw err;
  }
  const chaos: Timer | null = options.chaos ? startChaos(sim, deps.clock, deps.log) : null;
  return {
    ...app,
    sim,
    async stop() {
      chaos?.cancel();
      await app.stop();
      await sim.stop();
    },
  };
}

/** Every 45 s one failure a real feed sees: a dropped connection, dropped messages, or a stall. */
function startChaos(sim: SimulatedBinance, clock: Clock, log: Logger): Timer {
  let n = 0;
  return clock.setInterval(() => {
    const symbol = sim.symbols[n % sim.symbols.length]!;
    const action = ['drop connections', `skip 5 trade ids of ${symbol}`, 'stall streams for 40 s'][n++ % 3]!;
    log.warn({ component: 'demo', action }, 'chaos: injecting a failure');
    if (action.startsWith('drop')) sim.dropConnections();
    else if (action.startsWith('skip')) sim.skipTradeIds(symbol, 5);
    else sim.pauseStreams(40_000);
  }, 45_000);
}
