/** The reference candles and config for end-to-end runs against the simulated exchange. */
import type { SimTrade } from '../../src/demo/simulated-binance/server.js';
import { defaultConfig, type Config } from '../../src/config/config.js';
import { offlineCandles as offlineCandleRows } from './offline.js';

/** open_time -> [open, high, low, close, volume] of every 1s period of canonical `symbol`, from every trade the simulated exchange made. */
export async function offlineCandles(trades: readonly SimTrade[], symbol: string, dir: string): Promise<Map<number, string[]>> {
  const rows = await offlineCandleRows(trades, symbol, dir);
  return new Map([...rows].map(([t, r]) => [t, r.slice(0, 5)]));
}

/** A fast config for end-to-end runs against the simulated exchange: 1s candles, short grace, quick reconnects. */
export function e2eConfig(endpoints: { wsBaseUrl: string; restBaseUrl: string }, storeUrl: string, symbols = ['BTC-USDT', 'ETH-USDT']): Config {
  const base = defaultConfig();
  return {
    ...base,
    exchanges: [{ ...base.exchanges[0]!, symbols, wsUrl: endpoints.wsBaseUrl, restUrl: endpoints.restBaseUrl }],
    timeframes: ['1s', '1m'],
    candles: { graceMs: 300, latePolicy: 'drop', tickMs: 50 },
    feed: { staleAfterMs: 5_000, backoffInitialMs: 100, backoffMaxMs: 500 },
    store: { url: storeUrl, flushMs: 100 },
    http: { host: '127.0.0.1', port: 0 },
  };
}
