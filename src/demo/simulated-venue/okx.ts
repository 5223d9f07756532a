/**
 * OKX v5 as the simulated venue speaks it (https://www.okx.com/docs-v5/en/#overview-websocket):
 * - /ws/v5/public serves `trades` (aggregated layout, count "1" here); /ws/v5/business serves `trades-all` and
 *   `candle<bar>`. Subscribing a channel on the wrong path is refused with error 60018, as OKX does.
 * - `{"op":"subscribe"|"unsubscribe","args":[{channel,instId}]}` -> one `{"event":"subscribe","arg",...}` ack per
 *   arg, or `{"event":"error","code","msg","connId"}`; args longer than 64 KB, or more than 480 requests an
 *   hour on one connection, are refused.
 * - Text `ping` -> text `pong`. A connection with nothing pushed to it for 30 s (or never subscribed) is closed.
 * - GET /api/v5/market/history-candles: `after`/`before` exclusive cursors, rows newest first, at most 300.
 * Prices are printed without trailing zeros, as OKX does ("42219.9").
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KlineBar } from '../simulated-binance/kline-book.js';
import { UNITS_PER_ONE, formatUnits } from '../simulated-binance/price-process.js';
import { OKX_BARS } from '../../exchanges/okx/mapper.js';
import type { Timeframe } from '../../core/timeframe.js';
import type { VenueContext, VenueProtocol, VenueSession, VenueTrade } from './venue.js';

export interface OkxProtocolOptions {
  /** Close a connection nothing was pushed to for this long (OKX: 30 s). */
  idleTimeoutMs?: number;
  /** Most rows one history-candles request returns (OKX: 300). */
  historyLimit?: number;
  /** Subscribe/unsubscribe requests allowed per connection per hour (OKX: 480). */
  requestsPerHour?: number;
}

/** What the protocol saw, for tests. */
export interface OkxProtocolStats {
  pings: number;
  subscribeRequests: number;
  idleCloses: number;
  restRequests: URLSearchParams[];
}

const MAX_ARGS_BYTES = 64 * 1024;
const BUSINESS_ONLY = /^candle|^trades-all$/;
const TF_BY_BAR = new Map(Object.entries(OKX_BARS).map(([tf, bar]) => [bar, tf as Timeframe]));

interface State {
  path: 'public' | 'business';
  connId: string;
  lastPushAt: number;
  requests: number[];
}

const trimZeros = (s: string): string => (s.includes('.') ? s.replace(/\.?0+$/, '') : s);
const fmt = (units: bigint): string => trimZeros(formatUnits(units));

