/**
 * GET /api/features?exchange=&symbol=&timeframe=&from=&to=&limit=
 * The stored feature vectors of closed candles (src/assistant/features.ts), oldest first, with the same
 * parameter rules and errors as /api/candles: `limit` default 500, at most 5000, the most recent ones without
 * `from`; a bad parameter is a 400 naming it. 503 `features_unavailable` on a store without the table.
 */
import type { ServerResponse } from 'node:http';
import { BadParameterError } from '../core/errors.js';
import type { Store } from '../store/store.js';
import { sendError, sendJson } from './http.js';
import type { Markets } from './markets.js';
import { parseLimit, parseTime, parseTimeframe, rejectUnknown } from './params.js';

export const MAX_FEATURE_ROWS = 5000;
const DEFAULT_FEATURE_ROWS = 500;

export async function featuresRoute(deps: { store: Pick<Store, 'assistant'>; markets: Markets }, url: URL, res: ServerResponse): Promise<void> {
  const p = url.searchParams;
  rejectUnknown(p, ['exchange', 'symbol', 'timeframe', 'from', 'to', 'limit']);
  const { exchange, symbol } = deps.markets.resolve(p.get('exchange'), p.get('symbol'));
  const timeframe = parseTimeframe(p.get('timeframe'), deps.markets.defaultTimeframe);
  const from = parseTime('from', p.get('from'));
  const to = parseTime('to', p.get('to'));
  if (from !== undefined && to !== undefined && from > to) throw new BadParameterError('from', `a time not after to (${to})`, p.get('from'));
  const limit = parseLimit(p.get('limit'), DEFAULT_FEATURE_ROWS, MAX_FEATURE_ROWS);
  const store = deps.store.assistant;
  if (!store) return sendError(res, 503, 'features_unavailable', 'this store keeps no features');
  const rows = await store.queryFeatures({ exchange, symbol, timeframe, from, to, limit });
  sendJson(res, 200, { exchange, symbol, timeframe, count: rows.length, features: rows.map((r) => ({ openTime: r.openTime, close: r.close, values: r.values })) });
}
