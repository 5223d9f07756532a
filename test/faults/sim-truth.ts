/**
 * The truth the fault tests compare candles against: the simulated exchange's own klines (every trade it made,
 * sent or not, aggregated exactly), read over its REST API as any client would. Loaded by the fault tests;
 * does nothing on its own.
 */
import type { Timeframe } from '../../src/core/timeframe.js';

/** open time -> [open, high, low, close, volume, trade count] */
export type KlineTruth = Map<number, string[]>;

export interface ComparedCandle {
  readonly openTime: number;
  readonly open: string;
  readonly high: string;
  readonly low: string;
  readonly close: string;
  readonly volume: string;
  readonly tradeCount: number;
  readonly closed: boolean;
}

/** The simulator's klines of `nativeSymbol` (BTCUSDT) on `interval` whose open time is in [from, to). */
export async function simKlines(restBaseUrl: string, nativeSymbol: string, interval: Timeframe, from: number, to: number): Promise<KlineTruth> {
  const out: KlineTruth = new Map();
  let start = from;
  while (start < to) {
    const url = `${restBaseUrl}/api/v3/klines?symbol=${nativeSymbol}&interval=${interval}&startTime=${start}&endTime=${to - 1}&limit=1000`;
    const res = await fetch(url);
    if (!res.ok) throw new Error(`simulator klines ${url}: HTTP ${res.status} ${await res.text()}`);
    const rows = (await res.json()) as (string | number)[][];
    if (rows.length === 0) break;
    for (const r of rows) out.set(Number(r[0]), [String(r[1]), String(r[2]), String(r[3]), String(r[4]), String(r[5]), String(r[8])]);
    start = Number(rows.at(-1)![0]) + 1;
  }
  return out;
}

export const candleRow = (c: ComparedCandle): string[] => [c.open, c.high, c.low, c.close, c.volume, String(c.tradeCount)];

/**
 * Closed candles that differ from the simulator's kline of their period, or that it has no kline for (a
 * stored candle for a period the exchange never had). Returns descriptions of the wrong ones.
 */
export function wrongCandles(label: string, candles: readonly ComparedCandle[], truth: KlineTruth): string[] {
  const wrong: string[] = [];
  for (const c of candles) {
    if (!c.closed) continue;
    const want = truth.get(c.openTime);
    const got = candleRow(c);
    if (!want) wrong.push(`${label} ${new Date(c.openTime).toISOString()}: no such kline at the exchange`);
    else if (want.join() !== got.join()) wrong.push(`${label} ${new Date(c.openTime).toISOString()}: stored ${got.join(' ')} exchange ${want.join(' ')}`);
  }
  return wrong;
}
