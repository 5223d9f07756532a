/**
 * Reconciliation: when the exchange's own closed kline for a period arrives, compare it with our closed
 * candle for the same period, field by field. A mismatch is counted per field and logged: this is the
 * data-fidelity anchor. Whichever side arrives first waits (bounded) for the other.
 */
import type { Clock, Timer } from '../core/clock.js';
import { fixed8, parseFixed8 } from '../core/decimal.js';
import type { Candle, CandleEvent, Kline } from '../core/types.js';
import type { Logger } from '../telemetry/logger.js';
import type { CandleMetrics } from '../telemetry/metrics.js';
import type { CandleEngine } from './candle-engine.js';

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

/** One reconciliation outcome: `fields` (with both sides' values) only for a mismatch. */
export interface ReconcileResult {
  exchange: string;
  symbol: string;
  timeframe: Kline['timeframe'];
  openTime: number;
  result: 'match' | 'mismatch' | 'skipped' | 'unmatched';
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

export class Reconciler {
  private readonly waiting = new Map<string, Kline>();
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
        this.o.metrics.reconciliations.labels(kline.exchange, kline.timeframe, 'unmatched').inc();
        this.o.onResult?.(result(kline, 'unmatched'));
      }
    }
  }

  private compare(ours: Candle, incomplete: boolean, theirs: Kline): void {
    const m = this.o.metrics;
    if (incomplete || ours.source !== 'trades') {
      m.reconciliations.labels(theirs.exchange, theirs.timeframe, 'skipped').inc();
      this.o.onResult?.(result(theirs, 'skipped'));
      return;
    }
    const fields = diffCandle(ours, theirs);
    if (fields.length === 0) {
      m.reconciliations.labels(theirs.exchange, theirs.timeframe, 'match').inc();
      this.o.onResult?.(result(theirs, 'match'));
      return;
    }
    m.reconciliations.labels(theirs.exchange, theirs.timeframe, 'mismatch').inc();
    for (const f of fields) m.reconciliationMismatches.labels(theirs.exchange, theirs.timeframe, f).inc();
    const detail = {
      fields,
      ours: Object.fromEntries(fields.map((f) => [f, ours[f]])),
      theirs: Object.fromEntries(fields.map((f) => [f, theirs[f]])),
    };
    this.o.log.warn({ exchange: theirs.exchange, symbol: theirs.symbol, timeframe: theirs.timeframe, openTime: theirs.openTime, ...detail }, 'candle differs from the exchange kline');
    this.o.onResult?.({ ...result(theirs, 'mismatch'), ...detail });
  }
}

function result(k: Kline, r: ReconcileResult['result']): ReconcileResult {
  return { exchange: k.exchange, symbol: k.symbol, timeframe: k.timeframe, openTime: k.openTime, result: r };
}

function key(exchange: string, symbol: string, tf: string, openTime: number): string {
  return `${exchange}\u0000${symbol}\u0000${tf}\u0000${openTime}`;
}
