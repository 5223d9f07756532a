/**
 * The fast path of Coinbase's `match` / `last_match` frames (frame-scanner.ts): the fields the mapper reads,
 * without JSON.parse. Null for anything else: the mapper then parses the frame.
 */
import { Kind, scanFrame, shape } from '../frame-scanner.js';

const MATCH = shape(
  [
    { key: 'type', kind: Kind.Str },
    { key: 'trade_id', kind: Kind.Int },
    { key: 'side', kind: Kind.Str },
    { key: 'size', kind: Kind.Str },
    { key: 'price', kind: Kind.Str },
    { key: 'product_id', kind: Kind.Str },
    { key: 'time', kind: Kind.Str },
  ],
  (v) => ({ type: v[0], trade_id: v[1], side: v[2], size: v[3], price: v[4], product_id: v[5], time: v[6] }),
);

/** The fields of a compact match frame, or null. */
export function scanCoinbaseMatch(frame: string): Record<string, unknown> | null {
  const msg = scanFrame(frame, MATCH);
  return msg !== null && (msg.type === 'match' || msg.type === 'last_match') ? msg : null;
}
