/**
 * OKX spot (API v5). Trades come from `trades-all` and candles from `candle<bar>`, both on
 * wss://ws.okx.com:8443/ws/v5/business; subscriptions are `{"op":"subscribe","args":[{channel,instId}]}` messages.
 *
 * Why `trades-all` and not `trades` (/ws/v5/public): `trades` pushes one message per taker order and price whose
 * `tradeId` is the LAST of `count` aggregated trade ids, so consecutive messages jump by `count` and a per-message
 * id check would see a gap after every multi-fill order. `trades-all` pushes every trade on its own ("Every update
 * contain only one trade"), whose ids are consecutive per instrument: the `trades` docs spell out that
 * tradeId 123 with count 3 stands for trades 123, 122 and 121, and the recorded frames in test/fixtures/okx show
 * runs of consecutive ids (test/okx-mapper.test.ts proves it).
 * https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-all-trades-channel
 * https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-trades-channel
 *
 * Connection rules (https://www.okx.com/docs-v5/en/#overview-websocket): 3 connection requests/s per IP;
 * 480 subscribe/unsubscribe/login requests per connection per hour; the args of one request at most 64 KB; the
 * server drops a connection with no data for 30 s, so the client sends the text `ping` (answered `pong`) sooner.
 * REST backfill: GET /api/v5/market/history-candles, at most 300 rows a request, newest first; `after` = rows
 * older than ts, `before` = rows newer than ts; 20 requests / 2 s per IP.
 * https://www.okx.com/docs-v5/en/#order-book-trading-market-data-get-candlesticks-history
 */
import type { Endpoints, ExchangeAdapter, StreamRef, Subscription } from '../adapter.js';
import type { RestClient } from '../../feed/rest-client.js';
import type { Kline } from '../../core/types.js';
import { closedKline } from '../../core/kline.js';
import { ExchangeRequestError } from '../../core/errors.js';
import { TIMEFRAMES, timeframeMs, type Timeframe } from '../../core/timeframe.js';
import { OKX_BARS, klineFromRow, okxMapper, okxSymbols } from './mapper.js';

/** WebSocket path of each stream group (groups never share a connection). */
export const OKX_PATHS: Readonly<Record<string, string>> = { public: '/ws/v5/public', business: '/ws/v5/business' };
export const TRADES_CHANNEL = 'trades-all';
export const HISTORY_LIMIT = 300;
/** Subscribe args per message kept well under the documented 64 KB. */
export const SUBSCRIBE_MAX_BYTES = 32 * 1024;

