/**
 * Differential check of a mapper's fast path (a frame scanner, src/exchanges/frame-scanner.ts) against its
 * JSON.parse path: for every frame, the events and rejections the mapper produces must be equal. The reference
 * is the same frame with a leading space, which JSON.parse accepts and no scanner takes.
 */
import assert from 'node:assert/strict';
import type { Mapper } from '../../src/exchanges/adapter.js';
import type { VenueProtocol, VenueTrade } from '../../src/demo/simulated-venue/venue.js';
import { mulberry32 } from '../../src/core/random.js';

const RECEIVED_AT = Date.UTC(2027, 0, 1);

/** Everything the mapper told the sink, in order (the frame itself is left out of rejects: it differs by a space). */
export function mapped(mapper: Mapper, frame: string, receivedAt = RECEIVED_AT): unknown[] {
  const out: unknown[] = [];
  mapper.map(frame, receivedAt, {
    trade: (t) => out.push(['trade', t]),
    kline: (k) => out.push(['kline', k]),
    reject: (reason, detail) => out.push(['reject', reason, detail]),
    reconnect: (reason) => out.push(['reconnect', reason]),
  });
  return out;
}

export function assertSameAsJsonParse(mapper: Mapper, frame: string): void {
  assert.deepEqual(mapped(mapper, frame), mapped(mapper, ` ${frame}`), `fast path differs on ${JSON.stringify(frame.slice(0, 400))}`);
}

/** Pieces inserted by the mutations: whitespace, escapes, other types, nesting, numbers JSON.parse reads differently. */
const PIECES = [' ', '\\', '"', '\\"', '\\u0041', '.5', 'e3', 'E-2', '-', '+', '{', '}', '[', ']', '[1]', '{"a":1}', ',', ':', 'null', 'true', 'false', '0', '00', '9007199254740993', '1.0', '""', '\u0001', '\u00e9', '"x":1,'];

/**
 * `count` seeded mutations of `bases` (insertions of PIECES and of `extra`, deletions, truncations, duplicated
 * fields): each must map the same on both paths. Returns how many the fast path still took (`taken(frame)`).
 */
export function mutationsAgree(mapper: Mapper, bases: readonly string[], extra: readonly string[], taken: (frame: string) => boolean, count: number, seed: number): number {
  const rnd = mulberry32(seed);
  const pieces = [...PIECES, ...extra];
  let n = 0;
  for (let k = 0; k < count; k++) {
    let f = bases[Math.floor(rnd() * bases.length)]!;
    for (let steps = 1 + Math.floor(rnd() * 3); steps > 0; steps--) {
      const at = Math.floor(rnd() * (f.length + 1));
      const kind = rnd();
      if (kind < 0.45) f = f.slice(0, at) + pieces[Math.floor(rnd() * pieces.length)] + f.slice(at);
      else if (kind < 0.8) f = f.slice(0, at) + f.slice(at + 1 + Math.floor(rnd() * 4));
      else if (kind < 0.9) f = f.slice(0, at); // truncated
      else {
        // a "key":value field copied elsewhere (duplicate or reordered key)
        const m = /"[a-zA-Z_]+":("[^"]*"|[0-9.]+)/.exec(f.slice(at));
        if (m) {
          const to = Math.floor(rnd() * f.length);
          f = f.slice(0, to) + m[0] + ',' + f.slice(to);
        }
      }
    }
    if (taken(f)) n++;
    assertSameAsJsonParse(mapper, f);
  }
  return n;
}

/**
 * Trade frames as the simulated venue writes them, for `count` seeded trades with varied prices and quantities:
 * plain, long, integral and tiny decimals, zero quantities, ids from 0 to 2^53 - 1.
 */
export function venueFrames(protocol: VenueProtocol, symbols: readonly string[], count: number, seed: number): string[] {
  const rnd = mulberry32(seed);
  const decimals = ['0.00000001', '1', '10', '0', '0.0', '123456789012345', '0.000000005', '42000.12000000', '1.5', '99999.99999999'];
  const decimal = (): string => (rnd() < 0.2 ? decimals[Math.floor(rnd() * decimals.length)]! : (rnd() * 10 ** Math.floor(rnd() * 6)).toFixed(Math.floor(rnd() * 9)));
  const out: string[] = [];
  const start = Date.UTC(2024, 0, 1);
  for (let n = 0; n < count; n++) {
    const id = rnd() < 0.05 ? [0, 1, 2 ** 53 - 1, 999_999_999_999_999][Math.floor(rnd() * 4)]! : Math.floor(rnd() * 1e12);
    const t: VenueTrade = { symbol: symbols[Math.floor(rnd() * symbols.length)]!, id, price: decimal(), qty: decimal(), time: start + Math.floor(rnd() * 1e11), side: rnd() < 0.5 ? 'buy' : 'sell' };
    for (const [, frame] of protocol.tradeFrames(t)) out.push(frame);
  }
  return out;
}
