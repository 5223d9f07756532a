/**
 * The detail the dashboard's health view needs on top of the health report: per-feed message counts, per
 * symbol trade counts and last-trade age, reconciliation results, rejected frames, store and bus counters,
 * and a level (ok / warn / critical: green / amber / red) for each part. Counts come from the components'
 * own `status()` (HealthStatusSources): the numbers they count and hand to prom-client at scrape time, so
 * /metrics and this view show one count, and nothing is read back out of the metrics registry. Counters
 * are totals since start; the page derives rates from two samples.
 *
 * Error counters turn a part amber only while they are still moving: levels look at the increase over the
 * last `windowMs` (about 5 minutes, like the `increase(...[5m])` of an alert rule), not at the total.
 */
import type { Clock } from '../core/clock.js';
import type { FeedStatus, SymbolStatus } from '../feed/collector.js';
import type { BackfillStatus } from '../jobs/backfill.js';
import type { ReconcilerStatus } from '../pipeline/reconciler.js';
import type { DetailedHealthReport, HealthReport, Level, ReconciliationCounts } from '../core/health.js';

export type { DetailedHealthReport, Level, ReconciliationCounts } from '../core/health.js';


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

/**
 * Where the counts come from: functions returning the components' status. A part without a source (a role
 * without collectors, reconciler or backfill) counts 0.
 */
export interface HealthStatusSources {
  /** `Collector.status()` of every collector: frames per connection, trades, last trade and gaps per symbol, rejects. */
  feeds?: () => readonly FeedStatus[];
  /** Other components that refuse trades, by reason (`CandleEngine.status()`); added to the feeds' rejects. */
  rejects?: () => readonly { rejected: Readonly<Record<string, number>> }[];
  /** `Reconciler.status()`. */
  reconciliation?: () => ReconcilerStatus;
  /**
   * Everything that counts store errors: `CandleWriter.status()` (rows written, failed writes),
   * `IndicatorWriter.status()`, `Store.status?.()` (the PostgreSQL store's failed operations). Undefined entries are skipped.
   */
  store?: () => readonly ({ rowsWritten?: number; errors: number } | undefined)[];
  /** `MemoryBus.status()`, or `KafkaBus.status()` (which counts handler errors only). */
  bus?: () => { published?: number; consumed?: number; handlerErrors: number };
  /** `Backfiller.status()`. */
  backfill?: () => Pick<BackfillStatus, 'candles' | 'runsOk' | 'runsFailed'>;
}

interface Sample {
  at: number;
  recon: ReconciliationCounts;
  storeErrors: number;
  busHandlerErrors: number;
  backfillFailures: number;
}

export class HealthDetails {
  private readonly samples: Sample[];
  private readonly windowMs: number;

  constructor(private readonly o: { status: HealthStatusSources; clock: Clock; staleAfterMs: number; windowMs?: number }) {
    this.windowMs = o.windowMs ?? DEFAULT_WINDOW_MS;
    // The baseline: nothing had happened when the process started.
    this.samples = [{ at: o.clock.now(), recon: { match: 0, mismatch: 0, skipped: 0, unmatched: 0 }, storeErrors: 0, busHandlerErrors: 0, backfillFailures: 0 }];
  }

