/**
 * The in-process cache: an LRU bounded by bytes (the bodies' UTF-8 size plus their keys). Past the bound the
 * least recently used entries are evicted (counted); an entry larger than the whole bound is not kept.
 */
import type { Clock } from '../../core/clock.js';
import { anyIn, type CacheBackend, type CachedRange } from './backend.js';

interface Entry extends CachedRange {
  body: string;
  bytes: number;
  expires: number;
}

export class MemoryCache implements CacheBackend {
  readonly kind = 'memory';
  private readonly entries = new Map<string, Entry>();
  private readonly bySeries = new Map<string, Set<string>>();
  private bytes = 0;

  constructor(
    private readonly o: { maxBytes: number; clock: Clock; onEvict?: (n: number) => void },
  ) {}

  get(key: string): Promise<string | null> {
    const e = this.entries.get(key);
    if (!e) return Promise.resolve(null);
    if (e.expires <= this.o.clock.now()) {
      this.remove(key, e);
      return Promise.resolve(null);
    }
    this.entries.delete(key); // most recently used last
    this.entries.set(key, e);
    return Promise.resolve(e.body);
  }

  set(key: string, body: string, range: CachedRange, ttlMs: number): Promise<void> {
    const bytes = Buffer.byteLength(body) + key.length;
    const old = this.entries.get(key);
    if (old) this.remove(key, old);
    if (bytes > this.o.maxBytes) return Promise.resolve();
    this.entries.set(key, { ...range, body, bytes, expires: this.o.clock.now() + ttlMs });
    let keys = this.bySeries.get(range.series);
    if (!keys) this.bySeries.set(range.series, (keys = new Set()));
    keys.add(key);
    this.bytes += bytes;
    let evicted = 0;
    while (this.bytes > this.o.maxBytes) {
      const [oldestKey, oldest] = this.entries.entries().next().value as [string, Entry];
      this.remove(oldestKey, oldest);
      evicted++;
    }
    if (evicted > 0) this.o.onEvict?.(evicted);
    return Promise.resolve();
  }

  invalidate(series: string, times: readonly number[]): Promise<number> {
    const keys = this.bySeries.get(series);
    let dropped = 0;
    if (keys) {
      for (const key of [...keys]) {
        const e = this.entries.get(key)!;
        if (anyIn(times, e.from, e.to)) {
          this.remove(key, e);
          dropped++;
        }
      }
    }
    return Promise.resolve(dropped);
  }

  sizeBytes(): number {
    return this.bytes;
  }

  get size(): number {
    return this.entries.size;
  }

  private remove(key: string, e: Entry): void {
    this.entries.delete(key);
    this.bytes -= e.bytes;
    const keys = this.bySeries.get(e.series);
    keys?.delete(key);
    if (keys?.size === 0) this.bySeries.delete(e.series);
  }
}
