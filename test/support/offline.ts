/** The reference candles for end-to-end tests: the offline builder run over every trade the simulated exchange made. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { SimTrade } from '../../src/demo/simulated-binance/server.js';
import { candlesCommand } from '../../src/cli/candles-command.js';

/** open_time -> [open, high, low, close, volume, quote_volume, trade_count] of the 1s candles of canonical `symbol` (BTC-USDT). */
export async function offlineCandles(trades: readonly SimTrade[], symbol: string, dir: string): Promise<Map<number, string[]>> {
  // Binance trades dump layout: id, price, qty, quote qty, time, buyer-was-maker, best-match
  const native = symbol.replace('-', ''); // the simulated Binance's trades carry Binance's spelling
  const file = join(dir, `${native}-trades.csv`);
  writeFileSync(file, trades.filter((t) => t.symbol === native).map((t) => `${t.id},${t.price},${t.qty},0,${t.time},${t.buyerIsMaker ? 'True' : 'False'},True`).join('\n') + '\n');
  let out = '';
  const stdout = new Writable({ write: (chunk, _e, cb) => ((out += chunk), cb()) });
  const stderr = new Writable({ write: (_c, _e, cb) => cb() });
  const result = await candlesCommand({ input: file, format: 'binance-trades-csv', symbol, timeframe: '1s' }, { stdout, stderr });
  assert.equal(result.exitCode, 0);
  const rows = out.trim().split('\n').slice(1).map((l) => l.split(','));
  return new Map(rows.map((r) => [Number(r[0]), r.slice(1, 8)]));
}

export interface ComparableCandle {
  openTime: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  quoteVolume: string;
  tradeCount: number;
  closed: boolean;
}

export const comparable = (c: ComparableCandle) => [c.open, c.high, c.low, c.close, c.volume, c.quoteVolume, String(c.tradeCount)];

/**
 * Asserts that every closed candle in [from, to) equals the offline one and that no period in between is
 * missing. Returns how many were compared.
 */
export function assertSameCandles(label: string, got: ComparableCandle[], expected: Map<number, string[]>, from: number, to: number): number {
  const inRange = got.filter((c) => c.openTime >= from && c.openTime < to);
  const opens = inRange.map((c) => c.openTime);
  assert.equal(new Set(opens).size, opens.length, `${label}: no duplicate periods`);
  for (let t = from; t < to; t += 1000) assert.ok(opens.includes(t), `${label}: period ${new Date(t).toISOString()} present`);
  for (const c of inRange) {
    assert.ok(c.closed, `${label}: ${new Date(c.openTime).toISOString()} closed`);
    const want = expected.get(c.openTime);
    assert.ok(want, `${label}: offline has ${new Date(c.openTime).toISOString()}`);
    assert.deepEqual(comparable(c), want, `${label}: ${new Date(c.openTime).toISOString()}`);
  }
  return inRange.length;
}