export const okx: ExchangeAdapter = {
  id: 'okx',
  displayName: 'OKX',
  defaultEndpoints: { wsBaseUrl: 'wss://ws.okx.com:8443', restBaseUrl: 'https://www.okx.com' },
  limits: {
    // OKX documents no cap on channels per public connection; 1000 keeps a connection's subscribe list to two
    // messages and its traffic moderate.
    maxStreamsPerConnection: 1000,
    // No documented per-connection message rate for public data: 3/s (the per-IP connection rate) keeps the few
    // subscribe messages and pings far below 480 requests/h.
    maxOutgoingPerSecond: 3,
    // No documented lifetime (a `notice` 64008 announces closures, see the mapper): rotate daily anyway.
    maxConnectionLifetimeMs: 24 * 3_600_000,
  },
  // Sent every 20 s whether or not data arrived (the shared connection has fixed-interval heartbeats only):
  // always inside the 30 s idle limit, and harmless when data flows.
  clientHeartbeat: { intervalMs: 20_000, message: 'ping' },
  sequentialTradeIds: true,
  increasingTradeIds: true,
  klineTimeframes: TIMEFRAMES.filter((tf) => OKX_BARS[tf] !== undefined),
  mapper: okxMapper,
  symbols: okxSymbols,

  /** Subscription.tradeStream is ignored: OKX has one per-trade channel. Timeframes OKX lacks (8h) are skipped. */
  streams(sub: Subscription): StreamRef[] {
    const out: StreamRef[] = [];
    for (const symbol of sub.symbols) {
      out.push({ symbol, name: channelName(TRADES_CHANNEL, symbol), group: 'business' });
      if (!sub.klines) continue;
      for (const tf of sub.timeframes) {
        const bar = OKX_BARS[tf];
        if (bar !== undefined) out.push({ symbol, name: channelName(`candle${bar}`, symbol), group: 'business' });
      }
    }
    return out;
  },

  /** One URL per group; the streams' args packed into subscribe messages of at most SUBSCRIBE_MAX_BYTES. */
  connection(streams: readonly StreamRef[], endpoints: Endpoints) {
    const group = streams[0]?.group ?? 'business';
    const path = OKX_PATHS[group];
    if (path === undefined) throw new RangeError(`okx: unknown stream group ${group}`);
    const subscribeMessages: string[] = [];
    let batch: string[] = [];
    let bytes = 0;
    for (const s of streams) {
      if (s.group !== undefined && s.group !== group) throw new RangeError('okx: one connection carries one stream group');
      const arg = argOf(s.name);
      if (batch.length > 0 && bytes + arg.length + 1 > SUBSCRIBE_MAX_BYTES) {
        subscribeMessages.push(subscribeMessage(batch));
        [batch, bytes] = [[], 0];
      }
      batch.push(arg);
      bytes += arg.length + 1;
    }
    if (batch.length > 0) subscribeMessages.push(subscribeMessage(batch));
    return { url: `${endpoints.wsBaseUrl}${path}`, subscribeMessages };
  },

  /**
   * Pages backwards from endTime with `after` (rows strictly older) bounded by `before` = startTime - 1 (rows
   * strictly newer), until a page reaches startTime or comes back empty. Only confirmed candles are returned.
   */
  async fetchKlines(rest: RestClient, endpoints: Endpoints, symbol: string, tf: Timeframe, startTime: number, endTime: number): Promise<Kline[]> {
    const bar = OKX_BARS[tf];
    if (bar === undefined) throw new RangeError(`okx has no UTC-aligned ${tf} candles`);
    const step = timeframeMs(tf);
    const base = `${endpoints.restBaseUrl}/api/v5/market/history-candles?instId=${encodeURIComponent(okxSymbols.toNative(symbol))}&bar=${bar}`;
    const newestFirst: Kline[] = [];
    let after = endTime + 1;
    while (after > startTime) {
      const rows = candleRows(await rest.getJson(`${base}&after=${after}&before=${startTime - 1}&limit=${HISTORY_LIMIT}`));
      if (rows.length === 0) break;
      for (const row of rows) {
        const k = klineFromRow(row, symbol, tf, 0, 0);
        if (k === null) throw new TypeError(`okx history-candles: malformed row ${JSON.stringify(row).slice(0, 200)}`);
        // Strictly older every row: a page that does not move backwards would loop forever.
        if (k.openTime >= after) throw new TypeError(`okx history-candles: row ${k.openTime} is not older than ${after}`);
        after = k.openTime;
        if (k.closed && k.openTime >= startTime && k.openTime <= endTime) newestFirst.push(closedKline(k, step));
      }
    }
    return newestFirst.reverse();
  },
};

/** Stream names are `channel:instId` (`trades-all:BTC-USDT`, `candle1m:BTC-USDT`). */
function channelName(channel: string, symbol: string): string {
  return `${channel}:${okxSymbols.toNative(symbol)}`;
}

/** `candle1m:BTC-USDT` -> the subscribe arg `{"channel":"candle1m","instId":"BTC-USDT"}`. */
function argOf(name: string): string {
  const i = name.indexOf(':');
  if (i <= 0) throw new RangeError(`okx: stream name ${name} is not channel:instId`);
  return JSON.stringify({ channel: name.slice(0, i), instId: name.slice(i + 1) });
}

function subscribeMessage(args: readonly string[]): string {
  return `{"op":"subscribe","args":[${args.join(',')}]}`;
}

/** `{"code":"0","msg":"","data":[[...],...]}`; any other code is an error the exchange reported. */
function candleRows(body: unknown): unknown[] {
  if (typeof body !== 'object' || body === null) throw new TypeError('okx history-candles: body is not an object');
  const { code, msg, data } = body as Record<string, unknown>;
  if (code !== '0') throw new ExchangeRequestError(`okx history-candles answered code ${String(code)}: ${String(msg ?? '')}`);
  if (!Array.isArray(data)) throw new TypeError('okx history-candles: data is not an array');
  return data;
}
