/**
 * Bybit v5 public spot frames -> normalized events. Pure: no I/O, no clock. Topics `publicTrade.<SYMBOL>` and
 * `kline.<interval>.<SYMBOL>` (https://bybit-exchange.github.io/docs/v5/websocket/public/trade and
 * .../public/kline); `{"success":...,"op":...}` answers to subscribe/ping are control frames
 * (https://bybit-exchange.github.io/docs/v5/ws/connect). Anything else is rejected with a reason, never thrown.
 */
import type { EventSink, Mapper, SymbolCodec } from '../adapter.js';
import { isObject, parseObjectFrame, type Json } from '../json-frame.js';
import { concatenatedSymbols } from '../symbols.js';
import type { Timeframe } from '../../core/timeframe.js';
import { scanBybitTrades } from './trade-scanner.js';
import { EXCHANGE_FLOOR_MS, isNonNegativeDecimal, isPositiveDecimal, showText, showValue, tradeReject, tradeRejectDetail } from '../trade-check.js';

const EXCHANGE = 'bybit';

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const FLOOR = EXCHANGE_FLOOR_MS.bybit;

/** Bybit kline interval <-> candlestack timeframe, for the intervals both have (W and M have no timeframe). */
export const BYBIT_INTERVALS: Readonly<Partial<Record<Timeframe, string>>> = {
  '1m': '1', '3m': '3', '5m': '5', '15m': '15', '30m': '30', '1h': '60', '2h': '120', '4h': '240', '6h': '360', '12h': '720', '1d': 'D',
};
const TIMEFRAME_OF: ReadonlyMap<string, Timeframe> = new Map(Object.entries(BYBIT_INTERVALS).map(([tf, i]) => [i, tf as Timeframe]));

/** BTCUSDT <-> BTC-USDT: spot symbols concatenate base and quote, like Binance. */
export const bybitSymbols: SymbolCodec = concatenatedSymbols();

/** Decimal digits kept from a numeric trade id: 10^15 < 2^53, so the result is always a safe integer. */
const ID_DIGITS = 15;

/**
 * Bybit's trade id `i` is a string: on spot a 19-digit number ("2290000001211680903", above 2^53), in the
 * documented example a UUID. The Trade id must be a safe integer and the SAME for the same trade on every
 * connection (a per-connection counter would give a redelivered trade a new id, defeating dedupe), so it is
 * derived from `i` alone:
 * - all digits: the value of its last 15 digits (`i mod 10^15`): distinct ids stay distinct as long as they
 *   differ by less than 10^15, and the order of the raw ids is kept within one 10^15 block;
 * - anything else (UUID): a 53-bit hash of the text: deterministic, collisions unlikely, no order.
 * Returns -1 for an empty or oversized id.
 */
export function tradeIdFromString(i: string): number {
  const n = i.length;
  if (n === 0 || n > 64) return -1;
  let value = 0;
  const from = n - ID_DIGITS;
  for (let k = 0; k < n; k++) {
    const d = i.charCodeAt(k) - 48;
    if (d < 0 || d > 9) return hash53(i);
    if (k >= from) value = value * 10 + d;
  }
  return value;
}

/** Two independent 32-bit multiplicative hashes with a final avalanche, combined into 53 bits. */
function hash53(s: string): number {
  let h1 = 0x9e3779b9;
  let h2 = 0x85ebca6b;
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    h1 = Math.imul(h1 ^ c, 0x9e3779b1);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 0x85ebca6b) ^ Math.imul(h2 ^ (h2 >>> 13), 0xc2b2ae35);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 0x85ebca6b) ^ Math.imul(h1 ^ (h1 >>> 13), 0xc2b2ae35);
  return (h2 >>> 0) % 0x200000 * 0x100000000 + (h1 >>> 0);
}

