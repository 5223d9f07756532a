/**
 * The fast path for the frames Binance sends most: a compact `trade` / `aggTrade` event, raw or in the
 * combined-stream wrapper `{"stream":"…","data":{…}}`. One forward scan reads the flat event's fields into a
 * fixed-shape object without building the generic JSON tree. Anything unusual — whitespace, an escape, a
 * nested value, a number with a fraction or exponent, another event type, a key seen out of the expected
 * grammar — returns null and the mapper falls back to JSON.parse, so the result is the same either way
 * (test/binance-trade-scanner.test.ts compares both paths frame by frame).
 */
import { stringEnd } from '../frame-scanner.js';

/** The trade fields the mapper reads; absent ones stay undefined, as after JSON.parse. */
export interface ScannedTrade {
  e: string | undefined;
  s: string | undefined;
  t: number | undefined;
  a: number | undefined;
  p: string | undefined;
  q: string | undefined;
  T: number | undefined;
  m: boolean | undefined;
  f: number | undefined;
  l: number | undefined;
}

const QUOTE = 34;
const OPEN = 123;
const CLOSE = 125;
const COMMA = 44;
const COLON = 58;
const ZERO = 48;
const NINE = 57;
const BACKSLASH = 92;
const WRAPPED_PREFIX = '{"stream":"';

/** The data object of a compact trade/aggTrade frame, or null when the frame is anything else. */
export function scanTrade(frame: string): ScannedTrade | null {
  if (frame.startsWith(WRAPPED_PREFIX)) {
    const end = stringEnd(frame, WRAPPED_PREFIX.length - 1);
    if (end < 0 || !frame.startsWith(',"data":', end + 1)) return null;
    if (frame.charCodeAt(frame.length - 1) !== CLOSE) return null;
    return scanFlat(frame, end + 9, frame.length - 1);
  }
  return scanFlat(frame, 0, frame.length);
}

/** Scans the flat object spanning exactly [start, end) of `frame`. */
function scanFlat(frame: string, start: number, end: number): ScannedTrade | null {
  if (frame.charCodeAt(start) !== OPEN || frame.charCodeAt(end - 1) !== CLOSE) return null;
  const out: ScannedTrade = { e: undefined, s: undefined, t: undefined, a: undefined, p: undefined, q: undefined, T: undefined, m: undefined, f: undefined, l: undefined };
  let i = start + 1;
  const last = end - 1;
  if (i === last) return null;
  for (;;) {
    // key: a short quoted name
    if (frame.charCodeAt(i) !== QUOTE) return null;
    // Every field read has a one-letter name: a letter, then the closing quote; any other key is read in full.
    const k0 = frame.charCodeAt(i + 1);
    const keyEnd = frame.charCodeAt(i + 2) === QUOTE && k0 !== BACKSLASH && k0 >= 0x20 && k0 !== QUOTE ? i + 2 : stringEnd(frame, i);
    if (keyEnd < 0 || keyEnd >= last || frame.charCodeAt(keyEnd + 1) !== COLON) return null;
    const key = keyEnd === i + 2 ? frame.charCodeAt(i + 1) : -1; // every field we read has a one-letter name
    i = keyEnd + 2;
    // value: a string without escapes, a non-negative integer, true or false
    const c = frame.charCodeAt(i);
    let next: number;
    if (c === QUOTE) {
      const close = stringEnd(frame, i);
      if (close < 0 || close >= last) return null;
      const value = frame.slice(i + 1, close);
      if (key === 101) out.e = value; // e
      else if (key === 115) out.s = value; // s
      else if (key === 112) out.p = value; // p
      else if (key === 113) out.q = value; // q
      else if (key === 116 || key === 97 || key === 84 || key === 109 || key === 102 || key === 108) return null; // a string where JSON.parse would give the mapper a string too: keep it simple, fall back
      next = close + 1;
    } else if (c >= ZERO && c <= NINE) {
      let n = 0;
      let j = i;
      for (; j < last; j++) {
        const d = frame.charCodeAt(j);
        if (d < ZERO || d > NINE) break;
        n = n * 10 + (d - ZERO);
      }
      if (j - i > 15 || (c === ZERO && j - i > 1)) return null; // beyond exact integers, or a leading zero (not JSON)
      const d = frame.charCodeAt(j);
      if (d !== COMMA && d !== CLOSE) return null; // a fraction or an exponent
      if (key === 116) out.t = n; // t
      else if (key === 97) out.a = n; // a
      else if (key === 84) out.T = n; // T
      else if (key === 102) out.f = n; // f
      else if (key === 108) out.l = n; // l
      else if (key === 101 || key === 115 || key === 112 || key === 113 || key === 109) return null;
      next = j;
    } else if (frame.startsWith('true', i) || frame.startsWith('false', i)) {
      const v = c === 116;
      if (key === 109) out.m = v; // m
      else if (key === 101 || key === 115 || key === 112 || key === 113 || key === 116 || key === 97 || key === 84 || key === 102 || key === 108) return null;
      next = i + (v ? 4 : 5);
    } else {
      return null; // null, a negative number, a nested value, whitespace
    }
    const sep = frame.charCodeAt(next);
    if (next === last) break;
    if (sep !== COMMA) return null;
    i = next + 1;
  }
  return out.e === 'trade' || out.e === 'aggTrade' ? out : null;
}
