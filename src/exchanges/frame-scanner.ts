/**
 * The fast path of the exchange mappers' trade frames (Bybit, OKX, Coinbase, Kraken; Binance has its own,
 * binance/trade-scanner.ts): one forward scan of a compact frame of a known shape, reading only the fields the
 * mapper uses into fixed-shape objects, without JSON.parse building the whole tree and a string for every key.
 *
 * The scanner reads a strict subset of JSON and declines (returns null) anything outside it, so the mapper falls
 * back to its JSON.parse path and the result is the same either way (each exchange's *-scanner test compares both
 * paths frame by frame):
 * - no whitespace outside strings, no escapes or control characters inside them;
 * - a field the shape names must have the kind it declares (a string, a safe integer, a boolean,
 *   a JSON number, an object or an array of objects of a nested shape) and appear at most once;
 * - any other field may only hold a string, a number, true, false or null (no nested value);
 * - the frame ends right after the root object.
 */

/** What a named field must hold. */
export const Kind = {
  /** A string (no escapes: the frame has none). */
  Str: 0,
  /** A non-negative safe integer without leading zeros: exact as a double, as JSON.parse reads it. */
  Int: 1,
  Bool: 2,
  /**
   * A non-negative JSON number without exponent (`0.5147`, `40.0`): the field gets Number(text), as JSON.parse
   * gives, and the exact text goes to the scan's `texts`, as kraken/numbers.ts' rawNumbers would read it.
   */
  Num: 3,
  /** An object of `nested`. */
  Obj: 4,
  /** A non-empty array of objects of `nested`. */
  ObjArray: 5,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

export interface Field {
  readonly key: string;
  readonly kind: Kind;
  /** For Obj and ObjArray. */
  readonly nested?: Shape;
}

export interface Shape {
  readonly fields: readonly Field[];
  /**
   * The object of the values read, `values[k]` for field k (undefined when absent), as one object literal: every
   * object of a shape gets the same layout (a fast property shape), without a store per field by a computed key.
   */
  readonly build: (values: readonly unknown[]) => Record<string, unknown>;
  /** Scratch for the values of one object while it is read (the scan is synchronous; a shape never nests itself). */
  readonly values: unknown[];
  /** First character code and length of each field's key: compared before the key itself. */
  readonly keyCode: Int32Array;
  readonly keyLength: Int32Array;
  /** Index of each Num field among the shape's Num fields (-1 for the others): its slot in `texts`. */
  readonly numSlot: readonly number[];
  readonly numCount: number;
}

/** A shape from its fields; `build` makes the object of `values[k]` for field k, with exactly the fields' keys. */
export function shape(fields: readonly Field[], build: (values: readonly unknown[]) => Record<string, unknown>): Shape {
  if (fields.length > 30) throw new RangeError('a shape reads at most 30 fields');
  let n = 0;
  const numSlot = fields.map((f) => (f.kind === Kind.Num ? n++ : -1));
  return {
    fields,
    build,
    values: fields.map(() => undefined),
    keyCode: Int32Array.from(fields, (f) => f.key.charCodeAt(0)),
    keyLength: Int32Array.from(fields, (f) => f.key.length),
    numSlot,
    numCount: n,
  };
}

const QUOTE = 34;
const OPEN = 123;
const CLOSE = 125;
const OPEN_ARRAY = 91;
const CLOSE_ARRAY = 93;
const COMMA = 44;
const COLON = 58;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const MAX_INT_DIGITS = 16;
const BACKSLASH = 92;

/** Where a scan is; one per scanned frame. `texts`: the Num fields' texts, `element * numCount + slot` per array. */
class Scan {
  i = 0;
  /** The value of the last plainNumber, NaN when it had too many digits to compute exactly here. */
  num = 0;
  texts: string[] | null = null;
  constructor(readonly frame: string) {}
}

/**
 * The root object of `frame` read by `root`, or null when the frame is anything outside the scanner's subset.
 * `texts` (when given) receives the texts of the Num fields of the objects of the root's ObjArray field.
 */
export function scanFrame(frame: string, root: Shape, texts?: string[]): Record<string, unknown> | null {
  if (frame.charCodeAt(0) !== OPEN) return null;
  const s = new Scan(frame);
  if (texts !== undefined) {
    texts.length = 0;
    s.texts = texts;
  }
  const out = scanObject(s, root, -1);
  return out !== null && s.i === frame.length ? out : null;
}

/** The object opening at s.i, read by `sh`; s.i ends after its `}`. `element` >= 0 inside an ObjArray. */
function scanObject(s: Scan, sh: Shape, element: number): Record<string, unknown> | null {
  const frame = s.frame;
  if (frame.charCodeAt(s.i) !== OPEN) return null;
  const fields = sh.fields;
  const out = sh.values;
  const keyCode = sh.keyCode;
  const keyLength = sh.keyLength;
  for (let k = 0; k < fields.length; k++) out[k] = undefined;
  let seen = 0; // bit k: field k was read (a duplicate declines)
  if (element >= 0 && sh.numCount > 0 && s.texts !== null) for (let k = 0; k < sh.numCount; k++) s.texts[element * sh.numCount + k] = '';
  let i = s.i + 1;
  if (frame.charCodeAt(i) === CLOSE) {
    s.i = i + 1;
    return sh.build(out);
  }
  for (;;) {
    if (frame.charCodeAt(i) !== QUOTE) return null;
    // A field's key: its first character, its closing quote where its length puts it, then the key itself.
    const c0 = frame.charCodeAt(i + 1);
    let k = 0;
    let keyEnd = -1;
    for (; k < fields.length; k++) {
      const len = keyLength[k]!;
      if (keyCode[k] === c0 && frame.charCodeAt(i + 1 + len) === QUOTE && sameKey(frame, i + 1, fields[k]!.key, len)) {
        keyEnd = i + 1 + len;
        break;
      }
    }
    if (keyEnd < 0) keyEnd = stringEnd(frame, i); // another key
    if (keyEnd < 0 || frame.charCodeAt(keyEnd + 1) !== COLON) return null;
    i = keyEnd + 2;
    if (k === fields.length) {
      i = skipScalar(frame, i);
      if (i < 0) return null;
    } else {
      if ((seen & (1 << k)) !== 0) return null;
      seen |= 1 << k;
      const f = fields[k]!;
      const c = frame.charCodeAt(i);
      switch (f.kind) {
        case Kind.Str: {
          if (c !== QUOTE) return null;
          const close = stringEnd(frame, i);
          if (close < 0) return null;
          out[k] = frame.slice(i + 1, close);
          i = close + 1;
          break;
        }
        case Kind.Int: {
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
          out[k] = n;
          i = j;
          break;
        }
        case Kind.Bool:
          if (frame.startsWith('true', i)) (out[k] = true), (i += 4);
          else if (frame.startsWith('false', i)) (out[k] = false), (i += 5);
          else return null;
          break;
        case Kind.Num: {
          const end = plainNumber(s, i);
          if (end < 0) return null;
          const text = frame.slice(i, end);
          out[k] = s.num === s.num ? s.num : Number(text);
          if (element >= 0 && s.texts !== null) s.texts[element * sh.numCount + sh.numSlot[k]!] = text;
          i = end;
          break;
        }
        case Kind.Obj: {
          s.i = i;
          const v = scanObject(s, f.nested!, -1);
          if (v === null) return null;
          out[k] = v;
          i = s.i;
          break;
        }
        case Kind.ObjArray: {
          if (c !== OPEN_ARRAY) return null;
          const list: Record<string, unknown>[] = [];
          s.i = i + 1;
          for (;;) {
            const v = scanObject(s, f.nested!, list.length);
            if (v === null) return null;
            list.push(v);
            const sep = frame.charCodeAt(s.i);
            s.i++;
            if (sep === CLOSE_ARRAY) break;
            if (sep !== COMMA) return null;
          }
          out[k] = list;
          i = s.i;
          break;
        }
      }
    }
    const sep = frame.charCodeAt(i);
    if (sep === CLOSE) {
      s.i = i + 1;
      return sh.build(out);
    }
    if (sep !== COMMA) return null;
    i++;
  }
}

/** The end of the string, number, true, false or null at i; -1 for anything else (a nested value). */
function skipScalar(frame: string, i: number): number {
  const c = frame.charCodeAt(i);
  if (c === QUOTE) {
    const close = stringEnd(frame, i);
    return close < 0 ? -1 : close + 1;
  }
  if (c === MINUS || (c >= ZERO && c <= NINE)) return numberEnd(frame, i);
  if (frame.startsWith('true', i) || frame.startsWith('null', i)) return i + 4;
  if (frame.startsWith('false', i)) return i + 5;
  return -1;
}

/** Whether `key` (first character already compared) is at `at` in the frame: a loop, cheaper than startsWith here. */
function sameKey(frame: string, at: number, key: string, len: number): boolean {
  for (let m = 1; m < len; m++) if (frame.charCodeAt(at + m) !== key.charCodeAt(m)) return false;
  return true;
}

/**
 * The closing quote of the string opening at i; -1 when unterminated or when it holds an escape or a raw control
 * character (JSON.parse rejects those; escapes are left to it). Outside strings the grammar admits no whitespace.
 * Also the Binance trade scanner's string reader.
 */
export function stringEnd(frame: string, i: number): number {
  for (let j = i + 1; j < frame.length; j++) {
    const c = frame.charCodeAt(j);
    if (c === QUOTE) return j;
    if (c === BACKSLASH || c < 0x20) return -1;
  }
  return -1;
}

function digitsEnd(frame: string, i: number): number {
  while (i < frame.length) {
    const d = frame.charCodeAt(i);
    if (d < ZERO || d > NINE) break;
    i++;
  }
  return i;
}

/** The end of the JSON number at i (-?int frac? exp?); -1 when it is not one. */
function numberEnd(frame: string, i: number): number {
  if (frame.charCodeAt(i) === MINUS) i++;
  const c = frame.charCodeAt(i);
  if (c < ZERO || c > NINE) return -1;
  let j = c === ZERO ? i + 1 : digitsEnd(frame, i);
  if (frame.charCodeAt(j) === DOT) {
    const k = digitsEnd(frame, j + 1);
    if (k === j + 1) return -1;
    j = k;
  }
  const e = frame.charCodeAt(j);
  if (e === 101 || e === 69) {
    let k = j + 1;
    const sign = frame.charCodeAt(k);
    if (sign === 43 || sign === MINUS) k++;
    const end = digitsEnd(frame, k);
    if (end === k) return -1;
    j = end;
  }
  return j;
}

/** Exact powers of ten as doubles (up to 10^22 they are). */
const POW10 = Array.from({ length: 16 }, (_, k) => 10 ** k);

/**
 * The end of the non-negative, exponent-free JSON number at s.i = i (`0.5147`, `40.0`, `12`), -1 otherwise;
 * s.num = its value when it has at most 15 digits: digits / 10^fraction digits, both exact doubles, so the one
 * division is correctly rounded, the double Number(text) gives (the fast path of Clinger's algorithm); else NaN.
 */
function plainNumber(s: Scan, i: number): number {
  const frame = s.frame;
  const c = frame.charCodeAt(i);
  if (c < ZERO || c > NINE) return -1;
  let m = 0;
  let j = i;
  if (c === ZERO) j++;
  else {
    for (; j < frame.length; j++) {
      const d = frame.charCodeAt(j);
      if (d < ZERO || d > NINE) break;
      m = m * 10 + (d - ZERO);
    }
  }
  let digits = j - i;
  let fraction = 0;
  if (frame.charCodeAt(j) === DOT) {
    const start = ++j;
    for (; j < frame.length; j++) {
      const d = frame.charCodeAt(j);
      if (d < ZERO || d > NINE) break;
      m = m * 10 + (d - ZERO);
    }
    fraction = j - start;
    if (fraction === 0) return -1;
    digits += fraction;
  }
  const d = frame.charCodeAt(j);
  if (d !== COMMA && d !== CLOSE) return -1;
  s.num = digits <= 15 ? (fraction === 0 ? m : m / POW10[fraction]!) : Number.NaN;
  return j;
}
