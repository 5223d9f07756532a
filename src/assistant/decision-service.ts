/**
 * The decision service: `GET /api/decision?exchange&symbol&timeframe` answers
 * `{ action, confidence, strategy, reasons, features, price, asOf }` for one configured market from its latest
 * closed candle's feature vector and the configured strategy. The same service runs in the `decide` role and
 * in-process in run/demo; it reads the shared store, so it needs no bus.
 *
 *   bad parameters -> 400 JSON (unknown parameter, malformed exchange/symbol, not a timeframe)
 *   a market that is not configured -> 404 JSON `unknown_market`
 *   no closed candle within the last 3 periods -> HOLD, confidence 0, reasons ["stale_data"]: never a guess
 *
 * `asOf` is the close time (epoch ms) of the candle the decision is about, `price` its close. Features come
 * from the freshest source that has that candle: the in-process feature engine, the stored feature rows, or a
 * replay of the series' last closed candles through the same streaming calculator.
 */
import type { ServerResponse } from 'node:http';
import type { Clock } from '../core/clock.js';
import { BadParameterError, CandlestackError } from '../core/errors.js';
import type { ExchangeId } from '../core/exchange-id.js';
import type { Service } from '../core/service.js';
import { TIMEFRAMES, isTimeframe, timeframeMs, type Timeframe } from '../core/timeframe.js';
import type { Market } from '../api/markets.js';
import { sendError, sendJson } from '../api/http.js';
import { rejectUnknown } from '../api/params.js';
import { resolveSymbol } from '../exchanges/symbols.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import { SpanKind, Tracing } from '../telemetry/tracing.js';
import { FEATURE_NAMES, SeriesFeatures, type FeatureValues, type FeatureVector } from './features.js';
import type { Action, Strategy } from './strategy.js';

/** Closed candles replayed when no stored or in-process vector is there (Wilder averages settle well within it). */
export const REPLAY_CANDLES = 300;
/** A market is stale when no candle closed within this many periods. */
export const STALE_PERIODS = 3;

/** The body of GET /api/decision: exactly these keys. */
export interface DecisionBody {
  action: Action;
  confidence: number;
  strategy: string;
  reasons: string[];
  features: Partial<FeatureValues>;
  /** Close of the candle decided on; null when there is none. */
  price: number | null;
  /** Close time (epoch ms) of that candle; null when there is none. */
  asOf: number | null;
}

/** A decision with its market and the time it was made (what is recorded and scored). */
export interface Decision extends DecisionBody {
  exchange: ExchangeId;
  symbol: string;
  timeframe: Timeframe;
  decidedAt: number;
}

/** The latest feature vector of a series, when a source has one. */
export type FeatureLookup = (exchange: ExchangeId, symbol: string, timeframe: Timeframe) => Promise<FeatureVector | null> | FeatureVector | null;

/** Where a decision goes once made (recording and metrics). */
export type DecisionSink = (decision: Decision) => void;

export interface DecisionServiceOptions {
  store: Pick<Store, 'query'>;
  markets: readonly Market[];
  strategy: Strategy;
  clock: Clock;
  log: Logger;
  /** Freshest first; the replay from the store is the last resort. */
  features?: readonly FeatureLookup[];
  onDecision?: DecisionSink;
  /** The strategy's call is an INTERNAL span `decide <strategy>` (inside the request's SERVER span). */
  tracing?: Tracing;
}

/** The market a request names is not configured (HTTP 404). */
export class UnknownMarketError extends CandlestackError {
  override name = 'UnknownMarketError';
  constructor(message: string) {
    super('unknown_market', message);
  }
}

export class DecisionService implements Service {
  readonly name = 'decisions';

  private readonly tracing: Tracing;

  constructor(private readonly o: DecisionServiceOptions) {
    this.tracing = o.tracing ?? Tracing.off();
  }

  start(): void {}
  stop(): void {}

  /** The route handler of GET /api/decision. */
  route = async (url: URL, res: ServerResponse): Promise<void> => {
    try {
      const { exchange, symbol, timeframe } = this.resolve(url.searchParams);
      sendJson(res, 200, body(await this.decide(exchange, symbol, timeframe)));
    } catch (err) {
      if (err instanceof UnknownMarketError) return sendError(res, 404, err.code, err.message);
      throw err; // BadParameterError -> 400 by the server
    }
  };

