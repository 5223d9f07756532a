/**
 * Reconciliation: when the exchange's own closed kline for a period arrives, compare it with our closed
 * candle for the same period, field by field. A mismatch is counted per field and logged: this is the
 * data-fidelity anchor. Whichever side arrives first waits (bounded) for the other.
 */
import type { Clock, Timer } from '../core/clock.js';
import { fixed8, parseFixed8 } from '../core/decimal.js';
import type { Candle, CandleEvent, Kline } from '../core/types.js';
import type { Logger } from '../telemetry/logger.js';
import type { HotCounter } from '../telemetry/hot.js';
import type { CandleMetrics } from '../telemetry/metrics.js';
import type { CandleEngine } from './candle-engine.js';
import type { Service } from '../core/service.js';
import type { ExchangeId } from '../core/exchange-id.js';

export const RECONCILED_FIELDS = ['open', 'high', 'low', 'close', 'volume', 'quoteVolume', 'takerBuyVolume', 'tradeCount'] as const;
export type ReconciledField = (typeof RECONCILED_FIELDS)[number];

export interface ReconcilerOptions {
  engine: CandleEngine;
  clock: Clock;
  metrics: CandleMetrics;
  log: Logger;
  /** How long an exchange kline waits for our candle before it is counted `unmatched`. Default 5 min. */
  holdMs?: number;
  /** Told every result (the data-quality monitor uses it). */
  onResult?: (r: ReconcileResult) => void;
}

export type ReconcileOutcome = 'match' | 'mismatch' | 'skipped' | 'unmatched';

/** Reconciliations by result. */
export type ReconciliationCounts = Record<ReconcileOutcome, number>;

/** What the reconciler has counted (`Reconciler.status()`): the same numbers its metrics expose. */
export interface ReconcilerStatus {
  /** Over every exchange and timeframe. */
  results: ReconciliationCounts;
  /** Mismatched candles per field that differed (fields never seen to differ are left out). */
  mismatchedFields: Partial<Record<ReconciledField, number>>;
}

/** The counters of one exchange and timeframe. */
interface Counts {
  results: Record<ReconcileOutcome, HotCounter>;
  fields: Record<ReconciledField, HotCounter>;
}

/** One reconciliation outcome: `fields` (with both sides' values) only for a mismatch. */
export interface ReconcileResult {
  exchange: ExchangeId;
  symbol: string;
  timeframe: Kline['timeframe'];
  openTime: number;
  result: ReconcileOutcome;
  fields?: ReconciledField[];
  ours?: Partial<Record<ReconciledField, string | number>>;
  theirs?: Partial<Record<ReconciledField, string | number>>;
}

/**
 * Fields of `ours` that differ from `theirs`. Decimals compare by value; quote volume to within 1e-8. Fields
 * the exchange does not report (null) are not compared.
 */
export function diffCandle(ours: Candle, theirs: Kline): ReconciledField[] {
  const a = fixed8();
  const b = fixed8();
  const out: ReconciledField[] = [];
  for (const f of RECONCILED_FIELDS) {
    const their = theirs[f];
    if (their === null) continue;
    if (f === 'tradeCount') {
      if (ours.tradeCount !== their) out.push(f);
      continue;
    }
    if (!parseFixed8(ours[f], a) || !parseFixed8(their as string, b)) {
      out.push(f);
      continue;
    }
    const units = (a.int - b.int) * 1e8 + (a.frac - b.frac);
    if (Math.abs(units) > (f === 'quoteVolume' ? 1 : 0)) out.push(f);
  }
  return out;
}

export class Reconciler implements Service {
  readonly name = 'reconciler';
  private readonly waiting = new Map<string, Kline>();
  /** Per exchange and timeframe (key `exchange\u0000timeframe`). */
  private readonly counts = new Map<string, Counts>();
  private timer: Timer | null = null;
  private readonly holdMs: number;

  constructor(private readonly o: ReconcilerOptions) {
    this.holdMs = o.holdMs ?? 300_000;
  }

  start(): void {
    this.timer = this.o.clock.setInterval(() => this.sweep(), Math.min(this.holdMs, 30_000));
  }

  stop(): void {
    this.timer?.cancel();
  }

