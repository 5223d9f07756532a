/**
 * History on demand from the exchange's REST klines: fills one series (exchange, symbol, timeframe) over a
 * range of periods and upserts the klines as closed candles (`source: backfill`, through `klineToCandle`, the
 * conversion the Backfiller uses). Shared by `candlestack backfill` and the `gap-sweep` job.
 *
 * Rules:
 * - Only closed periods are asked for: the last one is the period before the one `settleMs` before now.
 * - Periods older than the exchange's REST history (`klineHistoryPeriods`) are counted `unreachable` and not
 *   requested (they would come back empty).
 * - A stored candle built from trades (`source: trades`) is never overwritten by a kline unless `replace` is
 *   set; it is counted `skippedTrades`.
 * - The range is fetched and written in chunks of `chunkPeriods` (default 1000, Binance's page), so an
 *   interrupted fill has stored everything before the chunk it was in; `onProgress` is told after each chunk.
 */
import { klineToCandle } from '../core/kline.js';
import { CandlestackError } from '../core/errors.js';
import { periodStart, timeframeMs, type Timeframe } from '../core/timeframe.js';
import type { Candle, Kline } from '../core/types.js';
import type { ExchangeId } from '../core/exchange-id.js';
import type { Store } from '../store/store.js';
import type { BackfillSource } from './backfill.js';

export interface HistoryRequest {
  exchange: ExchangeId;
  symbol: string;
  timeframe: Timeframe;
  /** First period to fill: the period holding this time (epoch ms). */
  from: number;
  /** Last period to fill: the period holding this time (epoch ms, inclusive); capped at the last closed period. */
  to: number;
  /** Overwrite candles built from trades. */
  replace?: boolean;
  /** Checked between chunks: an aborted fill stops after the chunk in flight (what it wrote stays). */
  signal?: AbortSignal;
  /** Told after each chunk: periods of the (reachable, closed) range done so far, and in all. */
  onProgress?: (done: number, total: number) => void;
}

export interface HistoryResult {
  /** Candles upserted from klines. */
  written: number;
  /** Klines not written because the stored candle was built from trades (and `replace` was not set). */
  skippedTrades: number;
  /** Periods older than the exchange's REST history: not requested. */
  unreachable: number;
  /** Periods asked for that the exchange did not return (no kline: e.g. before the market existed). */
  missing: number;
  /** First and last period start actually requested (absent when nothing was). */
  first?: number;
  last?: number;
}

/** No source for the exchange, or a timeframe its REST klines do not serve. */
export class RestHistoryError extends CandlestackError {
  override name = 'RestHistoryError';
  constructor(message: string) {
    super('rest_history', message);
  }
}

export interface RestHistoryOptions {
  sources: ReadonlyMap<string, BackfillSource>;
  store: Store;
  /** Wait after a period's end before it counts as closed at the exchange. Default 2 s. */
  settleMs?: number;
  /** Periods per request-and-write step. Default 1000. */
  chunkPeriods?: number;
}

export class RestHistory {
  private readonly settleMs: number;
  private readonly chunkPeriods: number;

  constructor(private readonly o: RestHistoryOptions) {
    this.settleMs = o.settleMs ?? 2_000;
    this.chunkPeriods = o.chunkPeriods ?? 1000;
  }

  /** The source of an exchange, checked to serve `timeframe`. */
  source(exchange: ExchangeId, timeframe: Timeframe): BackfillSource {
    const source = this.o.sources.get(exchange);
    if (!source) throw new RestHistoryError(`no REST source for exchange ${exchange}`);
    if (!source.adapter.klineTimeframes.includes(timeframe)) throw new RestHistoryError(`${exchange} serves no ${timeframe} klines (it serves ${source.adapter.klineTimeframes.join(', ')})`);
    return source;
  }

