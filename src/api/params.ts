/** Query-parameter parsing for the API: every bad value becomes a BadParameterError naming the parameter. */
import { BadParameterError } from '../core/errors.js';
import { TIMEFRAMES, isTimeframe, type Timeframe } from '../core/timeframe.js';
import type { ExchangeId } from '../core/exchange-id.js';
import type { Markets } from './markets.js';

export function rejectUnknown(params: URLSearchParams, allowed: readonly string[]): void {
  for (const key of params.keys()) {
    if (!allowed.includes(key)) throw new BadParameterError(key, `one of the parameters ${allowed.join(', ')}`, key);
  }
}

/** Epoch milliseconds or an ISO-8601 date-time. */
export function parseTime(name: string, value: string | null): number | undefined {
  if (value === null || value === '') return undefined;
  if (/^\d{1,16}$/.test(value)) return Number(value);
  const t = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(t)) throw new BadParameterError(name, 'epoch milliseconds or an ISO-8601 date-time', value);
  return t;
}

export function parseLimit(value: string | null, fallback: number, max: number): number {
  if (value === null || value === '') return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > max) throw new BadParameterError('limit', `an integer from 1 to ${max}`, value);
  return n;
}

export function parseTimeframe(value: string | null, fallback: Timeframe): Timeframe {
  if (value === null || value === '') return fallback;
  if (!isTimeframe(value)) throw new BadParameterError('timeframe', `one of ${TIMEFRAMES.join(', ')}`, value);
  return value;
}

/** A series and a range of it, the parameters every read route shares (`/api/candles`, `/api/indicators`, `/api/features`). */
export interface SeriesRange {
  exchange: ExchangeId;
  symbol: string;
  timeframe: Timeframe;
  from: number | undefined;
  to: number | undefined;
  limit: number;
}

/**
 * exchange, symbol (resolved against the watched markets), timeframe (one the market is configured with: a valid
 * but unconfigured one has nothing, so the error lists those that have), from <= to, limit (default `fallback`).
 */
export function parseSeriesRange(p: URLSearchParams, markets: Markets, fallback: number, max: number): SeriesRange {
  const { exchange, symbol, market } = markets.resolve(p.get('exchange'), p.get('symbol'));
  const timeframe = parseTimeframe(p.get('timeframe'), markets.defaultTimeframe);
  if (!market.timeframes.includes(timeframe)) throw new BadParameterError('timeframe', `one of the configured timeframes ${market.timeframes.join(', ')}`, p.get('timeframe'));
  const from = parseTime('from', p.get('from'));
  const to = parseTime('to', p.get('to'));
  if (from !== undefined && to !== undefined && from > to) throw new BadParameterError('from', `a time not after to (${to})`, p.get('from'));
  return { exchange, symbol, timeframe, from, to, limit: parseLimit(p.get('limit'), fallback, max) };
}
