/**
 * The parameters of the batch upsert: one PostgreSQL array literal per column (`{...}`), built directly.
 * node-postgres would escape every element of every array with a regular expression; this is about ten
 * times cheaper and is what bounds rows/s on the client. Names are always quoted and escaped (so a symbol
 * spelled NULL stays a string); a decimal string that is a plain decimal is written bare (it needs no
 * escaping), anything else quoted and escaped like a name.
 */
import type { Candle } from '../core/types.js';

const PLAIN_DECIMAL = /^-?\d+(\.\d+)?$/;
const NEEDS_ESCAPE = /[\\"]/g;

function quote(s: string): string {
  return `"${s.replace(NEEDS_ESCAPE, '\\$&')}"`;
}

function textArray(rows: readonly Candle[], get: (c: Candle) => string): string {
  let out = '{';
  for (let i = 0; i < rows.length; i++) out += (i === 0 ? '' : ',') + quote(get(rows[i]!));
  return `${out}}`;
}

function decimalArray(rows: readonly Candle[], get: (c: Candle) => string): string {
  let out = '{';
  for (let i = 0; i < rows.length; i++) {
    const s = get(rows[i]!);
    out += (i === 0 ? '' : ',') + (PLAIN_DECIMAL.test(s) ? s : quote(s));
  }
  return `${out}}`;
}

function integerArray(rows: readonly Candle[], get: (c: Candle) => number): string {
  let out = '{';
  for (let i = 0; i < rows.length; i++) {
    const n = get(rows[i]!);
    out += (i === 0 ? '' : ',') + (Number.isSafeInteger(n) ? String(n) : quote(String(n)));
  }
  return `${out}}`;
}

/** Like integerArray, with NULL for a missing value. */
function nullableIntegerArray(rows: readonly Candle[], get: (c: Candle) => number | undefined): string {
  let out = '{';
  for (let i = 0; i < rows.length; i++) {
    const n = get(rows[i]!);
    out += (i === 0 ? '' : ',') + (n === undefined ? 'NULL' : Number.isSafeInteger(n) ? String(n) : quote(String(n)));
  }
  return `${out}}`;
}

function booleanArray(rows: readonly Candle[], get: (c: Candle) => boolean): string {
  let out = '{';
  for (let i = 0; i < rows.length; i++) out += (i === 0 ? '' : ',') + (get(rows[i]!) ? 't' : 'f');
  return `${out}}`;
}

/** $1..$16 of the upsert, in COLUMNS order (see postgres-sql.ts). */
export function upsertColumns(rows: readonly Candle[]): string[] {
  return [
    textArray(rows, (c) => c.exchange),
    textArray(rows, (c) => c.symbol),
    textArray(rows, (c) => c.timeframe),
    integerArray(rows, (c) => c.openTime),
    decimalArray(rows, (c) => c.open),
    decimalArray(rows, (c) => c.high),
    decimalArray(rows, (c) => c.low),
    decimalArray(rows, (c) => c.close),
    decimalArray(rows, (c) => c.volume),
    decimalArray(rows, (c) => c.quoteVolume),
    decimalArray(rows, (c) => c.takerBuyVolume),
    integerArray(rows, (c) => c.tradeCount),
    decimalArray(rows, (c) => c.vwap),
    booleanArray(rows, (c) => c.closed),
    textArray(rows, (c) => c.source),
    integerArray(rows, (c) => c.revision),
    nullableIntegerArray(rows, (c) => c.lastTradeId),
  ];
}

/**
 * One row per key, as if the batch were applied in order: a later row replaces an earlier one unless the
 * earlier is closed and the later is forming (one INSERT ... ON CONFLICT cannot touch a row twice). Sorted
 * by key, so concurrent writers (several `process` instances, a rebalance) lock rows in the same order and
 * cannot deadlock each other.
 */
export function coalesce(candles: readonly Candle[]): Candle[] {
  const byKey = new Map<string, Candle>();
  for (const c of candles) {
    const key = `${c.exchange}\u0000${c.symbol}\u0000${c.timeframe}\u0000${c.openTime}`;
    const prev = byKey.get(key);
    if (prev === undefined || !(prev.closed && !c.closed)) byKey.set(key, c);
  }
  return [...byKey.values()].sort(compareKeys);
}

function compareKeys(a: Candle, b: Candle): number {
  if (a.exchange !== b.exchange) return a.exchange < b.exchange ? -1 : 1;
  if (a.symbol !== b.symbol) return a.symbol < b.symbol ? -1 : 1;
  if (a.timeframe !== b.timeframe) return a.timeframe < b.timeframe ? -1 : 1;
  return a.openTime - b.openTime;
}
