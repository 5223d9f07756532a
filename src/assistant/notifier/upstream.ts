/**
 * The services behind the bot, over HTTP (the seed's flow): the market-data API (`serve`, or run/demo's own
 * API) for prices, health and data quality, and the decision service (`decide`, or run/demo's in-process one).
 * Each is one HttpClient (src/api/http-client.ts): a timeout per attempt, GET retries with backoff, a circuit
 * breaker, calls counted by target. Answers are validated here: a body of the wrong shape is an
 * UpstreamError, like no answer at all, so the bot can say "unavailable" instead of printing junk.
 */
import type { HttpClient, HttpResponse } from '../../api/http-client.js';
import { CandlestackError } from '../../core/errors.js';
import type { FeedHealth, FeedState, HealthReport } from '../../core/health.js';

export interface Market {
  exchange: string;
  symbol: string;
}

export interface MarketPrice extends Market {
  timeframe: string;
  /** The last close, as the exchange's decimal text. */
  price: string;
  /** The time the price is from (epoch ms): the candle's end, or now for a forming one. */
  asOf: number;
  closed: boolean;
}

export type Action = 'BUY' | 'SELL' | 'HOLD';

export interface Decision extends Market {
  timeframe: string;
  action: Action;
  /** 0..1. */
  confidence: number;
  strategy: string;
  reasons: string[];
  /** The close the decision is about; null when the market has no closed candle (stale_data). */
  price: string | null;
  asOf: number | null;
}

export interface HealthSummary {
  report: Pick<HealthReport, 'status' | 'reasons'> & { feeds: (Pick<FeedHealth, 'exchange' | 'connection' | 'lastMessageAgeMs'> & { state: FeedState })[] } | null;
  reportError: string | null;
  quality: { exchange: string; symbol: string; score: number; failing: string[] }[] | null;
  qualityError: string | null;
  decisionUp: boolean;
  decisionError: string | null;
}

/** A service did not answer usefully: no answer (timeout, refused, breaker open), a 5xx, or a malformed body. */
export class UpstreamError extends CandlestackError {
  override name = 'UpstreamError';
  constructor(
    readonly target: string,
    message: string,
    /** The HTTP status when there was one (404: unknown market). */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super('upstream_unavailable', message, options);
  }
}

type Getter = Pick<HttpClient, 'get' | 'target'>;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One GET; an answer other than 2xx is an UpstreamError carrying the service's own error message. */
async function getJson(client: Getter, path: string, query: Record<string, string>, signal?: AbortSignal): Promise<Record<string, unknown>> {
  let res: HttpResponse;
  try {
    res = await client.get(path, { query, signal });
  } catch (err) {
    throw new UpstreamError(client.target, shortReason(err, client.target), undefined, { cause: err });
  }
  if (res.status >= 200 && res.status < 300 && isObj(res.body)) return res.body;
  const apiError = isObj(res.body) && isObj(res.body.error) && typeof res.body.error.message === 'string' ? res.body.error.message : null;
  throw new UpstreamError(client.target, apiError ?? `${client.target} answered HTTP ${res.status}`, res.status);
}

/** "not answering (timeout)", "circuit open": what a user is told, without URLs or stack. */
function shortReason(err: unknown, target: string): string {
  const failure = isObj(err) && typeof err.failure === 'string' ? err.failure : 'error';
  if (failure === 'timeout') return `${target} did not answer in time`;
  if (failure === 'circuit_open') return `${target} is failing, calls paused for a while`;
  return `${target} is not answering`;
}

const time = (v: unknown): number | null => {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && !Number.isNaN(Date.parse(v))) return Date.parse(v);
  return null;
};

const decimalText = (v: unknown): string | null => (typeof v === 'string' && /^-?\d+(\.\d+)?(e-?\d+)?$/i.test(v) ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : null);

const TIMEFRAME_MS: Record<string, number> = { '1s': 1_000, '1m': 60_000, '5m': 300_000, '15m': 900_000, '1h': 3_600_000, '4h': 14_400_000, '1d': 86_400_000 };

export class MarketDataClient {
  constructor(
    private readonly client: Getter,
    private readonly now: () => number,
  ) {}

