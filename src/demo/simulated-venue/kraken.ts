/**
 * Kraken Spot as the simulated venue speaks it: WebSocket v2 on `/v2` (status frame on connect, per-symbol
 * subscribe acks, `{"channel":"heartbeat"}` every second, `ping` -> `pong`, `trade` and `ohlc` frames with JSON
 * number prices) and REST `GET /0/public/OHLC` (the 720 most recent rows, `since` exclusive, the last row the open
 * period, errors as `{"error":["EQuery:Unknown asset pair"]}` with HTTP 200).
 * Docs: https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/trade, .../ohlc, .../heartbeat, .../status,
 * https://docs.kraken.com/api-reference/market-data/get-ohlc-data.
 * Deviation: heartbeats are sent every `heartbeatMs` even while data flows (Kraken sends them only when idle).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { VenueContext, VenueProtocol, VenueSession, VenueTrade } from './venue.js';
import type { KlineBar } from '../simulated-binance/kline-book.js';
import { formatUnits } from '../simulated-binance/price-process.js';
import { INTERVAL_TIMEFRAMES, krakenSymbols } from '../../exchanges/kraken/mapper.js';
import { OHLC_MAX_ENTRIES } from '../../exchanges/kraken/feed.js';
import type { Timeframe } from '../../core/timeframe.js';

export interface KrakenProtocolOptions {
  /** Heartbeat cadence on a connection with at least one subscription (Kraken: about 1 s). */
  heartbeatMs?: number;
  /** Close a connection that sent nothing for this long (Kraken documents no such timeout: off by default). */
  idleTimeoutMs?: number;
  /** Rows the OHLC endpoint keeps (Kraken: 720). */
  ohlcMaxEntries?: number;
}

const MINUTES = new Map<Timeframe, number>(Object.entries(INTERVAL_TIMEFRAMES).map(([m, tf]) => [tf, Number(m)]));
const TRADE_SNAPSHOT = 50;

/** RFC 3339 with microseconds, as Kraken v2 prints times: 2023-09-25T07:48:36.925000Z. */
const rfc3339 = (ms: number): string => new Date(ms).toISOString().replace('Z', '000Z');
/** Kraken prints doubles: no trailing zeros (43210.12000000 -> 43210.12). */
const trim = (d: string): string => (d.includes('.') ? d.replace(/\.?0+$/, '') : d);
const units = (u: bigint): string => trim(formatUnits(u));

