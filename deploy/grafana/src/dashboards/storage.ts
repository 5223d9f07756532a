/** 5. Storage and cache: write and query latency, queue, errors, cache hit rate, PostgreSQL pool. */
import { above, below, informational, type DashboardSpec } from '../builder.js';

export const storage: DashboardSpec = {
  uid: 'candlestack-storage',
  title: 'candlestack / Storage and cache',
  description: 'Candle writes and reads: latency, throughput, backlog, errors; the cache; the PostgreSQL connection pool.',
  tags: ['storage'],
  variables: [],
  rows: [
    {
      title: 'Writes',
      panels: [
        {
          title: 'Write latency',
          description: 'Duration of one batched upsert, p50 and p99 over 5 min: orange from 100 ms, red from 500 ms.',
          unit: 's',
          thresholds: above(0.1, 0.5),
          targets: [{ expr: 'store:candlestack_store_write_duration_seconds:quantile_rate5m', legend: 'p{{quantile}} {{store}}' }],
        },
        {
          title: 'Rows and batches written',
          description: 'Candle rows upserted per second, and batches (transactions) per second.',
          unit: 'ops',
          thresholds: informational,
          targets: [
            { expr: 'sum by (store) (rate(candlestack_store_rows_written_total[$__rate_interval]))', legend: 'rows {{store}}' },
            { expr: 'sum by (store) (rate(candlestack_store_write_duration_seconds_count[$__rate_interval]))', legend: 'batches {{store}}' },
          ],
        },
        {
          title: 'Write queue depth',
          description: 'Rows not yet written (queued plus the batch being written; grows behind a blocked write): orange from 1000, red from 5000 (the writer flushes early at 5000).',
          unit: 'short',
          thresholds: above(1000, 5000),
          targets: [{ expr: 'candlestack_store_queue_depth', legend: '{{store}}' }],
        },
        {
          title: 'Store errors',
          description: 'Failed store operations: any is red (StoreWriteErrors). Rows of a failed write are kept and retried.',
          unit: 'short',
          thresholds: above(0.5, 1),
          bars: true,
          targets: [{ expr: 'sum by (store, operation) (increase(candlestack_store_errors_total[$__rate_interval]))', legend: '{{store}} {{operation}}' }],
        },
      ],
    },
    {
      title: 'Reads',
      panels: [
        {
          title: 'API latency p95 by route',
          description: 'Request duration per route over 5 min (/metrics excluded): orange from 250 ms, red from 500 ms (the SLA, ApiLatencyHigh).',
          unit: 's',
          thresholds: above(0.25, 0.5),
          w: 12,
          targets: [{ expr: 'route:candlestack_http_request_duration_seconds:quantile_rate5m', legend: '{{route}}' }],
        },
        {
          title: 'Candle query latency',
          description: 'GET /api/candles (a store query per request): p50, p95, p99.',
          unit: 's',
          thresholds: above(0.25, 0.5),
          w: 12,
          targets: [0.5, 0.95, 0.99].map((q) => ({
            expr: `histogram_quantile(${q}, sum by (le) (rate(candlestack_http_request_duration_seconds_bucket{route="/api/candles"}[$__rate_interval])))`,
            legend: `p${q}`,
          })),
        },
        {
          title: 'Rate limited (429) by route',
          description: 'Requests refused because a client (address or API key) was over its token bucket (http.rateLimits). A few from a runaway script are the limiter working; many from a dashboard mean the limits are too low.',
          unit: 'short',
          thresholds: informational,
          bars: true,
          targets: [{ expr: 'sum by (route) (increase(candlestack_rate_limit_exceeded_total[$__rate_interval]))', legend: '{{route}}' }],
        },
        {
          title: 'Live WebSocket refused and dropped',
          description: 'Connections over the per-client cap and subscriptions over the per-connection cap (refused), and slow readers disconnected once their send buffer passed http.live.maxBufferedBytes (dropped).',
          unit: 'short',
          thresholds: informational,
          bars: true,
          targets: [
            { expr: 'sum by (reason) (increase(candlestack_websocket_refused_total[$__rate_interval]))', legend: 'refused {{reason}}' },
            { expr: 'sum by (reason) (increase(candlestack_websocket_dropped_total[$__rate_interval]))', legend: 'dropped {{reason}}' },
          ],
        },
      ],
    },
    {
      title: 'Cache',
      panels: [
        {
          title: 'Cache hit rate',
          description: 'hits / (hits + misses) of the cacheable read API requests (closed ranges), per route: red below 50%, orange below 80%.',
          unit: 'percentunit',
          thresholds: below(0.5, 0.8),
          min: 0,
          max: 1,
          targets: [
            {
              expr: 'sum by (route) (rate(candlestack_cache_hits_total[$__rate_interval])) / (sum by (route) (rate(candlestack_cache_hits_total[$__rate_interval])) + sum by (route) (rate(candlestack_cache_misses_total[$__rate_interval])))',
              legend: '{{route}}',
            },
          ],
        },
        {
          title: 'Cache hits and misses',
          description: 'Cacheable reads (closed, settled ranges) per second by route: hits from the cache, misses from the store. Reads of the latest candles are never cached and are not counted here.',
          unit: 'reqps',
          thresholds: informational,
          targets: [
            { expr: 'sum by (route) (rate(candlestack_cache_hits_total[$__rate_interval]))', legend: 'hit {{route}}' },
            { expr: 'sum by (route) (rate(candlestack_cache_misses_total[$__rate_interval]))', legend: 'miss {{route}}' },
          ],
        },
        {
          title: 'Cache size and Redis memory',
          description: "What the cache holds (the in-process LRU's bodies, or Redis' used_memory), and Redis' own used and maximum memory from redis_exporter.",
          unit: 'bytes',
          thresholds: informational,
          targets: [
            { expr: 'candlestack_cache_size_bytes', legend: 'cache {{instance}}' },
            { expr: 'redis_memory_used_bytes', legend: 'redis used' },
            { expr: 'redis_memory_max_bytes > 0', legend: 'redis max' },
          ],
        },
        {
          title: 'Evictions and invalidations',
          description: 'Entries evicted for space (LRU bound or Redis maxmemory) and cached responses dropped because a correction or backfill changed a candle in their range.',
          unit: 'ops',
          thresholds: informational,
          targets: [
            { expr: 'sum(rate(candlestack_cache_evictions_total[$__rate_interval]))', legend: 'evicted' },
            { expr: 'sum(rate(candlestack_cache_invalidated_keys_total[$__rate_interval]))', legend: 'invalidated' },
          ],
        },
        {
          title: 'Cache errors and breaker',
          description: 'Failed or timed-out cache operations (each answered from the store, never an error to the client) and the cache circuit breaker: 0 closed, 1 open (Redis not asked), 2 half-open.',
          unit: 'short',
          thresholds: above(0.5, 1),
          targets: [
            { expr: 'sum by (operation) (increase(candlestack_cache_errors_total[$__rate_interval]))', legend: 'errors {{operation}}' },
            { expr: 'max(candlestack_circuit_breaker_state{component="cache"})', legend: 'breaker state' },
          ],
        },
        {
          title: 'Cache operation latency',
          description: 'p50 and p99 of cache get, set and invalidate: orange from 5 ms, red from 25 ms (a cache slower than the store helps no one).',
          unit: 's',
          thresholds: above(0.005, 0.025),
          targets: [0.5, 0.99].map((q) => ({
            expr: `histogram_quantile(${q}, sum by (le, operation) (rate(candlestack_cache_operation_duration_seconds_bucket[$__rate_interval])))`,
            legend: `p${q * 100} {{operation}}`,
          })),
        },
      ],
    },
    {
      title: 'PostgreSQL (postgres-exporter)',
      panels: [
        {
          title: 'Connection pool',
          description: 'Connections by database and state, against max_connections.',
          unit: 'short',
          thresholds: informational,
          targets: [
            { expr: 'sum by (datname, state) (pg_stat_activity_count)', legend: '{{datname}} {{state}}' },
            { expr: 'max(pg_settings_max_connections)', legend: 'max_connections' },
          ],
        },
        {
          title: 'Pool usage',
          description: 'Connections in use / max_connections: orange from 70%, red from 90%.',
          type: 'stat',
          unit: 'percentunit',
          thresholds: above(0.7, 0.9),
          targets: [{ expr: 'sum(pg_stat_activity_count) / max(pg_settings_max_connections)', legend: 'used' }],
        },
        {
          title: 'Database size',
          description: 'Size of each database.',
          unit: 'bytes',
          thresholds: informational,
          targets: [{ expr: 'pg_database_size_bytes', legend: '{{datname}}' }],
        },
      ],
    },
  ],
};
