/**
 * Every decision recorded and scored: what makes the assistant honest.
 *
 * DecisionLog.record (the DecisionService's sink) counts `candlestack_decisions_total{strategy,action}` and
 * stores the decision; asking again about the same candle with the same answer is counted but not stored twice.
 * The Scorer (a service, every `decide.scoreInterval`) takes the stored decisions with a horizon still to
 * score, and once asOf + horizon has passed reads the price then (the close of the finest configured
 * timeframe's candle that closed at or before it, at most 3 of its periods earlier) and scores it:
 *
 *   change = price then / decision price - 1, threshold = decide.hitThreshold
 *   BUY hits when change > threshold, SELL when change < -threshold, HOLD when |change| <= threshold
 *
 * A horizon without a price an hour after it passed is scored `no_data` (hit null). Each outcome counts
 * `candlestack_decision_outcomes_total{strategy,horizon,result}`; after each pass
 * `candlestack_decision_hit_ratio{strategy,horizon}` is hits / (hits + misses) over the decisions scored in
 * the last 24 h. GET /api/decisions lists the recorded decisions with their outcomes.
 */
import type { ServerResponse } from 'node:http';
import type { Clock, Timer } from '../core/clock.js';
import { BadParameterError } from '../core/errors.js';
import type { Service } from '../core/service.js';
import { timeframeMs, type Timeframe } from '../core/timeframe.js';
import type { ExchangeId } from '../core/exchange-id.js';
import { formatDuration } from '../config/fields.js';
import type { AssistantStore, DecisionRecord, Outcome } from '../store/assistant-store.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { AssistantMetrics } from '../telemetry/metrics.js';
import { sendJson } from '../api/http.js';
import type { Markets } from '../api/markets.js';
import { parseLimit, parseTime, parseTimeframe, rejectUnknown } from '../api/params.js';
import type { Decision } from './decision-service.js';
import { ACTIONS } from './strategy.js';
import { STRATEGIES } from '../config/decide-config.js';

export const OUTCOME_RESULTS = ['hit', 'miss', 'no_data'] as const;
const HOUR = 3_600_000;
const RATIO_WINDOW_MS = 24 * HOUR;

export interface DecisionLogOptions {
  store: Pick<Store, 'query' | 'assistant'>;
  clock: Clock;
  log: Logger;
  metrics: Pick<AssistantMetrics, 'decisions' | 'decisionOutcomes' | 'decisionHitRatio'>;
  horizonsMs: readonly number[];
  hitThreshold: number;
  scoreIntervalMs: number;
  /** The finest configured timeframe: prices at the horizons are read from its candles. */
  priceTimeframe: Timeframe;
  markets: Markets;
}

export class DecisionLog implements Service {
  readonly name = 'decision-scorer';
  private readonly lastStored = new Map<string, string>();
  private timer: Timer | null = null;
  private running: Promise<void> | null = null;
  private readonly horizons: { ms: number; label: string }[];

  constructor(private readonly o: DecisionLogOptions) {
    this.horizons = o.horizonsMs.map((ms) => ({ ms, label: formatDuration(ms) }));
    for (const s of STRATEGIES) {
      for (const a of ACTIONS) o.metrics.decisions.labels(s, a).inc(0);
      for (const h of this.horizons) for (const r of OUTCOME_RESULTS) o.metrics.decisionOutcomes.labels(s, h.label, r).inc(0);
    }
  }

  private get store(): AssistantStore | undefined {
    return this.o.store.assistant;
  }

  /** The DecisionService's sink: counted always, stored once per (market, strategy, candle, action). */
  record = (d: Decision): void => {
    this.o.metrics.decisions.labels(d.strategy, d.action).inc();
    const store = this.store;
    if (!store) return;
    const key = `${d.exchange}|${d.symbol}|${d.timeframe}|${d.strategy}`;
    const what = `${d.asOf}|${d.action}`;
    if (this.lastStored.get(key) === what) return;
    this.lastStored.set(key, what);
    const scorable = d.price !== null && d.asOf !== null && !d.reasons.includes('stale_data');
    store
      .insertDecision({ exchange: d.exchange, symbol: d.symbol, timeframe: d.timeframe, strategy: d.strategy, action: d.action, confidence: d.confidence, price: d.price, asOf: d.asOf, decidedAt: d.decidedAt, reasons: d.reasons, features: d.features, scorable })
      .catch((err: unknown) => {
        this.lastStored.delete(key);
        this.o.log.error({ err }, 'recording a decision failed');
      });
  };

  start(): void {
    this.timer = this.o.clock.setInterval(() => void this.score(), this.o.scoreIntervalMs);
  }

  async stop(): Promise<void> {
    this.timer?.cancel();
    this.timer = null;
    await this.running;
  }