export function krakenProtocol(options: KrakenProtocolOptions = {}): VenueProtocol {
  const heartbeatMs = options.heartbeatMs ?? 1000;
  const maxRows = options.ohlcMaxEntries ?? OHLC_MAX_ENTRIES;
  let now: () => number = Date.now;

  const candle = (bar: KlineBar, native: string, minutes: number): string => {
    const vwap = bar.volume > 0n ? bar.quoteVolume16 / bar.volume : bar.close;
    return `{"symbol":${JSON.stringify(native)},"open":${units(bar.open)},"high":${units(bar.high)},"low":${units(bar.low)},"close":${units(bar.close)},"trades":${bar.trades},"volume":${units(bar.volume)},"vwap":${units(vwap)},"interval_begin":"${rfc3339(bar.openTime)}","interval":${minutes},"timestamp":"${rfc3339(bar.closeTime + 1)}"}`;
  };
  const ohlcFrame = (type: string, bars: string[]): string => `{"channel":"ohlc","type":"${type}","timestamp":"${rfc3339(now())}","data":[${bars.join(',')}]}`;
  const tradeEntry = (t: VenueTrade, native: string): string =>
    `{"symbol":${JSON.stringify(native)},"side":"${t.side}","price":${trim(t.price)},"qty":${trim(t.qty)},"ord_type":"${t.id % 3 === 0 ? 'limit' : 'market'}","trade_id":${t.id},"timestamp":"${rfc3339(t.time)}"}`;

  const ack = (s: VenueSession, method: string, result: Record<string, unknown>, reqId: unknown): void => {
    const t = rfc3339(now());
    s.send(JSON.stringify({ method, result, success: true, time_in: t, time_out: t, ...(reqId !== undefined ? { req_id: reqId } : {}) }));
  };
  const fail = (s: VenueSession, method: string, error: string, extra: Record<string, unknown> = {}): void => {
    const t = rfc3339(now());
    s.send(JSON.stringify({ error, method, success: false, ...extra, time_in: t, time_out: t }));
  };

  function subscribe(s: VenueSession, method: string, params: Record<string, unknown>, reqId: unknown, ctx: VenueContext): void {
    const { channel, symbol: symbols, interval } = params;
    const minutes = channel === 'ohlc' ? (interval ?? 1) : undefined;
    const tf = typeof minutes === 'number' ? INTERVAL_TIMEFRAMES[minutes] : undefined;
    if ((channel !== 'trade' && channel !== 'ohlc') || !Array.isArray(symbols) || (channel === 'ohlc' && tf === undefined)) {
      return fail(s, method, channel === 'ohlc' ? 'Invalid interval' : 'Channel not found', reqId !== undefined ? { req_id: reqId } : {});
    }
    const snapshot = typeof params.snapshot === 'boolean' ? params.snapshot : channel === 'ohlc';
    for (const native of symbols) {
      // v2 wants the v2 form (BTC/USD): XBT/USD is refused, as Kraken does.
      const canonical = typeof native === 'string' && !native.includes('XBT') ? krakenSymbols.toCanonical(native) : null;
      if (canonical === null || !ctx.symbols.includes(canonical) || krakenSymbols.toNative(canonical) !== native) {
        fail(s, method, `Currency pair not supported ${String(native)}`, { symbol: native });
        continue;
      }
      const topic = channel === 'trade' ? `trade:${native}` : `ohlc:${minutes}:${native}`;
      if (method === 'unsubscribe') s.topics.delete(topic);
      else s.topics.add(topic);
      ack(s, method, { channel, symbol: native, snapshot, ...(minutes !== undefined ? { interval: minutes } : {}) }, reqId);
      if (method !== 'subscribe' || !snapshot) continue;
      if (channel === 'trade') {
        const recent = ctx.recentTrades(canonical).slice(-TRADE_SNAPSHOT);
        if (recent.length > 0) s.send(`{"channel":"trade","type":"snapshot","data":[${recent.map((t) => tradeEntry(t, native)).join(',')}]}`);
      } else {
        // As in Kraken's documented example: the previous (closed) candle and the forming one.
        const bars = ctx.book(canonical)!.query(tf!, { limit: 2 });
        s.send(ohlcFrame('snapshot', bars.map((b) => candle(b, native, minutes as number))));
      }
    }
  }

  return {
    name: 'kraken',
    acceptsPath: (url) => url.pathname === '/v2',
    onOpen(s, ctx) {
      now = ctx.now;
      s.data.lastHeartbeat = performance.now();
      s.send(`{"channel":"status","data":[{"api_version":"v2","connection_id":${1000 + s.id},"system":"online","version":"2.0.0"}],"type":"update"}`);
    },
    onMessage(s, text, ctx) {
      let msg: unknown;
      try {
        msg = JSON.parse(text);
      } catch {
        return fail(s, 'error', 'Malformed request');
      }
      const { method, params, req_id: reqId } = (msg ?? {}) as { method?: unknown; params?: unknown; req_id?: unknown };
      if (method === 'ping') {
        const t = rfc3339(now());
        return s.send(JSON.stringify({ method: 'pong', ...(reqId !== undefined ? { req_id: reqId } : {}), time_in: t, time_out: t }));
      }
      if ((method === 'subscribe' || method === 'unsubscribe') && typeof params === 'object' && params !== null) {
        return subscribe(s, method, params as Record<string, unknown>, reqId, ctx);
      }
      fail(s, typeof method === 'string' ? method : 'error', typeof method === 'string' ? 'Method not found' : 'Malformed request');
    },
    housekeeping(s, _ctx, mono) {
      if (options.idleTimeoutMs !== undefined && mono - s.lastIncomingAt > options.idleTimeoutMs) return s.close(1000, 'idle');
      if (s.topics.size > 0 && mono - (s.data.lastHeartbeat as number) >= heartbeatMs) {
        s.data.lastHeartbeat = mono;
        s.send('{"channel":"heartbeat"}');
      }
    },
    *tradeFrames(t) {
      const native = krakenSymbols.toNative(t.symbol);
      yield [`trade:${native}`, `{"channel":"trade","type":"update","data":[${tradeEntry(t, native)}]}`] as const;
    },
    klineTopic(bar, symbol) {
      // Kraken pushes the forming candle on trades and never a final "closed" frame.
      const minutes = MINUTES.get(bar.interval);
      return minutes === undefined || bar.closed || bar.trades === 0 ? null : `ohlc:${minutes}:${krakenSymbols.toNative(symbol)}`;
    },
    klineFrame(bar, symbol) {
      return ohlcFrame('update', [candle(bar, krakenSymbols.toNative(symbol), MINUTES.get(bar.interval)!)]);
    },
    handleRest(_req: IncomingMessage, url: URL, res: ServerResponse, ctx: VenueContext) {
      if (url.pathname !== '/0/public/OHLC') return false;
      const reply = (body: unknown): void => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      const pair = url.searchParams.get('pair') ?? '';
      const canonical = krakenSymbols.toCanonical(pair.toUpperCase());
      const book = canonical === null ? undefined : ctx.book(canonical);
      if (!book) return (reply({ error: ['EQuery:Unknown asset pair'] }), true);
      const tf = INTERVAL_TIMEFRAMES[Number(url.searchParams.get('interval') ?? '1')];
      const since = Number(url.searchParams.get('since') ?? '0');
      if (tf === undefined || !Number.isFinite(since)) return (reply({ error: ['EGeneral:Invalid arguments'] }), true);
      const all = book.query(tf, { limit: Number.MAX_SAFE_INTEGER }).slice(-maxRows);
      const committed = all.slice(0, -1).filter((b) => b.openTime / 1000 > since);
      const rows = [...committed, all[all.length - 1]!].map((b) => {
        const vwap = b.volume > 0n ? b.quoteVolume16 / b.volume : b.close;
        return [b.openTime / 1000, units(b.open), units(b.high), units(b.low), units(b.close), units(vwap), units(b.volume), b.trades];
      });
      const lastCommitted = all.length > 1 ? all[all.length - 2]!.openTime / 1000 : since;
      reply({ error: [], result: { [pair]: rows, last: lastCommitted } });
      return true;
    },
  };
}
