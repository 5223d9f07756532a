/**
 * The `integrity` job: compares yesterday's (the UTC day before now) stored 1m candles of every configured
 * series with the exchange's REST klines (fetched like the filler does, src/jobs/rest-history.ts) and counts
 * mismatches per field with the Reconciler's rules (`diffCandle`: decimals by value, quote volume to 1e-8,
 * fields the exchange does not report skipped). Counts: `candlestack_integrity_candles_checked_total
 * {exchange}` and `candlestack_integrity_mismatches_total{exchange,field}`; a summary is logged.
 *
 * Stored candles without a kline (or klines without a stored candle, or periods older than the exchange's
 * REST history) are not compared; they are reported in the summary (missing rows are gap-sweep's work).
 */
import type { ExchangeId } from '../core/exchange-id.js';
import { periodStart } from '../core/timeframe.js';
import type { Candle, Kline } from '../core/types.js';
import { RECONCILED_FIELDS, diffCandle, type ReconciledField } from '../pipeline/reconciler.js';
import type { Job, JobContext } from './job.js';
import type { JobWorkDeps, Market } from './gap-sweep.js';

export interface IntegrityOptions {
  /** The configured exchanges and their symbols. */
  markets: readonly Market[];
}

export interface IntegritySeries {
  exchange: ExchangeId;
  symbol: string;
  checked: number;
  /** Candles with at least one differing field. */
  mismatched: number;
  fields: Partial<Record<ReconciledField, number>>;
  /** Stored candles the exchange returned no kline for. */
  unmatched: number;
  /** Periods of the day within the REST history without a stored candle. */
  notStored: number;
  /** Periods older than the exchange's REST history. */
  unreachable: number;
}

export interface IntegritySummary {
  /** The day compared, YYYY-MM-DD (UTC). */
  day: string;
  checked: number;
  mismatched: number;
  series: IntegritySeries[];
}

export class IntegrityError extends Error {
  override name = 'IntegrityError';
}

const DAY = 86_400_000;
const MINUTE = 60_000;

export function integrityJob(deps: JobWorkDeps, options: IntegrityOptions): Job {
  const exchanges = options.markets.filter((m) => serves1m(deps, m.exchange));
  for (const { exchange } of exchanges) {
    deps.metrics.integrityCandlesChecked.labels(exchange).inc(0);
    for (const f of RECONCILED_FIELDS) deps.metrics.integrityMismatches.labels(exchange, f).inc(0);
  }
  return {
    name: 'integrity',
    async run(ctx: JobContext): Promise<IntegritySummary> {
      const now = deps.clock.now();
      const from = periodStart(now, DAY) - DAY;
      const to = from + DAY - MINUTE;
      const summary: IntegritySummary = { day: new Date(from).toISOString().slice(0, 10), checked: 0, mismatched: 0, series: [] };
      const failures: { where: string; err: unknown }[] = [];
      for (const { exchange, symbols } of exchanges) {
        for (const symbol of symbols) {
          if (ctx.signal.aborted) throw ctx.signal.reason ?? new IntegrityError('integrity aborted');
          try {
            const stored = await deps.store.query({ exchange, symbol, timeframe: '1m', from, to, limit: DAY / MINUTE });
            const { klines, unreachable } = await deps.history.klines({ exchange, symbol, timeframe: '1m', from, to, signal: ctx.signal }, now);
            // Stored candles older than the REST history reaches are not compared (nor counted unmatched).
            const reachable = from + unreachable * MINUTE;
            const s = compareDay(exchange, symbol, stored.filter((c) => c.openTime >= reachable), klines);
            s.notStored -= unreachable;
            s.unreachable = unreachable;
            deps.metrics.integrityCandlesChecked.labels(exchange).inc(s.checked);
            for (const [f, n] of Object.entries(s.fields)) deps.metrics.integrityMismatches.labels(exchange, f).inc(n);
            summary.checked += s.checked;
            summary.mismatched += s.mismatched;
            summary.series.push(s);
            const level = s.mismatched > 0 ? 'warn' : 'info';
            ctx.log[level]({ job: 'integrity', day: summary.day, ...s }, `integrity: ${exchange} ${symbol} ${summary.day}: ${s.checked} candles checked, ${s.mismatched} differ`);
          } catch (err) {
            failures.push({ where: `${exchange} ${symbol}`, err });
            ctx.log.warn({ job: 'integrity', exchange, symbol, err }, 'integrity: series not checked');
          }
        }
      }
      ctx.log.info({ job: 'integrity', day: summary.day, checked: summary.checked, mismatched: summary.mismatched }, 'integrity done');
      if (failures.length > 0) {
        const { where, err } = failures[0]!;
        throw new IntegrityError(`integrity: ${failures.length} series failed, first ${where}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      }
      return summary;
    },
  };
}

/** Compares a day's stored 1m candles with the exchange's klines, period by period. */
export function compareDay(exchange: ExchangeId, symbol: string, stored: readonly Candle[], klines: readonly Kline[]): IntegritySeries {
  const theirs = new Map(klines.map((k) => [k.openTime, k]));
  const s: IntegritySeries = { exchange, symbol, checked: 0, mismatched: 0, fields: {}, unmatched: 0, notStored: DAY / MINUTE - stored.length, unreachable: 0 };
  for (const c of stored) {
    const k = theirs.get(c.openTime);
    if (!k) {
      s.unmatched++;
      continue;
    }
    s.checked++;
    const fields = diffCandle(c, k);
    if (fields.length > 0) s.mismatched++;
    for (const f of fields) s.fields[f] = (s.fields[f] ?? 0) + 1;
  }
  return s;
}

function serves1m(deps: JobWorkDeps, exchange: ExchangeId): boolean {
  try {
    deps.history.source(exchange, '1m');
    return true;
  } catch {
    return false;
  }
}
