/** Candles the offline builder (`candlestack candles`) computes from every trade the simulated exchange made: the reference end-to-end tests compare served candles with. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { candlesCommand } from '../../src/cli/candles-command.js';
import type { SimTrade } from '../../src/demo/simulated-binance/server.js';
import { defaultConfig, type Config } from '../../src/config/config.js';

/** open_time -> [open, high, low, close, volume] of every 1s period of `symbol`. */
export async function offlineCandles(trades: readonly SimTrade[], symbol: string, dir: string): Promise<Map<number, string[]>> {
  // Binance trades dump layout: id, price, qty, quote qty, time, buyer-was-maker, best-match
  const file = join(dir, `${symbol}-trades.csv`);
  writeFileSync(file, trades.filter((t) => t.symbol === symbol).map((t) => `${t.id},${t.price},${t.qty},0,${t.time},${t.buyerIsMaker ? 'True' : 'False'},True`).join('\n') + '\n');
  let out = '';
  const stdout = new Writable({ write: (chunk, _e, cb) => ((out += chunk), cb()) });
  const stderr = new Writable({ write: (_c, _e, cb) => cb() });
  const result = await candlesCommand({ input: file, format: 'binance-trades-csv', symbol, timeframe: '1s' }, { stdout, stderr });
  assert.equal(result.exitCode, 0);
  const rows = out.trim().split('\n').slice(1).map((l) => l.split(','));
  return new Map(rows.map((r) => [Number(r[0]), r.slice(1, 6)]));
}

/** A fast config for end-to-end runs against the simulated exchange: 1s candles, short grace, quick reconnects. */
export function e2eConfig(endpoints: { wsBaseUrl: string; restBaseUrl: string }, storeUrl: string, symbols = ['BTCUSDT', 'ETHUSDT']): Config {
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
