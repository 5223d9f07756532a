/**
 * The Coinbase Exchange wire protocol for SimulatedVenue, as documented:
 * - WebSocket feed at `/`: `{"type":"subscribe","product_ids":[..],"channels":["matches",{"name":"heartbeat",
 *   "product_ids":[..]}]}` -> `{"type":"subscriptions","channels":[..]}`; a bad request -> `{"type":"error",
 *   "message":"Failed to subscribe","reason":..}`; no subscribe within 5 s -> disconnected
 *   (https://docs.cdp.coinbase.com/exchange/websocket-feed/overview).
 * - `matches`: one `match` per trade, `side` = the MAKER's side; a `last_match` per product right after
 *   subscribing. `heartbeat`: per product every second with `last_trade_id`
 *   (https://docs.cdp.coinbase.com/exchange/websocket-feed/channels). No candle channel.
 * - REST `GET /products/<id>/candles?granularity=&start=&end=`: granularity in {60,300,900,3600,21600,86400},
 *   more than 300 buckets -> 400, rows `[time, low, high, open, close, volume]` as JSON numbers, newest first,
 *   no row for a bucket without trades, the in-progress bucket included
 *   (https://docs.cdp.coinbase.com/api-reference/exchange-api/rest-api/products/get-product-candles).
 */
import type { ServerResponse } from 'node:http';
import type { Timeframe } from '../../core/timeframe.js';
import { periodStart } from '../../core/timeframe.js';
import { formatUnits } from '../simulated-binance/price-process.js';
import type { KlineBar } from '../simulated-binance/kline-book.js';
import type { VenueContext, VenueProtocol, VenueSession, VenueTrade } from './venue.js';
import { isObject, type Json } from '../../exchanges/json-frame.js';

export interface CoinbaseProtocolOptions {
  /** Disconnect a client that has not subscribed within this long (default 5000 ms, as documented). */
  subscribeTimeoutMs?: number;
  /** Heartbeat cadence per subscribed product (default 1000 ms). */
  heartbeatIntervalMs?: number;
  /** Most buckets one candles request may span (default 300). */
  maxCandles?: number;
}

const CHANNELS = new Set(['matches', 'heartbeat']);
const GRANULARITY: Readonly<Record<string, Timeframe>> = { 60: '1m', 300: '5m', 900: '15m', 3600: '1h', 21600: '6h', 86400: '1d' };


/** ISO time with microseconds, as the feed prints it ("2014-11-07T08:19:27.028000Z"). */
const isoMicros = (ms: number): string => new Date(ms).toISOString().replace('Z', '000Z');
/** 1e-8 units -> a JSON number literal without trailing zeros ("65000.12", "3"). */
const jsonNumber = (units: bigint): string => formatUnits(units).replace(/\.?0+$/, '');

