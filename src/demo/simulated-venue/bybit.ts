/**
 * Bybit v5 public spot as a VenueProtocol (https://bybit-exchange.github.io/docs/v5/ws/connect): WebSocket at
 * /v5/public/spot, `{"op":"subscribe","args":[...],"req_id"?}` with at most 10 args (spot) answered by
 * `{"success":true,"ret_msg":"subscribe",...,"op":"subscribe"}`, `{"op":"ping"}` answered by the spot pong
 * `{"success":true,"ret_msg":"pong",...,"op":"ping"}`, and a connection that sends nothing for `idleTimeoutMs`
 * (10 min on Bybit) is closed. Frames of `publicTrade.<SYMBOL>` and `kline.<interval>.<SYMBOL>` as documented;
 * REST `GET /v5/market/kline` answers newest first, at most 1000 rows. Error wordings ("args size >10",
 * "Invalid symbol :[...]") are those seen on the live venue; the others are this simulator's.
 */
import type { ServerResponse } from 'node:http';
import type { VenueContext, VenueProtocol, VenueSession, VenueTrade } from './venue.js';
import type { KlineBar } from '../simulated-binance/kline-book.js';
import { UNITS_PER_ONE, formatUnits } from '../simulated-binance/price-process.js';
import { BYBIT_INTERVALS, bybitSymbols } from '../../exchanges/bybit/mapper.js';
import type { Timeframe } from '../../core/timeframe.js';

export interface BybitProtocolOptions {
  /** Close a connection from which nothing (no ping) arrived for this long. Default 10 minutes. */
  idleTimeoutMs?: number;
  /** Most kline rows one REST request returns (a larger `limit` is clamped). Default 1000, Bybit's maximum. */
  klinePageLimit?: number;
}

export interface BybitVenueProtocol extends VenueProtocol {
  /** What the venue saw: pings answered, subscribe requests accepted/refused, connections closed for silence. */
  readonly stats: { pings: number; subscribed: number; refused: number; idleCloses: number };
}

const MAX_ARGS = 10;
const MAX_ARGS_CHARS = 21_000;
const TIMEFRAME_OF = new Map(Object.entries(BYBIT_INTERVALS).map(([tf, i]) => [i, tf as Timeframe]));

/** Spot trade ids look like "2290000001211680903": a 3-digit prefix and a 16-digit counter. */
export const bybitTradeIdString = (id: number): string => `229${String(id).padStart(16, '0')}`;

