/** Cache slice: the read API's cache (src/api/cache/), Redis or the in-process LRU. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export const CACHE_OPERATIONS = ['get', 'set', 'invalidate'] as const;

export function cacheMetrics(registry: Registry) {
  const r = [registry];
  return {
    cacheHits: new Counter({
      name: 'candlestack_cache_hits_total',
      help: 'Cacheable read API requests answered from the cache, by route.',
      labelNames: ['route'] as const,
      registers: r,
    }),
    cacheMisses: new Counter({
      name: 'candlestack_cache_misses_total',
      help: 'Cacheable read API requests answered from the store (not cached yet, or the cache failed), by route.',
      labelNames: ['route'] as const,
      registers: r,
    }),
    cacheSize: new Gauge({
      name: 'candlestack_cache_size_bytes',
      help: 'Bytes the cache holds: the in-process LRU its bodies, Redis its used_memory (INFO, refreshed every 10 s).',
      registers: r,
    }),
    cacheEvictions: new Counter({
      name: 'candlestack_cache_evictions_total',
      help: 'Entries evicted for space: by the in-process LRU past its byte bound, or by Redis (evicted_keys).',
      registers: r,
    }),
    cacheInvalidations: new Counter({
      name: 'candlestack_cache_invalidated_keys_total',
      help: 'Cached responses dropped because a correction or backfill changed a candle in their range.',
      registers: r,
    }),
    cacheErrors: new Counter({
      name: 'candlestack_cache_errors_total',
      help: 'Cache operations that failed or timed out (the request was answered from the store), by operation.',
      labelNames: ['operation'] as const,
      registers: r,
    }),
    cacheOperationDuration: new Histogram({
      name: 'candlestack_cache_operation_duration_seconds',
      help: 'Cache operation latency by operation (get, set, invalidate).',
      labelNames: ['operation'] as const,
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers: r,
    }),
  };
}

export type CacheMetrics = ReturnType<typeof cacheMetrics>;
