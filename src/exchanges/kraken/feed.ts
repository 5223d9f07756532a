/**
 * Kraken Spot: WebSocket v2 `wss://ws.kraken.com/v2` (https://docs.kraken.com/exchange/guides/websockets/introduction),
 * `trade` and `ohlc` channels subscribed with `{"method":"subscribe","params":{channel,symbol[],...}}` messages.
 * The server sends `{"channel":"heartbeat"}` about once a second in the absence of other updates
 * (https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/heartbeat); the client's application-level
 * `{"method":"ping"}` is optional (https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/ping) and is
 * sent anyway as a cheap keepalive through proxies. REST `GET /0/public/OHLC` backfills gaps, but only within the
 * 720 most recent intervals (https://docs.kraken.com/api-reference/market-data/get-ohlc-data).
 */
import type { ExchangeAdapter, Endpoints, StreamRef, Subscription } from '../adapter.js';
import { batchesByTopic } from '../stream-batches.js';
import type { RestClient } from '../../feed/rest-client.js';
import type { Kline } from '../../core/types.js';
import { closedKline } from '../../core/kline.js';
import { ExchangeRequestError } from '../../core/errors.js';
import { splitCanonical } from '../../core/symbols.js';
import { timeframeMs, type Timeframe } from '../../core/timeframe.js';
import { INTERVAL_TIMEFRAMES, krakenMapper, krakenSymbols } from './mapper.js';

/** Timeframe -> v2/REST `interval` in minutes: only the intervals Kraken has (1, 5, 15, 30, 60, 240, 1440). */
const INTERVALS = new Map<Timeframe, number>(Object.entries(INTERVAL_TIMEFRAMES).map(([m, tf]) => [tf, Number(m)]));
/** Symbols per subscribe message: Kraken documents no cap; this keeps each message a few KB. */
const SYMBOLS_PER_MESSAGE = 50;
/** Kraken's OHLC endpoint never returns more than the 720 most recent entries, whatever `since` says. */
export const OHLC_MAX_ENTRIES = 720;

export const kraken: ExchangeAdapter = {
  id: 'kraken',
  displayName: 'Kraken',
  defaultEndpoints: { wsBaseUrl: 'wss://ws.kraken.com', restBaseUrl: 'https://api.kraken.com' },
  limits: {
    // Kraken documents no per-connection subscription cap and only a dynamic message-rate limit (it answers
    // "Exceeded msg rate" when crossed): both values are conservative choices, not published numbers.
    maxStreamsPerConnection: 200,
    maxOutgoingPerSecond: 5,
    // No documented connection lifetime; rotate daily as hygiene.
    maxConnectionLifetimeMs: 24 * 3_600_000,
  },
  clientHeartbeat: { intervalMs: 30_000, message: '{"method":"ping"}' },
  // v2 trade_id: "Trade identifier is a sequence number, unique per book" (spot-websocket-v2/trade), and the docs'
  // own snapshot example carries consecutive ids 4665846, 4665847. So a jump is a dropped trade.
  sequentialTradeIds: true,
  increasingTradeIds: true,
  klineTimeframes: [...INTERVALS.keys()],
  mapper: krakenMapper,
  symbols: krakenSymbols,

  streams(sub: Subscription): StreamRef[] {
    const out: StreamRef[] = [];
    for (const symbol of sub.symbols) {
      const native = krakenSymbols.toNative(symbol);
      out.push({ symbol, name: `trade:${native}` });
      if (!sub.klines) continue;
      for (const tf of sub.timeframes) {
        const interval = INTERVALS.get(tf);
        if (interval !== undefined) out.push({ symbol, name: `ohlc:${interval}:${native}` });
      }
    }
    return out;
  },

  /**
   * One subscribe message per channel (and ohlc interval) and batch of symbols. Trades are subscribed without
   * the 50-trade snapshot: those past trades would rebuild candles from a partial history; gaps go to backfill.
   */
  connection(streams: readonly StreamRef[], endpoints: Endpoints) {
    const subscribeMessages = batchesByTopic(streams, SYMBOLS_PER_MESSAGE).map(({ topic, symbols }, i) => {
      const [channel, interval] = topic.split(':');
      const params = channel === 'ohlc' ? { channel, symbol: symbols, interval: Number(interval), snapshot: true } : { channel, symbol: symbols, snapshot: false };
      return JSON.stringify({ method: 'subscribe', params, req_id: i + 1 });
    });
    return { url: `${endpoints.wsBaseUrl}/v2`, subscribeMessages };
  },

  /**
   * `GET /0/public/OHLC?pair=XBTUSD&interval=1&since=<s>`: rows `[time, open, high, low, close, vwap, volume, count]`
   * (decimals as strings), oldest first; the last row is the current, not yet committed period and is dropped.
   * Kraken answers at most the 720 most recent entries, so a range older than that comes back truncated (older
   * periods cannot be fetched). Pages continue from `result.last` while a page ends before `endTime`.
   */
  klineHistoryPeriods: OHLC_MAX_ENTRIES,
  async fetchKlines(rest: RestClient, endpoints: Endpoints, symbol: string, tf: Timeframe, startTime: number, endTime: number): Promise<Kline[]> {
    const interval = INTERVALS.get(tf);
    if (interval === undefined) throw new RangeError(`kraken has no ${tf} OHLC interval`);
    const out: Kline[] = [];
    const step = timeframeMs(tf);
    let since = Math.floor(startTime / 1000) - 1; // `since` is exclusive; -1 keeps a candle opening at startTime
    for (;;) {
      const url = `${endpoints.restBaseUrl}/0/public/OHLC?pair=${encodeURIComponent(restPair(symbol))}&interval=${interval}&since=${since}`;
      const { rows, last } = ohlcResult(await rest.getJson(url));
      let lastOpen = -1;
      for (let i = 0; i < rows.length - 1; i++) {
        const k = klineFromRest(symbol, tf, step, rows[i]);
        lastOpen = k.openTime;
        if (k.openTime >= startTime && k.openTime <= endTime && (out.length === 0 || k.openTime > out[out.length - 1]!.openTime)) out.push(k);
      }
      if (lastOpen < 0 || lastOpen + step > endTime || last <= since) break;
      since = last;
    }
    return out;
  },
};