export function bybitProtocol(options: BybitProtocolOptions = {}): BybitVenueProtocol {
  const idleTimeoutMs = options.idleTimeoutMs ?? 600_000;
  const pageLimit = options.klinePageLimit ?? 1000;
  const stats = { pings: 0, subscribed: 0, refused: 0, idleCloses: 0 };
  let now: () => number = Date.now;

  const listed = (native: string, ctx: VenueContext): string | null => {
    const canonical = bybitSymbols.toCanonical(native);
    return canonical !== null && ctx.symbols.includes(canonical) ? canonical : null;
  };

  /** Why a topic cannot be subscribed, or null when it can. */
  const topicError = (topic: unknown, ctx: VenueContext): string | null => {
    if (typeof topic !== 'string') return 'Invalid topic';
    const parts = topic.split('.');
    if (parts[0] === 'publicTrade' && parts.length === 2) return listed(parts[1]!, ctx) ? null : `Invalid symbol :[${topic}]`;
    if (parts[0] === 'kline' && parts.length === 3) {
      if (!TIMEFRAME_OF.has(parts[1]!)) return `Invalid kline type :[${topic}]`;
      return listed(parts[2]!, ctx) ? null : `Invalid symbol :[${topic}]`;
    }
    return `Invalid topic :[${topic}]`;
  };

  const reply = (s: VenueSession, op: unknown, reqId: unknown, success: boolean, retMsg: string): void => {
    const body: Record<string, unknown> = { success, ret_msg: retMsg, conn_id: s.data.connId };
    if (typeof reqId === 'string') body.req_id = reqId;
    body.op = op;
    s.send(JSON.stringify(body));
  };

  return {
    name: 'bybit',
    stats,
    acceptsPath: (url) => url.pathname === '/v5/public/spot',

    onOpen(s, ctx) {
      now = ctx.now;
      s.data.connId = `sim-${s.id}-${s.openedAt.toFixed(0)}`;
    },

    onMessage(s, text, ctx) {
      let m: { op?: unknown; args?: unknown; req_id?: unknown };
      try {
        m = JSON.parse(text) as typeof m;
      } catch {
        return reply(s, null, undefined, false, 'Invalid request: not JSON');
      }
      if (m.op === 'ping') {
        stats.pings++;
        return reply(s, 'ping', m.req_id, true, 'pong');
      }
      if (m.op !== 'subscribe' && m.op !== 'unsubscribe') return reply(s, m.op ?? null, m.req_id, false, 'Invalid op');
      const args = Array.isArray(m.args) ? (m.args as unknown[]) : [];
      let error = args.length === 0 ? 'args is empty' : args.length > MAX_ARGS ? `args size >${MAX_ARGS}` : null;
      for (const a of args) error ??= topicError(a, ctx);
      const topics = args as string[];
      if (!error && m.op === 'subscribe') {
        const chars = [...s.topics, ...topics].reduce((n, t) => n + t.length + 3, 0);
        if (chars > MAX_ARGS_CHARS) error = `args length >${MAX_ARGS_CHARS}`;
      }
      if (error) {
        stats.refused++;
        return reply(s, m.op, m.req_id, false, error);
      }
      for (const t of topics) {
        if (m.op === 'subscribe') s.topics.add(t);
        else s.topics.delete(t);
      }
      if (m.op === 'subscribe') stats.subscribed++;
      reply(s, m.op, m.req_id, true, m.op);
    },

    housekeeping(s, _ctx, mono) {
      if (s.data.closing || mono - s.lastIncomingAt <= idleTimeoutMs) return;
      s.data.closing = true;
      stats.idleCloses++;
      s.close(1000, 'no ping');
    },

    *tradeFrames(t: VenueTrade) {
      const s = bybitSymbols.toNative(t.symbol);
      const data = [{ T: t.time, s, S: t.side === 'buy' ? 'Buy' : 'Sell', v: t.qty, p: t.price, i: bybitTradeIdString(t.id), BT: false, RPI: false }];
      yield [`publicTrade.${s}`, JSON.stringify({ topic: `publicTrade.${s}`, ts: t.time, type: 'snapshot', data })] as const;
    },

    klineTopic(bar, symbol) {
      const interval = BYBIT_INTERVALS[bar.interval];
      return interval === undefined ? null : `kline.${interval}.${bybitSymbols.toNative(symbol)}`;
    },

    klineFrame(bar, _symbol, topic) {
      const ts = bar.closed ? bar.closeTime + 1 : Math.min(Math.max(now(), bar.openTime), bar.closeTime);
      return JSON.stringify({ topic, data: [{ ...klineFields(bar), interval: BYBIT_INTERVALS[bar.interval], confirm: bar.closed, timestamp: ts }], ts, type: 'snapshot' });
    },

    handleRest(_req, url, res, ctx) {
      if (url.pathname !== '/v5/market/kline') return false;
      const q = url.searchParams;
      const tf = TIMEFRAME_OF.get(q.get('interval') ?? '');
      const symbol = listed(q.get('symbol') ?? '', ctx);
      const num = (name: string): number | undefined => (q.has(name) ? Number(q.get(name)) : undefined);
      const [start, end, limit] = [num('start'), num('end'), num('limit') ?? 200];
      if (q.get('category') !== 'spot') return send(res, ctx, 10001, 'Illegal category');
      if (symbol === null) return send(res, ctx, 10001, 'Not supported symbols');
      if (tf === undefined) return send(res, ctx, 10001, 'Invalid period!');
      if ([start, end, limit].some((v) => v !== undefined && !Number.isSafeInteger(v))) return send(res, ctx, 10001, 'params error');
      const bars = ctx.book(symbol)!.query(tf, { startTime: start, endTime: end, limit: Infinity });
      const rows = bars.slice(-Math.min(Math.max(1, limit), pageLimit)).reverse().map((b) => {
        const k = klineFields(b);
        return [String(k.start), k.open, k.high, k.low, k.close, k.volume, k.turnover];
      });
      return send(res, ctx, 0, 'OK', { symbol: q.get('symbol'), category: 'spot', list: rows });
    },
  };
}

function klineFields(b: KlineBar) {
  return {
    start: b.openTime, end: b.closeTime, open: formatUnits(b.open), close: formatUnits(b.close), high: formatUnits(b.high), low: formatUnits(b.low),
    volume: formatUnits(b.volume), turnover: formatUnits(b.quoteVolume16 / UNITS_PER_ONE),
  };
}

function send(res: ServerResponse, ctx: VenueContext, retCode: number, retMsg: string, result: unknown = {}): true {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ retCode, retMsg, result, retExtInfo: {}, time: ctx.now() }));
  return true;
}
