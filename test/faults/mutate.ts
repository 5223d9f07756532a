/**
 * Frame mutations for the fault suite's fuzzer: each is a pure function of a frame and two numbers that
 * fast-check draws (so a failing case shrinks and replays from its seed). Together they cover what issue 19 lists:
 * byte flips, truncation, type swaps, huge and non-finite numbers, deep nesting, duplicated keys, timestamps far off.
 */
export const MUTATIONS = ['flip', 'truncate', 'swapType', 'hugeNumber', 'deepNest', 'duplicateKey', 'farTime', 'dropKey'] as const;
export type Mutation = (typeof MUTATIONS)[number];

/** Values a field may be swapped for: every JSON type, empty and extreme forms, and texts numbers are mistaken for. */
const SWAPS = [
  'null', 'true', 'false', '0', '-1', '-0', '0.0', '1e308', '-1e308', '1e-400', '1e400', '123456789012345678901234567890', '""', '"0"', '"-1"',
  '"0.00000000"', '"NaN"', '"Infinity"', '"-Infinity"', '"1e5"', '"0x1f"', '" 1"', '"1,5"', '"abc"', '[]', '{}', '[1]', '{"a":1}',
  `"${'9'.repeat(400)}"`, '"\\u0000"', '"BTC-USDT"', '"btcusdt"',
] as const;

/** Timestamps far off: before any exchange, far ahead, negative, beyond safe integers, ISO texts of both kinds. */
const FAR_TIMES = ['0', '1', '-1', '1000000000', '32503680000000', '9007199254740993', '1e21', '"0"', '"32503680000000"', '"1970-01-01T00:00:00.000Z"', '"3000-01-01T00:00:00.000Z"', '"2010-01-01T00:00:00Z"', '"not a time"'];

/** Start offsets of each value token after a `"key":` in the text, with the key. */
function valueSpans(frame: string): { key: string; start: number; end: number }[] {
  const spans: { key: string; start: number; end: number }[] = [];
  const re = /"([^"\\]{1,40})"\s*:\s*/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(frame)) !== null && spans.length < 200) {
    const start = m.index + m[0].length;
    const end = tokenEnd(frame, start);
    if (end > start) spans.push({ key: m[1]!, start, end });
  }
  return spans;
}

/** End of the scalar token at `i` (a string, number, true/false/null); `i` itself for an object or array. */
function tokenEnd(frame: string, i: number): number {
  const c = frame[i];
  if (c === '"') {
    for (let j = i + 1; j < frame.length; j++) {
      if (frame[j] === '\\') j++;
      else if (frame[j] === '"') return j + 1;
    }
    return i;
  }
  if (c === '{' || c === '[') return i;
  let j = i;
  while (j < frame.length && !',}] \n\t\r'.includes(frame[j]!)) j++;
  return j;
}

const TIME_KEY = /^(T|E|t|ts|time|timestamp|start|interval_begin)$/;

export function mutate(frame: string, kind: Mutation, a: number, b: number): string {
  const n = frame.length;
  switch (kind) {
    case 'flip': {
      if (n === 0) return frame;
      const i = a % n;
      return frame.slice(0, i) + String.fromCharCode(b % 128) + frame.slice(i + 1);
    }
    case 'truncate':
      return frame.slice(0, a % (n + 1));
    case 'swapType':
    case 'hugeNumber':
    case 'farTime':
    case 'dropKey':
    case 'deepNest': {
      let spans = valueSpans(frame);
      if (kind === 'farTime') spans = spans.filter((s) => TIME_KEY.test(s.key));
      if (kind === 'hugeNumber') spans = spans.filter((s) => /^"?-?\d/.test(frame.slice(s.start, s.end)));
      if (spans.length === 0) return mutate(frame, 'flip', a, b);
      const s = spans[a % spans.length]!;
      let value: string;
      if (kind === 'swapType') value = SWAPS[b % SWAPS.length]!;
      else if (kind === 'hugeNumber') value = ['1e400', '-1e400', '1e308', '1'.repeat(40), `"${'1'.repeat(40)}"`, `"1${'0'.repeat(30)}.5"`, '"-0.0"', '"0.000000001"', '4.9e-324'][b % 9]!;
      else if (kind === 'farTime') value = FAR_TIMES[b % FAR_TIMES.length]!;
      else if (kind === 'deepNest') {
        const depth = 2_000 + (b % 8_000);
        value = b % 2 === 0 ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
      } else {
        // dropKey: remove `"key": value` with the comma before it (or after, for a first key)
        const keyStart = frame.lastIndexOf('"', frame.lastIndexOf('"', s.start - 1) - 1);
        const before = frame.lastIndexOf(',', keyStart);
        if (before >= 0 && frame.slice(before + 1, keyStart).trim() === '') return frame.slice(0, before) + frame.slice(s.end);
        return frame.slice(0, keyStart) + frame.slice(s.end + (frame[s.end] === ',' ? 1 : 0));
      }
      return frame.slice(0, s.start) + value + frame.slice(s.end);
    }
    case 'duplicateKey': {
      const spans = valueSpans(frame);
      if (spans.length === 0) return mutate(frame, 'flip', a, b);
      const s = spans[a % spans.length]!;
      // JSON.parse keeps the last of duplicated keys: the duplicate follows the original, in the same object
      return `${frame.slice(0, s.end)},"${s.key}":${SWAPS[b % SWAPS.length]}${frame.slice(s.end)}`;
    }
  }
}
