/**
 * Coinbase Exchange (formerly Coinbase Pro): trades from the `matches` channel of the public WebSocket feed,
 * with the `heartbeat` channel alongside (one frame per product per second keeps quiet connections visibly
 * alive). The feed has no candle channel, so no exchange klines are streamed: reconciliation and backfill use
 * REST `GET /products/<id>/candles` only.
 *
 * Docs used:
 * - https://docs.cdp.coinbase.com/exchange/websocket-feed/overview — endpoint, subscribe within 5 s or be
 *   disconnected, `subscriptions` ack, `error` messages.
 * - https://docs.cdp.coinbase.com/exchange/websocket-feed/channels — `matches` (side = maker side), `heartbeat`.
 * - https://docs.cdp.coinbase.com/exchange/websocket-feed/rate-limits — 8 connects/s per IP (bursts 20), 100
 *   client messages/s per IP; no per-connection product cap and no connection lifetime are documented.
 * - https://docs.cdp.coinbase.com/api-reference/exchange-api/rest-api/products/get-product-candles — granularity
 *   60/300/900/3600/21600/86400 only, at most 300 buckets per request (a larger range is rejected), rows
 *   `[time, low, high, open, close, volume]` newest first, no row for a bucket without trades, rows may precede
 *   `start`.
 */
import type { ExchangeAdapter, Endpoints, StreamRef, Subscription } from '../adapter.js';
import { batchesByTopic } from '../stream-batches.js';
import type { RestClient } from '../../feed/rest-client.js';
import type { Kline } from '../../core/types.js';
import { closedKline } from '../../core/kline.js';
import { periodStart, timeframeMs, type Timeframe } from '../../core/timeframe.js';
import { coinbaseMapper, coinbaseSymbols } from './mapper.js';

/** REST candles: the documented maximum number of buckets one request may span. */
export const CANDLES_PER_REQUEST = 300;
/** Products per subscribe message: keeps each message ~1 KB, far from the feed's "Message too big" error. */
export const SUBSCRIBE_BATCH = 100;
/** Channels subscribed per product, in this order (heartbeat first, so a quiet product is still heard from). */
const CHANNELS = ['heartbeat', 'matches'] as const;

/** Candle granularity in seconds per supported timeframe (the docs' six values). */
export const GRANULARITY_SECONDS: Readonly<Partial<Record<Timeframe, number>>> = { '1m': 60, '5m': 300, '15m': 900, '1h': 3600, '6h': 21600, '1d': 86400 };

