/** 2. Pipeline operations (seed 002's main dashboard): feed, candles, bus and errors. */
import { above, informational, upDown, vars, type DashboardSpec } from '../builder.js';

const EX = 'exchange=~"$exchange"';
const SYM = 'symbol=~"$symbol"';
const TF = 'timeframe=~"$timeframe"';

export const pipeline: DashboardSpec = {
  uid: 'candlestack-pipeline',
  title: 'candlestack / Pipeline operations',
  description: 'Exchange feeds, candle building, the bus and errors: is data flowing, and how late.',
  tags: ['operations'],
  variables: [vars.exchange(), vars.symbol(), vars.timeframe()],
  rows: [
    {
      title: 'Feed',
      panels: [
        {
          title: 'Trades per second by exchange',
          description: 'Trades received (1 min rate).',
          unit: 'ops',
          thresholds: informational,
          targets: [{ expr: `exchange:candlestack_trades_received:rate1m{${EX}}`, legend: '{{exchange}}' }],
        },
        {
          title: 'Trades per second by symbol',
          description: 'Trades received per symbol (1 min rate).',
          unit: 'ops',
          thresholds: informational,
          targets: [{ expr: `exchange_symbol:candlestack_trades_received:rate1m{${EX},${SYM}}`, legend: '{{exchange}} {{symbol}}' }],
        },
        {
          title: 'Collector status',
          description: 'Per connection shard: up while connected and receiving. FeedDown fires after 2 min down.',
          type: 'state-timeline',
          unit: 'short',
          thresholds: upDown,
          mappings: [
            { value: 0, text: 'down', color: 'red' },
            { value: 1, text: 'up', color: 'green' },
          ],
          targets: [{ expr: `candlestack_collector_status{${EX}}`, legend: '{{exchange}} shard {{connection}}' }],
        },
        {
          title: 'Last frame age per shard',
          description: 'Time since the last WebSocket frame: candlestack recycles the connection at 30 s (orange), FeedStale at 60 s (red).',
          unit: 's',
          thresholds: above(30, 60),
          targets: [{ expr: `exchange_connection:candlestack_last_message_age:seconds{${EX}}`, legend: '{{exchange}} shard {{connection}}' }],
        },
        {
          title: 'Last trade age per symbol',
          description: 'Time since the exchange timestamp of the last trade (includes clock skew): a quiet symbol grows here while its shard stays fresh.',
          unit: 's',
          thresholds: above(30, 60),
          targets: [{ expr: `exchange_symbol:candlestack_last_trade_age:seconds{${EX},${SYM}}`, legend: '{{exchange}} {{symbol}}' }],
        },
        {
          title: 'Rejected frames by reason',
          description: 'Exchange frames that could not be used: malformed, unknown event, invalid field, duplicate, future timestamp.',
          unit: 'cps',
          thresholds: informational,
          targets: [{ expr: `sum by (exchange, reason) (rate(candlestack_messages_rejected_total{${EX}}[$__rate_interval]))`, legend: '{{exchange}} {{reason}}' }],
        },
        {
          title: 'Rejected share of frames',
          description: 'Rejected / received frames over 5 min: orange from 0.1%, red from 1%.',
          unit: 'percentunit',
          thresholds: above(0.001, 0.01),
          targets: [{ expr: `exchange:candlestack_messages_rejected:ratio_rate5m{${EX}}`, legend: '{{exchange}}' }],
        },
        {
          title: 'Reconnections by reason',
          description: 'WebSocket reconnections: lifetime (24 h rotation) is normal; ReconnectStorm fires above 5 in 15 min.',
          unit: 'short',
          thresholds: informational,
          bars: true,
          targets: [{ expr: `sum by (exchange, reason) (increase(candlestack_websocket_reconnections_total{${EX}}[$__rate_interval]))`, legend: '{{exchange}} {{reason}}' }],
        },
        {
          title: 'Stale connections recycled',
          description: 'Connections that received nothing for the stale limit and were recycled.',
          unit: 'short',
          thresholds: informational,
          bars: true,
          targets: [{ expr: `sum by (exchange, connection) (increase(candlestack_feed_stale_total{${EX}}[$__rate_interval]))`, legend: '{{exchange}} shard {{connection}}' }],
        },
        {
          title: 'Trade-id gaps',
          description: 'Jumps in consecutive trade ids: cause=stream means dropped messages on a live connection (TradeIdGaps), reconnect is expected after an outage. Both are backfilled.',
          unit: 'short',
          thresholds: informational,
          bars: true,
          targets: [{ expr: `sum by (exchange, symbol, cause) (increase(candlestack_trade_id_gaps_total{${EX},${SYM}}[$__rate_interval]))`, legend: '{{exchange}} {{symbol}} {{cause}}' }],
        },
        {
          title: 'Exchange REST requests',
          description: 'REST calls (backfill klines) by HTTP status, and the 429/418 answers that made candlestack back off.',
          unit: 'reqps',
          thresholds: informational,
          targets: [
            { expr: `sum by (exchange, status) (rate(candlestack_rest_requests_total{${EX}}[$__rate_interval]))`, legend: '{{exchange}} {{status}}' },
            { expr: `sum by (exchange, status) (rate(candlestack_rest_rate_limited_total{${EX}}[$__rate_interval]))`, legend: '{{exchange}} rate limited {{status}}' },
          ],
        },
      ],
    },
    {
      title: 'Candles',
      panels: [
        {
          title: 'Candle close latency',
          description: 'Period end to closed candle published, p50/p95/p99 over 5 min. Expected: the 2 s grace plus a tick; orange from 3 s, red from 5 s (CandleCloseLatencyHigh on p99).',
          unit: 's',
          thresholds: above(3, 5),
          targets: [{ expr: `timeframe:candlestack_candle_close_latency_seconds:quantile_rate5m{${TF}}`, legend: 'p{{quantile}} {{timeframe}}' }],
        },
        {
          title: 'Candles closed per second',
          description: 'Closed candles per timeframe (5 min rate), periods without trades included.',
          unit: 'ops',
          thresholds: informational,
          targets: [{ expr: `exchange_timeframe:candlestack_candles_completed:rate5m{${EX},${TF}}`, legend: '{{exchange}} {{timeframe}}' }],
        },
        {
          title: 'Late trades',
          description: 'Trades for an already closed period, by what was done with them (dropped, amended, too_old).',
          unit: 'short',
          thresholds: informational,
          bars: true,
          targets: [{ expr: `sum by (exchange, timeframe, action) (increase(candlestack_late_trades_total{${EX},${TF}}[$__rate_interval]))`, legend: '{{exchange}} {{timeframe}} {{action}}' }],
        },
        {
          title: 'Backfill',
          description: 'Candles replaced by exchange klines after a gap, and gaps waiting for their periods to close.',
          unit: 'short',
          thresholds: informational,
          targets: [
            { expr: `sum by (exchange, timeframe) (increase(candlestack_backfill_candles_total{${EX},${TF}}[$__rate_interval]))`, legend: 'backfilled {{exchange}} {{timeframe}}' },
            { expr: `candlestack_backfill_pending{${EX}}`, legend: 'pending {{exchange}}' },
          ],
        },
        {
          title: 'Indicator calculation p95',
          description: 'Time to compute each indicator on a closed candle (95th percentile).',
          unit: 's',
          thresholds: above(0.05, 0.25),
          targets: [{ expr: 'histogram_quantile(0.95, sum by (indicator, le) (rate(candlestack_indicator_calculation_duration_seconds_bucket[$__rate_interval])))', legend: '{{indicator}}' }],
        },
        {
          title: 'Indicator values calculated per second',
          description: 'Indicator values computed (closed and forming candles); feature vectors are on the Assistant dashboard.',
          unit: 'ops',
          thresholds: informational,
          targets: [{ expr: 'sum by (indicator) (rate(candlestack_indicator_values_calculated_total[$__rate_interval]))', legend: '{{indicator}}' }],
        },
      ],
    },
    {
      title: 'Bus',
      panels: [
        {
          title: 'Bus throughput',
          description: 'Messages published per topic, and delivered to subscribers (one delivery per subscriber).',
          unit: 'ops',
          thresholds: informational,
          targets: [
            { expr: 'sum by (bus, topic) (rate(candlestack_bus_messages_published_total[$__rate_interval]))', legend: 'published {{bus}} {{topic}}' },
            { expr: 'sum by (bus, topic) (rate(candlestack_bus_messages_consumed_total[$__rate_interval]))', legend: 'consumed {{bus}} {{topic}}' },
          ],
        },
        {
          title: 'Kafka produced / consumed',
          description: 'Messages produced to and consumed from each Kafka topic (Kafka bus only).',
          unit: 'ops',
          thresholds: informational,
          targets: [
            { expr: 'sum by (topic) (rate(candlestack_kafka_messages_produced_total[$__rate_interval]))', legend: 'produced {{topic}}' },
            { expr: 'sum by (topic) (rate(candlestack_kafka_messages_consumed_total[$__rate_interval]))', legend: 'consumed {{topic}}' },
          ],
        },
        {
          title: 'Consumer lag',
          description: 'Messages not yet consumed per topic (candlestack consumers; kafka-exporter per consumer group): orange from 1000, red from 10000 (ConsumerLagHigh).',
          unit: 'short',
          thresholds: above(1000, 10000),
          targets: [
            { expr: 'topic:candlestack_kafka_consumer_lag:sum', legend: '{{topic}}' },
            { expr: 'sum by (consumergroup, topic) (kafka_consumergroup_lag)', legend: 'exporter {{consumergroup}} {{topic}}' },
          ],
        },
        {
          title: 'Bus handler errors',
          description: 'Subscriber handlers that threw, per topic.',
          unit: 'short',
          thresholds: above(0.5, 1),
          bars: true,
          targets: [{ expr: 'sum by (bus, topic) (increase(candlestack_bus_handler_errors_total[$__rate_interval]))', legend: '{{bus}} {{topic}}' }],
        },
      ],
    },
    {
      title: 'Errors',
      panels: [
        {
          title: 'Errors by component',
          description: 'Errors per second of the collector, bus, store and API (5xx), over 5 min: HighErrorRate fires above 0.1/s (red); orange from 0.01/s.',
          unit: 'cps',
          thresholds: above(0.01, 0.1),
          w: 12,
          targets: [{ expr: 'component:candlestack_errors:rate5m', legend: '{{component}}' }],
        },
        {
          title: 'Collector errors by kind',
          description: 'connect, socket, rest, backfill, handler.',
          unit: 'cps',
          thresholds: above(0.01, 0.1),
          w: 12,
          targets: [{ expr: `sum by (exchange, kind) (rate(candlestack_collector_errors_total{${EX}}[$__rate_interval]))`, legend: '{{exchange}} {{kind}}' }],
        },
        {
          title: 'Alerts received by the notifier',
          description: 'Alerts Alertmanager delivered to POST /api/alerts, by status and severity (the Watchdog heartbeat arrives as severity none every minute).',
          unit: 'short',
          thresholds: informational,
          bars: true,
          w: 24,
          targets: [{ expr: 'sum by (status, severity) (increase(candlestack_alerts_received_total[$__rate_interval]))', legend: '{{status}} {{severity}}' }],
        },
      ],
    },
  ],
};
