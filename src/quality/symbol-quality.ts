/**
 * Quality state of one exchange/symbol: a CheckRecord per check, the per-trade checks, what the periodic
 * checks need (last trade time and price, first trade), and the cached metric children.
 */
import type { Trade } from '../core/types.js';
import type { QualityMetrics } from '../telemetry/metrics.js';
import { CheckRecord } from './check-record.js';
import { QUALITY_CHECKS, type AnomalyType, type QualityCheck } from './checks.js';
import { TradeChecks, type FailSink, type TradeCheckSettings } from './trade-checks.js';
import type { ExchangeId } from '../core/exchange-id.js';

export interface CheckCounters {
  pass: { inc(n?: number): void };
  fail: { inc(): void };
}

export class SymbolQuality {
  readonly records: ReadonlyMap<QualityCheck, CheckRecord>;
  readonly trades: TradeChecks;
  /** Local receive time of the last trade (epoch ms); -Infinity before the first (a number: stored unboxed per trade). */
  lastReceivedAt = Number.NEGATIVE_INFINITY;
  firstTradeTime: number | null = null;
  /** When the monitor started watching this symbol: staleness counts from here before the first trade. */
  readonly since: number;
  readonly counters: ReadonlyMap<QualityCheck, CheckCounters>;
  readonly score: { set(v: number): void };
  private readonly anomalies = new Map<AnomalyType, { inc(): void }>();

  constructor(
    readonly exchange: ExchangeId,
    readonly symbol: string,
    since: number,
    settings: TradeCheckSettings,
    private readonly metrics: QualityMetrics,
    fail: FailSink,
  ) {
    this.since = since;
    this.records = new Map(QUALITY_CHECKS.map((c) => [c, new CheckRecord(c)]));
    this.counters = new Map(
      QUALITY_CHECKS.map((c) => [c, { pass: metrics.dataQualityChecks.labels(exchange, c, 'pass'), fail: metrics.dataQualityChecks.labels(exchange, c, 'fail') }]),
    );
    this.score = metrics.dataQualityScore.labels(exchange, symbol);
    this.trades = new TradeChecks(settings, { outOfOrder: this.record('out_of_order'), outlier: this.record('price_outlier'), volume: this.record('volume_sanity') }, fail);
  }

  record(check: QualityCheck): CheckRecord {
    return this.records.get(check)!;
  }

  /** Hot path: called for every trade of this symbol; its receive time is the time of the checks. */
  onTrade(t: Trade): void {
    if (this.firstTradeTime === null) this.firstTradeTime = t.time;
    this.lastReceivedAt = t.receivedAt;
    this.trades.check(t);
  }

  /** The last accepted price (outliers excluded), NaN before the first trade. */
  get price(): number {
    return this.trades.referencePrice;
  }

  anomaly(type: AnomalyType): { inc(): void } {
    let c = this.anomalies.get(type);
    if (!c) this.anomalies.set(type, (c = this.metrics.dataAnomalies.labels(this.exchange, type)));
    return c;
  }

  /** Adds passes recorded since the last flush to the checks counter (per-trade passes are batched). */
  flushPasses(): void {
    for (const [check, r] of this.records) {
      if (r.unflushedPasses === 0) continue;
      this.counters.get(check)!.pass.inc(r.unflushedPasses);
      r.unflushedPasses = 0;
    }
  }
}