  /** One scoring pass (also what the interval runs); concurrent calls share the pass in flight. */
  score(): Promise<void> {
    this.running ??= this.pass()
      .catch((err: unknown) => this.o.log.error({ err }, 'scoring decisions failed'))
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  private async pass(): Promise<void> {
    const store = this.store;
    if (!store) return;
    const now = this.o.clock.now();
    for (const d of await store.pendingDecisions(500)) {
      const outcomes = { ...d.outcomes };
      let changed = false;
      for (const h of this.horizons) {
        if (outcomes[h.label] || d.asOf === null || d.price === null) continue;
        const at = d.asOf + h.ms;
        if (at > now) continue;
        const price = await this.priceAt(d.exchange, d.symbol, at);
        if (price === null && now < at + HOUR) continue;
        const outcome = this.judge(d, price, now);
        outcomes[h.label] = outcome;
        changed = true;
        this.o.metrics.decisionOutcomes.labels(d.strategy, h.label, outcome.hit === null ? 'no_data' : outcome.hit ? 'hit' : 'miss').inc();
      }
      if (changed) await store.setOutcomes(d.id, outcomes, this.horizons.some((h) => !outcomes[h.label]));
    }
    await this.updateRatios(store, now);
  }

  private judge(d: DecisionRecord, price: number | null, now: number): Outcome {
    if (price === null) return { price: null, change: null, hit: null, scoredAt: now };
    const change = price / d.price! - 1;
    const t = this.o.hitThreshold;
    const hit = d.action === 'BUY' ? change > t : d.action === 'SELL' ? change < -t : Math.abs(change) <= t;
    return { price, change, hit, scoredAt: now };
  }

  private async priceAt(exchange: ExchangeId, symbol: string, at: number): Promise<number | null> {
    const tf = this.o.priceTimeframe;
    const ms = timeframeMs(tf);
    const [c] = await this.o.store.query({ exchange, symbol, timeframe: tf, to: at - ms, limit: 1 });
    return c && c.closed && c.openTime + ms >= at - 3 * ms ? Number(c.close) : null;
  }

  private async updateRatios(store: AssistantStore, now: number): Promise<void> {
    const recent = await store.queryDecisions({ from: now - RATIO_WINDOW_MS - Math.max(...this.horizons.map((h) => h.ms)), limit: 20_000 });
    const tally = new Map<string, { hits: number; scored: number }>();
    for (const d of recent) {
      for (const [horizon, o] of Object.entries(d.outcomes)) {
        if (o.hit === null || o.scoredAt < now - RATIO_WINDOW_MS) continue;
        const k = `${d.strategy}\u0000${horizon}`;
        const t = tally.get(k) ?? { hits: 0, scored: 0 };
        t.scored++;
        if (o.hit) t.hits++;
        tally.set(k, t);
      }
    }
    this.o.metrics.decisionHitRatio.reset(); // a strategy/horizon with nothing scored in the window has no ratio
    for (const [k, t] of tally) {
      const [strategy, horizon] = k.split('\u0000') as [string, string];
      this.o.metrics.decisionHitRatio.labels(strategy, horizon).set(t.hits / t.scored);
    }
  }

  /** GET /api/decisions?exchange=&symbol=&timeframe=&strategy=&from=&to=&limit= : most recent first, with outcomes. */
  route = async (url: URL, res: ServerResponse): Promise<void> => {
    const p = url.searchParams;
    rejectUnknown(p, ['exchange', 'symbol', 'timeframe', 'strategy', 'from', 'to', 'limit']);
    const market = p.get('exchange') || p.get('symbol') ? this.o.markets.resolve(p.get('exchange'), p.get('symbol')) : null;
    const timeframe = p.get('timeframe') ? parseTimeframe(p.get('timeframe'), '1m') : undefined;
    const strategy = p.get('strategy') || undefined;
    if (strategy !== undefined && !(STRATEGIES as readonly string[]).includes(strategy)) throw new BadParameterError('strategy', `one of ${STRATEGIES.join(', ')}`, strategy);
    const from = parseTime('from', p.get('from'));
    const to = parseTime('to', p.get('to'));
    if (from !== undefined && to !== undefined && from > to) throw new BadParameterError('from', `a time not after to (${to})`, p.get('from'));
    const limit = parseLimit(p.get('limit'), 100, 1000);
    const rows = this.store ? await this.store.queryDecisions({ exchange: market?.exchange, symbol: market?.symbol, timeframe, strategy, from, to, limit }) : [];
    sendJson(res, 200, { count: rows.length, horizons: this.horizons.map((h) => h.label), hitThreshold: this.o.hitThreshold, decisions: rows.map(({ scorable: _s, ...d }) => d) });
  };
}
