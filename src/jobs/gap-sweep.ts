/**
 * The `gap-sweep` job: scans the store over a window (default the last 24 h) for closed periods that have no
 * row — between the first stored candle of a series and the last period closed by now − grace − settle — and refills
 * them from the exchange's REST klines through the shared filler (src/jobs/rest-history.ts). The live
 * Backfiller only follows gap events; a gap missed during a crash is found here.
 *
 * Candles carry no stored "incomplete" flag (the engine keeps it in memory only), so only missing rows are
 * found. Candles built from trades are never overwritten (the filler's rule); periods older than the
 * exchange's REST history are counted `unreachable`. Counts: `candlestack_gap_sweep_periods_total{exchange,
 * timeframe,result}` with result found, repaired, unreachable; the run resolves with the same numbers.
 */
import type { Clock } from '../core/clock.js';
import type { ExchangeId } from '../core/exchange-id.js';
import { periodStart, sortTimeframes, timeframeMs, type Timeframe } from '../core/timeframe.js';
import type { Store } from '../store/store.js';
import type { CandleMetrics } from '../telemetry/metrics.js';
import type { Job, JobContext } from './job.js';
import type { RestHistory } from './rest-history.js';

export const GAP_SWEEP_RESULTS = ['found', 'repaired', 'unreachable'] as const;
export type GapSweepResult = (typeof GAP_SWEEP_RESULTS)[number];

export interface JobWorkDeps {
  store: Store;
  /** The REST filler over the configured exchanges' backfill sources. */
  history: RestHistory;
  clock: Clock;
  metrics: CandleMetrics;
}

export interface Market {
  exchange: ExchangeId;
  symbols: readonly string[];
}

export interface GapSweepOptions {
  /** The configured exchanges and their symbols. */
  markets: readonly Market[];
  /** Timeframes swept (those an exchange serves klines for); default every configured one. */
  timeframes: readonly Timeframe[];
  /** How far back the sweep looks. Default 24 h. */
  windowMs?: number;
  /** A period counts as closed once its end + grace has passed (config candles.grace). Default 2 s. */
  graceMs?: number;
  /**
   * Extra wait after grace before a period without a row counts as missing, so a candle the writer has not
   * flushed yet (it writes once a second) is not fetched. Default 60 s.
   */
  settleMs?: number;
}

/** What one sweep did, per series swept and in all. */
export interface GapSweepSummary {
  found: number;
  repaired: number;
  unreachable: number;
  series: { exchange: ExchangeId; symbol: string; timeframe: Timeframe; found: number; repaired: number; unreachable: number }[];
}

/** A failure on one series: the others are still swept, then the run fails naming the first. */
export class GapSweepError extends Error {
  override name = 'GapSweepError';
}

const DAY = 86_400_000;

export function gapSweepJob(deps: JobWorkDeps, options: GapSweepOptions): Job {
  const windowMs = options.windowMs ?? DAY;
  const graceMs = options.graceMs ?? 2_000;
  const settleMs = options.settleMs ?? 60_000;
  const timeframes = sortTimeframes(options.timeframes);
  const supported = (exchange: ExchangeId) => timeframes.filter((tf) => supports(deps.history, exchange, tf));
  // Every series starts at 0, so "nothing missing" is a series too.
  for (const { exchange } of options.markets) for (const tf of supported(exchange)) for (const r of GAP_SWEEP_RESULTS) deps.metrics.gapSweepPeriods.labels(exchange, tf, r).inc(0);

  return {
    name: 'gap-sweep',
    async run(ctx: JobContext): Promise<GapSweepSummary> {
      const now = deps.clock.now();
      const stored = new Map((await deps.store.series()).map((s) => [`${s.exchange}\u0000${s.symbol}\u0000${s.timeframe}`, s]));
      const summary: GapSweepSummary = { found: 0, repaired: 0, unreachable: 0, series: [] };
      const failures: { where: string; err: unknown }[] = [];
      for (const { exchange, symbols } of options.markets) {
        for (const symbol of symbols) {
          for (const timeframe of supported(exchange)) {
            if (ctx.signal.aborted) throw ctx.signal.reason ?? new GapSweepError('gap-sweep aborted');
            const series = stored.get(`${exchange}\u0000${symbol}\u0000${timeframe}`);
            if (!series) continue; // never collected: nothing to repair
            const ms = timeframeMs(timeframe);
            const first = Math.max(periodStart(now - windowMs, ms), series.firstOpenTime);
            const last = periodStart(now - graceMs - settleMs, ms) - ms;
            if (first > last) continue;
            try {
              const missing = await missingPeriods(deps.store, { exchange, symbol, timeframe, first, last });
              if (missing.length === 0) continue;
              const counts = { found: missing.length, repaired: 0, unreachable: 0 };
              for (const [from, to] of runs(missing, ms)) {
                const r = await deps.history.fill({ exchange, symbol, timeframe, from, to, signal: ctx.signal }, now);
                counts.repaired += r.written;
                counts.unreachable += r.unreachable;
              }
              for (const r of GAP_SWEEP_RESULTS) deps.metrics.gapSweepPeriods.labels(exchange, timeframe, r).inc(counts[r]);
              summary.found += counts.found;
              summary.repaired += counts.repaired;
              summary.unreachable += counts.unreachable;
              summary.series.push({ exchange, symbol, timeframe, ...counts });
              ctx.log.info({ job: 'gap-sweep', exchange, symbol, timeframe, ...counts }, 'gap-sweep: missing candles refilled');
            } catch (err) {
              failures.push({ where: `${exchange} ${symbol} ${timeframe}`, err });
              ctx.log.warn({ job: 'gap-sweep', exchange, symbol, timeframe, err }, 'gap-sweep: series not repaired');
            }
          }
        }
      }
      ctx.log.info({ job: 'gap-sweep', found: summary.found, repaired: summary.repaired, unreachable: summary.unreachable, windowMs }, 'gap-sweep done');
      if (failures.length > 0) {
        const { where, err } = failures[0]!;
        throw new GapSweepError(`gap-sweep: ${failures.length} series failed, first ${where}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      }
      return summary;
    },
  };
}

/** Period starts in [first, last] without a stored row. */
export async function missingPeriods(store: Store, q: { exchange: ExchangeId; symbol: string; timeframe: Timeframe; first: number; last: number }): Promise<number[]> {
  const ms = timeframeMs(q.timeframe);
  const rows = await store.query({ exchange: q.exchange, symbol: q.symbol, timeframe: q.timeframe, from: q.first, to: q.last, limit: (q.last - q.first) / ms + 1 });
  const have = new Set(rows.map((c) => c.openTime));
  const out: number[] = [];
  for (let t = q.first; t <= q.last; t += ms) if (!have.has(t)) out.push(t);
  return out;
}

/** Sorted period starts -> [from, to] runs of consecutive periods. */
export function runs(periods: readonly number[], ms: number): [number, number][] {
  const out: [number, number][] = [];
  for (const t of periods) {
    const run = out[out.length - 1];
    if (run && t === run[1] + ms) run[1] = t;
    else out.push([t, t]);
  }
  return out;
}

function supports(history: RestHistory, exchange: ExchangeId, tf: Timeframe): boolean {
  try {
    history.source(exchange, tf);
    return true;
  } catch {
    return false;
  }
}
