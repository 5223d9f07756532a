/**
 * The fast path of Bybit's `publicTrade.<SYMBOL>` frames: one forward scan written for this frame alone (as
 * binance/trade-scanner.ts is), reading the fields of each trade the mapper uses into fixed-shape objects without
 * JSON.parse. It accepts the same strict JSON subset as the shared scanner (frame-scanner.ts) and declines
 * (returns null) anything outside it, so the mapper falls back to its JSON.parse path and the result is the same
 * either way (test/bybit-trade-scanner.test.ts compares both paths frame by frame):
 * - no whitespace outside strings, no escapes or control characters inside them, nothing after the root object;
 * - the root holds `topic` (a string starting `publicTrade.`) and `data` (a non-empty array of trade objects),
 *   each once; a trade's `T` is a non-negative safe integer, `s`, `S`, `v`, `p`, `i` are strings, each at most once;
 * - any other field holds only a string, a number, true, false or null.
 * Against the shared scanner (which this replaced for Bybit; ~30 % of the full path's profile) it dispatches on
 * the key's first character and length instead of trying each field, builds each trade as one object literal,
 * and does not copy the taker side or the topic out of the frame.
 */
import { skipScalar, stringEnd } from '../frame-scanner.js';

/** The trade fields the mapper reads; absent ones stay undefined, as after JSON.parse. */
export type ScannedBybitTrade = {
  T: number | undefined;
  s: string | undefined;
  S: string | undefined;
  v: string | undefined;
  p: string | undefined;
  i: string | undefined;
};

/** A type, not an interface: the mapper reads it as it reads JSON.parse's object. */
export type ScannedBybitFrame = { data: ScannedBybitTrade[] };

const QUOTE = 34;
const OPEN = 123;
const CLOSE = 125;
const OPEN_ARRAY = 91;
const CLOSE_ARRAY = 93;
const COMMA = 44;
const COLON = 58;
const ZERO = 48;
const NINE = 57;
const MAX_INT_DIGITS = 16;
const TOPIC_KEY = '"topic":';
const DATA_KEY = '"data":';
const TRADE_TOPIC = '"publicTrade.';

/** Where the trade scan ended (the scan is synchronous and single-threaded: one module-level cursor). */
let at = 0;

/** `{data}` of a compact publicTrade frame, or null. */
export function scanBybitTrades(frame: string): ScannedBybitFrame | null {
  if (frame.charCodeAt(0) !== OPEN) return null;
  let data: ScannedBybitTrade[] | null = null;
  let topic = false;
  let i = 1;
  for (;;) {
    if (frame.charCodeAt(i) !== QUOTE) return null;
    if (frame.startsWith(TOPIC_KEY, i)) {
      if (topic) return null;
      i += TOPIC_KEY.length;
      if (!frame.startsWith(TRADE_TOPIC, i)) return null;
      const close = stringEnd(frame, i);
      if (close < 0) return null;
      topic = true;
      i = close + 1;
    } else if (frame.startsWith(DATA_KEY, i)) {
      if (data !== null) return null;
      i += DATA_KEY.length;
      if (frame.charCodeAt(i) !== OPEN_ARRAY) return null;
      data = [];
      at = i + 1;
      for (;;) {
        const t = scanTrade(frame, at);
        if (t === null) return null;
        data.push(t);
        const sep = frame.charCodeAt(at++);
        if (sep === CLOSE_ARRAY) break;
        if (sep !== COMMA) return null;
      }
      i = at;
    } else {
      const keyEnd = stringEnd(frame, i);
      if (keyEnd < 0 || frame.charCodeAt(keyEnd + 1) !== COLON) return null;
      i = skipScalar(frame, keyEnd + 2);
      if (i < 0) return null;
    }
    const sep = frame.charCodeAt(i);
    if (sep === CLOSE) break;
    if (sep !== COMMA) return null;
    i++;
  }
  return topic && data !== null && i + 1 === frame.length ? { data } : null;
}

/** The trade object opening at `start`; `at` ends after its `}`. */
function scanTrade(frame: string, start: number): ScannedBybitTrade | null {
  if (frame.charCodeAt(start) !== OPEN) return null;
  const out: ScannedBybitTrade = { T: undefined, s: undefined, S: undefined, v: undefined, p: undefined, i: undefined };
  let i = start + 1;
  let seen = 0; // bit per field read: a duplicate declines
  for (;;) {
    if (frame.charCodeAt(i) !== QUOTE) return null;
    const k0 = frame.charCodeAt(i + 1);
    // Every field read has a one-letter key: that letter, then the closing quote.
    const bit = frame.charCodeAt(i + 2) === QUOTE ? fieldBit(k0) : 0;
    if (bit === 0) {
      const keyEnd = stringEnd(frame, i);
      if (keyEnd < 0 || frame.charCodeAt(keyEnd + 1) !== COLON) return null;
      i = skipScalar(frame, keyEnd + 2);
      if (i < 0) return null;
    } else {
      if ((seen & bit) !== 0 || frame.charCodeAt(i + 3) !== COLON) return null;
      seen |= bit;
      i += 4;
      if (bit === T_BIT) {
        const c = frame.charCodeAt(i);
        let n = 0;
        let j = i;
        for (; j < frame.length; j++) {
          const d = frame.charCodeAt(j);
          if (d < ZERO || d > NINE) break;
          n = n * 10 + (d - ZERO);
        }
        // Exact while below 2^53: a true value at or above it computes to at least 2^53 and declines.
        if (j === i || j - i > MAX_INT_DIGITS || n > Number.MAX_SAFE_INTEGER || (c === ZERO && j - i > 1)) return null;
        const d = frame.charCodeAt(j);
        if (d !== COMMA && d !== CLOSE) return null; // a fraction or an exponent
        out.T = n;
        i = j;
      } else {
        if (frame.charCodeAt(i) !== QUOTE) return null;
        const close = stringEnd(frame, i);
        if (close < 0) return null;
        if (bit === S_BIT) out.S = takerSide(frame, i + 1, close);
        else {
          const value = frame.slice(i + 1, close);
          if (bit === LOWER_S_BIT) out.s = value;
          else if (bit === V_BIT) out.v = value;
          else if (bit === P_BIT) out.p = value;
          else out.i = value;
        }
        i = close + 1;
      }
    }
    const sep = frame.charCodeAt(i);
    if (sep === CLOSE) {
      at = i + 1;
      return out;
    }
    if (sep !== COMMA) return null;
    i++;
  }
}

const T_BIT = 1;
const LOWER_S_BIT = 2;
const S_BIT = 4;
const V_BIT = 8;
const P_BIT = 16;
const I_BIT = 32;

/** The field of a one-letter key (its character code), 0 for a key the mapper does not read. */
function fieldBit(c: number): number {
  switch (c) {
    case 84: return T_BIT; // T
    case 115: return LOWER_S_BIT; // s
    case 83: return S_BIT; // S
    case 118: return V_BIT; // v
    case 112: return P_BIT; // p
    case 105: return I_BIT; // i
    default: return 0;
  }
}

/** The string [from, to) of the frame: the two sides Bybit sends without a copy, anything else copied. */
function takerSide(frame: string, from: number, to: number): string {
  if (to - from === 3 && frame.startsWith('Buy', from)) return 'Buy';
  if (to - from === 4 && frame.startsWith('Sell', from)) return 'Sell';
  return frame.slice(from, to);
}
