/**
 * The fast path of Bybit's `publicTrade.<SYMBOL>` frames (frame-scanner.ts): the topic and the fields of each
 * trade the mapper reads, without JSON.parse. Null for anything else: the mapper then parses the frame.
 */
import { Kind, scanFrame, shape } from '../frame-scanner.js';

const TRADE = shape(
  [
    { key: 'T', kind: Kind.Int },
    { key: 's', kind: Kind.Str },
    { key: 'S', kind: Kind.Str },
    { key: 'v', kind: Kind.Str },
    { key: 'p', kind: Kind.Str },
    { key: 'i', kind: Kind.Str },
  ],
  (v) => ({ T: v[0], s: v[1], S: v[2], v: v[3], p: v[4], i: v[5] }),
);
const FRAME = shape(
  [
    { key: 'topic', kind: Kind.Str },
    { key: 'data', kind: Kind.ObjArray, nested: TRADE },
  ],
  (v) => ({ topic: v[0], data: v[1] }),
);

/** `{topic, data}` of a compact publicTrade frame, or null. */
export function scanBybitTrades(frame: string): Record<string, unknown> | null {
  const msg = scanFrame(frame, FRAME);
  return msg !== null && typeof msg.topic === 'string' && msg.topic.startsWith('publicTrade.') ? msg : null;
}
