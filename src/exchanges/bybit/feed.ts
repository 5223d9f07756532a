/**
 * Bybit v5 spot (https://bybit-exchange.github.io/docs/v5/ws/connect): one WebSocket to /v5/public/spot,
 * topics subscribed by `{"op":"subscribe","args":[...]}` messages of at most 10 args each (spot), all args of
 * one connection under 21,000 characters; the client sends `{"op":"ping"}` (every 20 s recommended) and a
 * connection without ping-pong or data is cut after 10 minutes. REST `GET /v5/market/kline` backfills gaps
 * (https://bybit-exchange.github.io/docs/v5/market/kline): at most 1000 rows a request, newest first.
 */
import type { ExchangeAdapter, Endpoints, StreamRef, Subscription } from '../adapter.js';
import type { RestClient } from '../../feed/rest-client.js';
import type { Kline } from '../../core/types.js';
import { closedKline } from '../../core/kline.js';
import { timeframeMs, type Timeframe } from '../../core/timeframe.js';
import { ExchangeRequestError } from '../../core/errors.js';
import { BYBIT_INTERVALS, bybitMapper, bybitSymbols } from './mapper.js';

/** Docs: "Spot can input up to 10 args for each subscription request sent to one connection". */
export const SUBSCRIBE_BATCH = 10;
/** Docs: `limit` is in [1, 1000]. */
export const KLINE_PAGE = 1000;
const TIMEFRAMES = Object.keys(BYBIT_INTERVALS) as Timeframe[];

export const bybit: ExchangeAdapter = {
  id: 'bybit',
  displayName: 'Bybit',
  defaultEndpoints: { wsBaseUrl: 'wss://stream.bybit.com', restBaseUrl: 'https://api.bybit.com' },
  limits: {
    // The only per-connection bound documented is 21,000 characters of args. A topic is at most
    // "publicTrade." + a symbol of <= 25 characters + 3 characters of JSON quoting = 40: 500 x 40 = 20,000.
    maxStreamsPerConnection: 500,
    // No outgoing message rate is documented for public streams; 10/s keeps subscribing 500 topics
    // (50 messages) within 5 s without bursting.
    maxOutgoingPerSecond: 10,
    // No lifetime is documented for public connections; rotating daily is hygiene, not a venue rule.
    maxConnectionLifetimeMs: 23 * 3_600_000 + 30 * 60_000,
  },
  clientHeartbeat: { intervalMs: 20_000, message: '{"op":"ping"}' },
  // Spot ids are not consecutive per symbol: two trades of one BTCUSDT frame carried 2290000001211680903 and
  // ...919 (the counter is shared); and the documented example id is a UUID. A jump is therefore no gap.
  sequentialTradeIds: false,
  // The docs promise no order for `i` (a string; UUIDs in the example), and the derived id is a hash for
  // non-numeric ids and wraps every 10^15 for numeric ones (see tradeIdFromString): an id at or below the last
  // one is not a redelivery, so a watermark dedupe would drop real trades.
  increasingTradeIds: false,
  klineTimeframes: TIMEFRAMES,
  mapper: bybitMapper,
  symbols: bybitSymbols,

  streams(sub: Subscription): StreamRef[] {
    const out: StreamRef[] = [];
    for (const symbol of sub.symbols) {
      const native = bybitSymbols.toNative(symbol);
      out.push({ symbol, name: `publicTrade.${native}` });
      if (!sub.klines) continue;
      for (const tf of sub.timeframes) {
        const interval = BYBIT_INTERVALS[tf];
        if (interval !== undefined) out.push({ symbol, name: `kline.${interval}.${native}` });
      }
    }
    return out;
  },

  /** Every topic is subscribed by message, 10 per message; req_id numbers them for the acks. */
  connection(streams: readonly StreamRef[], endpoints: Endpoints) {
    const subscribeMessages: string[] = [];
    for (let i = 0, n = 1; i < streams.length; i += SUBSCRIBE_BATCH, n++) {
      const args = streams.slice(i, i + SUBSCRIBE_BATCH).map((s) => s.name);
      subscribeMessages.push(JSON.stringify({ req_id: String(n), op: 'subscribe', args }));
    }
    return { url: `${endpoints.wsBaseUrl}/v5/public/spot`, subscribeMessages };
  },

  /**
   * Walks [startTime, endTime] in windows of KLINE_PAGE periods; inside a window pages backwards from its end
   * (rows come newest first), so a server that returns fewer rows than asked is still paged through.
   * Rows of a period not yet over at the response's server `time` are the open kline: dropped.
   */
  async fetchKlines(rest: RestClient, endpoints: Endpoints, symbol: string, tf: Timeframe, startTime: number, endTime: number): Promise<Kline[]> {
    const interval = BYBIT_INTERVALS[tf];
    if (interval === undefined) throw new RangeError(`bybit has no ${tf} klines`);
    const step = timeframeMs(tf);
    const base = `${endpoints.restBaseUrl}/v5/market/kline?category=spot&symbol=${encodeURIComponent(bybitSymbols.toNative(symbol))}&interval=${interval}`;
    const out: Kline[] = [];
    for (let from = startTime; from <= endTime; from += KLINE_PAGE * step) {
      const windowEnd = Math.min(endTime, from + KLINE_PAGE * step - 1);
      const newestFirst: Kline[] = [];
      for (let to = windowEnd; ; ) {
        const page = klinePage(await rest.getJson(`${base}&start=${from}&end=${to}&limit=${KLINE_PAGE}`), symbol, tf);
        for (const k of page.klines) if (k.openTime >= from && k.openTime <= to && k.openTime + step <= page.serverTime) newestFirst.push(k);
        const oldest = page.klines.at(-1)?.openTime;
        if (oldest === undefined || oldest <= from) break;
        if (oldest > to) throw new ExchangeRequestError(`bybit klines: page for end=${to} starts after it (${oldest})`);
        to = oldest - 1;
      }
      for (let i = newestFirst.length - 1; i >= 0; i--) out.push(newestFirst[i]!);
    }
    return out;
  },
};

