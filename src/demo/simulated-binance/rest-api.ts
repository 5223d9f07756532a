/**
 * The REST side of the simulated exchange: the public market-data endpoints a collector uses, with Binance's
 * layouts, error JSON ({"code":-1121,"msg":"Invalid symbol."}), `X-MBX-USED-WEIGHT-1M` headers and, on demand,
 * 429/418 answers with `Retry-After`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isTimeframe } from '../../core/timeframe.js';
import { klineRestRow } from './kline-book.js';
import type { KlineBook } from './kline-book.js';
import type { SymbolSpec } from './price-process.js';

/** A trade as the exchange recorded it (also what `onTrade` listeners get). */
export interface SimTrade {
  readonly symbol: string;
  readonly id: number;
  /** Aggregate trade id (one aggregate per trade here). */
  readonly aggId: number;
  readonly price: string;
  readonly qty: string;
  readonly time: number;
  readonly buyerIsMaker: boolean;
}

export interface RestMarket {
  readonly specs: readonly SymbolSpec[];
  now(): number;
  /** The book of a symbol, advanced to now(). */
  book(symbol: string): KlineBook | undefined;
  /** The most recent trades of a symbol (bounded), oldest first. */
  recentTrades(symbol: string): readonly SimTrade[];
}

const WEIGHT_LIMIT_1M = 6000;
const WEIGHTS: Readonly<Record<string, number>> = {
  '/api/v3/ping': 1,
  '/api/v3/time': 1,
  '/api/v3/exchangeInfo': 20,
  '/api/v3/klines': 2,
  '/api/v3/aggTrades': 4,
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    msg: string,
  ) {
    super(msg);
  }
}

/** One REST request as the exchange answered it (`RestApi.requestLog`, for fault tests). */
export interface RestRequestRecord {
  /** When it arrived, exchange clock (epoch ms). */
  readonly at: number;
  readonly path: string;
  readonly status: number;
}

const REQUEST_LOG_KEPT = 10_000;

export class RestApi {
  /** The most recent requests (at most 10,000), oldest first: what a fault test checks a client's backoff against. */
  readonly requestLog: RestRequestRecord[] = [];
  private forced: { left: number; status: 429 | 418; retryAfter: number } | null = null;
  private failing = 0;
  private weightMinute = -1;
  private weightUsed = 0;

  constructor(private readonly market: RestMarket) {}

  /** The next `count` requests answer `status` with Retry-After and Binance's -1003 error. */
  rateLimit(count: number, status: 429 | 418 = 429, retryAfterSeconds = 1): void {
    this.forced = count > 0 ? { left: count, status, retryAfter: retryAfterSeconds } : null;
  }

