/**
 * The detail the dashboard's health view needs on top of the health report: per-feed message counts, per
 * symbol trade counts and last-trade age, reconciliation results, rejected frames, store and bus counters,
 * and a level (ok / warn / critical: green / amber / red) for each part. Counts come from the metrics
 * catalogue (the one source the Prometheus dashboards use too), read in process: the browser never scrapes
 * /metrics. Counters are totals since start; the page derives rates from two samples.
 *
 * Error counters turn a part amber only while they are still moving: levels look at the increase over the
 * last `windowMs` (about 5 minutes, like the `increase(...[5m])` of an alert rule), not at the total.
 */
import type { Clock } from '../core/clock.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { HealthReport } from './health.js';

export type Level = 'ok' | 'warn' | 'critical';

/**
 * Above this share of mismatched reconciliations over the window the reconciliation is red, not amber. The
 * share is taken of at least MISMATCH_MIN_SAMPLE comparisons, so one odd candle after a start is amber.
 */
export const MISMATCH_CRITICAL_RATIO = 0.01;
export const MISMATCH_MIN_SAMPLE = 100;
/** Candle rows waiting for the store above which the store is amber. */
export const STORE_BACKLOG_WARN = 10_000;
const DEFAULT_WINDOW_MS = 300_000;
const SAMPLE_EVERY_MS = 10_000;

export interface ReconciliationCounts {
  match: number;
  mismatch: number;
  skipped: number;
  unmatched: number;
}

export interface DetailedHealthReport extends Omit<HealthReport, 'feeds' | 'store' | 'bus' | 'backfill'> {
  level: Level;
  staleAfterMs: number;
  feeds: (HealthReport['feeds'][number] & { messagesReceived: number; level: Level })[];
  symbols: { exchange: string; symbol: string; tradesReceived: number; lastTradeAgeMs: number | null; tradeIdGaps: number; tradeIdsMissing: number; level: Level }[];
  reconciliation: { total: ReconciliationCounts; recent: ReconciliationCounts; mismatchedFields: Record<string, number>; windowSeconds: number; level: Level };
  rejected: { total: number; reasons: Record<string, number> };
  store: HealthReport['store'] & { rowsWritten: number; errors: number; recentErrors: number; level: Level };
  bus: HealthReport['bus'] & { published: number; consumed: number; handlerErrors: number; recentHandlerErrors: number; level: Level };
  backfill: HealthReport['backfill'] & { candles: number; runsOk: number; runsFailed: number; recentFailures: number; level: Level };
}

interface Sample {
  at: number;
  recon: ReconciliationCounts;
  storeErrors: number;
  busHandlerErrors: number;
  backfillFailures: number;
}

type Row = { value: number; labels: Record<string, string | number | undefined> };
interface Readable {
  get(): Promise<{ values: Row[] }> | { values: Row[] };
}

export class HealthDetails {
  private readonly samples: Sample[];
  private readonly windowMs: number;

  constructor(private readonly o: { metrics: Pick<Metrics, 'feed' | 'candles' | 'store' | 'bus'>; clock: Clock; staleAfterMs: number; windowMs?: number }) {
    this.windowMs = o.windowMs ?? DEFAULT_WINDOW_MS;
    // The baseline: nothing had happened when the process started.
    this.samples = [{ at: o.clock.now(), recon: { match: 0, mismatch: 0, skipped: 0, unmatched: 0 }, storeErrors: 0, busHandlerErrors: 0, backfillFailures: 0 }];
  }

