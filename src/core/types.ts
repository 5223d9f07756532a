/**
 * Normalized domain events. Every event that crosses a module boundary is one of these, discriminated by
 * `type`. Prices and quantities stay the exchange's exact decimal strings; see core/decimal.ts for how sums
 * keep that precision.
 */
import type { ExchangeId } from './exchange-id.js';
import type { Timeframe } from './timeframe.js';

export const SIDES = ['buy', 'sell'] as const;
/** The taker's side: `buy` means the aggressor bought (Binance `m: false`). */
export type Side = (typeof SIDES)[number];

export interface Trade {
  readonly type: 'trade';
  readonly exchange: ExchangeId;
  /** Canonical BASE-QUOTE symbol (`BTC-USDT`; see core/symbols.ts), whatever the exchange calls it. */
  readonly symbol: string;
  /** Exchange trade id. For Binance `@trade` this is `t`, for `@aggTrade` it is the aggregate id `a`. */
  readonly id: number;
  readonly price: string;
  readonly qty: string;
  readonly side: Side;
  /** Number of exchange trades this event stands for (1 for a trade, `l - f + 1` for an aggTrade). */
  readonly count: number;
  /** Exchange timestamp, epoch milliseconds. */
  readonly time: number;
  /** Local receive time, epoch milliseconds. */
  readonly receivedAt: number;
}

/** A kline (OHLCV bar) as the exchange itself computed it: used for reconciliation and REST backfill. */
export interface Kline {
  readonly type: 'kline';
  readonly exchange: ExchangeId;
  readonly symbol: string;
  readonly timeframe: Timeframe;
  readonly openTime: number;
  readonly open: string;
  readonly high: string;
  readonly low: string;
  readonly close: string;
  readonly volume: string;
  /** Null where the exchange does not report it (Coinbase); reconciliation then skips the field. */
  readonly quoteVolume: string | null;
  /** Null where the exchange does not report it (all but Binance). */
  readonly takerBuyVolume: string | null;
  /** Null where the exchange does not report it (Coinbase, Bybit, OKX). */
  readonly tradeCount: number | null;
  /** True once the exchange says the period is final. */
  readonly closed: boolean;
  readonly time: number;
  readonly receivedAt: number;
}

export const CANDLE_SOURCES = ['trades', 'backfill'] as const;
/** `trades`: built here from the trade stream; `backfill`: taken from the exchange's REST klines after a gap. */
export type CandleSource = (typeof CANDLE_SOURCES)[number];

export interface Candle {
  readonly exchange: ExchangeId;
  readonly symbol: string;
  readonly timeframe: Timeframe;
  /** Period start, epoch ms, aligned to a UTC boundary of the timeframe. */
  readonly openTime: number;
  readonly open: string;
  readonly high: string;
  readonly low: string;
  readonly close: string;
  /** Base-asset volume. */
  readonly volume: string;
  /** Quote-asset volume (sum of price × qty). */
  readonly quoteVolume: string;
  readonly takerBuyVolume: string;
  readonly tradeCount: number;
  /** Volume-weighted average price; equals `close` for a period without trades. */
  readonly vwap: string;
  readonly closed: boolean;
  readonly source: CandleSource;
  /** 0 when first closed; incremented by every later amendment (late trade, backfill). */
  readonly revision: number;
  /**
   * The highest exchange trade id applied to this candle (absent when unknown, e.g. a backfilled one). Stored
   * so a consumer resuming after a crash skips redelivered trades already counted (sequential-id exchanges).
   */
  readonly lastTradeId?: number;
}

export const CANDLE_EVENT_KINDS = ['update', 'close', 'correction'] as const;
export type CandleEventKind = (typeof CANDLE_EVENT_KINDS)[number];

export interface CandleEvent {
  readonly type: 'candle';
  /** update: the forming candle changed; close: the period closed; correction: a closed candle was amended. */
  readonly kind: CandleEventKind;
  readonly candle: Candle;
}

export const GAP_CAUSES = ['reconnect', 'trade_id', 'startup'] as const;
export type GapCause = (typeof GAP_CAUSES)[number];

/** Data between `from` and `to` (epoch ms) may be missing for this symbol: candles touching it get backfilled. */
export interface GapEvent {
  readonly type: 'gap';
  readonly exchange: ExchangeId;
  readonly symbol: string;
  readonly from: number;
  readonly to: number;
  readonly cause: GapCause;
  /** Number of missing trade ids, when known. */
  readonly missing?: number;
}

/** Values of one indicator at one candle: `{ value }` for single-line indicators, named lines otherwise
 * (`{ macd, signal, histogram }`, `{ middle, upper, lower }`); null while a line is still warming up. */
export type IndicatorValues = Readonly<Record<string, number | null>>;

export const INDICATOR_EVENT_KINDS = ['update', 'close', 'correction'] as const;
export type IndicatorEventKind = (typeof INDICATOR_EVENT_KINDS)[number];

/**
 * Every configured indicator of one series at one candle. close: computed on a closed candle (stored);
 * update: over the forming candle, not committed (not stored); correction: recomputed after a candle correction.
 */
export interface IndicatorEvent {
  readonly type: 'indicator';
  readonly kind: IndicatorEventKind;
  readonly exchange: ExchangeId;
  readonly symbol: string;
  readonly timeframe: Timeframe;
  readonly openTime: number;
  /** Indicator name (`sma20`, `macd12_26_9`, ...) -> values; indicators still warming up are absent. */
  readonly values: Readonly<Record<string, IndicatorValues>>;
}