  /** The next `count` requests fail with 503 and Binance's -1001 "internal error" (an exchange outage). */
  fail(count: number): void {
    this.failing = Math.max(0, count);
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const at = this.market.now();
    res.once('finish', () => {
      this.requestLog.push({ at, path: url.pathname, status: res.statusCode });
      if (this.requestLog.length > REQUEST_LOG_KEPT) this.requestLog.splice(0, this.requestLog.length - REQUEST_LOG_KEPT);
    });
    const weight = WEIGHTS[url.pathname] ?? 1;
    const minute = Math.floor(this.market.now() / 60_000);
    if (minute !== this.weightMinute) [this.weightMinute, this.weightUsed] = [minute, 0];
    this.weightUsed += weight;
    const headers: Record<string, string> = {
      'Content-Type': 'application/json;charset=UTF-8',
      'X-MBX-USED-WEIGHT': String(this.weightUsed),
      'X-MBX-USED-WEIGHT-1M': String(this.weightUsed),
    };
    if (this.forced) {
      const f = this.forced;
      if (--f.left <= 0) this.forced = null;
      const msg =
        f.status === 418
          ? `Way too much request weight used; IP banned until ${this.market.now() + f.retryAfter * 1000}. Please use WebSocket Streams for live updates to avoid bans.`
          : `Too much request weight used; current limit is ${WEIGHT_LIMIT_1M} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.`;
      res.writeHead(f.status, { ...headers, 'Retry-After': String(f.retryAfter) });
      res.end(JSON.stringify({ code: -1003, msg }));
      return;
    }
    if (this.failing > 0) {
      this.failing--;
      res.writeHead(503, headers);
      res.end(JSON.stringify({ code: -1001, msg: 'Internal error; unable to process your request. Please try again.' }));
      return;
    }
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, -1000, 'Method not allowed.');
      const body = this.route(url);
      res.writeHead(200, headers);
      res.end(JSON.stringify(body));
    } catch (err) {
      const e = err instanceof HttpError ? err : new HttpError(500, -1000, 'An unknown error occurred while processing the request.');
      res.writeHead(e.status, headers);
      res.end(JSON.stringify({ code: e.code, msg: e.message }));
    }
  }

  private route(url: URL): unknown {
    const q = url.searchParams;
    switch (url.pathname) {
      case '/api/v3/ping':
        return {};
      case '/api/v3/time':
        return { serverTime: this.market.now() };
      case '/api/v3/exchangeInfo':
        return this.exchangeInfo(q);
      case '/api/v3/klines':
        return this.klines(q);
      case '/api/v3/aggTrades':
        return this.aggTrades(q);
      default:
        throw new HttpError(404, -1000, `Unknown endpoint ${url.pathname}.`);
    }
  }

  private exchangeInfo(q: URLSearchParams): unknown {
    let wanted: string[] | null = null;
    const one = q.get('symbol');
    const many = q.get('symbols');
    if (one !== null) wanted = [one];
    else if (many !== null) {
      try {
        wanted = JSON.parse(many) as string[];
      } catch {
        throw new HttpError(400, -1100, "Illegal characters found in parameter 'symbols'; legal range is '^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\\]$'.");
      }
    }
    const specs = wanted === null ? this.market.specs : wanted.map((s) => this.spec(s));
    return {
      timezone: 'UTC',
      serverTime: this.market.now(),
      rateLimits: [
        { rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: WEIGHT_LIMIT_1M },
        { rateLimitType: 'ORDERS', interval: 'SECOND', intervalNum: 10, limit: 100 },
        { rateLimitType: 'ORDERS', interval: 'DAY', intervalNum: 1, limit: 200000 },
        { rateLimitType: 'RAW_REQUESTS', interval: 'MINUTE', intervalNum: 5, limit: 61000 },
      ],
      exchangeFilters: [],
      symbols: specs.map((s) => ({
        symbol: s.symbol,
        status: 'TRADING',
        baseAsset: s.baseAsset,
        baseAssetPrecision: 8,
        quoteAsset: s.quoteAsset,
        quotePrecision: 8,
        quoteAssetPrecision: 8,
        baseCommissionPrecision: 8,
        quoteCommissionPrecision: 8,
        orderTypes: ['LIMIT', 'LIMIT_MAKER', 'MARKET', 'STOP_LOSS_LIMIT', 'TAKE_PROFIT_LIMIT'],
        isSpotTradingAllowed: true,
        isMarginTradingAllowed: false,
        filters: [
          { filterType: 'PRICE_FILTER', minPrice: s.tickSize, maxPrice: '1000000.00000000', tickSize: s.tickSize },
          { filterType: 'LOT_SIZE', minQty: s.stepSize, maxQty: '9000000.00000000', stepSize: s.stepSize },
        ],
        permissions: [],
        permissionSets: [['SPOT']],
      })),
    };
  }

  private klines(q: URLSearchParams): unknown {
    const symbol = this.spec(required(q, 'symbol')).symbol;
    const interval = required(q, 'interval');
    if (!isTimeframe(interval)) throw new HttpError(400, -1120, 'Invalid interval.');
    const book = this.market.book(symbol);
    if (!book) throw new HttpError(400, -1121, 'Invalid symbol.');
    const query = { limit: limitParam(q), startTime: timeParam(q, 'startTime'), endTime: timeParam(q, 'endTime') };
    return book.query(interval, query).map(klineRestRow);
  }

  private aggTrades(q: URLSearchParams): unknown {
    const symbol = this.spec(required(q, 'symbol')).symbol;
    const limit = limitParam(q);
    const fromId = timeParam(q, 'fromId');
    const start = timeParam(q, 'startTime');
    const end = timeParam(q, 'endTime');
    let trades = this.market.recentTrades(symbol).filter(
      (t) => (fromId === undefined || t.aggId >= fromId) && (start === undefined || t.time >= start) && (end === undefined || t.time <= end),
    );
    trades = fromId !== undefined || start !== undefined ? trades.slice(0, limit) : trades.slice(-limit);
    return trades.map((t) => ({ a: t.aggId, p: t.price, q: t.qty, f: t.id, l: t.id, T: t.time, m: t.buyerIsMaker, M: true }));
  }

  private spec(symbol: string): SymbolSpec {
    const found = this.market.specs.find((s) => s.symbol === symbol);
    if (!found) throw new HttpError(400, -1121, 'Invalid symbol.');
    return found;
  }
}

function required(q: URLSearchParams, name: string): string {
  const v = q.get(name);
  if (v === null || v === '') throw new HttpError(400, -1102, `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.`);
  return v;
}

function timeParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  if (!/^\d{1,20}$/.test(v)) throw new HttpError(400, -1100, `Illegal characters found in parameter '${name}'; legal range is '^[0-9]{1,20}$'.`);
  return Number(v);
}

/** Default 500, at most 1000 (larger values are capped, as Binance does); must be a positive integer. */
function limitParam(q: URLSearchParams): number {
  const v = q.get('limit');
  if (v === null) return 500;
  if (!/^\d{1,20}$/.test(v)) throw new HttpError(400, -1100, "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.");
  const n = Number(v);
  if (n < 1) throw new HttpError(400, -1130, "Data sent for parameter 'limit' is not valid.");
  return Math.min(n, 1000);
}
