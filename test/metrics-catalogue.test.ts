/**
 * The metrics catalogue is a contract: dashboards (deploy/grafana), alert and recording rules
 * (deploy/prometheus) and the runbooks read these names. The slices of src/telemetry/catalogue/ together must
 * register exactly these metrics, each with the type, help text, label names and buckets pinned in
 * test/fixtures/metrics-catalogue.json (taken from the catalogue before it was split into slices).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Registry } from 'prom-client';
import { createMetrics, createRegistry } from '../src/telemetry/metrics.js';

const NAMES = [
  'candlestack_alerts_received_total',
  'candlestack_backfill_candles_total',
  'candlestack_backfill_pending',
  'candlestack_backfill_runs_total',
  'candlestack_backfill_unrecoverable_periods_total',
  'candlestack_build_info',
  'candlestack_bus_handler_errors_total',
  'candlestack_bus_messages_consumed_total',
  'candlestack_bus_messages_published_total',
  'candlestack_candle_close_latency_seconds',
  'candlestack_candle_close_price',
  'candlestack_candle_volume',
  'candlestack_candles_completed_total',
  'candlestack_circuit_breaker_failures_total',
  'candlestack_circuit_breaker_rejected_total',
  'candlestack_circuit_breaker_state',
  'candlestack_circuit_breaker_transitions_total',
  'candlestack_collector_errors_total',
  'candlestack_collector_status',
  'candlestack_cross_exchange_spread_bps',
  'candlestack_data_anomalies_detected_total',
  'candlestack_data_quality_checks_total',
  'candlestack_data_quality_score',
  'candlestack_db_connection_pool_size',
  'candlestack_decision_hit_ratio',
  'candlestack_decision_llm_fallbacks_total',
  'candlestack_decision_outcomes_total',
  'candlestack_decisions_total',
  'candlestack_feature_calculation_duration_seconds',
  'candlestack_indicator_values_calculated_total',
  'candlestack_db_connections_available',
  'candlestack_db_connections_waiting',
  'candlestack_db_queries_total',
  'candlestack_db_query_duration_seconds',
  'candlestack_features_calculated_total',
  'candlestack_gap_sweep_periods_total',
  'candlestack_feed_stale_total',
  'candlestack_http_client_request_duration_seconds',
  'candlestack_http_client_requests_total',
  'candlestack_http_request_duration_seconds',
  'candlestack_http_connections',
  'candlestack_http_connections_closed_total',
  'candlestack_http_connections_refused_total',
  'candlestack_http_requests_total',
  'candlestack_indicator_calculation_duration_seconds',
  'candlestack_indicator_recalculations_total',
  'candlestack_integrity_candles_checked_total',
  'candlestack_integrity_mismatches_total',
  'candlestack_job_duration_seconds',
  'candlestack_job_last_run_status',
  'candlestack_job_last_success_timestamp_seconds',
  'candlestack_scheduler_heartbeat_timestamp_seconds',
  'candlestack_job_next_run_timestamp_seconds',
  'candlestack_job_running',
  'candlestack_job_last_failure_timestamp_seconds',
  'candlestack_job_runs_total',
  'candlestack_kafka_buffer_depth',
  'candlestack_kafka_bytes_consumed_total',
  'candlestack_kafka_bytes_produced_total',
  'candlestack_kafka_consumer_lag',
  'candlestack_kafka_errors_total',
  'candlestack_kafka_messages_consumed_total',
  'candlestack_kafka_messages_dropped_total',
  'candlestack_kafka_messages_produced_total',
  'candlestack_klines_received_total',
  'candlestack_last_message_timestamp_seconds',
  'candlestack_last_trade_timestamp_seconds',
  'candlestack_late_trades_total',
  'candlestack_messages_rejected_total',
  'candlestack_reconciliation_mismatches_total',
  'candlestack_reconciliations_total',
  'candlestack_rest_rate_limited_total',
  'candlestack_rest_requests_total',
  'candlestack_store_errors_total',
  'candlestack_store_queue_depth',
  'candlestack_store_rows_dropped_total',
  'candlestack_store_rows_written_total',
  'candlestack_store_write_duration_seconds',
  'candlestack_trade_id_gaps_total',
  'candlestack_trade_ids_missing_total',
  'candlestack_trades_received_total',
  'candlestack_websocket_clients',
  'candlestack_websocket_messages_sent_total',
  'candlestack_websocket_reconnections_total',
  'candlestack_ws_messages_received_total',
  'candlestack_ws_outgoing_delayed_total',
  // the read API at scale (issue 16): the cache, rate limits, live WebSocket caps
  'candlestack_cache_errors_total',
  'candlestack_cache_evictions_total',
  'candlestack_cache_hits_total',
  'candlestack_cache_invalidated_keys_total',
  'candlestack_cache_misses_total',
  'candlestack_cache_operation_duration_seconds',
  'candlestack_cache_size_bytes',
  'candlestack_rate_limit_exceeded_total',
  'candlestack_websocket_dropped_total',
  'candlestack_websocket_refused_total',
  // The Loki log sink (catalogue/logs.ts).
  'candlestack_loki_pushes_total',
  'candlestack_loki_lines_sent_total',
  'candlestack_loki_lines_dropped_total',
  // The Telegram notifier (catalogue/notifier.ts).
  'candlestack_notifier_updates_total',
  'candlestack_notifier_unauthorized_total',
  'candlestack_notifier_reply_duration_seconds',
  'candlestack_notifier_messages_sent_total',
  'candlestack_notifier_send_errors_total',
  'candlestack_notifier_messages_undeliverable_total',
  'candlestack_notifier_pending_messages',
  'candlestack_notifier_alerts_forwarded_total',
  'candlestack_notifier_alerts_deduplicated_total',
  'candlestack_notifier_subscribed_chats',
  'candlestack_notifier_bot_up',
];

interface Definition {
  name: string;
  type: string;
  help: string;
  labels: string[];
  buckets?: number[];
}

/** test/fixtures/metrics-catalogue.json, found from the compiled file (dist/test) or the source file (test). */
function pinned(): Definition[] {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const file = join(dir, 'test', 'fixtures', 'metrics-catalogue.json');
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Definition[];
    dir = dirname(dir);
  }
  throw new Error('test/fixtures/metrics-catalogue.json not found');
}

