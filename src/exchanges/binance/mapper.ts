/**
 * Binance spot stream frames -> normalized events. Pure: no I/O, no clock. Accepts the combined-stream
 * wrapper `{"stream","data"}` and raw single-stream events. Every field is checked at this edge; a frame
 * that does not fit is rejected with a reason, never thrown.
 */
import type { EventSink, Mapper, SymbolCodec } from '../adapter.js';
import { isObject, parseObjectFrame, type Json } from '../json-frame.js';
import { concatenatedSymbols } from '../symbols.js';
import { isTimeframe } from '../../core/timeframe.js';
import { scanTrade } from './trade-scanner.js';
import { EXCHANGE_FLOOR_MS, isNonNegativeDecimal, isPositiveDecimal, showText, showValue, tradeReject, tradeRejectDetail } from '../trade-check.js';

const EXCHANGE = 'binance';

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const FLOOR = EXCHANGE_FLOOR_MS.binance;

/** BTCUSDT <-> BTC-USDT: Binance concatenates base and quote; the quote is read from a known suffix. */
export const binanceSymbols: SymbolCodec = concatenatedSymbols();

export const binanceMapper: Mapper = {
  map(frame, receivedAt, sink) {
    const fast = scanTrade(frame); // the common compact trade frame, without the generic JSON tree
    if (fast !== null) return mapTrade(fast as unknown as Json, receivedAt, sink, frame, fast.e === 'trade' ? 't' : 'a', fast.e === 'aggTrade');
    const msg = parseObjectFrame(frame, sink);
    if (msg === undefined) return;
    // Combined streams wrap events in {"stream","data"}; Binance's WebSocket API wraps notices in {"event"}.
    const data = isObject(msg.data) && typeof msg.stream === 'string' ? msg.data : isObject(msg.event) ? msg.event : msg;
    switch (data.e) {
      case 'trade':
        return mapTrade(data, receivedAt, sink, frame, 't', false);
      case 'aggTrade':
        return mapTrade(data, receivedAt, sink, frame, 'a', true);
      case 'kline':
        return mapKline(data, receivedAt, sink, frame);
      case 'serverShutdown':
        return sink.reconnect('server_shutdown');
      default:
        if ('result' in data && 'id' in data) return; // SUBSCRIBE / UNSUBSCRIBE acknowledgement
        if ('code' in data && 'msg' in data) return sink.reject('exchange_error', showText(data.msg), frame);
        return sink.reject('unknown_event', `unknown event ${showValue(data.e)}`, frame);
    }
  },
};

function mapTrade(d: Json, receivedAt: number, sink: EventSink, frame: string, idField: 't' | 'a', agg: boolean): void {
  const id = d[idField];
  const { p, q, T, m } = d;
  const s = typeof d.s === 'string' ? binanceSymbols.toCanonical(d.s) : undefined;
  if (s === null) {
    sink.reject('unknown_symbol', `${agg ? 'aggTrade' : 'trade'} for symbol ${showValue(d.s)}`, frame);
    return;
  }
  if (s === undefined || !isInt(id) || !isStr(p) || !isStr(q) || !isInt(T) || typeof m !== 'boolean') {
    sink.reject('invalid_field', `${agg ? 'aggTrade' : 'trade'} with missing or mistyped field`, frame);
    return;
  }
  let count = 1;
  if (agg) {
    const { f, l } = d;
    if (!isInt(f) || !isInt(l) || l < f) {
      sink.reject('invalid_field', 'aggTrade with invalid first/last trade ids', frame);
      return;
    }
    count = l - f + 1;
  }
  const bad = tradeReject(p, q, T, receivedAt, FLOOR);
  if (bad !== null) {
    sink.reject(bad, tradeRejectDetail(bad, p, q, T), frame);
    return;
  }
  sink.trade({ type: 'trade', exchange: EXCHANGE, symbol: s, id, price: p, qty: q, side: m ? 'sell' : 'buy', count, time: T, receivedAt });
}

function mapKline(d: Json, receivedAt: number, sink: EventSink, frame: string): void {
  const k = d.k;
  if (!isObject(k) || typeof d.s !== 'string' || !isInt(d.E)) {
    sink.reject('invalid_field', 'kline without k/s/E', frame);
    return;
  }
  const symbol = binanceSymbols.toCanonical(d.s);
  if (symbol === null) {
    sink.reject('unknown_symbol', `kline for symbol ${showValue(d.s)}`, frame);
    return;
  }
  const { t, i, o, h, l, c, v, q, V, n, x } = k;
  if (!isTimeframe(i)) {
    sink.reject('invalid_field', `kline interval ${showValue(i)} is not supported`, frame);
    return;
  }
  if (!isInt(t) || !isPositiveDecimal(o) || !isPositiveDecimal(h) || !isPositiveDecimal(l) || !isPositiveDecimal(c) || !isNonNegativeDecimal(v) || !isNonNegativeDecimal(q) || !isNonNegativeDecimal(V) || !isInt(n) || typeof x !== 'boolean') {
    sink.reject('invalid_field', 'kline with missing or mistyped field', frame);
    return;
  }
  sink.kline({
    type: 'kline',
    exchange: EXCHANGE,
    symbol,
    timeframe: i,
    openTime: t,
    open: o,
    high: h,
    low: l,
    close: c,
    volume: v,
    quoteVolume: q,
    takerBuyVolume: V,
    tradeCount: n,
    closed: x,
    time: d.E,
    receivedAt,
  });
}