  /** The range a fill at `now` would request: closed periods within the REST history, and how many are out of reach. */
  plan(req: Pick<HistoryRequest, 'exchange' | 'timeframe' | 'from' | 'to'>, now: number): { first: number; last: number; unreachable: number } {
    const { adapter } = this.source(req.exchange, req.timeframe);
    const ms = timeframeMs(req.timeframe);
    let first = periodStart(req.from, ms);
    const last = Math.min(periodStart(req.to, ms), periodStart(now - this.settleMs, ms) - ms);
    let unreachable = 0;
    const depth = adapter.klineHistoryPeriods;
    if (depth !== undefined && first <= last) {
      const oldest = periodStart(now, ms) - (depth - 1) * ms;
      if (first < oldest) {
        unreachable = (Math.min(last, oldest - ms) - first) / ms + 1;
        first = oldest;
      }
    }
    return { first, last, unreachable };
  }

  async fill(req: HistoryRequest, now: number): Promise<HistoryResult> {
    const ms = timeframeMs(req.timeframe);
    const plan = this.plan(req, now);
    const result: HistoryResult = { written: 0, skippedTrades: 0, unreachable: plan.unreachable, missing: 0 };
    if (plan.first > plan.last) return result;
    result.first = plan.first;
    result.last = plan.last;
    const total = (plan.last - plan.first) / ms + 1;
    for await (const { start, end, klines } of this.chunks(req, plan)) {
      const kept = req.replace ? null : await this.tradesBuilt(req, start, end);
      const candles: Candle[] = [];
      for (const k of klines) {
        if (kept?.has(k.openTime)) result.skippedTrades++;
        else candles.push(klineToCandle({ ...k, closed: true }, 'backfill'));
      }
      if (candles.length > 0) await this.o.store.upsert(candles);
      result.written += candles.length;
      result.missing += (end - start) / ms + 1 - klines.length;
      req.onProgress?.((end - plan.first) / ms + 1, total);
    }
    return result;
  }

  /**
   * The exchange's closed klines of the request's reachable periods (one per period, oldest first), fetched
   * the same way `fill` does; `unreachable` counts the periods older than the REST history.
   */
  async klines(req: Omit<HistoryRequest, 'replace' | 'onProgress'>, now: number): Promise<{ klines: Kline[]; unreachable: number }> {
    const plan = this.plan(req, now);
    const out: Kline[] = [];
    if (plan.first <= plan.last) for await (const chunk of this.chunks(req, plan)) out.push(...chunk.klines);
    return { klines: out, unreachable: plan.unreachable };
  }

  /** Fetches [first, last] in chunks of `chunkPeriods`: each chunk's klines inside it, one per period. */
  private async *chunks(req: Omit<HistoryRequest, 'replace' | 'onProgress'>, plan: { first: number; last: number }): AsyncGenerator<{ start: number; end: number; klines: Kline[] }> {
    const source = this.source(req.exchange, req.timeframe);
    const ms = timeframeMs(req.timeframe);
    for (let start = plan.first; start <= plan.last; start += this.chunkPeriods * ms) {
      if (req.signal?.aborted) return;
      const end = Math.min(plan.last, start + (this.chunkPeriods - 1) * ms);
      const fetched = await source.adapter.fetchKlines(source.rest, source.endpoints, req.symbol, req.timeframe, start, end + ms - 1);
      const seen = new Set<number>();
      const klines = fetched.filter((k) => k.openTime >= start && k.openTime <= end && !seen.has(k.openTime) && seen.add(k.openTime));
      yield { start, end, klines };
    }
  }

  /** Open times of the stored candles built from trades in [start, end]. */
  private async tradesBuilt(req: HistoryRequest, start: number, end: number): Promise<Set<number>> {
    const ms = timeframeMs(req.timeframe);
    const rows = await this.o.store.query({ exchange: req.exchange, symbol: req.symbol, timeframe: req.timeframe, from: start, to: end, limit: (end - start) / ms + 1 });
    return new Set(rows.filter((c) => c.source === 'trades').map((c) => c.openTime));
  }
}
