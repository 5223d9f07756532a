/** Store slice: the candle and indicator writers, and the PostgreSQL store's queries and pool (src/store/). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { exemplarHistogram } from '../exemplars.js';
import { HotSeries } from '../hot.js';

export function storeMetrics(registry: Registry) {
  const r = [registry];
  /** Counted series (hot.ts): the writers and the PostgreSQL store count these; their status() reads the same numbers. */
  const hot = {
    storeRowsWritten: new HotSeries(),
    storeErrors: new HotSeries(),
  };
  return {
    hot,
    storeWriteDuration: exemplarHistogram(registry, {
      name: 'candlestack_store_write_duration_seconds',
      help: 'Duration of one batched candle write.',
      labelNames: ['store'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    }),
    storeRowsWritten: new Counter({
      name: 'candlestack_store_rows_written_total',
      help: 'Candle rows upserted.',
      labelNames: ['store'] as const,
      registers: r,
      collect: hot.storeRowsWritten.collect,
    }),
    storeErrors: new Counter({
      name: 'candlestack_store_errors_total',
      help: 'Store operations that failed.',
      labelNames: ['store', 'operation'] as const,
      registers: r,
      collect: hot.storeErrors.collect,
    }),
    storeQueueDepth: new Gauge({
      name: 'candlestack_store_queue_depth',
      help: 'Candle rows not yet written: queued for the next batched write plus the batch being written (grows behind a blocked write).',
      labelNames: ['store'] as const,
      registers: r,
    }),
    storeRowsDropped: new Counter({
      name: 'candlestack_store_rows_dropped_total',
      help: 'Candle rows dropped by the store writer: forming-candle updates beyond the buffer bound, or rows unwritten at shutdown.',
      labelNames: ['store', 'reason'] as const,
      registers: r,
    }),

    // database (PostgreSQL store; its errors count under store_errors_total)
    dbQueries: new Counter({
      name: 'candlestack_db_queries_total',
      help: 'Store operations run against the database, by operation (upsert, query, latest, series, prune, migrate).',
      labelNames: ['store', 'operation'] as const,
      registers: r,
    }),
    dbQueryDuration: exemplarHistogram(registry, {
      name: 'candlestack_db_query_duration_seconds',
      help: 'Duration of store operations against the database, by operation.',
      labelNames: ['store', 'operation'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    }),
    dbConnectionPoolSize: new Gauge({
      name: 'candlestack_db_connection_pool_size',
      help: 'Connections the pool may open (its maximum).',
      labelNames: ['store'] as const,
      registers: r,
    }),
    dbConnectionsAvailable: new Gauge({
      name: 'candlestack_db_connections_available',
      help: 'Pool connections a query can get now without waiting (idle, or not yet opened).',
      labelNames: ['store'] as const,
      registers: r,
    }),
    dbConnectionsWaiting: new Gauge({
      name: 'candlestack_db_connections_waiting',
      help: 'Store operations waiting for a pool connection.',
      labelNames: ['store'] as const,
      registers: r,
    }),
  };
}

export type StoreMetrics = ReturnType<typeof storeMetrics>;
