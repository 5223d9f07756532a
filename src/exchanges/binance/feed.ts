/**
 * Binance spot: combined streams over one WebSocket per shard of at most 1024 streams; the server pings
 * every 20 s and drops a connection that has not ponged within a minute; a connection lives at most 24 h;
 * at most 5 incoming messages per second (pongs included). REST `/api/v3/klines` backfills gaps.
 */
import type { ExchangeAdapter, Endpoints, StreamRef, Subscription } from '../adapter.js';
import type { RestClient } from '../../feed/rest-client.js';
import type { Kline } from '../../core/types.js';
import { TIMEFRAMES, timeframeMs, type Timeframe } from '../../core/timeframe.js';
import { binanceMapper, binanceSymbols } from './mapper.js';

const KLINE_LIMIT = 1000;
/** Streams named in the connection URL (keeps the URL a few KB); the rest are subscribed by message. */
const URL_STREAMS = 200;
const SUBSCRIBE_BATCH = 200;

export const binance: ExchangeAdapter = {
  id: 'binance',
  displayName: 'Binance',
  defaultEndpoints: { wsBaseUrl: 'wss://stream.binance.com:9443', restBaseUrl: 'https://api.binance.com' },
  limits: {
    maxStreamsPerConnection: 1024,
    maxOutgoingPerSecond: 5,
    maxConnectionLifetimeMs: 23 * 3_600_000 + 30 * 60_000,
  },
  sequentialTradeIds: true,
  increasingTradeIds: true,
  klineTimeframes: TIMEFRAMES,
  mapper: binanceMapper,

  symbols: binanceSymbols,

  streams(sub: Subscription): StreamRef[] {
    const out: StreamRef[] = [];
    for (const symbol of sub.symbols) {
      const lower = binanceSymbols.toNative(symbol).toLowerCase();
      out.push({ symbol, name: `${lower}@${sub.tradeStream}` });
      if (sub.klines) for (const tf of sub.timeframes) out.push({ symbol, name: `${lower}@kline_${tf}` });
    }
    return out;
  },

  /**
   * The first streams go in the URL (`/stream?streams=a/b/c`); past URL_STREAMS the rest are added with
   * SUBSCRIBE messages, which the connection manager sends within the 5 messages/s limit.
   */
  connection(streams: readonly StreamRef[], endpoints: Endpoints) {
    const names = streams.map((s) => s.name);
    const subscribeMessages: string[] = [];
    for (let i = URL_STREAMS, id = 1; i < names.length; i += SUBSCRIBE_BATCH, id++) {
      subscribeMessages.push(JSON.stringify({ method: 'SUBSCRIBE', params: names.slice(i, i + SUBSCRIBE_BATCH), id }));
    }
    return { url: `${endpoints.wsBaseUrl}/stream?streams=${names.slice(0, URL_STREAMS).join('/')}`, subscribeMessages };
  },

  async fetchKlines(rest: RestClient, endpoints: Endpoints, symbol: string, tf: Timeframe, startTime: number, endTime: number): Promise<Kline[]> {
    const out: Kline[] = [];
    const step = timeframeMs(tf);
    let from = startTime;
    while (from <= endTime) {
      const url = `${endpoints.restBaseUrl}/api/v3/klines?symbol=${encodeURIComponent(binanceSymbols.toNative(symbol))}&interval=${tf}&startTime=${from}&endTime=${endTime}&limit=${KLINE_LIMIT}`;
      const rows = await rest.getJson(url);
      if (!Array.isArray(rows)) throw new TypeError(`binance klines: expected an array, got ${typeof rows}`);
      for (const row of rows) out.push(klineFromRest(symbol, tf, row));
      if (rows.length < KLINE_LIMIT) break;
      from = out[out.length - 1]!.openTime + step;
    }
    return out;
  },
};

/** `[openTime, open, high, low, close, volume, closeTime, quoteVolume, trades, takerBuyBase, takerBuyQuote, ignore]` */
function klineFromRest(symbol: string, timeframe: Timeframe, row: unknown): Kline {
  if (!Array.isArray(row) || row.length < 11) throw new TypeError('binance klines: row is not an array of 11+ fields');
  const [openTime, open, high, low, close, volume, closeTime, quoteVolume, trades, takerBuy] = row as unknown[];
  const strings = [open, high, low, close, volume, quoteVolume, takerBuy];
  if (typeof openTime !== 'number' || typeof closeTime !== 'number' || typeof trades !== 'number' || strings.some((s) => typeof s !== 'string')) {
    throw new TypeError('binance klines: row has mistyped fields');
  }
  return {
    type: 'kline',
    exchange: 'binance',
    symbol,
    timeframe,
    openTime,
    open: open as string,
    high: high as string,
    low: low as string,
    close: close as string,
    volume: volume as string,
    quoteVolume: quoteVolume as string,
    takerBuyVolume: takerBuy as string,
    tradeCount: trades,
    closed: true,
    time: closeTime,
    receivedAt: closeTime,
  };
}
