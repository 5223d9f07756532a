/**
 * Kraken Spot WebSocket v2 frames -> normalized events (https://docs.kraken.com/exchange/api-reference/spot-websocket-v2).
 * Pure: no I/O, no clock. Data frames are `{"channel","type":"snapshot"|"update","data":[...]}`; prices and
 * quantities are JSON numbers, read exactly from the frame text (see numbers.ts). Acks, pongs, heartbeats and
 * status frames are ignored; v1 frames (arrays, `{"event":...}`) and anything else are rejected, never thrown.
 */
import type { EventSink, Mapper, SymbolCodec } from '../adapter.js';
import { isObject, parseObjectFrame, type Json } from '../json-frame.js';
import type { Timeframe } from '../../core/timeframe.js';
import { canonicalSymbol, commonAsset, memoSymbols, splitCanonical, splitConcatenated, splitSeparated } from '../../core/symbols.js';
import { plainDecimal, rawNumbers } from './numbers.js';
import { scanKrakenTrades } from './trade-scanner.js';
import { parseIsoTime } from '../iso-time.js';
import { EXCHANGE_FLOOR_MS, isNonNegativeDecimal, isPositiveDecimal, showText, showValue, tradeReject, tradeRejectDetail } from '../trade-check.js';

const FLOOR = EXCHANGE_FLOOR_MS.kraken;

const EXCHANGE = 'kraken';

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isNumeric = (v: unknown): boolean => typeof v === 'number' || typeof v === 'string';

/** Quote assets of Kraken's concatenated REST names (`XBTUSDT`), longest first; TUSD is a base there, not a quote. */
const REST_QUOTES = ['PYUSD', 'USDT', 'USDC', 'USD', 'EUR', 'GBP', 'CAD', 'JPY', 'CHF', 'AUD', 'XBT', 'BTC', 'ETH', 'DAI'];

/** Kraken's legacy REST pair names: X-prefixed crypto, Z-prefixed fiat (`XXBTZUSD`, `XETHXXBT`). */
const LEGACY_PAIR = /^X([A-Z]{3})[XZ]([A-Z]{3})$/;

/**
 * `BTC/USD` (v2), `XBT/USD` (v1), `XBTUSD` and `XXBTZUSD` (REST) -> `BTC-USD`; canonical -> the v2 form `BTC/USD`.
 * v2 itself refuses `XBT/USD` ("Currency pair not supported XBT/USD"), so toNative always spells BTC.
 */
export const krakenSymbols: SymbolCodec = {
  toCanonical: memoSymbols((native) => {
    const parts = splitSeparated(native) ?? legacyPair(native) ?? splitConcatenated(native, REST_QUOTES);
    return parts ? canonicalSymbol(parts) : null;
  }),
  toNative(canonical) {
    const parts = splitCanonical(canonical);
    return parts ? `${commonAsset(parts.base)}/${commonAsset(parts.quote)}` : canonical;
  },
};

function legacyPair(native: string): { base: string; quote: string } | null {
  const m = LEGACY_PAIR.exec(native);
  return m ? { base: m[1]!, quote: m[2]! } : null;
}

/** v2 ohlc `interval` (minutes) -> timeframe; Kraken's 10080 and 21600 have no candlestack timeframe. */
export const INTERVAL_TIMEFRAMES: Readonly<Record<number, Timeframe>> = { 1: '1m', 5: '5m', 15: '15m', 30: '30m', 60: '1h', 240: '4h', 1440: '1d' };

const TRADE_KEYS = ['price', 'qty'] as const;
const OHLC_KEYS = ['open', 'high', 'low', 'close', 'volume'] as const;
const raw: string[] = []; // scratch for rawNumbers; the mapper is synchronous

export const krakenMapper: Mapper = {
  map(frame, receivedAt, sink) {
    // The common compact trade frame, numbers' texts included, without the generic JSON tree and a second scan.
    const fast = scanKrakenTrades(frame, raw);
    if (fast !== null) return mapTrades(fast, frame, receivedAt, sink, true);
    // v1 data frames are arrays ([channelID, [...], "trade", "XBT/USD"]): unknown events, not corruption.
    const msg = parseObjectFrame(frame, sink, 'unknown_event');
    if (msg === undefined) return;
    switch (msg.channel) {
      case 'trade':
        return mapTrades(msg, frame, receivedAt, sink, false);
      case 'ohlc':
        return mapOhlc(msg, frame, receivedAt, sink);
      case 'heartbeat':
      case 'status':
        return;
      default:
        if (typeof msg.method === 'string') {
          // subscribe/unsubscribe acks and pongs; a failed request carries success:false and an error text.
          if (msg.success === false || typeof msg.error === 'string') return sink.reject('exchange_error', msg.error === undefined ? `${msg.method} failed` : showText(msg.error), frame);
          return;
        }
        if (typeof msg.error === 'string' || typeof msg.Error === 'string') return sink.reject('exchange_error', showText(msg.error ?? msg.Error), frame);
        return sink.reject('unknown_event', `unknown channel ${showValue(msg.channel ?? msg.event)}`, frame);
    }
  },
};

