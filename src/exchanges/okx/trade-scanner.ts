/**
 * The fast path of OKX's `trades` / `trades-all` pushes (frame-scanner.ts): the channel and the fields of each
 * trade the mapper reads, without JSON.parse. Null for anything else: the mapper then parses the frame.
 */
import { Kind, scanFrame, shape } from '../frame-scanner.js';

const TRADE = shape(
  [
    { key: 'instId', kind: Kind.Str },
    { key: 'tradeId', kind: Kind.Str },
    { key: 'px', kind: Kind.Str },
    { key: 'sz', kind: Kind.Str },
    { key: 'side', kind: Kind.Str },
    { key: 'ts', kind: Kind.Str },
    { key: 'count', kind: Kind.Str },
  ],
  (v) => ({ instId: v[0], tradeId: v[1], px: v[2], sz: v[3], side: v[4], ts: v[5], count: v[6] }),
);
const ARG = shape(
  [
    { key: 'channel', kind: Kind.Str },
    { key: 'instId', kind: Kind.Str },
  ],
  (v) => ({ channel: v[0], instId: v[1] }),
);
const FRAME = shape(
  [
    { key: 'arg', kind: Kind.Obj, nested: ARG },
    { key: 'data', kind: Kind.ObjArray, nested: TRADE },
  ],
  (v) => ({ arg: v[0], data: v[1] }),
);

/** The `data` entries of a compact trades push, or null. */
export function scanOkxTrades(frame: string): Record<string, unknown>[] | null {
  const msg = scanFrame(frame, FRAME);
  if (msg === null || msg.data === undefined || msg.arg === undefined) return null;
  const channel = (msg.arg as Record<string, unknown>).channel;
  return channel === 'trades-all' || channel === 'trades' ? (msg.data as Record<string, unknown>[]) : null;
}