export const bybitMapper: Mapper = {
  map(frame, receivedAt, sink) {
    const fast = scanBybitTrades(frame); // the common compact trade frame, without the generic JSON tree
    if (fast !== null) return mapTrades(fast, receivedAt, sink, frame);
    const msg = parseObjectFrame(frame, sink);
    if (msg === undefined) return;
    const topic = msg.topic;
    if (typeof topic === 'string') {
      if (topic.startsWith('publicTrade.')) return mapTrades(msg, receivedAt, sink, frame);
      if (topic.startsWith('kline.')) return mapKline(msg, topic, receivedAt, sink, frame);
      return sink.reject('unknown_event', `unknown topic ${JSON.stringify(topic.slice(0, 60))}`, frame);
    }
    // Subscribe acks and spot pongs carry `success`; option/private pongs are {"op":"pong"}.
    if (msg.success === true || msg.op === 'pong') return;
    if (msg.success === false) return sink.reject('exchange_error', `${msg.op === undefined ? 'request' : showText(msg.op)} failed: ${msg.ret_msg === undefined ? '' : showText(msg.ret_msg)}`, frame);
    return sink.reject('unknown_event', 'frame without topic or op', frame);
  },
};

function mapTrades(msg: Json, receivedAt: number, sink: EventSink, frame: string): void {
  const data = msg.data;
  if (!Array.isArray(data)) {
    sink.reject('invalid_field', 'publicTrade without a data array', frame);
    return;
  }
  for (const d of data as unknown[]) {
    if (!isObject(d)) {
      sink.reject('invalid_field', 'publicTrade entry is not an object', frame);
      continue;
    }
    const { s, S, v, p, T, i } = d;
    const symbol = typeof s === 'string' ? bybitSymbols.toCanonical(s) : undefined;
    if (symbol === null) {
      sink.reject('unknown_symbol', `publicTrade for symbol ${showValue(s)}`, frame);
      continue;
    }
    const id = typeof i === 'string' ? tradeIdFromString(i) : -1;
    if (symbol === undefined || id < 0 || !isStr(p) || !isStr(v) || !isInt(T) || (S !== 'Buy' && S !== 'Sell')) {
      sink.reject('invalid_field', 'publicTrade with missing or mistyped field', frame);
      continue;
    }
    const bad = tradeReject(p, v, T, receivedAt, FLOOR);
    if (bad !== null) {
      sink.reject(bad, tradeRejectDetail(bad, p, v, T), frame);
      continue;
    }
    // `S` is the taker's side (docs: "Side of taker").
    sink.trade({ type: 'trade', exchange: EXCHANGE, symbol, id, price: p, qty: v, side: S === 'Buy' ? 'buy' : 'sell', count: 1, time: T, receivedAt });
  }
}

function mapKline(msg: Json, topic: string, receivedAt: number, sink: EventSink, frame: string): void {
  const dot = topic.indexOf('.', 6);
  const timeframe = dot < 0 ? undefined : TIMEFRAME_OF.get(topic.slice(6, dot));
  if (timeframe === undefined) {
    sink.reject('invalid_field', `kline topic ${JSON.stringify(topic.slice(0, 60))} has no supported interval`, frame);
    return;
  }
  const symbol = bybitSymbols.toCanonical(topic.slice(dot + 1));
  if (symbol === null) {
    sink.reject('unknown_symbol', `kline for symbol ${JSON.stringify(topic.slice(dot + 1, dot + 41))}`, frame);
    return;
  }
  const data = msg.data;
  if (!Array.isArray(data) || !isInt(msg.ts)) {
    sink.reject('invalid_field', 'kline without a data array or ts', frame);
    return;
  }
  for (const k of data as unknown[]) {
    if (!isObject(k)) {
      sink.reject('invalid_field', 'kline entry is not an object', frame);
      continue;
    }
    const { start, open, high, low, close, volume, turnover, confirm } = k;
    if (!isInt(start) || !isPositiveDecimal(open) || !isPositiveDecimal(high) || !isPositiveDecimal(low) || !isPositiveDecimal(close) || !isNonNegativeDecimal(volume) || !isNonNegativeDecimal(turnover) || typeof confirm !== 'boolean') {
      sink.reject('invalid_field', 'kline with missing or mistyped field', frame);
      continue;
    }
    // Bybit reports neither the taker-buy volume nor the trade count of a kline.
    sink.kline({
      type: 'kline', exchange: EXCHANGE, symbol, timeframe, openTime: start, open, high, low, close, volume, quoteVolume: turnover,
      takerBuyVolume: null, tradeCount: null, closed: confirm, time: msg.ts, receivedAt,
    });
  }
}