export function coinbaseProtocol(options: CoinbaseProtocolOptions = {}): VenueProtocol {
  const subscribeTimeoutMs = options.subscribeTimeoutMs ?? 5000;
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 1000;
  const maxCandles = options.maxCandles ?? 300;
  const sequences = new Map<string, number>();
  const nextSequence = (product: string): number => {
    const n = (sequences.get(product) ?? 0) + 1;
    sequences.set(product, n);
    return n;
  };
  const lastTrade = (ctx: VenueContext, product: string): VenueTrade | undefined => ctx.recentTrades(product).at(-1);
  const matchFrame = (type: 'match' | 'last_match', t: VenueTrade, sequence: number): string =>
    JSON.stringify({
      type,
      trade_id: t.id,
      maker_order_id: `maker-${t.id}`,
      taker_order_id: `taker-${t.id}`,
      side: t.side === 'buy' ? 'sell' : 'buy', // the maker's side: opposite of the taker's
      size: t.qty,
      price: t.price,
      product_id: t.symbol,
      sequence,
      time: isoMicros(t.time),
    });
  const error = (s: VenueSession, reason: string): void => s.send(JSON.stringify({ type: 'error', message: 'Failed to subscribe', reason }));

  function subscribe(s: VenueSession, msg: Json, ctx: VenueContext): void {
    const topLevel = Array.isArray(msg.product_ids) ? msg.product_ids : [];
    const wanted: [channel: string, product: unknown][] = [];
    for (const c of Array.isArray(msg.channels) ? msg.channels : []) {
      const name = typeof c === 'string' ? c : isObject(c) ? c.name : undefined;
      const products = isObject(c) && Array.isArray(c.product_ids) ? c.product_ids : topLevel;
      if (typeof name !== 'string' || !CHANNELS.has(name)) return error(s, `${JSON.stringify(name ?? null)} is not a valid channel`);
      if (products.length === 0) return error(s, `You need to specify at least one product ID for channel ${name}`);
      for (const p of products) wanted.push([name, p]);
    }
    if (wanted.length === 0) return error(s, 'No channels provided');
    for (const [, p] of wanted) if (typeof p !== 'string' || !ctx.symbols.includes(p)) return error(s, `${JSON.stringify(p)} is not a valid product`);
    const unsubscribe = msg.type === 'unsubscribe';
    const newMatches: string[] = [];
    for (const [channel, p] of wanted as [string, string][]) {
      const topic = `${channel}:${p}`;
      if (unsubscribe) s.topics.delete(topic);
      else if (!s.topics.has(topic)) {
        s.topics.add(topic);
        if (channel === 'matches') newMatches.push(p);
      }
    }
    s.data.subscribed = true;
    const channels = new Map<string, string[]>();
    for (const topic of s.topics) {
      const [channel, product] = topic.split(':') as [string, string];
      channels.set(channel, [...(channels.get(channel) ?? []), product]);
    }
    s.send(JSON.stringify({ type: 'subscriptions', channels: [...channels].map(([name, product_ids]) => ({ name, product_ids })) }));
    for (const p of newMatches) {
      const t = lastTrade(ctx, p);
      if (t) s.send(matchFrame('last_match', t, sequences.get(p) ?? 0));
    }
  }

  return {
    name: 'coinbase',
    acceptsPath: (url) => url.pathname === '/',
    onMessage(s, text, ctx) {
      let msg: unknown;
      try {
        msg = JSON.parse(text);
      } catch {
        return s.send(JSON.stringify({ type: 'error', message: 'Malformed JSON' }));
      }
      if (!isObject(msg) || (msg.type !== 'subscribe' && msg.type !== 'unsubscribe')) {
        return s.send(JSON.stringify({ type: 'error', message: 'Failed to subscribe', reason: 'unknown message type' }));
      }
      subscribe(s, msg, ctx);
    },
    housekeeping(s, ctx, mono) {
      if (s.data.subscribed !== true) {
        if (mono - s.openedAt > subscribeTimeoutMs) s.close(1008, 'no subscribe within the deadline');
        return;
      }
      const last = typeof s.data.heartbeatAt === 'number' ? s.data.heartbeatAt : s.openedAt;
      if (mono - last < heartbeatIntervalMs) return;
      s.data.heartbeatAt = mono;
      for (const topic of s.topics) {
        if (!topic.startsWith('heartbeat:')) continue;
        const product = topic.slice('heartbeat:'.length);
        const t = lastTrade(ctx, product);
        s.send(JSON.stringify({ type: 'heartbeat', last_trade_id: t?.id ?? 0, product_id: product, sequence: sequences.get(product) ?? 0, time: isoMicros(ctx.now()) }));
      }
    },
    *tradeFrames(t) {
      yield [`matches:${t.symbol}`, matchFrame('match', t, nextSequence(t.symbol))] as const;
    },
    klineTopic: () => null,
    klineFrame: () => '',
    handleRest(_req, url, res, ctx) {
      const m = /^\/products\/([^/]+)\/candles$/.exec(url.pathname);
      if (!m) return false;
      const product = decodeURIComponent(m[1]!);
      const book = ctx.book(product);
      if (!book) return reply(res, 404, { message: 'NotFound' });
      const seconds = url.searchParams.get('granularity') ?? '';
      const tf = GRANULARITY[seconds];
      if (!tf) return reply(res, 400, { message: 'Unsupported granularity' });
      const step = Number(seconds) * 1000;
      let start = Date.parse(url.searchParams.get('start') ?? '');
      let end = Date.parse(url.searchParams.get('end') ?? '');
      if (Number.isNaN(start) || Number.isNaN(end)) {
        end = ctx.now(); // either missing: both ignored, a range ending now
        start = end - (maxCandles - 1) * step;
      }
      if (end < start) return reply(res, 400, { message: 'start must be before end' });
      if ((end - start) / step > maxCandles) return reply(res, 400, { message: `granularity too small for the requested time range. Count of aggregations requested exceeds ${maxCandles}` });
      // From the bucket containing `start` (so a row may precede it), only buckets that had trades, newest first.
      const bars = book.query(tf, { startTime: periodStart(start, step), endTime: end, limit: Number.MAX_SAFE_INTEGER }).filter((b) => b.trades > 0);
      const rows = bars.reverse().slice(0, maxCandles).map(candleRow);
      res.writeHead(200, { 'content-type': 'application/json' }).end(`[${rows.join(',')}]`);
      return true;
    },
  };
}

/** The row as Coinbase writes it: JSON numbers. */
function candleRow(b: KlineBar): string {
  return `[${b.openTime / 1000},${jsonNumber(b.low)},${jsonNumber(b.high)},${jsonNumber(b.open)},${jsonNumber(b.close)},${jsonNumber(b.volume)}]`;
}

function reply(res: ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  return true;
}
