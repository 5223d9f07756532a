/**
 * Where cached read API bodies live: the in-process LRU (memory.ts) or Redis (redis.ts). An entry is a body
 * (the exact JSON text sent) under a key, indexed by its series and the open-time range it covers, so a
 * correction at time t drops exactly the entries whose range contains t.
 */

/** What one cached body covers: a series and the inclusive open-time range [from, to] (from null: everything up to `to`). */
export interface CachedRange {
  /** `exchange|symbol|timeframe`. */
  series: string;
  from: number | null;
  to: number;
}

export interface CacheBackend {
  readonly kind: 'memory' | 'redis';
  get(key: string): Promise<string | null>;
  set(key: string, body: string, range: CachedRange, ttlMs: number): Promise<void>;
  /** Drops the entries of `series` whose range contains any of `times` (sorted ascending); returns how many. */
  invalidate(series: string, times: readonly number[]): Promise<number>;
  /** Bytes held (the gauge); may be refreshed in the background. */
  sizeBytes(): number;
}

/** Whether a sorted `times` has a value in [from, to] (from null: -infinity). */
export function anyIn(times: readonly number[], from: number | null, to: number): boolean {
  let lo = 0;
  let hi = times.length;
  const min = from ?? -Infinity;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid]! < min) lo = mid + 1;
    else hi = mid;
  }
  return lo < times.length && times[lo]! <= to;
}
