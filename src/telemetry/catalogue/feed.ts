/** Feed slice: the collectors, their WebSocket connections and the exchange REST client (src/feed/). */
import { Counter, Gauge, type Registry } from 'prom-client';
import { HotSeries } from '../hot.js';

export function feedMetrics(registry: Registry) {
  const r = [registry];
  /** Counted series (hot.ts): the collector and its connections count these; status() reads the same numbers. */
  const hot = {
    tradesReceived: new HotSeries(),
    lastTradeTimestamp: new HotSeries(),
    wsMessagesReceived: new HotSeries(),
    messagesRejected: new HotSeries(),
    tradeIdGaps: new HotSeries(),
    tradeIdsMissing: new HotSeries(),
  };
  return {
    hot,
    tradesReceived: new Counter({
      name: 'candlestack_trades_received_total',
      help: 'Trades received from exchange streams.',
      labelNames: ['exchange', 'symbol'] as const,
      registers: r,
      collect: hot.tradesReceived.collect,
    }),
    klinesReceived: new Counter({
      name: 'candlestack_klines_received_total',
      help: 'Exchange kline messages received (used for reconciliation).',
      labelNames: ['exchange', 'timeframe'] as const,
      registers: r,
    }),
    wsMessagesReceived: new Counter({
      name: 'candlestack_ws_messages_received_total',
      help: 'WebSocket frames received from exchanges, per connection shard.',
      labelNames: ['exchange', 'connection'] as const,
      registers: r,
      collect: hot.wsMessagesReceived.collect,
    }),
    /** Also counted by the candle engine (invalid_decimal, redelivered). */
    messagesRejected: new Counter({
      name: 'candlestack_messages_rejected_total',
      help: 'Exchange frames that could not be used (malformed, unknown type, invalid field).',
      labelNames: ['exchange', 'reason'] as const,
      registers: r,
      collect: hot.messagesRejected.collect,
    }),
    /** Also counted by the backfiller (kind backfill). */
    collectorErrors: new Counter({
      name: 'candlestack_collector_errors_total',
      help: 'Collector errors by kind (connect, socket, rest, backfill, handler).',
      labelNames: ['exchange', 'kind'] as const,
      registers: r,
    }),
    websocketReconnections: new Counter({
      name: 'candlestack_websocket_reconnections_total',
      help: 'Exchange WebSocket reconnections by reason (error, closed, stale, lifetime, server_shutdown).',
      labelNames: ['exchange', 'reason'] as const,
      registers: r,
    }),
    staleFeeds: new Counter({
      name: 'candlestack_feed_stale_total',
      help: 'Times a connection received nothing for longer than the stale threshold and was recycled.',
      labelNames: ['exchange', 'connection'] as const,
      registers: r,
    }),
    collectorStatus: new Gauge({
      name: 'candlestack_collector_status',
      help: '1 while the exchange connection shard is connected and receiving, 0 otherwise.',
      labelNames: ['exchange', 'connection'] as const,
      registers: r,
    }),
    lastMessageTimestamp: new Gauge({
      name: 'candlestack_last_message_timestamp_seconds',
      help: 'Local time of the last frame received on the connection shard.',
      labelNames: ['exchange', 'connection'] as const,
      registers: r,
    }),
    lastTradeTimestamp: new Gauge({
      name: 'candlestack_last_trade_timestamp_seconds',
      help: 'Exchange timestamp of the last trade received.',
      labelNames: ['exchange', 'symbol'] as const,
      registers: r,
      collect: hot.lastTradeTimestamp.collect,
    }),
    tradeIdGaps: new Counter({
      name: 'candlestack_trade_id_gaps_total',
      help: 'Jumps in consecutive exchange trade ids (dropped messages), by cause (stream or reconnect).',
      labelNames: ['exchange', 'symbol', 'cause'] as const,
      registers: r,
      collect: hot.tradeIdGaps.collect,
    }),
    tradeIdsMissing: new Counter({
      name: 'candlestack_trade_ids_missing_total',
      help: 'Trade ids skipped by those jumps.',
      labelNames: ['exchange', 'symbol'] as const,
      registers: r,
      collect: hot.tradeIdsMissing.collect,
    }),
    outgoingMessagesDelayed: new Counter({
      name: 'candlestack_ws_outgoing_delayed_total',
      help: 'Outgoing WebSocket messages held back by the per-connection message rate limit.',
      labelNames: ['exchange'] as const,
      registers: r,
    }),
    restRequests: new Counter({
      name: 'candlestack_rest_requests_total',
      help: 'Exchange REST requests by HTTP status (or "error" when no response).',
      labelNames: ['exchange', 'status'] as const,
      registers: r,
    }),
    restRateLimited: new Counter({
      name: 'candlestack_rest_rate_limited_total',
      help: 'Exchange REST responses 429/418 that made candlestack back off for Retry-After.',
      labelNames: ['exchange', 'status'] as const,
      registers: r,
    }),
  };
}

export type FeedMetrics = ReturnType<typeof feedMetrics>;
