/**
 * Coinbase Exchange WebSocket frames (wss://ws-feed.exchange.coinbase.com) -> normalized events. Pure: no I/O,
 * no clock. Trades come from the `matches` channel: `match`, and `last_match` (sent once per product right after
 * subscribing: a real, earlier trade; the collector drops it as a duplicate when it was already seen).
 * Docs: https://docs.cdp.coinbase.com/exchange/websocket-feed/channels (match, heartbeat),
 * https://docs.cdp.coinbase.com/exchange/websocket-feed/overview (subscriptions, error).
 */
import type { EventSink, Mapper, SymbolCodec } from '../adapter.js';
import { parseObjectFrame, type Json } from '../json-frame.js';
import { canonicalSymbol, memoSymbols, splitCanonical } from '../../core/symbols.js';
import { scanCoinbaseMatch } from './match-scanner.js';
import { fastIsoUtcMs } from '../iso-time.js';
import { EXCHANGE_FLOOR_MS, showText, showValue, tradeReject, tradeRejectDetail } from '../trade-check.js';

const EXCHANGE = 'coinbase';

/** RFC 3339 UTC with optional fraction (Coinbase sends microseconds: "2014-11-07T08:19:27.028459Z"). */
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const FLOOR = EXCHANGE_FLOOR_MS.coinbase;

/** Product ids are already BASE-QUOTE (BTC-USD, ETH-USDT): canonical after asset aliases. */
export const coinbaseSymbols: SymbolCodec = {
  toCanonical: memoSymbols((native) => {
    const parts = splitCanonical(native);
    return parts ? canonicalSymbol(parts) : null;
  }),
  toNative: (canonical) => canonical.toUpperCase(),
};

/** "2014-11-07T08:19:27.028459Z" -> epoch ms (sub-millisecond digits truncated); NaN when not RFC 3339 UTC. */
export function parseCoinbaseTime(v: unknown): number {
  if (typeof v !== 'string') return NaN;
  const fast = fastIsoUtcMs(v); // its form is within ISO_UTC's
  if (fast === fast) return fast;
  if (!ISO_UTC.test(v)) return NaN;
  return Date.parse(v);
}

export const coinbaseMapper: Mapper = {
  map(frame, receivedAt, sink) {
    const fast = scanCoinbaseMatch(frame); // the common compact match frame, without the generic JSON tree
    if (fast !== null) return mapMatch(fast, receivedAt, sink, frame);
    const msg = parseObjectFrame(frame, sink);
    if (msg === undefined) return;
    switch (msg.type) {
      case 'match':
      case 'last_match':
        return mapMatch(msg, receivedAt, sink, frame);
      case 'heartbeat': // keeps the feed alive; carries last_trade_id, which the trade ids themselves cover
      case 'subscriptions': // the acknowledgement of a subscribe / unsubscribe
        return;
      case 'error': {
        const reason = typeof msg.reason === 'string' ? `: ${msg.reason}` : '';
        return sink.reject('exchange_error', `${typeof msg.message === 'string' ? msg.message : 'error'}${reason}`, frame);
      }
      default:
        return sink.reject('unknown_event', `unknown message type ${showValue(msg.type)}`, frame);
    }
  },
};

function mapMatch(m: Json, receivedAt: number, sink: EventSink, frame: string): void {
  const symbol = typeof m.product_id === 'string' ? coinbaseSymbols.toCanonical(m.product_id) : undefined;
  if (symbol === null) {
    sink.reject('unknown_symbol', `${showText(m.type)} for product ${showValue(m.product_id)}`, frame);
    return;
  }
  const { trade_id: id, price, size, side } = m;
  const time = parseCoinbaseTime(m.time);
  if (symbol === undefined || !isId(id) || typeof price !== 'string' || typeof size !== 'string' || (side !== 'buy' && side !== 'sell') || !(time >= 0)) {
    sink.reject('invalid_field', `${showText(m.type)} with missing or mistyped field`, frame);
    return;
  }
  const bad = tradeReject(price, size, time, receivedAt, FLOOR);
  if (bad !== null) {
    sink.reject(bad, tradeRejectDetail(bad, price, size, m.time), frame);
    return;
  }
  // `side` is the MAKER's order side ("sell" = the resting order sold, an up-tick): the taker did the opposite.
  sink.trade({ type: 'trade', exchange: EXCHANGE, symbol, id, price, qty: size, side: side === 'sell' ? 'buy' : 'sell', count: 1, time, receivedAt });
}
