/**
 * The data-quality monitor: runs every check per exchange/symbol, records each result (metrics + an
 * in-memory record), keeps the score gauge current and explains the score for GET /api/quality.
 *
 * Inputs: trades and gaps from the bus, reconciliation results from the Reconciler, the store (periodic
 * missing-candle query) and the clock (periodic staleness, trade-id continuity, cross-exchange divergence).
 * Everything is passed in; tests drive it on a fake clock.
 */
import type { Clock, Timer } from '../core/clock.js';
import { periodStart, timeframeMs, type Timeframe } from '../core/timeframe.js';
import type { GapEvent, Trade } from '../core/types.js';
import type { ReconcileResult } from '../pipeline/reconciler.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { QualityMetrics } from '../telemetry/metrics.js';
import type { CheckRecord } from './check-record.js';
import { STATE_CHECKS, type AnomalyType } from './checks.js';
import { crossExchange } from './cross-exchange.js';
import { explainSymbol, type QualityReport, type QualitySummary } from './report.js';
import type { QualitySettings } from './settings.js';
import { SymbolQuality } from './symbol-quality.js';
import type { Service } from '../core/service.js';
import type { ExchangeId } from '../core/exchange-id.js';

export interface QualityMonitorOptions {
  settings: QualitySettings;
  /** The configured markets; symbols seen later are added as they come. */
  markets: readonly { exchange: ExchangeId; symbols: readonly string[] }[];
  /** Timeframe of the missing-candle check (resolved from the settings and the configured timeframes). */
  candleTimeframe: Timeframe;
  /** A closed period is expected in the store this long after its end (grace + flushes). */
  candleSettleMs: number;
  store: Store;
  clock: Clock;
  metrics: QualityMetrics;
  log: Logger;
}

const LOG_EVERY_MS = 10_000;

export class QualityMonitor implements Service {
  readonly name = 'quality';
  private readonly states = new Map<string, Map<string, SymbolQuality>>();
  /** Every exchange's state of one canonical symbol. */
  private readonly exchangesOf = new Map<string, SymbolQuality[]>();
  private readonly lastLog = new Map<CheckRecord, { at: number; suppressed: number }>();
  private timers: Timer[] = [];
  private lastEvaluateAt: number;
  private candleCheck: Promise<void> | null = null;

  constructor(private readonly o: QualityMonitorOptions) {
    this.lastEvaluateAt = Number.NEGATIVE_INFINITY;
    for (const m of o.markets) for (const s of m.symbols) this.state(m.exchange, s);
  }

  start(): void {
    const { clock, settings } = this.o;
    this.timers = [clock.setInterval(() => this.evaluate(), settings.checkIntervalMs), clock.setInterval(() => void this.checkCandles(), settings.candleCheckIntervalMs)];
  }

  async stop(): Promise<void> {
    for (const t of this.timers) t.cancel();
    this.timers = [];
    await this.candleCheck;
  }

  /** Bus `trade` subscriber: the per-trade checks (O(1), allocation-free when they pass). */
  onTrade = (t: Trade): void => {
    this.state(t.exchange, t.symbol).onTrade(t);
  };

  /** Bus `gap` subscriber: a jump in trade ids (on a live stream or across a reconnect) is a failure. */
  onGap = (g: GapEvent): void => {
    const missing = g.missing ?? 0;
    if (g.cause === 'startup' || (g.cause === 'reconnect' && missing === 0)) return;
    const sq = this.state(g.exchange, g.symbol);
    const message = `${missing} trade id(s) missing between ${iso(g.from)} and ${iso(g.to)} (${g.cause === 'trade_id' ? 'dropped on a live stream' : 'across a reconnect'}); the candles are backfilled`;
    this.fail(sq, sq.record('trade_id_gap'), 'trade_id_gap', message, { missing, from: g.from, to: g.to, cause: g.cause }, this.o.clock.now());
  };

