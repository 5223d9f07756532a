/**
 * OKX v5 frames -> normalized events. Pure: no I/O, no clock. Every field is checked at this edge; a frame that
 * does not fit is rejected with a reason, never thrown. Layouts (docs.okx.com, API v5):
 * - trades-all (one trade per push): https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-all-trades-channel
 * - trades (aggregated per taker order and price; `tradeId` is the LAST id of the `count` aggregated):
 *   https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-trades-channel
 * - candle<bar> rows [ts,o,h,l,c,vol,volCcy,volCcyQuote,confirm]:
 *   https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-candlesticks-channel
 * - events subscribe/unsubscribe/error/notice: https://www.okx.com/docs-v5/en/#overview-websocket
 */
import type { EventSink, Mapper, SymbolCodec } from '../adapter.js';
import { isObject, parseObjectFrame } from '../json-frame.js';
import type { Kline } from '../../core/types.js';
import type { Timeframe } from '../../core/timeframe.js';
import { canonicalSymbol, memoSymbols, splitCanonical } from '../../core/symbols.js';
import { scanOkxTrades } from './trade-scanner.js';
import { EXCHANGE_FLOOR_MS, isNonNegativeDecimal, isPositiveDecimal, showText, showValue, tradeReject, tradeRejectDetail } from '../trade-check.js';

const FLOOR = EXCHANGE_FLOOR_MS.okx;

const EXCHANGE = 'okx';

/** OKX bar names of the timeframes it can serve aligned to UTC. 1H/2H/4H open on UTC+8 hours, which are UTC
 * boundaries of those lengths too (8 h is a multiple of each); 6h/12h/1d need the `utc` bars. OKX has no 8h. */
export const OKX_BARS: Readonly<Partial<Record<Timeframe, string>>> = {
  '1s': '1s', '1m': '1m', '3m': '3m', '5m': '5m', '15m': '15m', '30m': '30m',
  '1h': '1H', '2h': '2H', '4h': '4H', '6h': '6Hutc', '12h': '12Hutc', '1d': '1Dutc',
};

const TIMEFRAME_BY_CHANNEL: ReadonlyMap<string, Timeframe> = new Map(Object.entries(OKX_BARS).map(([tf, bar]) => [`candle${bar}`, tf as Timeframe]));

/** The documented 60 s warning before a service upgrade closes the connection. */
const NOTICE_SERVICE_UPGRADE = '64008';

/** OKX spot instIds are already BASE-QUOTE; anything else (BTC-USDT-SWAP, BTC-USD-220527) is not spot. */
export const okxSymbols: SymbolCodec = {
  toCanonical: memoSymbols((native) => {
    const parts = splitCanonical(native);
    return parts ? canonicalSymbol(parts) : null;
  }),
  toNative: (canonical) => canonical,
};

/** A non-negative integer sent as a decimal string ("130639474"); null otherwise. No regex: this is the hot path. */
export function parseUint(v: unknown): number | null {
  if (typeof v !== 'string' || v.length === 0 || v.length > 16) return null;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) return null;
  }
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : null;
}

/** A plain non-negative decimal string ("42219.9", "0.12060306"), kept exactly as sent. */
export function isDecimal(v: unknown): v is string {
  if (typeof v !== 'string' || v.length === 0) return false;
  let dot = false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 46 && !dot && i > 0 && i < v.length - 1) dot = true;
    else if (c < 48 || c > 57) return false;
  }
  return true;
}

export const okxMapper: Mapper = {
  map(frame, receivedAt, sink) {
    if (frame === 'pong') return; // the reply to our text `ping`: not JSON
    const fast = scanOkxTrades(frame); // the common compact trades push, without the generic JSON tree
    if (fast !== null) return mapTrades(fast, receivedAt, sink, frame);
    const msg = parseObjectFrame(frame, sink);
    if (msg === undefined) return;
    const arg = msg.arg;
    if (msg.data !== undefined && isObject(arg) && typeof arg.channel === 'string') {
      const channel = arg.channel;
      if (!Array.isArray(msg.data) || msg.data.length === 0) return sink.reject('invalid_field', `${channel} push without data`, frame);
      if (channel === 'trades-all' || channel === 'trades') return mapTrades(msg.data, receivedAt, sink, frame);
      const tf = TIMEFRAME_BY_CHANNEL.get(channel);
      if (tf !== undefined) return mapCandles(msg.data, arg.instId, tf, receivedAt, sink, frame);
      if (channel.startsWith('candle')) return sink.reject('invalid_field', `${channel} is not a UTC-aligned bar candlestack supports`, frame);
      return sink.reject('unknown_event', `unknown channel ${showValue(channel)}`, frame);
    }
    switch (msg.event) {
      case 'subscribe':
      case 'unsubscribe':
      case 'channel-conn-count':
        return; // acknowledgements and status
      case 'error':
      case 'channel-conn-count-error':
        return sink.reject('exchange_error', `${msg.code === undefined ? '' : showText(msg.code)} ${showText(msg.msg ?? msg.event)}`.trim(), frame);
      case 'notice':
        if (msg.code === NOTICE_SERVICE_UPGRADE) return sink.reconnect('service_upgrade');
        return sink.reject('unknown_event', `notice ${showValue(msg.code)}: ${msg.msg === undefined ? '' : showText(msg.msg)}`, frame);
      default:
        return sink.reject('unknown_event', `unknown event ${showValue(msg.event)}`, frame);
    }
  },
};