  extend(report: HealthReport): DetailedHealthReport {
    const src = this.o.status;
    const now = this.o.clock.now();
    const feedStatus = src.feeds?.() ?? [];
    const frames = new Map<string, number>();
    const bySymbol = new Map<string, SymbolStatus>();
    const rejectedReasons: Record<string, number> = {};
    for (const f of feedStatus) {
      for (const c of f.connections) addTo(frames, `${f.exchange}\u0000${c.connection}`, c.framesReceived);
      for (const s of f.symbols) bySymbol.set(`${f.exchange}\u0000${s.symbol}`, s);
      addCounts(rejectedReasons, f.rejected);
    }
    for (const r of src.rejects?.() ?? []) addCounts(rejectedReasons, r.rejected);
    const recon = src.reconciliation?.();
    let rowsWritten = 0;
    let storeErrors = 0;
    for (const s of src.store?.() ?? []) {
      if (!s) continue;
      rowsWritten += s.rowsWritten ?? 0;
      storeErrors += s.errors;
    }
    const busStatus = src.bus?.();
    const bf = src.backfill?.() ?? { candles: 0, runsOk: 0, runsFailed: 0 };

    const total: ReconciliationCounts = recon ? { ...recon.results } : { match: 0, mismatch: 0, skipped: 0, unmatched: 0 };
    const current: Sample = { at: now, recon: total, storeErrors, busHandlerErrors: busStatus?.handlerErrors ?? 0, backfillFailures: bf.runsFailed };
    const base = this.baseline(current);

    const recent: ReconciliationCounts = {
      match: total.match - base.recon.match,
      mismatch: total.mismatch - base.recon.mismatch,
      skipped: total.skipped - base.recon.skipped,
      unmatched: total.unmatched - base.recon.unmatched,
    };
    const feeds = report.feeds.map((f) => ({
      ...f,
      messagesReceived: frames.get(`${f.exchange}\u0000${f.connection}`) ?? 0,
      level: (f.state === 'up' ? 'ok' : f.state === 'stale' ? 'warn' : 'critical') as Level,
    }));
    const symbols = report.feeds.flatMap((f) =>
      f.symbols.map((symbol) => {
        const s = bySymbol.get(`${f.exchange}\u0000${symbol}`);
        const last = s?.lastTradeAt ?? null;
        const lastTradeAgeMs = last === null ? null : Math.max(0, now - last);
        return {
          exchange: f.exchange,
          symbol,
          tradesReceived: s?.tradesReceived ?? 0,
          lastTradeAgeMs,
          tradeIdGaps: s?.tradeIdGaps ?? 0,
          tradeIdsMissing: s?.tradeIdsMissing ?? 0,
          level: (lastTradeAgeMs === null || lastTradeAgeMs > this.o.staleAfterMs ? 'warn' : 'ok') as Level,
        };
      }),
    );
    const recentStoreErrors = current.storeErrors - base.storeErrors;
    const recentHandlerErrors = current.busHandlerErrors - base.busHandlerErrors;
    const reconciliation = {
      total,
      recent,
      mismatchedFields: positive(recon?.mismatchedFields ?? {}),
      windowSeconds: Math.round((now - base.at) / 1000),
      level: reconciliationLevel(recent),
    };
    // The API server's report always has a store and a backfill (run, demo, serve); a role without reports them empty.
    const reportStore = report.store ?? { kind: 'none', open: true, queueDepth: 0 };
    const store = {
      ...reportStore,
      rowsWritten,
      errors: current.storeErrors,
      recentErrors: recentStoreErrors,
      level: (!reportStore.open ? 'critical' : recentStoreErrors > 0 || reportStore.queueDepth > STORE_BACKLOG_WARN ? 'warn' : 'ok') as Level,
    };
    const bus = { ...report.bus, published: busStatus?.published ?? 0, consumed: busStatus?.consumed ?? 0, handlerErrors: current.busHandlerErrors, recentHandlerErrors, level: (recentHandlerErrors > 0 ? 'warn' : 'ok') as Level };
    const recentBackfillFailures = current.backfillFailures - base.backfillFailures;
    const backfill = {
      pending: report.backfill?.pending ?? 0,
      candles: bf.candles,
      runsOk: bf.runsOk,
      runsFailed: current.backfillFailures,
      recentFailures: recentBackfillFailures,
      level: (recentBackfillFailures > 0 ? 'warn' : 'ok') as Level,
    };
    const statusLevel: Level = report.status === 'ok' ? 'ok' : report.status === 'degraded' ? 'warn' : 'critical';
    const rejected = positive(rejectedReasons);
    return {
      ...report,
      level: worst([statusLevel, ...feeds.map((f) => f.level), reconciliation.level, store.level, bus.level, backfill.level]),
      staleAfterMs: this.o.staleAfterMs,
      feeds,
      symbols,
      reconciliation,
      rejected: { total: Object.values(rejected).reduce((n, v) => n + v, 0), reasons: rejected },
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

function addTo(m: Map<string, number>, key: string, n: number): void {
  m.set(key, (m.get(key) ?? 0) + n);
}

function addCounts(into: Record<string, number>, counts: Readonly<Record<string, number>>): void {
  for (const k in counts) into[k] = (into[k] ?? 0) + counts[k]!;
}

/** The counts above 0 (a reason or field never seen is left out, as before). */
function positive(counts: Readonly<Record<string, number | undefined>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k in counts) if ((counts[k] ?? 0) > 0) out[k] = counts[k]!;
  return out;
}