  onKline = (k: Kline): void => {
    if (!k.closed) return;
    const ours = this.o.engine.lookupClosed(k.exchange, k.symbol, k.timeframe, k.openTime);
    if (ours) this.compare(ours.candle, ours.incomplete, k);
    else this.waiting.set(key(k.exchange, k.symbol, k.timeframe, k.openTime), k);
  };

  onCandle = (e: CandleEvent): void => {
    if (e.kind !== 'close' || this.waiting.size === 0) return;
    const c = e.candle;
    const k = key(c.exchange, c.symbol, c.timeframe, c.openTime);
    const theirs = this.waiting.get(k);
    if (!theirs) return;
    this.waiting.delete(k);
    const incomplete = this.o.engine.lookupClosed(c.exchange, c.symbol, c.timeframe, c.openTime)?.incomplete ?? false;
    this.compare(c, incomplete, theirs);
  };

  /** Counts exchange klines that never met a candle of ours (e.g. the symbol had no trades yet). */
  sweep(now: number = this.o.clock.now()): void {
    for (const [k, kline] of this.waiting) {
      if (now - kline.receivedAt > this.holdMs) {
        this.waiting.delete(k);
        this.countsOf(kline).results.unmatched.inc();
        this.o.onResult?.(result(kline, 'unmatched'));
      }
    }
  }

  /** What the reconciler has counted: results and the fields that differed, over every exchange and timeframe. */
  status(): ReconcilerStatus {
    const results: ReconciliationCounts = { match: 0, mismatch: 0, skipped: 0, unmatched: 0 };
    const mismatchedFields: Partial<Record<ReconciledField, number>> = {};
    for (const c of this.counts.values()) {
      for (const r of RESULTS) results[r] += c.results[r].value;
      for (const f of RECONCILED_FIELDS) {
        const n = c.fields[f].value;
        if (n > 0) mismatchedFields[f] = (mismatchedFields[f] ?? 0) + n;
      }
    }
    return { results, mismatchedFields };
  }

  private countsOf(k: Kline): Counts {
    const key = `${k.exchange}\u0000${k.timeframe}`;
    let c = this.counts.get(key);
    if (!c) {
      const { hot, reconciliations, reconciliationMismatches } = this.o.metrics;
      const at = [k.exchange, k.timeframe];
      c = {
        results: Object.fromEntries(RESULTS.map((r) => [r, hot.reconciliations.counter(reconciliations, ...at, r)])) as Counts['results'],
        fields: Object.fromEntries(RECONCILED_FIELDS.map((f) => [f, hot.reconciliationMismatches.counter(reconciliationMismatches, ...at, f)])) as Counts['fields'],
      };
      this.counts.set(key, c);
    }
    return c;
  }

  private compare(ours: Candle, incomplete: boolean, theirs: Kline): void {
    const m = this.countsOf(theirs);
    if (incomplete || ours.source !== 'trades') {
      m.results.skipped.inc();
      this.o.onResult?.(result(theirs, 'skipped'));
      return;
    }
    const fields = diffCandle(ours, theirs);
    if (fields.length === 0) {
      m.results.match.inc();
      this.o.onResult?.(result(theirs, 'match'));
      return;
    }
    m.results.mismatch.inc();
    for (const f of fields) m.fields[f].inc();
    const detail = {
      fields,
      ours: Object.fromEntries(fields.map((f) => [f, ours[f]])),
      theirs: Object.fromEntries(fields.map((f) => [f, theirs[f]])),
    };
    this.o.log.warn({ exchange: theirs.exchange, symbol: theirs.symbol, timeframe: theirs.timeframe, openTime: theirs.openTime, ...detail }, 'candle differs from the exchange kline');
    this.o.onResult?.({ ...result(theirs, 'mismatch'), ...detail });
  }
}

const RESULTS: readonly ReconcileOutcome[] = ['match', 'mismatch', 'skipped', 'unmatched'];

function result(k: Kline, r: ReconcileResult['result']): ReconcileResult {
  return { exchange: k.exchange, symbol: k.symbol, timeframe: k.timeframe, openTime: k.openTime, result: r };
}

function key(exchange: ExchangeId, symbol: string, tf: string, openTime: number): string {
  return `${exchange}\u0000${symbol}\u0000${tf}\u0000${openTime}`;
}
