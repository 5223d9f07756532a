/**
 * GET /api/quality: the data-quality score and why. With `symbol` (and optionally `exchange`): the report of
 * that market, check by check, with the recent failures and the values they were found on. Without
 * `symbol`: the score and failing checks of every market (of `exchange` when given).
 */
import type { ServerResponse } from 'node:http';
import type { QualityReport, QualitySummary } from '../quality/report.js';
import { sendError, sendJson } from './http.js';
import type { Markets } from './markets.js';
import { rejectUnknown } from './params.js';

export interface QualitySource {
  explain(exchange: string, symbol: string): QualityReport | undefined;
  summary(): QualitySummary[];
}

export function sendQuality(url: URL, res: ServerResponse, markets: Markets, quality: QualitySource | undefined): void {
  const p = url.searchParams;
  rejectUnknown(p, ['exchange', 'symbol']);
  const exchangeParam = p.get('exchange');
  const symbolParam = p.get('symbol');
  const exchange = exchangeParam === null || exchangeParam === '' ? null : markets.resolve(exchangeParam, null).exchange;
  if (symbolParam === null || symbolParam === '') {
    if (!quality) return sendError(res, 503, 'quality_unavailable', 'data-quality monitoring is not running');
    return sendJson(res, 200, { scores: quality.summary().filter((s) => exchange === null || s.exchange === exchange) });
  }
  const market = markets.resolve(exchange, symbolParam);
  if (!quality) return sendError(res, 503, 'quality_unavailable', 'data-quality monitoring is not running');
  const report = quality.explain(market.exchange, market.symbol);
  if (!report) return sendError(res, 404, 'not_found', `no quality data for ${market.symbol} on ${market.exchange} yet`);
  sendJson(res, 200, report);
}
