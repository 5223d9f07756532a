/**
 * Deterministic benchmark inputs: realistic Binance trade frames (combined-stream wrapper, 8-decimal strings,
 * consecutive ids per symbol) over many symbols, and the same trades normalized.
 */
import type { Trade } from '../src/core/types.js';
import { mulberry32 } from '../src/core/random.js';

export { mulberry32 };

export interface Workload {
  frames: string[];
  trades: Trade[];
  symbols: string[];
}

/**
 * A frame as the WebSocket hands it to the collector (src/feed/connection.ts: `data.toString()` of the socket's
 * bytes): a flat string. A string built by concatenation or a template literal is a rope (a cons string) in V8;
 * JSON.parse flattens it once, but every `charCodeAt` of a frame scanner pays the indirection (150-300 ns per
 * frame here), so frames built in the bench would favour the JSON.parse baseline over the live path.
 */
export function asReceived(frame: string): string {
  return Buffer.from(frame, 'utf8').toString('utf8');
}

/** `count` trades spread over `symbols` symbols, `perSecond` trades per second of exchange time. */
export function makeWorkload(count: number, symbolCount: number, perSecond: number, seed = 42): Workload {
  const rnd = mulberry32(seed);
  const symbols = Array.from({ length: symbolCount }, (_, i) => `S${String(i).padStart(4, '0')}USDT`);
  const price = symbols.map(() => 10 + rnd() * 50_000);
  const nextId = symbols.map((_, i) => 1_000_000 * (i + 1));
  const start = Date.UTC(2024, 0, 1);
  const frames: string[] = new Array(count);
  const trades: Trade[] = new Array(count);
  for (let n = 0; n < count; n++) {
    const i = Math.floor(rnd() * symbolCount);
    price[i] = Math.max(0.01, price[i]! * (1 + (rnd() - 0.5) * 0.002));
    const p = price[i]!.toFixed(2) + '000000';
    const q = (rnd() * 2).toFixed(5) + '000';
    const time = start + Math.floor((n * 1000) / perSecond);
    const id = nextId[i]!++;
    const m = rnd() < 0.5;
    const s = symbols[i]!;
    frames[n] = asReceived(`{"stream":"${s.toLowerCase()}@trade","data":{"e":"trade","E":${time + 1},"s":"${s}","t":${id},"p":"${p}","q":"${q}","T":${time},"m":${m},"M":true}}`);
    trades[n] = { type: 'trade', exchange: 'binance', symbol: s, id, price: p, qty: q, side: m ? 'sell' : 'buy', count: 1, time, receivedAt: time + 2 };
  }
  return { frames, trades, symbols };
}

/** Runs `fn` until at least `minMs` have passed (after one warm-up run); returns operations per second. */
export function opsPerSecond(ops: number, fn: () => void, minMs = 1500): number {
  fn();
  let runs = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  do {
    fn();
    runs++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  } while (elapsed < minMs);
  return (ops * runs) / (elapsed / 1000);
}

export async function opsPerSecondAsync(ops: number, fn: () => Promise<void>, minMs = 1500): Promise<number> {
  await fn();
  let runs = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  do {
    await fn();
    runs++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  } while (elapsed < minMs);
  return (ops * runs) / (elapsed / 1000);
}