  /** Reconciler hook: a closed candle matching the exchange's kline passes, a mismatch fails. */
  onReconcile = (r: ReconcileResult): void => {
    if (r.result !== 'match' && r.result !== 'mismatch') return;
    const sq = this.state(r.exchange, r.symbol);
    const rec = sq.record('reconciliation');
    const now = this.o.clock.now();
    if (r.result === 'match') return rec.pass(now);
    const message = `${r.timeframe} candle ${iso(r.openTime)} differs from the exchange kline in ${r.fields?.join(', ')}`;
    this.fail(sq, rec, 'kline_mismatch', message, { timeframe: r.timeframe, openTime: r.openTime, fields: r.fields, ours: r.ours, theirs: r.theirs }, now);
  };

  /** Periodic: staleness, trade-id continuity, cross-exchange divergence; then metrics and score gauges. */
  evaluate(now: number = this.o.clock.now()): void {
    const s = this.o.settings;
    for (const sq of this.all()) {
      const last = Number.isFinite(sq.lastReceivedAt) ? sq.lastReceivedAt : null;
      const age = now - (last ?? sq.since);
      const stale = sq.record('staleness');
      if (age <= s.staleAfterMs) stale.pass(now);
      else {
        const message = last === null ? `no trade in ${seconds(age)} since monitoring started (threshold ${seconds(s.staleAfterMs)})` : `no trade for ${seconds(age)} (threshold ${seconds(s.staleAfterMs)}); last at ${iso(last)}`;
        this.fail(sq, stale, 'stale_feed', message, { lastTradeReceivedAt: last, ageMs: age, thresholdMs: s.staleAfterMs }, now);
      }
      // trade ids stayed consecutive since the last evaluation (a gap fails at once, in onGap)
      const gaps = sq.record('trade_id_gap');
      if (last !== null && last > this.lastEvaluateAt && (gaps.lastFailureAt === null || gaps.lastFailureAt <= this.lastEvaluateAt)) gaps.pass(now);
    }
    for (const [symbol, group] of this.exchangesOf) if (group.length > 1) this.checkDivergence(symbol, group, now);
    this.lastEvaluateAt = now;
    for (const sq of this.all()) {
      sq.flushPasses();
      sq.score.set(explainSymbol(sq, now, s).score);
    }
  }

  /** Periodic: the store holds a candle for every period of the last `candlePeriods` (since data began). */
  checkCandles(now: number = this.o.clock.now()): Promise<void> {
    this.candleCheck ??= this.runCandleCheck(now).finally(() => (this.candleCheck = null));
    return this.candleCheck;
  }

  explain(exchange: ExchangeId, symbol: string, now: number = this.o.clock.now()): QualityReport | undefined {
    const sq = this.states.get(exchange)?.get(symbol);
    return sq ? explainSymbol(sq, now, this.o.settings) : undefined;
  }

  summary(now: number = this.o.clock.now()): QualitySummary[] {
    return [...this.all()].map((sq) => {
      const r = explainSymbol(sq, now, this.o.settings);
      return { exchange: r.exchange, symbol: r.symbol, score: r.score, failing: r.failing };
    });
  }

  private async runCandleCheck(now: number): Promise<void> {
    const tf = this.o.candleTimeframe;
    const ms = timeframeMs(tf);
    const last = periodStart(now - this.o.candleSettleMs, ms) - ms;
    const windowStart = last - (this.o.settings.candlePeriods - 1) * ms;
    for (const sq of [...this.all()]) {
      let stored: number[];
      try {
        stored = (await this.o.store.query({ exchange: sq.exchange, symbol: sq.symbol, timeframe: tf, from: windowStart, to: last, limit: this.o.settings.candlePeriods })).map((c) => c.openTime);
      } catch (err) {
        this.o.log.warn({ err, exchange: sq.exchange, symbol: sq.symbol }, 'missing-candle check could not query the store; not run');
        continue;
      }
      const firstData = Math.min(stored[0] ?? Infinity, sq.firstTradeTime === null ? Infinity : periodStart(sq.firstTradeTime, ms));
      const from = Math.max(windowStart, firstData);
      if (!Number.isFinite(from) || from > last) continue; // no data yet: nothing to expect
      const have = new Set(stored);
      const missing: number[] = [];
      for (let p = from; p <= last; p += ms) if (!have.has(p)) missing.push(p);
      const rec = sq.record('missing_candles');
      if (missing.length === 0) rec.pass(now);
      else {
        const expected = (last - from) / ms + 1;
        const message = `${missing.length} of ${expected} ${tf} periods from ${iso(from)} to ${iso(last)} have no stored candle (first missing ${iso(missing[0]!)})`;
        this.fail(sq, rec, 'missing_candles', message, { timeframe: tf, from, to: last, expected, found: expected - missing.length, missing: missing.slice(0, 10).map(iso) }, now);
      }
    }
  }