/** The exact decimal text of raw token `token`, or of a decimal string the exchange might quote instead. */
function decimal(token: string | undefined, parsed: unknown): string | null {
  if (token) return typeof parsed === 'number' && Number(token) === parsed ? plainDecimal(token) : null;
  return typeof parsed === 'string' && parsed.length > 0 && Number(parsed) >= 0 ? plainDecimal(parsed) : null;
}

/** `scanned`: `raw` already holds the price and qty texts (the fast path read them); else they are read here. */
function mapTrades(msg: Json, frame: string, receivedAt: number, sink: EventSink, scanned: boolean): void {
  const data = msg.data;
  if (!Array.isArray(data) || (!scanned && rawNumbers(frame, TRADE_KEYS, raw) !== data.length)) {
    return sink.reject('invalid_field', 'trade frame without a data array', frame);
  }
  for (let i = 0; i < data.length; i++) {
    const d: unknown = data[i];
    if (!isObject(d)) return sink.reject('invalid_field', 'trade entry is not an object', frame);
    const symbol = typeof d.symbol === 'string' ? krakenSymbols.toCanonical(d.symbol) : undefined;
    if (symbol === null) return sink.reject('unknown_symbol', `trade for symbol ${showValue(d.symbol)}`, frame);
    const price = decimal(raw[i * 2], d.price);
    const qty = decimal(raw[i * 2 + 1], d.qty);
    const time = typeof d.timestamp === 'string' ? parseIsoTime(d.timestamp) : NaN;
    const side = d.side === 'buy' || d.side === 'sell' ? d.side : null;
    if (symbol === undefined || !isNumeric(d.price) || !isNumeric(d.qty) || side === null || !isInt(d.trade_id) || !Number.isFinite(time)) {
      return sink.reject('invalid_field', 'trade with missing or mistyped field', frame);
    }
    if (price === null) return sink.reject('invalid_price', tradeRejectDetail('invalid_price', raw[i * 2] || d.price, d.qty, d.timestamp), frame);
    if (qty === null) return sink.reject('invalid_qty', tradeRejectDetail('invalid_qty', d.price, raw[i * 2 + 1] || d.qty, d.timestamp), frame);
    const bad = tradeReject(price, qty, time, receivedAt, FLOOR);
    if (bad !== null) return sink.reject(bad, tradeRejectDetail(bad, price, qty, d.timestamp), frame);
    // `side` is the taker's (docs: "The side of the taker order").
    sink.trade({ type: 'trade', exchange: EXCHANGE, symbol, id: d.trade_id, price, qty, side, count: 1, time, receivedAt });
  }
}

/**
 * Kraken streams the forming candle and never marks one final. A candle is `closed` when the frame's own
 * `timestamp` (the exchange clock) is at or past the candle's end: updates are generated on trades, and no trade
 * of a later instant can land in a period that has already ended. The subscribe snapshot's previous candle is
 * such a case. quoteVolume is null: vwap × volume is rounded (vwap is), so not exact; Kraken gives no taker split.
 */
function mapOhlc(msg: Json, frame: string, receivedAt: number, sink: EventSink): void {
  const data = msg.data;
  if (!Array.isArray(data) || rawNumbers(frame, OHLC_KEYS, raw) !== data.length) {
    return sink.reject('invalid_field', 'ohlc frame without a data array', frame);
  }
  const frameTime = typeof msg.timestamp === 'string' ? Date.parse(msg.timestamp) : NaN;
  const n = OHLC_KEYS.length;
  for (let i = 0; i < data.length; i++) {
    const d: unknown = data[i];
    if (!isObject(d)) return sink.reject('invalid_field', 'ohlc entry is not an object', frame);
    const symbol = typeof d.symbol === 'string' ? krakenSymbols.toCanonical(d.symbol) : undefined;
    if (symbol === null) return sink.reject('unknown_symbol', `ohlc for symbol ${showValue(d.symbol)}`, frame);
    const timeframe = typeof d.interval === 'number' ? INTERVAL_TIMEFRAMES[d.interval] : undefined;
    if (timeframe === undefined) return sink.reject('invalid_field', `ohlc interval ${showValue(d.interval)} is not supported`, frame);
    const open = decimal(raw[i * n], d.open);
    const high = decimal(raw[i * n + 1], d.high);
    const low = decimal(raw[i * n + 2], d.low);
    const close = decimal(raw[i * n + 3], d.close);
    const volume = decimal(raw[i * n + 4], d.volume);
    const openTime = typeof d.interval_begin === 'string' ? Date.parse(d.interval_begin) : NaN;
    if (symbol === undefined || !isPositiveDecimal(open) || !isPositiveDecimal(high) || !isPositiveDecimal(low) || !isPositiveDecimal(close) || !isNonNegativeDecimal(volume) || !isInt(d.trades) || !Number.isFinite(openTime)) {
      return sink.reject('invalid_field', 'ohlc with missing or mistyped field', frame);
    }
    const end = openTime + (d.interval as number) * 60_000;
    const known = Number.isFinite(frameTime);
    sink.kline({
      type: 'kline',
      exchange: EXCHANGE,
      symbol,
      timeframe,
      openTime,
      open,
      high,
      low,
      close,
      volume,
      quoteVolume: null,
      takerBuyVolume: null,
      tradeCount: d.trades,
      closed: known && frameTime >= end,
      time: known ? frameTime : receivedAt,
      receivedAt,
    });
  }
}