export function okxProtocol(options: OkxProtocolOptions = {}): VenueProtocol & { readonly stats: OkxProtocolStats } {
  const idleMs = options.idleTimeoutMs ?? 30_000;
  const historyLimit = options.historyLimit ?? 300;
  const perHour = options.requestsPerHour ?? 480;
  const stats: OkxProtocolStats = { pings: 0, subscribeRequests: 0, idleCloses: 0, restRequests: [] };
  /** Monotonic time each topic last produced a frame: pushes to a session are pushes on its topics. */
  const topicPushedAt = new Map<string, number>();
  const state = (s: VenueSession): State => s.data as unknown as State;
  const push = (s: VenueSession, frame: string): void => {
    state(s).lastPushAt = performance.now();
    s.send(frame);
  };
  const error = (s: VenueSession, code: string, msg: string): void => push(s, JSON.stringify({ event: 'error', code, msg, connId: state(s).connId }));

  function onRequest(s: VenueSession, text: string, ctx: VenueContext): void {
    let req: { op?: unknown; args?: unknown };
    try {
      req = JSON.parse(text) as typeof req;
    } catch {
      return error(s, '60012', `Invalid request: ${text}`);
    }
    if (req.op !== 'subscribe' && req.op !== 'unsubscribe') return error(s, '60012', `Invalid request: ${text}`);
    const st = state(s);
    const now = performance.now();
    st.requests = st.requests.filter((t) => t > now - 3_600_000);
    if (st.requests.length >= perHour) return error(s, '60014', 'Requests too frequent.');
    st.requests.push(now);
    stats.subscribeRequests++;
    if (!Array.isArray(req.args) || req.args.length === 0 || JSON.stringify(req.args).length > MAX_ARGS_BYTES) return error(s, '60012', `Invalid request: ${text.slice(0, 200)}`);
    for (const arg of req.args as unknown[]) {
      const { channel, instId } = (arg ?? {}) as { channel?: unknown; instId?: unknown };
      if (typeof channel !== 'string' || typeof instId !== 'string') return error(s, '60012', `Invalid request: ${text.slice(0, 200)}`);
      const known = channel === 'trades' || channel === 'trades-all' || (channel.startsWith('candle') && TF_BY_BAR.has(channel.slice(6)));
      const onPath = BUSINESS_ONLY.test(channel) === (st.path === 'business');
      if (!known || !onPath || !ctx.symbols.includes(instId)) {
        error(s, '60018', `Wrong URL or channel:${channel},instId:${instId} doesn't exist. Please use the correct URL, channel and parameters referring to API document.`);
        continue;
      }
      const topic = `${channel}:${instId}`;
      if (req.op === 'subscribe') s.topics.add(topic);
      else s.topics.delete(topic);
      push(s, JSON.stringify({ event: req.op, arg: { channel, instId }, connId: st.connId }));
    }
  }

  function historyCandles(url: URL, res: ServerResponse, ctx: VenueContext): void {
    const q = url.searchParams;
    stats.restRequests.push(q);
    const answer = (body: unknown): void => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const instId = q.get('instId') ?? '';
    const book = ctx.book(instId);
    if (!book) return answer({ code: '51001', msg: "Instrument ID or Spread ID doesn't exist.", data: [] });
    const tf = TF_BY_BAR.get(q.get('bar') ?? '1m');
    const limit = Number(q.get('limit') ?? 100);
    const after = q.has('after') ? Number(q.get('after')) : Infinity;
    const before = q.has('before') ? Number(q.get('before')) : -Infinity;
    if (tf === undefined || !book.intervals.includes(tf)) return answer({ code: '51000', msg: 'Parameter bar error', data: [] });
    if (!Number.isInteger(limit) || limit < 1 || Number.isNaN(after) || Number.isNaN(before)) return answer({ code: '51000', msg: 'Parameter error', data: [] });
    const bars = book.query(tf, { limit: Number.MAX_SAFE_INTEGER }).filter((b) => b.openTime < after && b.openTime > before);
    const page = bars.reverse().slice(0, Math.min(limit, historyLimit));
    answer({ code: '0', msg: '', data: page.map(candleRow) });
  }

  return {
    name: 'okx',
    stats,
    acceptsPath: (url) => url.pathname === '/ws/v5/public' || url.pathname === '/ws/v5/business',
    onOpen(s) {
      const st: State = { path: s.url.pathname.endsWith('/business') ? 'business' : 'public', connId: s.id.toString(16).padStart(8, '0'), lastPushAt: s.openedAt, requests: [] };
      Object.assign(s.data, st);
    },
    onMessage(s, text, ctx) {
      if (text === 'ping') {
        stats.pings++;
        return push(s, 'pong');
      }
      onRequest(s, text, ctx);
    },
    housekeeping(s, _ctx, mono) {
      let last = state(s).lastPushAt;
      for (const topic of s.topics) last = Math.max(last, topicPushedAt.get(topic) ?? 0);
      if (mono - last > idleMs) {
        stats.idleCloses++;
        s.close(1000, `no data pushed for ${idleMs} ms`);
      }
    },
    *tradeFrames(t: VenueTrade) {
      const now = performance.now();
      const entry = { instId: t.symbol, tradeId: String(t.id), px: trimZeros(t.price), sz: trimZeros(t.qty), side: t.side, source: '0', ts: String(t.time) };
      topicPushedAt.set(`trades-all:${t.symbol}`, now);
      yield [`trades-all:${t.symbol}`, JSON.stringify({ arg: { channel: 'trades-all', instId: t.symbol }, data: [entry] })] as const;
      topicPushedAt.set(`trades:${t.symbol}`, now);
      yield [`trades:${t.symbol}`, JSON.stringify({ arg: { channel: 'trades', instId: t.symbol }, data: [{ ...entry, count: '1' }] })] as const;
    },
    klineTopic(bar: KlineBar, symbol: string) {
      const okxBar = OKX_BARS[bar.interval];
      return okxBar === undefined ? null : `candle${okxBar}:${symbol}`;
    },
    klineFrame(bar: KlineBar, symbol: string, topic: string) {
      topicPushedAt.set(topic, performance.now());
      return JSON.stringify({ arg: { channel: topic.slice(0, topic.indexOf(':')), instId: symbol }, data: [candleRow(bar)] });
    },
    handleRest(req: IncomingMessage, url: URL, res: ServerResponse, ctx: VenueContext) {
      if (req.method !== 'GET' || url.pathname !== '/api/v5/market/history-candles') return false;
      historyCandles(url, res, ctx);
      return true;
    },
  };
}

/** [ts,o,h,l,c,vol,volCcy,volCcyQuote,confirm]: for spot volCcy and volCcyQuote are both the quote volume. */
export function candleRow(b: KlineBar): string[] {
  const quote = fmt(b.quoteVolume16 / UNITS_PER_ONE);
  return [String(b.openTime), fmt(b.open), fmt(b.high), fmt(b.low), fmt(b.close), fmt(b.volume), quote, quote, b.closed ? '1' : '0'];
}