  private checkDivergence(symbol: string, group: readonly SymbolQuality[], now: number): void {
    const s = this.o.settings;
    const fresh = (sq: SymbolQuality) => now - sq.lastReceivedAt <= s.staleAfterMs;
    const view = crossExchange(group.map((sq) => ({ exchange: sq.exchange, price: sq.price, fresh: fresh(sq) })));
    const spread = this.o.metrics.crossExchangeSpread;
    if (view === null) {
      spread.remove(symbol); // fewer than two fresh prices: no spread, rather than a stale one
      return;
    }
    spread.labels(symbol).set(view.spreadBps);
    for (const d of view.divergences) {
      const sq = group.find((x) => x.exchange === d.exchange)!;
      const rec = sq.record('cross_exchange');
      if (d.divergence <= s.maxDivergence) rec.pass(now);
      else {
        const message = `${sq.symbol} on ${d.exchange} at ${d.price} is ${(d.divergence * 100).toFixed(3)}% from the cross-exchange median ${d.median} (threshold ${(s.maxDivergence * 100).toFixed(3)}%)`;
        this.fail(sq, rec, 'cross_exchange_divergence', message, { price: d.price, median: d.median, divergence: d.divergence, threshold: s.maxDivergence, others: d.others }, now);
      }
    }
  }

  /** Records a failure: the record, the checks counter, the anomaly counter (per episode for state checks), a log line. */
  private fail(sq: SymbolQuality, rec: CheckRecord, anomaly: AnomalyType, message: string, values: Record<string, unknown>, at: number): void {
    const started = rec.fail({ at, anomaly, message, values }, this.o.settings.halfLifeMs);
    sq.counters.get(rec.check)!.fail.inc();
    if (started || !STATE_CHECKS.has(rec.check)) sq.anomaly(anomaly).inc();
    const seen = this.lastLog.get(rec);
    if (seen && at - seen.at < LOG_EVERY_MS) {
      seen.suppressed++;
      return;
    }
    this.lastLog.set(rec, { at, suppressed: 0 });
    this.o.log.warn({ exchange: sq.exchange, symbol: sq.symbol, check: rec.check, anomaly, ...values, similarSinceLastLog: seen?.suppressed ?? 0 }, `data quality: ${message}`);
  }

  /** Hot path (per trade): two map lookups. No closure here, so a call allocates no context. */
  private state(exchange: ExchangeId, symbol: string): SymbolQuality {
    return this.states.get(exchange)?.get(symbol) ?? this.create(exchange, symbol);
  }

  private create(exchange: ExchangeId, symbol: string): SymbolQuality {
    let bySymbol = this.states.get(exchange);
    if (!bySymbol) this.states.set(exchange, (bySymbol = new Map()));
    const sq: SymbolQuality = new SymbolQuality(exchange, symbol, this.o.clock.now(), this.o.settings, this.o.metrics, (rec, anomaly, message, values, at) => this.fail(sq, rec, anomaly, message, values, at));
    bySymbol.set(symbol, sq);
    // Symbols are canonical (BTC-USDT) whatever the exchange: the same symbol on two exchanges is one market.
    const group = this.exchangesOf.get(symbol);
    if (group) group.push(sq);
    else this.exchangesOf.set(symbol, [sq]);
    return sq;
  }

  private *all(): Iterable<SymbolQuality> {
    for (const bySymbol of this.states.values()) yield* bySymbol.values();
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