function mapTrades(data: unknown[], receivedAt: number, sink: EventSink, frame: string): void {
  for (const d of data) {
    if (!isObject(d)) {
      sink.reject('invalid_field', 'trade entry is not an object', frame);
      continue;
    }
    const symbol = typeof d.instId === 'string' ? okxSymbols.toCanonical(d.instId) : undefined;
    if (symbol === null) {
      sink.reject('unknown_symbol', `trade for instrument ${showValue(d.instId)}`, frame);
      continue;
    }
    const id = parseUint(d.tradeId);
    const time = parseUint(d.ts);
    // `count` only on the aggregated `trades` channel (and absent there before 2023): one trade otherwise.
    const count = d.count === undefined ? 1 : parseUint(d.count);
    const { px, sz, side } = d;
    if (symbol === undefined || id === null || time === null || count === null || count < 1 || typeof px !== 'string' || typeof sz !== 'string' || (side !== 'buy' && side !== 'sell')) {
      sink.reject('invalid_field', 'trade with missing or mistyped field', frame);
      continue;
    }
    const bad = tradeReject(px, sz, time, receivedAt, FLOOR);
    if (bad !== null) {
      sink.reject(bad, tradeRejectDetail(bad, px, sz, time), frame);
      continue;
    }
    // `side` is the taker's side (documented for `trades`; `trades-all` carries the same trades one by one).
    sink.trade({ type: 'trade', exchange: EXCHANGE, symbol, id, price: px, qty: sz, side, count, time, receivedAt });
  }
}

function mapCandles(rows: unknown[], instId: unknown, tf: Timeframe, receivedAt: number, sink: EventSink, frame: string): void {
  const symbol = typeof instId === 'string' ? okxSymbols.toCanonical(instId) : null;
  if (symbol === null) {
    sink.reject('unknown_symbol', `candle for instrument ${showValue(instId)}`, frame);
    return;
  }
  for (const row of rows) {
    // A pushed candle carries no event time: the receive time is the best one there is.
    const k = klineFromRow(row, symbol, tf, receivedAt, receivedAt);
    if (k) sink.kline(k);
    else sink.reject('invalid_field', 'candle row with missing or mistyped field', frame);
  }
}

/**
 * One candle row [ts,o,h,l,c,vol,volCcy,volCcyQuote,confirm] (WebSocket and REST share it) -> Kline; null when
 * it does not fit. For spot `vol` is in the base currency and `volCcyQuote` in the quote currency; OKX reports
 * neither the taker-buy volume nor the trade count. `confirm` "1" = the period is final.
 */
export function klineFromRow(row: unknown, symbol: string, timeframe: Timeframe, time: number, receivedAt: number): Kline | null {
  if (!Array.isArray(row) || row.length < 9) return null;
  const [ts, o, h, l, c, vol, , volCcyQuote, confirm] = row as unknown[];
  const openTime = parseUint(ts);
  if (openTime === null || !isPositiveDecimal(o) || !isPositiveDecimal(h) || !isPositiveDecimal(l) || !isPositiveDecimal(c) || !isNonNegativeDecimal(vol) || !isNonNegativeDecimal(volCcyQuote)) return null;
  if (confirm !== '0' && confirm !== '1') return null;
  return {
    type: 'kline',
    exchange: EXCHANGE,
    symbol,
    timeframe,
    openTime,
    open: o,
    high: h,
    low: l,
    close: c,
    volume: vol,
    quoteVolume: volCcyQuote,
    takerBuyVolume: null,
    tradeCount: null,
    closed: confirm === '1',
    time,
    receivedAt,
  };
}
