/**
 * What an exchange adapter provides: a pure mapper (raw frame -> normalized events) and a feed description
 * (URLs, subscriptions, limits, REST backfill). The shared connection manager and collector know nothing
 * else about an exchange.
 */
import type { Kline, Trade } from '../core/types.js';
import type { Timeframe } from '../core/timeframe.js';
import type { RestClient } from '../feed/rest-client.js';
import type { ExchangeId } from '../core/exchange-id.js';
import type { TradeStream } from '../core/choices.js';

/** Where mapped events go. One sink per connection; calls are synchronous and must not throw. */
export interface EventSink {
  trade(trade: Trade): void;
  kline(kline: Kline): void;
  /** A frame that could not be used: counted under `reason`, logged with `detail`. */
  reject(reason: string, detail: string, frame: string): void;
  /** The exchange asked us to reconnect (e.g. a server shutdown notice). */
  reconnect(reason: string): void;
}

export interface Mapper {
  /** Maps one raw text frame received at `receivedAt` (epoch ms). Never throws: bad input goes to sink.reject. */
  map(frame: string, receivedAt: number, sink: EventSink): void;
}

export type { TradeStream } from '../core/choices.js';

export interface Subscription {
  symbols: readonly string[];
  timeframes: readonly Timeframe[];
  tradeStream: TradeStream;
  /** Subscribe to the exchange's own klines too (for reconciliation). */
  klines: boolean;
}

/** One subscribable stream, tied to the symbol it carries. */
export interface StreamRef {
  readonly symbol: string;
  readonly name: string;
  /**
   * Streams of different groups never share a connection, for exchanges that serve some channels on another
   * URL (OKX: candles on /business, trades on /public). `connection()` gets streams of one group only.
   */
  readonly group?: string;
}

export interface Endpoints {
  wsBaseUrl: string;
  restBaseUrl: string;
}

export interface ConnectionPlan {
  url: string;
  /** Text messages to send once open, in order (through the outgoing rate limit). */
  subscribeMessages: string[];
}

export interface FeedLimits {
  maxStreamsPerConnection: number;
  /** Outgoing messages (including pongs) allowed per second per connection. */
  maxOutgoingPerSecond: number;
  /** Reconnect before the exchange's own connection lifetime ends. */
  maxConnectionLifetimeMs: number;
}

export interface ClientHeartbeat {
  intervalMs: number;
  message: string;
}

/**
 * Native symbols <-> canonical `BASE-QUOTE` (see core/symbols.ts). Mappers emit canonical symbols; streams,
 * subscribe messages and REST calls use `toNative`.
 */
export interface SymbolCodec {
  /** A native symbol as the exchange sends it -> canonical; null when it cannot be read. Fast (memoised). */
  toCanonical(native: string): string | null;
  /** Canonical -> the exchange's native form. */
  toNative(canonical: string): string;
}

export interface ExchangeAdapter {
  readonly id: ExchangeId;
  readonly displayName: string;
  readonly defaultEndpoints: Endpoints;
  readonly limits: FeedLimits;
  /** Application-level pings the client must send; absent when the server pings (answered automatically). */
  readonly clientHeartbeat?: ClientHeartbeat;
  /** True when trade ids are consecutive per symbol, so a jump is a dropped-message gap. */
  readonly sequentialTradeIds: boolean;
  /**
   * True when trade ids only grow per symbol (sequential implies it). A consumer that may see redelivered
   * trades (Kafka) skips ids at or below the last applied one only for such exchanges.
   */
  readonly increasingTradeIds: boolean;
  /** Timeframes the exchange can send klines for (REST and stream). */
  readonly klineTimeframes: readonly Timeframe[];
  readonly mapper: Mapper;
  readonly symbols: SymbolCodec;
  /** Streams for the subscription (whose symbols are canonical); each StreamRef carries its canonical symbol. */
  streams(sub: Subscription): StreamRef[];
  connection(streams: readonly StreamRef[], endpoints: Endpoints): ConnectionPlan;
  /**
   * Closed klines of canonical `symbol` for [startTime, endTime] (epoch ms, inclusive), oldest first,
   * paginating as needed.
   */
  fetchKlines(rest: RestClient, endpoints: Endpoints, symbol: string, tf: Timeframe, startTime: number, endTime: number): Promise<Kline[]>;
  /**
   * How far back `fetchKlines` reaches, in periods of the timeframe counting the current (forming) one; absent
   * when the exchange serves its whole history. Older periods of a gap are counted as unrecoverable.
   */
  readonly klineHistoryPeriods?: number;
}
