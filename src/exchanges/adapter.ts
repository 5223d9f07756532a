/**
 * What an exchange adapter provides: a pure mapper (raw frame -> normalized events) and a feed description
 * (URLs, subscriptions, limits, REST backfill). The shared connection manager and collector know nothing
 * else about an exchange.
 */
import type { Kline, Trade } from '../core/types.js';
import type { Timeframe } from '../core/timeframe.js';
import type { RestClient } from '../feed/rest-client.js';

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

export type TradeStream = 'trade' | 'aggTrade';

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

export interface ExchangeAdapter {
  readonly id: string;
  readonly displayName: string;
  readonly defaultEndpoints: Endpoints;
  readonly limits: FeedLimits;
  /** Application-level pings the client must send; absent when the server pings (answered automatically). */
  readonly clientHeartbeat?: ClientHeartbeat;
  /** True when trade ids are consecutive per symbol, so a jump is a dropped-message gap. */
  readonly sequentialTradeIds: boolean;
  /** Timeframes the exchange can send klines for (REST and stream). */
  readonly klineTimeframes: readonly Timeframe[];
  readonly mapper: Mapper;
  normalizeSymbol(input: string): string;
  streams(sub: Subscription): StreamRef[];
  connection(streams: readonly StreamRef[], endpoints: Endpoints): ConnectionPlan;
  /** Closed klines for [startTime, endTime] (epoch ms, inclusive), oldest first, paginating as needed. */
  fetchKlines(rest: RestClient, endpoints: Endpoints, symbol: string, tf: Timeframe, startTime: number, endTime: number): Promise<Kline[]>;
}
