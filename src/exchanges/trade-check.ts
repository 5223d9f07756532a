/**
 * The checks every exchange mapper applies to a trade before emitting it (issue 19: zero, negative and NaN
 * prices reached stored candles). Hot path: one pass over each decimal's characters, no regex, no allocation.
 *
 * - price and qty: a plain decimal (`digits[.digits]`, at most 40 characters, at most 15 integer digits so the
 *   engine's integer limbs stay exact) with a non-zero digit within the 8 decimals the stack keeps: > 0.
 * - time: a safe integer of epoch ms, not before the exchange existed (`floorMs`, per adapter): else
 *   `invalid_timestamp`; not more than MAX_AHEAD_MS ahead of the local receive time: else `future_timestamp` (the
 *   reason the collector has always counted for it).
 * The reasons are the `reason` label of candlestack_messages_rejected_total.
 */

export type TradeRejectReason = 'invalid_price' | 'invalid_qty' | 'invalid_timestamp' | 'future_timestamp';

/** How far ahead of the receive time an exchange timestamp may be (clock skew): the collector's default too. */
export const MAX_AHEAD_MS = 60_000;

const MAX_DECIMAL_LENGTH = 40;
const MAX_INT_DIGITS = 15;

/**
 * 1 when `v` is a plain decimal > 0 at 8 decimals, 0 when it is a plain decimal equal to 0 there (a volume may
 * be), -1 when it is not a plain decimal at all.
 */
export function decimalSign(v: unknown): 1 | 0 | -1 {
  if (typeof v !== 'string') return -1;
  const n = v.length;
  if (n === 0 || n > MAX_DECIMAL_LENGTH) return -1;
  let i = 0;
  let nonZero = false;
  for (; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) break;
    if (c !== 48) nonZero = true;
  }
  if (i === 0 || i > MAX_INT_DIGITS) return -1;
  if (i < n) {
    if (v.charCodeAt(i) !== 46 || i === n - 1) return -1;
    const fracStart = ++i;
    for (; i < n; i++) {
      const c = v.charCodeAt(i);
      if (c < 48 || c > 57) return -1;
      if (c !== 48 && i - fracStart < 8) nonZero = true;
    }
  }
  return nonZero ? 1 : 0;
}

/** A plain decimal > 0 (a price, a trade's quantity). */
export const isPositiveDecimal = (v: unknown): v is string => decimalSign(v) === 1;

/** A plain decimal >= 0 (a kline's volume). */
export const isNonNegativeDecimal = (v: unknown): v is string => decimalSign(v) >= 0;

/** Why a trade's price, qty or time cannot be used; null when they can. */
export function tradeReject(price: unknown, qty: unknown, time: number, receivedAt: number, floorMs: number): TradeRejectReason | null {
  if (decimalSign(price) !== 1) return 'invalid_price';
  if (decimalSign(qty) !== 1) return 'invalid_qty';
  if (!Number.isSafeInteger(time) || time < floorMs) return 'invalid_timestamp';
  if (time > receivedAt + MAX_AHEAD_MS) return 'future_timestamp';
  return null;
}

/**
 * A value for a reject's detail text, safe on anything JSON.parse can return: JSON.stringify of a deeply nested
 * value throws a RangeError (issue 19: one 8 KB frame ended the process), and so does String() of a deeply
 * nested array; only primitives are printed.
 */
export function showValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
    case 'number':
    case 'boolean':
      return String(v);
    default:
      return Array.isArray(v) ? 'an array' : 'an object';
  }
}

/** The first day each exchange's spot market traded (UTC epoch ms): an earlier trade time is corrupt. */
export const EXCHANGE_FLOOR_MS = {
  binance: Date.UTC(2017, 6, 1),
  bybit: Date.UTC(2018, 2, 1),
  // Coinbase Exchange (then GDAX) opened in January 2015; its documentation's example frames are dated 2014-11.
  coinbase: Date.UTC(2014, 0, 1),
  kraken: Date.UTC(2013, 8, 1),
  okx: Date.UTC(2013, 0, 1),
} as const;

/** A message text the exchange sent (an error's `msg`), as a string for a log line: primitives only, truncated. */
export function showText(v: unknown): string {
  if (typeof v === 'string') return v.length > 200 ? `${v.slice(0, 200)}…` : v;
  return showValue(v);
}

/** The detail of a trade reject, naming the field and the form expected (for the throttled log line). */
export function tradeRejectDetail(reason: TradeRejectReason, price: unknown, qty: unknown, time: unknown): string {
  switch (reason) {
    case 'invalid_price':
      return `price ${showValue(price)} is not a decimal > 0`;
    case 'invalid_qty':
      return `quantity ${showValue(qty)} is not a decimal > 0`;
    case 'invalid_timestamp':
      return `trade time ${showValue(time)} is not epoch ms after the exchange opened`;
    case 'future_timestamp':
      return `trade time ${showValue(time)} is more than ${MAX_AHEAD_MS / 1000} s ahead of its receive time`;
  }
}
