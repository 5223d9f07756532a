/** The JSON API as the dashboard uses it: typed responses and one error type for every failure. */
import type { Candle, IndicatorValues } from '../../src/core/types.js';
import type { Timeframe } from '../../src/core/timeframe.js';
import type { DecisionRecord } from '../../src/store/assistant-store.js';

export type { Candle, CandleEvent, IndicatorEvent, IndicatorValues } from '../../src/core/types.js';
export type { Timeframe } from '../../src/core/timeframe.js';

export interface SymbolInfo {
  exchange: string;
  symbol: string;
  timeframes: Timeframe[];
}

export interface CandlesResponse {
  exchange: string;
  symbol: string;
  timeframe: Timeframe;
  count: number;
  candles: Candle[];
}

/** One candle's stored indicator values (closed candles only), as /api/indicators serves them. */
export interface IndicatorPoint {
  openTime: number;
  values: Record<string, IndicatorValues>;
}

export interface IndicatorsResponse {
  exchange: string;
  symbol: string;
  timeframe: Timeframe;
  /** The indicators this server computes (configuration order). */
  names: string[];
  count: number;
  indicators: IndicatorPoint[];
}

/** /api/health: the one health model the server builds (src/core/health.ts); run, demo and serve send the detailed report. */
export type { DetailedHealthReport as Health, Level, ReconciliationCounts } from '../../src/core/health.js';

/** GET /api/decision: what the decision service advises on one market now (src/assistant/decision-service.ts). */
export interface DecisionResponse {
  action: 'BUY' | 'SELL' | 'HOLD';
  confidence: number;
  strategy: string;
  reasons: string[];
  features: Record<string, number | null>;
  price: number | null;
  asOf: number | null;
}

/** GET /api/decisions: the recorded decisions, most recent first, with their outcomes per horizon. */
export interface DecisionsResponse {
  count: number;
  horizons: string[];
  hitThreshold: number;
  decisions: (Omit<DecisionRecord, 'scorable'>)[];
}

export interface ApiIndex {
  name: string;
  version: string;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** GET a JSON endpoint; a non-2xx answer becomes an ApiError carrying the server's own message. */
export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { signal, headers: { accept: 'application/json' } });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiError(`candlestack is not reachable (${(err as Error).message})`, 0);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(`${path}: HTTP ${res.status}, not JSON`, res.status);
  }
  if (!res.ok) {
    const message = (body as { error?: { message?: string } }).error?.message ?? `HTTP ${res.status}`;
    throw new ApiError(`${path.split('?')[0]}: ${message}`, res.status);
  }
  return body as T;
}

export interface MarketKey {
  exchange: string;
  symbol: string;
  timeframe: Timeframe;
}

export function candlesPath(key: MarketKey, extra: Record<string, string | number> = {}): string {
  const q = new URLSearchParams({ exchange: key.exchange, symbol: key.symbol, timeframe: key.timeframe });
  for (const [k, v] of Object.entries(extra)) q.set(k, String(v));
  return `/api/candles?${q}`;
}

/** /api/<route>?exchange&symbol&timeframe plus `extra`, for the market routes beside /api/candles. */
export function marketPath(route: string, key: MarketKey, extra: Record<string, string | number> = {}): string {
  return candlesPath(key, extra).replace('/api/candles?', `${route}?`);
}

export function indicatorsPath(key: MarketKey, extra: Record<string, string | number> = {}): string {
  return candlesPath(key, extra).replace('/api/candles?', '/api/indicators?');
}

export function sameKey(a: MarketKey | null, b: MarketKey | null): boolean {
  return a !== null && b !== null && a.exchange === b.exchange && a.symbol === b.symbol && a.timeframe === b.timeframe;
}