  async extend(report: HealthReport): Promise<DetailedHealthReport> {
    const { feed, candles, store: st, bus: b } = this.o.metrics;
    const now = this.o.clock.now();
    const { frames, trades, lastTrade, gaps, missing, recon, fields, rejected, rows, storeErrors, published, consumed, handlerErrors, bfCandles, bfRuns } = await readAll({
      frames: feed.wsMessagesReceived,
      trades: feed.tradesReceived,
      lastTrade: feed.lastTradeTimestamp,
      gaps: feed.tradeIdGaps,
      missing: feed.tradeIdsMissing,
      recon: candles.reconciliations,
      fields: candles.reconciliationMismatches,
      rejected: feed.messagesRejected,
      rows: st.storeRowsWritten,
      storeErrors: st.storeErrors,
      published: b.busPublished,
      consumed: b.busConsumed,
      handlerErrors: b.busHandlerErrors,
      bfCandles: candles.backfillCandles,
      bfRuns: candles.backfillRuns,
    });
    const total: ReconciliationCounts = {
      match: sum(recon, { result: 'match' }),
      mismatch: sum(recon, { result: 'mismatch' }),
      skipped: sum(recon, { result: 'skipped' }),
      unmatched: sum(recon, { result: 'unmatched' }),
    };
    const current: Sample = { at: now, recon: total, storeErrors: sum(storeErrors), busHandlerErrors: sum(handlerErrors), backfillFailures: sum(bfRuns, { result: 'error' }) };
    const base = this.baseline(current);

    const recent: ReconciliationCounts = {
      match: total.match - base.recon.match,
      mismatch: total.mismatch - base.recon.mismatch,
      skipped: total.skipped - base.recon.skipped,
      unmatched: total.unmatched - base.recon.unmatched,
    };
    const feeds = report.feeds.map((f) => ({
      ...f,
      messagesReceived: sum(frames, { exchange: f.exchange, connection: f.connection }),
      level: (f.state === 'up' ? 'ok' : f.state === 'stale' ? 'warn' : 'critical') as Level,
    }));
    const symbols = report.feeds.flatMap((f) =>
      f.symbols.map((symbol) => {
        const at = { exchange: f.exchange, symbol };
        const last = rows1(lastTrade, at)?.value;
        const lastTradeAgeMs = last === undefined || last === 0 ? null : Math.max(0, now - Math.round(last * 1000));
        return {
          exchange: f.exchange,
          symbol,
          tradesReceived: sum(trades, at),
          lastTradeAgeMs,
          tradeIdGaps: sum(gaps, at),
          tradeIdsMissing: sum(missing, at),
          level: (lastTradeAgeMs === null || lastTradeAgeMs > this.o.staleAfterMs ? 'warn' : 'ok') as Level,
        };
      }),
    );
    const recentStoreErrors = current.storeErrors - base.storeErrors;
    const recentHandlerErrors = current.busHandlerErrors - base.busHandlerErrors;
    const reconciliation = {
      total,
      recent,
      mismatchedFields: byLabel(fields, 'field'),
      windowSeconds: Math.round((now - base.at) / 1000),
      level: reconciliationLevel(recent),
    };
    const store = {
      ...report.store,
      rowsWritten: sum(rows),
      errors: current.storeErrors,
      recentErrors: recentStoreErrors,
      level: (!report.store.open ? 'critical' : recentStoreErrors > 0 || report.store.queueDepth > STORE_BACKLOG_WARN ? 'warn' : 'ok') as Level,
    };
    const bus = { ...report.bus, published: sum(published), consumed: sum(consumed), handlerErrors: current.busHandlerErrors, recentHandlerErrors, level: (recentHandlerErrors > 0 ? 'warn' : 'ok') as Level };
    const recentBackfillFailures = current.backfillFailures - base.backfillFailures;
    const backfill = {
      ...report.backfill,
      candles: sum(bfCandles),
      runsOk: sum(bfRuns, { result: 'ok' }),
      runsFailed: current.backfillFailures,
      recentFailures: recentBackfillFailures,
      level: (recentBackfillFailures > 0 ? 'warn' : 'ok') as Level,
    };
    const statusLevel: Level = report.status === 'ok' ? 'ok' : report.status === 'degraded' ? 'warn' : 'critical';
    return {
      ...report,
      level: worst([statusLevel, ...feeds.map((f) => f.level), reconciliation.level, store.level, bus.level, backfill.level]),
      staleAfterMs: this.o.staleAfterMs,
      feeds,
      symbols,
      reconciliation,
      rejected: { total: sum(rejected), reasons: byLabel(rejected, 'reason') },
      store,
      bus,
      backfill,
    };
  }

  /** Records `current` (at most every SAMPLE_EVERY_MS) and returns the sample the window starts from. */
  private baseline(current: Sample): Sample {
    const s = this.samples;
    if (current.at - s[s.length - 1]!.at >= SAMPLE_EVERY_MS) s.push(current);
    const cutoff = current.at - this.windowMs;
    // Keep one sample at or before the cutoff: it is where the window starts.
    while (s.length > 1 && s[1]!.at <= cutoff) s.shift();
    return s[0]!;
  }
}

/** Green without mismatches; amber with a few; red when more than MISMATCH_CRITICAL_RATIO of comparisons differ. */
export function reconciliationLevel(recent: ReconciliationCounts): Level {
  if (recent.mismatch === 0) return 'ok';
  const compared = Math.max(MISMATCH_MIN_SAMPLE, recent.match + recent.mismatch);
  return recent.mismatch / compared > MISMATCH_CRITICAL_RATIO ? 'critical' : 'warn';
}

export function worst(levels: readonly Level[]): Level {
  return levels.includes('critical') ? 'critical' : levels.includes('warn') ? 'warn' : 'ok';
}

async function readAll<K extends string>(metrics: Record<K, Readable>): Promise<Record<K, Row[]>> {
  const keys = Object.keys(metrics) as K[];
  const values = await Promise.all(keys.map(async (k) => (await metrics[k].get()).values));
  return Object.fromEntries(keys.map((k, i) => [k, values[i]!])) as Record<K, Row[]>;
}

function matches(row: Row, labels: Record<string, string>): boolean {
  for (const k in labels) if (row.labels[k] !== labels[k]) return false;
  return true;
}

function sum(rows: readonly Row[], labels: Record<string, string> = {}): number {
  let n = 0;
  for (const r of rows) if (matches(r, labels)) n += r.value;
  return n;
}

function rows1(rows: readonly Row[], labels: Record<string, string>): Row | undefined {
  return rows.find((r) => matches(r, labels));
}

function byLabel(rows: readonly Row[], label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) {
    const k = String(r.labels[label]);
    if (r.value > 0) out[k] = (out[k] ?? 0) + r.value;
  }
  return out;
}
