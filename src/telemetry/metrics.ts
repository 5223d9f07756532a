/**
 * The metrics catalogue: every metric candlestack exposes is defined here, once, so dashboards and alert
 * rules have one place to look. Names follow Prometheus conventions with one `candlestack_` prefix; labels
 * are bounded (exchange, symbol, timeframe, connection shard, small enums), never ids.
 *
 * Nothing here is global: `createMetrics(registry)` registers on the registry it is given; tests build their
 * own. Hot paths cache label children (`counter.labels(...)` once per symbol), never per message.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { HotSeries } from './hot.js';

const P = 'candlestack_';

export function createRegistry(options: { defaults?: boolean } = {}): Registry {
  const registry = new Registry();
  if (options.defaults !== false) collectDefaultMetrics({ register: registry });
  return registry;
}

export function createMetrics(registry: Registry) {
  const r = [registry];
  /** Per-message series (see hot.ts): bumped as plain numbers, handed to prom-client at scrape time. */
  const hot = {
    tradesReceived: new HotSeries(),
    lastTradeTimestamp: new HotSeries(),
    wsMessagesReceived: new HotSeries(),
    busPublished: new HotSeries(),
    busConsumed: new HotSeries(),
  };
  return {
    registry,
    hot,

    // ── collector ────────────────────────────────────────────────────────────────────────────────
    tradesReceived: new Counter({
      name: `${P}trades_received_total`,
      help: 'Trades received from exchange streams.',
      labelNames: ['exchange', 'symbol'] as const,
      registers: r,
      collect: hot.tradesReceived.collect,
    }),
    klinesReceived: new Counter({
      name: `${P}klines_received_total`,
      help: 'Exchange kline messages received (used for reconciliation).',
      labelNames: ['exchange', 'timeframe'] as const,
      registers: r,
    }),
    wsMessagesReceived: new Counter({
      name: `${P}ws_messages_received_total`,
      help: 'WebSocket frames received from exchanges, per connection shard.',
      labelNames: ['exchange', 'connection'] as const,
      registers: r,
      collect: hot.wsMessagesReceived.collect,
    }),
    messagesRejected: new Counter({
      name: `${P}messages_rejected_total`,
      help: 'Exchange frames that could not be used (malformed, unknown type, invalid field).',
      labelNames: ['exchange', 'reason'] as const,
      registers: r,
    }),
    collectorErrors: new Counter({
      name: `${P}collector_errors_total`,
      help: 'Collector errors by kind (connect, socket, rest, backfill, handler).',
      labelNames: ['exchange', 'kind'] as const,
      registers: r,
    }),
    websocketReconnections: new Counter({
      name: `${P}websocket_reconnections_total`,
      help: 'Exchange WebSocket reconnections by reason (error, closed, stale, lifetime, server_shutdown).',
      labelNames: ['exchange', 'reason'] as const,
      registers: r,
    }),
    staleFeeds: new Counter({
      name: `${P}feed_stale_total`,
      help: 'Times a connection received nothing for longer than the stale threshold and was recycled.',
      labelNames: ['exchange', 'connection'] as const,
      registers: r,
    }),
    collectorStatus: new Gauge({
      name: `${P}collector_status`,
      help: '1 while the exchange connection shard is connected and receiving, 0 otherwise.',
      labelNames: ['exchange', 'connection'] as const,
      registers: r,
    }),
    lastMessageTimestamp: new Gauge({
      name: `${P}last_message_timestamp_seconds`,
      help: 'Local time of the last frame received on the connection shard.',
      labelNames: ['exchange', 'connection'] as const,
      registers: r,
    }),
    lastTradeTimestamp: new Gauge({
      name: `${P}last_trade_timestamp_seconds`,
      help: 'Exchange timestamp of the last trade received.',
      labelNames: ['exchange', 'symbol'] as const,
      registers: r,
      collect: hot.lastTradeTimestamp.collect,
    }),
    tradeIdGaps: new Counter({
      name: `${P}trade_id_gaps_total`,
      help: 'Jumps in consecutive exchange trade ids (dropped messages), by cause (stream or reconnect).',
      labelNames: ['exchange', 'symbol', 'cause'] as const,
      registers: r,
    }),
    tradeIdsMissing: new Counter({
      name: `${P}trade_ids_missing_total`,
      help: 'Trade ids skipped by those jumps.',
      labelNames: ['exchange', 'symbol'] as const,
      registers: r,
    }),
    outgoingMessagesDelayed: new Counter({
      name: `${P}ws_outgoing_delayed_total`,
      help: 'Outgoing WebSocket messages held back by the per-connection message rate limit.',
      labelNames: ['exchange'] as const,
      registers: r,
    }),
    restRequests: new Counter({
      name: `${P}rest_requests_total`,
      help: 'Exchange REST requests by HTTP status (or "error" when no response).',
      labelNames: ['exchange', 'status'] as const,
      registers: r,
    }),
    restRateLimited: new Counter({
      name: `${P}rest_rate_limited_total`,
      help: 'Exchange REST responses 429/418 that made candlestack back off for Retry-After.',
      labelNames: ['exchange', 'status'] as const,
      registers: r,
    }),

    // ── candles ──────────────────────────────────────────────────────────────────────────────────
    candlesCompleted: new Counter({
      name: `${P}candles_completed_total`,
      help: 'Candles closed (periods with and without trades).',
      labelNames: ['exchange', 'timeframe'] as const,
      registers: r,
    }),
    candleCloseLatency: new Histogram({
      name: `${P}candle_close_latency_seconds`,
      help: 'Time from the end of a candle period to its closed candle being published.',
      labelNames: ['timeframe'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 2.5, 3, 5, 10, 30],
      registers: r,
    }),
    lateTrades: new Counter({
      name: `${P}late_trades_total`,
      help: 'Trades for a period that had already closed, by what was done (dropped, amended, too_old).',
      labelNames: ['exchange', 'timeframe', 'action'] as const,
      registers: r,
    }),
    candleClosePrice: new Gauge({
      name: `${P}candle_close_price`,
      help: 'Close price of the last closed candle.',
      labelNames: ['exchange', 'symbol', 'timeframe'] as const,
      registers: r,
    }),
    candleVolume: new Gauge({
      name: `${P}candle_volume`,
      help: 'Base-asset volume of the last closed candle.',
      labelNames: ['exchange', 'symbol', 'timeframe'] as const,
      registers: r,
    }),
    reconciliations: new Counter({
      name: `${P}reconciliations_total`,
      help: "Comparisons of our closed candles with the exchange's closed klines, by result (match, mismatch, skipped, unmatched).",
      labelNames: ['exchange', 'timeframe', 'result'] as const,
      registers: r,
    }),
    reconciliationMismatches: new Counter({
      name: `${P}reconciliation_mismatches_total`,
      help: "Fields of our closed candles that differ from the exchange's kline for the same period.",
      labelNames: ['exchange', 'timeframe', 'field'] as const,
      registers: r,
    }),
    backfillCandles: new Counter({
      name: `${P}backfill_candles_total`,
      help: 'Closed candles replaced by the exchange klines fetched over REST after a gap.',
      labelNames: ['exchange', 'timeframe'] as const,
      registers: r,
    }),
    backfillRuns: new Counter({
      name: `${P}backfill_runs_total`,
      help: 'Backfill attempts by result (ok, error).',
      labelNames: ['exchange', 'result'] as const,
      registers: r,
    }),
    backfillUnrecoverable: new Counter({
      name: `${P}backfill_unrecoverable_periods_total`,
      help: "Periods of a gap older than the exchange's REST history reaches (Kraken: the 720 most recent OHLC rows); they stay marked as gaps.",
      labelNames: ['exchange', 'timeframe'] as const,
      registers: r,
    }),
    backfillPending: new Gauge({
      name: `${P}backfill_pending`,
      help: 'Gaps waiting for their periods to close before being backfilled.',
      labelNames: ['exchange'] as const,
      registers: r,
    }),

    // ── bus ──────────────────────────────────────────────────────────────────────────────────────
    busPublished: new Counter({
      name: `${P}bus_messages_published_total`,
      help: 'Messages published on the bus.',
      labelNames: ['bus', 'topic'] as const,
      registers: r,
      collect: hot.busPublished.collect,
    }),
    busConsumed: new Counter({
      name: `${P}bus_messages_consumed_total`,
      help: 'Messages delivered to bus subscribers.',
      labelNames: ['bus', 'topic'] as const,
      registers: r,
      collect: hot.busConsumed.collect,
    }),
    busHandlerErrors: new Counter({
      name: `${P}bus_handler_errors_total`,
      help: 'Bus subscriber handlers that threw.',
      labelNames: ['bus', 'topic'] as const,
      registers: r,
    }),

    // ── store ────────────────────────────────────────────────────────────────────────────────────
    storeWriteDuration: new Histogram({
      name: `${P}store_write_duration_seconds`,
      help: 'Duration of one batched candle write.',
      labelNames: ['store'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: r,
    }),
    storeRowsWritten: new Counter({
      name: `${P}store_rows_written_total`,
      help: 'Candle rows upserted.',
      labelNames: ['store'] as const,
      registers: r,
    }),
    storeErrors: new Counter({
      name: `${P}store_errors_total`,
      help: 'Store operations that failed.',
      labelNames: ['store', 'operation'] as const,
      registers: r,
    }),
    storeQueueDepth: new Gauge({
      name: `${P}store_queue_depth`,
      help: 'Candle rows waiting for the next batched write.',
      labelNames: ['store'] as const,
      registers: r,
    }),

    // ── database (PostgreSQL store; errors count under store_errors_total) ───────────────────────────
    dbQueries: new Counter({
      name: `${P}db_queries_total`,
      help: 'Store operations run against the database, by operation (upsert, query, latest, series, prune, migrate).',
      labelNames: ['store', 'operation'] as const,
      registers: r,
    }),
    dbQueryDuration: new Histogram({
      name: `${P}db_query_duration_seconds`,
      help: 'Duration of store operations against the database, by operation.',
      labelNames: ['store', 'operation'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: r,
    }),
    dbConnectionPoolSize: new Gauge({
      name: `${P}db_connection_pool_size`,
      help: 'Connections the pool may open (its maximum).',
      labelNames: ['store'] as const,
      registers: r,
    }),
    dbConnectionsAvailable: new Gauge({
      name: `${P}db_connections_available`,
      help: 'Pool connections a query can get now without waiting (idle, or not yet opened).',
      labelNames: ['store'] as const,
      registers: r,
    }),
    dbConnectionsWaiting: new Gauge({
      name: `${P}db_connections_waiting`,
      help: 'Store operations waiting for a pool connection.',
      labelNames: ['store'] as const,
      registers: r,
    }),

    // ── API ──────────────────────────────────────────────────────────────────────────────────────
    httpRequests: new Counter({
      name: `${P}http_requests_total`,
      help: 'HTTP requests by route and status code.',
      labelNames: ['method', 'route', 'status'] as const,
      registers: r,
    }),
    httpRequestDuration: new Histogram({
      name: `${P}http_request_duration_seconds`,
      help: 'HTTP request duration by route.',
      labelNames: ['method', 'route'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: r,
    }),
    websocketClients: new Gauge({
      name: `${P}websocket_clients`,
      help: 'Connected API WebSocket clients.',
      registers: r,
    }),
    websocketMessagesSent: new Counter({
      name: `${P}websocket_messages_sent_total`,
      help: 'Messages sent to API WebSocket clients.',
      labelNames: ['type'] as const,
      registers: r,
    }),

    // ── jobs ─────────────────────────────────────────────────────────────────────────────────────
    jobRuns: new Counter({
      name: `${P}job_runs_total`,
      help: 'Batch job runs by result (success, failure).',
      labelNames: ['task', 'result'] as const,
      registers: r,
    }),
    jobLastSuccess: new Gauge({
      name: `${P}job_last_success_timestamp_seconds`,
      help: 'Time of the last successful run of the job.',
      labelNames: ['task'] as const,
      registers: r,
    }),
    jobLastStatus: new Gauge({
      name: `${P}job_last_run_status`,
      help: '1 when the last run of the job succeeded, 0 when it failed.',
      labelNames: ['task'] as const,
      registers: r,
    }),
    jobDuration: new Histogram({
      name: `${P}job_duration_seconds`,
      help: 'Batch job run duration.',
      labelNames: ['task'] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      registers: r,
    }),

    // ── alerts (POST /api/alerts, the Alertmanager webhook receiver) ─────────────────────────────────
    alertsReceived: new Counter({
      name: `${P}alerts_received_total`,
      help: 'Alerts received from Alertmanager by status (firing, resolved) and severity (critical, warning, info, none, other).',
      labelNames: ['status', 'severity'] as const,
      registers: r,
    }),

    // ── build ────────────────────────────────────────────────────────────────────────────────────
    buildInfo: new Gauge({
      name: `${P}build_info`,
      help: 'Always 1; labels carry the version and role.',
      labelNames: ['version', 'role'] as const,
      registers: r,
    }),

    // ── indicators ───────────────────────────────────────────────────────────────────────────────
    indicatorCalculationDuration: new Histogram({
      name: `${P}indicator_calculation_duration_seconds`,
      help: 'Time to update one indicator on one closed candle (every configured period of that kind counts).',
      labelNames: ['indicator'] as const,
      buckets: [0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.001, 0.005],
      registers: r,
    }),
    featuresCalculated: new Counter({
      name: `${P}features_calculated_total`,
      help: 'Indicator values computed, on closed candles and over forming ones.',
      labelNames: ['indicator'] as const,
      registers: r,
    }),
    indicatorRecalculations: new Counter({
      name: `${P}indicator_recalculations_total`,
      help: 'Candle corrections seen by the indicator engine, by result (replayed, too_old).',
      labelNames: ['result'] as const,
      registers: r,
    }),

    // ── data quality (src/quality/) ──────────────────────────────────────────────────────────────
    dataQualityScore: new Gauge({
      name: `${P}data_quality_score`,
      help: 'Data quality score from 0 (bad) to 1 (every check passing); see ARCHITECTURE.md for the weights.',
      labelNames: ['exchange', 'symbol'] as const,
      registers: r,
    }),
    dataQualityChecks: new Counter({
      name: `${P}data_quality_checks_total`,
      help: 'Data quality check runs by check and result (pass, fail).',
      labelNames: ['exchange', 'check', 'result'] as const,
      registers: r,
    }),
    crossExchangeSpread: new Gauge({
      name: `${P}cross_exchange_spread_bps`,
      help: 'Spread of the last prices of one canonical symbol across the exchanges watching it: (highest - lowest) / median, in basis points. Absent while fewer than two exchanges have a fresh price.',
      labelNames: ['symbol'] as const,
      registers: r,
    }),
    dataAnomalies: new Counter({
      name: `${P}data_anomalies_detected_total`,
      help: 'Data anomalies detected, by type (stale_feed, trade_id_gap, price_outlier, ...).',
      labelNames: ['exchange', 'type'] as const,
      registers: r,
    }),

    // ── circuit breakers (src/core/circuit-breaker.ts) ───────────────────────────────────────────
    circuitBreakerState: new Gauge({
      name: `${P}circuit_breaker_state`,
      help: 'Circuit breaker state: 0 closed, 1 open, 2 half-open.',
      labelNames: ['component'] as const,
      registers: r,
    }),
    circuitBreakerTransitions: new Counter({
      name: `${P}circuit_breaker_transitions_total`,
      help: 'Circuit breaker state changes.',
      labelNames: ['component', 'from', 'to'] as const,
      registers: r,
    }),
    circuitBreakerFailures: new Counter({
      name: `${P}circuit_breaker_failures_total`,
      help: 'Failed calls seen by the circuit breaker.',
      labelNames: ['component'] as const,
      registers: r,
    }),
    circuitBreakerRejected: new Counter({
      name: `${P}circuit_breaker_rejected_total`,
      help: 'Calls refused because the circuit breaker was open (the work waits; see ARCHITECTURE.md).',
      labelNames: ['component'] as const,
      registers: r,
    }),
    storeRowsDropped: new Counter({
      name: `${P}store_rows_dropped_total`,
      help: 'Candle rows dropped by the store writer: forming-candle updates beyond the buffer bound, or rows unwritten at shutdown.',
      labelNames: ['store', 'reason'] as const,
      registers: r,
    }),
    busMessagesDropped: new Counter({
      name: `${P}bus_messages_dropped_total`,
      help: 'Messages dropped from a bus produce buffer that was full while the broker was unreachable.',
      labelNames: ['bus', 'topic'] as const,
      registers: r,
    }),

    // ── kafka bus ────────────────────────────────────────────────────────────────────────────────
    kafkaProduced: new Counter({
      name: `${P}kafka_messages_produced_total`,
      help: 'Messages the Kafka bus delivered to the broker (acknowledged).',
      labelNames: ['topic'] as const,
      registers: r,
    }),
    kafkaConsumed: new Counter({
      name: `${P}kafka_messages_consumed_total`,
      help: 'Messages the Kafka bus consumed from the broker.',
      labelNames: ['topic'] as const,
      registers: r,
    }),
    kafkaBytesProduced: new Counter({
      name: `${P}kafka_bytes_produced_total`,
      help: 'Bytes of message values the Kafka bus delivered to the broker (before compression).',
      labelNames: ['topic'] as const,
      registers: r,
    }),
    kafkaBytesConsumed: new Counter({
      name: `${P}kafka_bytes_consumed_total`,
      help: 'Bytes of message values the Kafka bus consumed.',
      labelNames: ['topic'] as const,
      registers: r,
    }),
    kafkaErrors: new Counter({
      name: `${P}kafka_errors_total`,
      help: 'Kafka bus errors by operation (produce, consume, commit, decode, connect).',
      labelNames: ['operation'] as const,
      registers: r,
    }),
    kafkaConsumerLag: new Gauge({
      name: `${P}kafka_consumer_lag`,
      help: 'Messages between the consumed position and the partition end, per partition (as of the last fetch).',
      labelNames: ['topic', 'partition'] as const,
      registers: r,
    }),
    kafkaBufferDepth: new Gauge({
      name: `${P}kafka_buffer_depth`,
      help: 'Messages waiting in the Kafka producer buffer (grows while the broker is unreachable).',
      registers: r,
    }),
    kafkaDropped: new Counter({
      name: `${P}kafka_messages_dropped_total`,
      help: 'Messages dropped because the Kafka producer buffer was full (policy: drop the newest, count it).',
      labelNames: ['topic'] as const,
      registers: r,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