/** REST pair names use XBT and XDG (`XBTUSD`); the v2 `BTC/USD` form is for the WebSocket. */
export function restPair(canonical: string): string {
  const parts = splitCanonical(canonical);
  if (!parts) return canonical;
  const legacy = (a: string): string => (a === 'BTC' ? 'XBT' : a === 'DOGE' ? 'XDG' : a);
  return legacy(parts.base) + legacy(parts.quote);
}

/** `{"error":[],"result":{"XXBTZUSD":[...rows], "last": 1688672160}}`; a non-empty `error` is an exchange error. */
function ohlcResult(body: unknown): { rows: unknown[]; last: number } {
  if (typeof body !== 'object' || body === null) throw new TypeError('kraken OHLC: response is not an object');
  const { error, result } = body as { error?: unknown; result?: unknown };
  if (Array.isArray(error) && error.length > 0) throw new ExchangeRequestError(`kraken OHLC: ${error.join('; ')}`);
  if (typeof result !== 'object' || result === null) throw new TypeError('kraken OHLC: response has no result');
  let rows: unknown[] | undefined;
  let last: unknown;
  for (const [key, value] of Object.entries(result)) {
    if (key === 'last') last = value;
    else if (Array.isArray(value)) rows = value;
  }
  if (!rows || typeof last !== 'number') throw new TypeError('kraken OHLC: result has no rows or no `last`');
  return { rows, last };
}

const DECIMAL = /^\d+(\.\d+)?$/;

function klineFromRest(symbol: string, timeframe: Timeframe, step: number, row: unknown): Kline {
  if (!Array.isArray(row) || row.length < 8) throw new TypeError('kraken OHLC: row is not an array of 8 fields');
  const [time, open, high, low, close, , volume, count] = row as unknown[];
  const decimals = [open, high, low, close, volume];
  if (typeof time !== 'number' || !Number.isSafeInteger(time) || typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0 || !decimals.every((d) => typeof d === 'string' && DECIMAL.test(d))) {
    throw new TypeError('kraken OHLC: row has mistyped fields');
  }
  const openTime = time * 1000;
  if (openTime % step !== 0) throw new TypeError(`kraken OHLC: row time ${time} is not aligned to ${timeframe}`);
  const prices = { open: open as string, high: high as string, low: low as string, close: close as string, volume: volume as string };
  return closedKline({ exchange: 'kraken', symbol, timeframe, openTime, ...prices, quoteVolume: null, takerBuyVolume: null, tradeCount: count }, step);
}