  /** The last candle's close (forming or closed) on `timeframe`. */
  async price(m: Market, timeframe: string, signal?: AbortSignal): Promise<MarketPrice> {
    const body = await getJson(this.client, '/api/candles', { exchange: m.exchange, symbol: m.symbol, timeframe, limit: '1' }, signal);
    const candles = Array.isArray(body.candles) ? body.candles : null;
    if (candles === null) throw new UpstreamError(this.client.target, 'market data answered without candles');
    const last = candles[candles.length - 1];
    if (last === undefined) throw new UpstreamError(this.client.target, `no candles for ${m.symbol} on ${m.exchange} yet`, 404);
    const c = isObj(last) ? last : {};
    const close = decimalText(c.close);
    const openTime = time(c.openTime);
    if (close === null || openTime === null) throw new UpstreamError(this.client.target, 'market data answered a malformed candle');
    const closed = c.closed === true;
    const end = openTime + (TIMEFRAME_MS[timeframe] ?? 0);
    return { exchange: String(body.exchange ?? m.exchange), symbol: String(body.symbol ?? m.symbol), timeframe, price: close, asOf: closed ? end : Math.min(end, this.now()), closed };
  }

  async health(signal?: AbortSignal): Promise<NonNullable<HealthSummary['report']>> {
    const body = await getJson(this.client, '/api/health', {}, signal);
    const status = body.status;
    if (status !== 'ok' && status !== 'degraded' && status !== 'down') throw new UpstreamError(this.client.target, 'market data answered a malformed health report');
    const feeds = (Array.isArray(body.feeds) ? body.feeds : []).filter(isObj).map((f) => ({
      exchange: String(f.exchange) as FeedHealth['exchange'],
      connection: String(f.connection),
      state: (f.state === 'up' || f.state === 'stale' ? f.state : 'down') as FeedState,
      lastMessageAgeMs: typeof f.lastMessageAgeMs === 'number' ? f.lastMessageAgeMs : null,
    }));
    return { status, reasons: Array.isArray(body.reasons) ? body.reasons.map(String) : [], feeds };
  }

  async quality(signal?: AbortSignal): Promise<NonNullable<HealthSummary['quality']>> {
    const body = await getJson(this.client, '/api/quality', {}, signal);
    return (Array.isArray(body.scores) ? body.scores : []).filter(isObj).map((s) => ({
      exchange: String(s.exchange),
      symbol: String(s.symbol),
      score: typeof s.score === 'number' ? s.score : 0,
      failing: Array.isArray(s.failing) ? s.failing.map(String) : [],
    }));
  }
}

const ACTIONS: readonly string[] = ['BUY', 'SELL', 'HOLD'];

/** Reasons the decision service gives as a bare code. */
const REASON_TEXT: Readonly<Record<string, string>> = { stale_data: 'stale_data: no closed candle within the last 3 periods, so no guess' };

/** A reason as text: the service's strings as they are, `{ code, text }`-like objects by their text. */
function reasonText(r: unknown): string {
  if (typeof r === 'string') return r;
  if (isObj(r)) return String(r.text ?? r.message ?? r.description ?? r.code ?? JSON.stringify(r));
  return String(r);
}

export class DecisionClient {
  constructor(private readonly client: Getter) {}

  async decision(m: Market, timeframe: string, signal?: AbortSignal): Promise<Decision> {
    const body = await getJson(this.client, '/api/decision', { exchange: m.exchange, symbol: m.symbol, timeframe }, signal);
    const action = body.action;
    const price = decimalText(body.price);
    const asOf = time(body.asOf);
    if (typeof action !== 'string' || !ACTIONS.includes(action) || (price === null && body.price !== null) || (asOf === null && body.asOf !== null)) throw new UpstreamError(this.client.target, 'the decision service answered a malformed decision');
    const confidence = typeof body.confidence === 'number' && Number.isFinite(body.confidence) ? Math.min(1, Math.max(0, body.confidence)) : 0;
    return {
      exchange: String(body.exchange ?? m.exchange),
      symbol: String(body.symbol ?? m.symbol),
      timeframe: String(body.timeframe ?? timeframe),
      action: action as Action,
      confidence,
      strategy: typeof body.strategy === 'string' ? body.strategy : 'unknown',
      reasons: Array.isArray(body.reasons) ? body.reasons.map(reasonText).map((r) => REASON_TEXT[r] ?? r) : [],
      price,
      asOf,
    };
  }
}

/** Whether the decision service answers its liveness probe (for /health). */
export async function isAlive(client: Getter, signal?: AbortSignal): Promise<true> {
  await getJson(client, '/healthz', {}, signal);
  return true;
}
