/**
 * The fast path of Kraken v2 `trade` frames (frame-scanner.ts): the fields of each trade the mapper reads, and
 * the exact texts of the price and qty numbers in the same scan (what rawNumbers in numbers.ts reads from a
 * parsed frame), without JSON.parse. Null for anything else: the mapper then parses the frame.
 */
import { Kind, scanFrame, shape } from '../frame-scanner.js';

const TRADE = shape(
  [
    { key: 'symbol', kind: Kind.Str },
    { key: 'side', kind: Kind.Str },
    { key: 'price', kind: Kind.Num }, // texts slot 0, as TRADE_KEYS in mapper.ts
    { key: 'qty', kind: Kind.Num }, // slot 1
    { key: 'trade_id', kind: Kind.Int },
    { key: 'timestamp', kind: Kind.Str },
  ],
  (v) => ({ symbol: v[0], side: v[1], price: v[2], qty: v[3], trade_id: v[4], timestamp: v[5] }),
);
const FRAME = shape(
  [
    { key: 'channel', kind: Kind.Str },
    { key: 'data', kind: Kind.ObjArray, nested: TRADE },
  ],
  (v) => ({ channel: v[0], data: v[1] }),
);

/**
 * `{channel, data}` of a compact trade frame, or null; `texts` gets each entry's price and qty texts
 * (`texts[2 * i]`, `texts[2 * i + 1]`, '' when absent).
 */
export function scanKrakenTrades(frame: string, texts: string[]): Record<string, unknown> | null {
  const msg = scanFrame(frame, FRAME, texts);
  return msg !== null && msg.channel === 'trade' && msg.data !== undefined ? msg : null;
}
