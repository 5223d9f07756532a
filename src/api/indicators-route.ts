/**
 * GET /api/indicators?exchange=&symbol=&timeframe=&names=&from=&to=&limit=
 * Stored indicator values of closed candles, grouped per candle, oldest first. `names` is a comma-separated
 * subset of the configured indicators (default all); `limit` counts candles (default 500, at most 5000), the
 * most recent ones without `from`. Parameters follow /api/candles; a bad one is a 400 naming it.
 */
import type { ServerResponse } from 'node:http';
import { BadParameterError } from '../core/errors.js';
import type { Store } from '../store/store.js';
import { sendJson } from './http.js';
import type { Markets } from './markets.js';
import { parseSeriesRange, rejectUnknown } from './params.js';
import type { ReadPlan } from './cache/read-cache.js';

export const MAX_INDICATOR_CANDLES = 5000;
const DEFAULT_INDICATOR_CANDLES = 500;

export interface IndicatorsRouteDeps {
  store: Pick<Store, 'queryIndicators'>;
  markets: Markets;
  /** Configured indicator names, in configuration order. */
  names: readonly string[];
}

export async function indicatorsRoute(deps: IndicatorsRouteDeps, url: URL, res: ServerResponse): Promise<void> {
  sendJson(res, 200, await indicatorsPlan(deps, url).load());
}

/** The request as a read plan (parameters checked now: a bad one throws before anything is read). */
export function indicatorsPlan(deps: IndicatorsRouteDeps, url: URL): ReadPlan {
  const p = url.searchParams;
  rejectUnknown(p, ['exchange', 'symbol', 'timeframe', 'names', 'from', 'to', 'limit']);
  const { exchange, symbol, timeframe, from, to, limit } = parseSeriesRange(p, deps.markets, DEFAULT_INDICATOR_CANDLES, MAX_INDICATOR_CANDLES);
  const names = parseNames(p.get('names'), deps.names);
  return {
    exchange,
    symbol,
    timeframe,
    from,
    to,
    variant: `${limit}|${names.join(',')}`,
    load: async () => {
      const points = names.length === 0 ? [] : await deps.store.queryIndicators({ exchange, symbol, timeframe, names, from, to, limit });
      return { exchange, symbol, timeframe, names, count: points.length, indicators: points };
    },
  };
}

function parseNames(value: string | null, configured: readonly string[]): string[] {
  if (value === null || value === '') return [...configured];
  const names = [...new Set(value.split(',').map((s) => s.trim()))];
  const expected = configured.length > 0 ? `a comma-separated list of ${configured.join(', ')}` : 'nothing: no indicators are configured';
  if (names.some((n) => !configured.includes(n))) throw new BadParameterError('names', expected, value);
  return names;
}
