/** Recorded exchange frames under test/fixtures/<exchange>/, and a sink that records what a mapper makes of frames. */
import assert from 'node:assert/strict';
import type { EventSink, Mapper } from '../../src/exchanges/adapter.js';
import type { Kline, Trade } from '../../src/core/types.js';
import { readFixture } from './fixtures.js';

/**
 * The server frames of a recorded session in cryptofeed's capture format: `<unix seconds>: <frame>` lines, with
 * the receive time in epoch ms (client lines `URL <- ...` and the header `URL <-> ...` are skipped).
 */
export function captureFrames(exchange: string, name: string): { receivedAt: number; frame: string }[] {
  return readFixture(exchange, name)
    .split('\n')
    .filter((l) => /^\d+(\.\d+)?: /.test(l))
    .map((l) => {
      const at = l.indexOf(': ');
      return { receivedAt: Math.round(Number(l.slice(0, at)) * 1000), frame: l.slice(at + 2) };
    });
}

export interface Recorded {
  trades: Trade[];
  klines: Kline[];
  rejects: { reason: string; detail: string; frame: string }[];
  reconnects: string[];
}

/** Maps every frame (received at `receivedAt`, or at its own time) and records the sink calls; a throw fails the test. */
export function recordMapping(mapper: Mapper, frames: readonly (string | { frame: string; receivedAt: number })[], receivedAt = 1_800_000_000_000): Recorded {
  const r: Recorded = { trades: [], klines: [], rejects: [], reconnects: [] };
  const sink: EventSink = {
    trade: (t) => r.trades.push(t),
    kline: (k) => r.klines.push(k),
    reject: (reason, detail, frame) => r.rejects.push({ reason, detail, frame }),
    reconnect: (reason) => r.reconnects.push(reason),
  };
  for (const f of frames) {
    const [frame, at] = typeof f === 'string' ? [f, receivedAt] : [f.frame, f.receivedAt];
    assert.doesNotThrow(() => mapper.map(frame, at, sink), `map must not throw on ${frame.slice(0, 80)}`);
  }
  return r;
}