  /** exchange (default the first configured), symbol (canonical or native; default the exchange's first), timeframe (default the first). */
  resolve(p: URLSearchParams): { exchange: ExchangeId; symbol: string; timeframe: Timeframe } {
    rejectUnknown(p, ['exchange', 'symbol', 'timeframe']);
    const ex = p.get('exchange') ?? '';
    const sym = p.get('symbol') ?? '';
    const tf = p.get('timeframe') ?? '';
    if (ex !== '' && !/^[a-z]{2,20}$/.test(ex)) throw new BadParameterError('exchange', 'an exchange id such as binance', ex);
    if (sym !== '' && !/^[A-Za-z0-9]{1,20}([-_/]?[A-Za-z0-9]{1,20})?$/.test(sym)) throw new BadParameterError('symbol', 'a symbol such as BTC-USDT', sym);
    if (tf !== '' && !isTimeframe(tf)) throw new BadParameterError('timeframe', `one of ${TIMEFRAMES.join(', ')}`, tf);
    const market = ex === '' ? this.o.markets[0] : this.o.markets.find((m) => m.exchange === ex);
    if (!market) throw new UnknownMarketError(`exchange ${ex} is not watched; watched: ${this.o.markets.map((m) => m.exchange).join(', ')}`);
    const symbol = sym === '' ? market.symbols[0] : resolveSymbol(market.codec, sym);
    if (!symbol || !market.symbols.includes(symbol)) throw new UnknownMarketError(`${sym} is not watched on ${market.exchange}; watched: ${market.symbols.join(', ')}`);
    const timeframe = (tf === '' ? market.timeframes[0] : tf) as Timeframe | undefined;
    if (!timeframe || !market.timeframes.includes(timeframe)) throw new UnknownMarketError(`timeframe ${tf} is not built; built: ${market.timeframes.join(', ')}`);
    return { exchange: market.exchange, symbol, timeframe };
  }

  async decide(exchange: ExchangeId, symbol: string, timeframe: Timeframe): Promise<Decision> {
    const now = this.o.clock.now();
    const tfMs = timeframeMs(timeframe);
    const candles = (await this.o.store.query({ exchange, symbol, timeframe, to: now - tfMs, limit: REPLAY_CANDLES + 1 })).filter((c) => c.closed && c.openTime + tfMs <= now);
    const last = candles.at(-1);
    const market = { exchange, symbol, timeframe, decidedAt: now };
    if (!last || now - (last.openTime + tfMs) > STALE_PERIODS * tfMs) {
      return this.emit({ ...market, action: 'HOLD', confidence: 0, strategy: this.o.strategy.name, reasons: ['stale_data'], features: {}, price: last ? Number(last.close) : null, asOf: last ? last.openTime + tfMs : null });
    }
    let vector: FeatureVector | null = null;
    for (const lookup of this.o.features ?? []) {
      const v = await lookup(exchange, symbol, timeframe);
      if (v && v.openTime === last.openTime) {
        vector = v;
        break;
      }
    }
    let values: FeatureValues;
    if (vector) values = vector.values;
    else {
      const replay = new SeriesFeatures();
      values = replay.next(candles[0]!);
      for (let i = 1; i < candles.length; i++) values = replay.next(candles[i]!);
    }
    const price = Number(last.close);
    const verdict = await this.tracing.span(`decide ${this.o.strategy.name}`, { kind: SpanKind.INTERNAL, attributes: { [ATTR_STRATEGY]: this.o.strategy.name, [ATTR_FEATURES_SOURCE]: vector ? 'feature_vector' : 'replay' } }, async (span) => {
      const v = await this.o.strategy.decide({ exchange, symbol, timeframe, openTime: last.openTime, price, features: values });
      span.setAttribute(ATTR_ACTION, v.action);
      return v;
    });
    const strategy = verdict.strategy ?? this.o.strategy.name;
    return this.emit({ ...market, action: verdict.action, confidence: round(verdict.confidence), strategy, reasons: verdict.reasons, features: ordered(values), price, asOf: last.openTime + tfMs });
  }

  private emit(d: Decision): Decision {
    try {
      this.o.onDecision?.(d);
    } catch (err) {
      this.o.log.error({ err, component: 'decisions' }, 'recording a decision failed');
    }
    return d;
  }
}

/** Attributes of the strategy span (candlestack's own namespace). */
export const ATTR_STRATEGY = 'candlestack.decision.strategy';
export const ATTR_ACTION = 'candlestack.decision.action';
export const ATTR_FEATURES_SOURCE = 'candlestack.decision.features_source';

/** The API body of a decision: exactly the seven keys. */
export function body(d: DecisionBody): DecisionBody {
  return { action: d.action, confidence: d.confidence, strategy: d.strategy, reasons: d.reasons, features: d.features, price: d.price, asOf: d.asOf };
}

const round = (x: number): number => Math.round(Math.min(1, Math.max(0, x)) * 1000) / 1000;

function ordered(v: FeatureValues): FeatureValues {
  return Object.fromEntries(FEATURE_NAMES.map((n) => [n, v[n] ?? null])) as FeatureValues;
}