/** Validates one `/v5/market/kline` answer: retCode 0, `time`, rows `[start, o, h, l, c, volume, turnover]` newest first. */
export function klinePage(body: unknown, symbol: string, timeframe: Timeframe): { klines: Kline[]; serverTime: number } {
  const b = body as { retCode?: unknown; retMsg?: unknown; time?: unknown; result?: { list?: unknown } } | null;
  if (typeof b !== 'object' || b === null) throw new TypeError('bybit klines: body is not an object');
  if (b.retCode !== 0) throw new ExchangeRequestError(`bybit klines: retCode ${String(b.retCode)}: ${String(b.retMsg ?? '')}`);
  const list = b.result?.list;
  if (typeof b.time !== 'number' || !Array.isArray(list)) throw new TypeError('bybit klines: result.list or time missing');
  const step = timeframeMs(timeframe);
  const klines: Kline[] = [];
  for (const row of list as unknown[]) {
    if (!Array.isArray(row) || row.length < 7 || row.slice(0, 7).some((f) => typeof f !== 'string' || f.length === 0)) {
      throw new TypeError('bybit klines: row is not 7 strings');
    }
    const [start, open, high, low, close, volume, turnover] = row as string[];
    const openTime = Number(start);
    if (!Number.isSafeInteger(openTime) || openTime < 0 || openTime % step !== 0) throw new TypeError(`bybit klines: bad start time ${start}`);
    if (klines.length > 0 && openTime >= klines[klines.length - 1]!.openTime) throw new TypeError('bybit klines: rows are not newest first');
    klines.push(closedKline({ exchange: 'bybit', symbol, timeframe, openTime, open: open!, high: high!, low: low!, close: close!, volume: volume!, quoteVolume: turnover!, takerBuyVolume: null, tradeCount: null }, step));
  }
  return { klines, serverTime: b.time };
}