export const coinbase: ExchangeAdapter = {
  id: 'coinbase',
  displayName: 'Coinbase Exchange',
  defaultEndpoints: { wsBaseUrl: 'wss://ws-feed.exchange.coinbase.com', restBaseUrl: 'https://api.exchange.coinbase.com' },
  limits: {
    // Not a documented cap (there is none per connection): 100 products x 2 channels per connection keeps a
    // reconnect cheap and the per-second heartbeat fan-in modest.
    maxStreamsPerConnection: 200,
    // The documented limit is 100 client messages/s per IP, shared by all connections; 10 per connection stays
    // under it for up to 10 connections (we only send subscribe messages).
    maxOutgoingPerSecond: 10,
    // No documented lifetime: rotate daily anyway so a connection never lives unbounded.
    maxConnectionLifetimeMs: 24 * 3_600_000,
  },
  // No client pings: the server's heartbeat channel sends a frame per product every second.
  // trade_id is consecutive per product: heartbeats carry last_trade_id "to verify that no messages were
  // missed" (channels doc), and the recorded feed shows it (test/coinbase-mapper.test.ts: 107 trades, 0 jumps).
  sequentialTradeIds: true,
  increasingTradeIds: true,
  klineTimeframes: ['1m', '5m', '15m', '1h', '6h', '1d'],
  mapper: coinbaseMapper,
  symbols: coinbaseSymbols,

  /** `heartbeat:<product>` and `matches:<product>` per symbol; `sub.klines` is ignored (no candle channel). */
  streams(sub: Subscription): StreamRef[] {
    const out: StreamRef[] = [];
    for (const symbol of sub.symbols) {
      const product = coinbaseSymbols.toNative(symbol);
      for (const channel of CHANNELS) out.push({ symbol, name: `${channel}:${product}` });
    }
    return out;
  },

  /** The feed URL itself; one subscribe message per channel and batch of SUBSCRIBE_BATCH products. */
  connection(streams: readonly StreamRef[], endpoints: Endpoints) {
    const subscribeMessages = batchesByTopic(streams, SUBSCRIBE_BATCH).map(({ topic, symbols }) =>
      JSON.stringify({ type: 'subscribe', channels: [{ name: topic, product_ids: symbols }] }),
    );
    return { url: endpoints.wsBaseUrl, subscribeMessages };
  },

  /**
   * Pages of at most 300 buckets from the first period start; each page's `end` is one second before the next
   * page's start, so inclusive and exclusive readings of `end` select the same buckets. Periods without trades
   * have no row (the exchange publishes none). Only periods lying wholly inside [startTime, endTime] are
   * returned: the caller (backfill) asks for windows that have closed, which is what makes them final.
   */
  async fetchKlines(rest: RestClient, endpoints: Endpoints, symbol: string, tf: Timeframe, startTime: number, endTime: number): Promise<Kline[]> {
    const seconds = GRANULARITY_SECONDS[tf];
    if (seconds === undefined) throw new RangeError(`coinbase candles: no ${tf} granularity (only 1m, 5m, 15m, 1h, 6h, 1d)`);
    const step = timeframeMs(tf);
    const product = encodeURIComponent(coinbaseSymbols.toNative(symbol));
    const byOpenTime = new Map<number, Kline>();
    for (let from = periodStart(startTime, step); from <= endTime; from += CANDLES_PER_REQUEST * step) {
      const to = Math.min(endTime, from + CANDLES_PER_REQUEST * step - 1000);
      const url = `${endpoints.restBaseUrl}/products/${product}/candles?granularity=${seconds}&start=${iso(from)}&end=${iso(to)}`;
      const rows = await rest.getJson(url);
      if (!Array.isArray(rows)) throw new TypeError(`coinbase candles: expected an array, got ${typeof rows}`);
      for (const row of rows) {
        const k = klineFromRow(symbol, tf, step, row);
        if (k.openTime >= startTime && k.openTime >= from && k.openTime + step - 1 <= endTime) byOpenTime.set(k.openTime, k);
      }
    }
    return [...byOpenTime.values()].sort((a, b) => a.openTime - b.openTime);
  },
};

const iso = (ms: number): string => new Date(ms).toISOString();
const DECIMAL = /^\d+(\.\d+)?$/;

/** `[time (s), low, high, open, close, volume]`; prices and volume are JSON numbers (strings are accepted too). */
export function klineFromRow(symbol: string, timeframe: Timeframe, step: number, row: unknown): Kline {
  if (!Array.isArray(row) || row.length < 6) throw new TypeError('coinbase candles: row is not an array of 6 fields');
  const [time, low, high, open, close, volume] = (row as unknown[]).map((v, i) => (i === 0 ? v : decimalText(v)));
  if (typeof time !== 'number' || !Number.isSafeInteger(time) || time < 0 || (time * 1000) % step !== 0) {
    throw new TypeError(`coinbase candles: bad bucket time ${JSON.stringify(time)}`);
  }
  if ([low, high, open, close, volume].some((v) => v === null)) throw new TypeError('coinbase candles: row has a non-decimal field');
  const prices = { open: open as string, high: high as string, low: low as string, close: close as string, volume: volume as string };
  return closedKline({ exchange: 'coinbase', symbol, timeframe, openTime: time * 1000, ...prices, quoteVolume: null, takerBuyVolume: null, tradeCount: null }, step);
}

/**
 * A JSON number -> its exact decimal text. JSON.parse has already turned the exchange's text into a double;
 * String() gives the shortest text that reads back as that double, which IS the exchange's text whenever it
 * had at most 15 significant digits (every realistic price, and volumes below ~10^7 with 8 decimals). A figure
 * with 16+ significant digits (e.g. a huge meme-coin volume) was already rounded to the nearest double by
 * JSON.parse: that is the only loss. Exponent forms (1e-7, 1e21) are written out in full. Null if not a
 * finite non-negative number or decimal string.
 */
export function decimalText(v: unknown): string | null {
  if (typeof v === 'string') return DECIMAL.test(v) ? v : null;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return null;
  const s = String(v);
  const e = s.indexOf('e');
  if (e < 0) return s;
  const mantissa = s.slice(0, e);
  const dot = mantissa.indexOf('.');
  const digits = mantissa.replace('.', '');
  const point = (dot < 0 ? mantissa.length : dot) + Number(s.slice(e + 1));
  if (point <= 0) return `0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return digits + '0'.repeat(point - digits.length);
  return `${digits.slice(0, point)}.${digits.slice(point)}`;
}