function definitions(registry: Registry): Definition[] {
  return registry
    .getMetricsAsArray()
    .map((m) => {
      const raw = m as unknown as { labelNames?: readonly string[]; upperBounds?: readonly number[] };
      return {
        name: m.name,
        type: m.constructor.name.toLowerCase(),
        help: m.help,
        labels: [...(raw.labelNames ?? [])],
        ...(raw.upperBounds ? { buckets: [...raw.upperBounds] } : {}),
      };
    })
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

test('createMetrics registers exactly the catalogue: the 68 names of the catalogue before the split into slices (less bus_messages_dropped_total, which nothing increments since ProduceGuard went), plus the 4 job-health series of the scheduler, the 3 series of the gap-sweep and integrity jobs, the 2 outgoing-HTTP series, the 11 of the Telegram notifier, the 10 of the cache, rate limits and WebSocket caps, and the 6 of the assistant (features_calculated_total now counts feature vectors; indicator values moved to indicator_values_calculated_total), and the 3 socket-guard series of the HTTP servers, and the 3 of the Loki log sink', () => {
  const registry = createRegistry({ defaults: false });
  createMetrics(registry);
  const names = registry.getMetricsAsArray().map((m) => m.name);
  assert.equal(new Set(names).size, names.length, 'no metric registered twice');
  assert.deepEqual([...names].sort(), [...NAMES].sort());
  assert.equal(NAMES.length, 77 + 11 + 10 + 6 + 3 + 3);
});

test('every metric keeps its type, help text, labels and buckets', () => {
  const registry = createRegistry({ defaults: false });
  createMetrics(registry);
  const want = pinned();
  assert.deepEqual(want.map((d) => d.name), [...NAMES].sort(), 'the fixture pins the same names');
  assert.deepEqual(definitions(registry), want);
});
