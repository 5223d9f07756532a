/**
 * GET /api/features?exchange=&symbol=&timeframe=&from=&to=&limit=
 * The stored feature vectors of closed candles (src/assistant/features.ts), oldest first, with the same
 * parameter rules and errors as /api/candles: `limit` default 500, at most 5000, the most recent ones without
 * `from`; a bad parameter is a 400 naming it. 503 `features_unavailable` on a store without the table.
 */
import type { ServerResponse } from 'node:http';
import type { AssistantStore } from '../store/assistant-store.js';
import type { ReadPlan } from './cache/read-cache.js';
import type { CandleQuery, Store } from '../store/store.js';
import { sendError, sendJson } from './http.js';
import type { Markets } from './markets.js';
import { parseSeriesRange, rejectUnknown } from './params.js';

export const MAX_FEATURE_ROWS = 5000;
const DEFAULT_FEATURE_ROWS = 500;

/** The request's parameters, with /api/candles' rules: a bad one is a BadParameterError (400) naming it. */
function featuresQuery(markets: Markets, url: URL): CandleQuery {
  const p = url.searchParams;
  rejectUnknown(p, ['exchange', 'symbol', 'timeframe', 'from', 'to', 'limit']);
  return parseSeriesRange(p, markets, DEFAULT_FEATURE_ROWS, MAX_FEATURE_ROWS);
}

async function loadFeatures(store: AssistantStore, q: CandleQuery) {
  const rows = await store.queryFeatures(q);
  return { exchange: q.exchange, symbol: q.symbol, timeframe: q.timeframe, count: rows.length, features: rows.map((r) => ({ openTime: r.openTime, close: r.close, values: r.values })) };
}

/**
 * The route as a ReadPlan: through the read cache when there is one (closed, settled ranges only, as for
 * candles). Stored vectors are written once per closed candle and not recomputed on a correction, so a
 * candle correction dropping the cached ranges that hold it (the cache's rule) keeps the cache equal to the store.
 */
export function featuresPlan(deps: { store: AssistantStore; markets: Markets }, url: URL): ReadPlan {
  const q = featuresQuery(deps.markets, url);
  return { exchange: q.exchange, symbol: q.symbol, timeframe: q.timeframe, from: q.from, to: q.to, variant: String(q.limit), load: () => loadFeatures(deps.store, q) };
}

/** 503 `features_unavailable` for a store that keeps no features. */
export function featuresUnavailable(_url: URL, res: ServerResponse): void {
  sendError(res, 503, 'features_unavailable', 'this store keeps no features');
}

/** The route without a cache (a RoleServer route). */
export async function featuresRoute(deps: { store: Pick<Store, 'assistant'>; markets: Markets }, url: URL, res: ServerResponse): Promise<void> {
  const q = featuresQuery(deps.markets, url);
  if (!deps.store.assistant) return featuresUnavailable(url, res);
  sendJson(res, 200, await loadFeatures(deps.store.assistant, q));
}
