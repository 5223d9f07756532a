/**
 * The fast path of the exchange mappers' trade frames (Bybit, OKX, Coinbase, Kraken; Binance has its own,
 * binance/trade-scanner.ts): one forward scan of a compact frame of a known shape, reading only the fields the
 * mapper uses into fixed-shape objects, without JSON.parse building the whole tree and a string for every key.
 *
 * The scanner reads a strict subset of JSON and declines (returns null) anything outside it, so the mapper falls
 * back to its JSON.parse path and the result is the same either way (each exchange's *-scanner test compares both
 * paths frame by frame):
 * - no whitespace, no escapes, no control characters anywhere in the frame;
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
  /** A fresh object with every field's key set to undefined, in one fixed layout (a fast property shape). */
  readonly create: () => Record<string, unknown>;
  /** Index of each Num field among the shape's Num fields (-1 for the others): its slot in `texts`. */
  readonly numSlot: readonly number[];
  readonly numCount: number;
}

/** A shape from its fields; `create` must set exactly the fields' keys. */
export function shape(fields: readonly Field[], create: () => Record<string, unknown>): Shape {
  let n = 0;
  const numSlot = fields.map((f) => (f.kind === Kind.Num ? n++ : -1));
  return { fields, create, numSlot, numCount: n };
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
/** Escapes, raw control characters (invalid inside JSON strings) and whitespace: such a frame goes to JSON.parse. */
const UNUSUAL = /[\\\u0000-\u0020]/;

/** Where a scan is; one per scanned frame. `texts`: the Num fields' texts, `element * numCount + slot` per array. */
class Scan {
  i = 0;
  texts: string[] | null = null;
  constructor(readonly frame: string) {}
}

/**
 * The root object of `frame` read by `root`, or null when the frame is anything outside the scanner's subset.
 * `texts` (when given) receives the texts of the Num fields of the objects of the root's ObjArray field.
 */
export function scanFrame(frame: string, root: Shape, texts?: string[]): Record<string, unknown> | null {
  if (frame.charCodeAt(0) !== OPEN || UNUSUAL.test(frame)) return null;
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
  const out = sh.create();
  const fields = sh.fields;
  let seen = 0; // bit k: field k was read (a duplicate declines)
  if (element >= 0 && sh.numCount > 0 && s.texts !== null) for (let k = 0; k < sh.numCount; k++) s.texts[element * sh.numCount + k] = '';
  let i = s.i + 1;
  if (frame.charCodeAt(i) === CLOSE) {
    s.i = i + 1;
    return out;
  }
  for (;;) {
    if (frame.charCodeAt(i) !== QUOTE) return null;
    const keyEnd = frame.indexOf('"', i + 1);
    if (keyEnd < 0 || frame.charCodeAt(keyEnd + 1) !== COLON) return null;
    const keyLen = keyEnd - i - 1;
    let k = 0;
    for (; k < fields.length; k++) {
      const key = fields[k]!.key;
      if (key.length === keyLen && frame.startsWith(key, i + 1)) break;
    }
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
          const close = frame.indexOf('"', i + 1);
          if (close < 0) return null;
          out[f.key] = frame.slice(i + 1, close);
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
          out[f.key] = n;
          i = j;
          break;
        }
        case Kind.Bool:
          if (frame.startsWith('true', i)) (out[f.key] = true), (i += 4);
          else if (frame.startsWith('false', i)) (out[f.key] = false), (i += 5);
          else return null;
          break;
        case Kind.Num: {
          const end = plainNumberEnd(frame, i);
          if (end < 0) return null;
          const text = frame.slice(i, end);
          out[f.key] = Number(text);
          if (element >= 0 && s.texts !== null) s.texts[element * sh.numCount + sh.numSlot[k]!] = text;
          i = end;
          break;
        }
        case Kind.Obj: {
          s.i = i;
          const v = scanObject(s, f.nested!, -1);
          if (v === null) return null;
          out[f.key] = v;
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
          out[f.key] = list;
          i = s.i;
          break;
        }
      }
    }
    const sep = frame.charCodeAt(i);
    if (sep === CLOSE) {
      s.i = i + 1;
      return out;
    }
    if (sep !== COMMA) return null;
    i++;
  }
}

/** The end of the string, number, true, false or null at i; -1 for anything else (a nested value). */
function skipScalar(frame: string, i: number): number {
  const c = frame.charCodeAt(i);
  if (c === QUOTE) {
    const close = frame.indexOf('"', i + 1);
    return close < 0 ? -1 : close + 1;
  }
  if (c === MINUS || (c >= ZERO && c <= NINE)) return numberEnd(frame, i);
  if (frame.startsWith('true', i) || frame.startsWith('null', i)) return i + 4;
  if (frame.startsWith('false', i)) return i + 5;
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

/** The end of the non-negative, exponent-free JSON number at i (`0.5147`, `40.0`, `12`); -1 otherwise. */
function plainNumberEnd(frame: string, i: number): number {
  const c = frame.charCodeAt(i);
  if (c < ZERO || c > NINE) return -1;
  let j = c === ZERO ? i + 1 : digitsEnd(frame, i);
  if (frame.charCodeAt(j) === DOT) {
    const k = digitsEnd(frame, j + 1);
    if (k === j + 1) return -1;
    j = k;
  }
  const d = frame.charCodeAt(j);
  return d === COMMA || d === CLOSE ? j : -1;
}
