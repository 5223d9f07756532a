/**
 * Kraken WebSocket v2 sends prices and quantities as JSON numbers (`"price": 0.5147`), not strings
 * (https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/trade). JSON.parse turns them into doubles,
 * which loses the text as sent (`40.0` -> 40, `0.00000050` -> 5e-7) and is not exact past 15-17 digits. So the
 * mapper reads these values from the raw frame text instead: one linear scan of the frame that collects the
 * number tokens of chosen keys inside the objects of the top-level `data` array, in document order.
 */

const QUOTE = 34; // "
const BACKSLASH = 92;
const COLON = 58;

/** Index of the closing quote of the string opening at `i` (frame[i] === '"'); -1 when unterminated. */
function stringEnd(frame: string, i: number): number {
  for (let j = i + 1; j < frame.length; j++) {
    const c = frame.charCodeAt(j);
    if (c === BACKSLASH) j++;
    else if (c === QUOTE) return j;
  }
  return -1;
}

function skipSpace(frame: string, i: number): number {
  while (i < frame.length) {
    const c = frame.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) break;
    i++;
  }
  return i;
}

/** True for the characters a JSON number token is made of. */
function isNumberChar(c: number): boolean {
  return (c >= 48 && c <= 57) || c === 46 || c === 45 || c === 43 || c === 101 || c === 69;
}

/**
 * The raw text of the values of `keys` in each object of the root object's `data` array: `out[e * keys.length + k]`
 * is key k of element e ('' when absent or not a number). Returns the number of elements, or -1 when the frame
 * has no `data` array. Assumes `frame` is valid JSON (the caller parsed it first).
 */
export function rawNumbers(frame: string, keys: readonly string[], out: string[]): number {
  out.length = 0;
  let depth = 0;
  let dataDepth = -1; // depth of the data array's elements, once inside it
  let pendingData = false; // the root key just read was "data"
  let elements = -1;
  for (let i = 0; i < frame.length; i++) {
    const c = frame.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(frame, i);
      if (end < 0) return -1;
      const after = skipSpace(frame, end + 1);
      if (frame.charCodeAt(after) === COLON) {
        const keyStart = i + 1;
        const keyLen = end - keyStart;
        if (depth === 1) pendingData = keyLen === 4 && frame.startsWith('data', keyStart);
        else if (depth === dataDepth + 1 && dataDepth > 0) {
          for (let k = 0; k < keys.length; k++) {
            const key = keys[k]!;
            if (key.length === keyLen && frame.startsWith(key, keyStart)) {
              const v = skipSpace(frame, after + 1);
              let e = v;
              while (e < frame.length && isNumberChar(frame.charCodeAt(e))) e++;
              out[elements * keys.length + k] = frame.slice(v, e);
              break;
            }
          }
        }
      }
      i = end;
    } else if (c === 123 || c === 91) {
      // { or [
      depth++;
      if (c === 91 && pendingData && depth === 2) dataDepth = 2;
      else if (c === 123 && depth === 3 && dataDepth === 2) {
        elements++;
        for (let k = 0; k < keys.length; k++) out[elements * keys.length + k] = '';
      }
      pendingData = false;
    } else if (c === 125 || c === 93) {
      depth--;
      if (depth < 2 && dataDepth === 2) return elements + 1;
    }
  }
  return dataDepth === 2 ? elements + 1 : -1;
}

/**
 * A non-negative JSON number token as a plain decimal string with the digits as sent: `0.5147` and `40.0` stay,
 * `5e-7` -> `0.0000005`, `1.25E+2` -> `125`. Null for a negative or malformed token.
 */
export function plainDecimal(token: string): string | null {
  if (token.length === 0 || token.charCodeAt(0) === 45) return null;
  let e = token.indexOf('e');
  if (e < 0) e = token.indexOf('E');
  if (e < 0) return token;
  const expText = token.slice(e + 1);
  const exp = /^[+-]?\d{1,3}$/.test(expText) ? Number(expText) : NaN;
  const mantissa = token.slice(0, e);
  const dot = mantissa.indexOf('.');
  const digits = dot < 0 ? mantissa : mantissa.slice(0, dot) + mantissa.slice(dot + 1);
  if (Number.isNaN(exp) || !/^\d+$/.test(digits)) return null;
  const point = (dot < 0 ? mantissa.length : dot) + exp; // position of the decimal point within `digits`
  let s: string;
  if (point <= 0) s = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) s = digits + '0'.repeat(point - digits.length);
  else s = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return s.replace(/^0+(?=\d)/, '');
}
