/**
 * The shared cache in Redis: a body is a string key with a TTL; each series has a hash (`idx:SERIES`) from its
 * keys to the range they cover ("from:to"), so any serve instance that sees a correction can find and drop
 * exactly the affected keys (every instance does, the later ones find nothing left). The gauge is Redis'
 * used_memory and the eviction counter follows its evicted_keys (INFO, at most every 10 s).
 */
import type { Clock } from '../../core/clock.js';
import type { RedisLink } from '../redis-link.js';
import { anyIn, type CacheBackend, type CachedRange } from './backend.js';

const INFO_EVERY_MS = 10_000;

export class RedisCache implements CacheBackend {
  readonly kind = 'redis';
  private usedMemory = 0;
  private evictedKeys: number | null = null;
  private infoAt = -Infinity;

  constructor(
    private readonly o: { link: RedisLink; clock: Clock; prefix?: string; onEvict?: (n: number) => void },
  ) {}

  private get prefix(): string {
    return this.o.prefix ?? `${this.o.link.keyPrefix}cache:`;
  }

  get(key: string): Promise<string | null> {
    return this.o.link.run('get', (c) => c.get(this.prefix + key));
  }

  async set(key: string, body: string, range: CachedRange, ttlMs: number): Promise<void> {
    const idx = `${this.prefix}idx:${range.series}`;
    await this.o.link.run('set', (c) =>
      c
        .multi()
        .set(this.prefix + key, body, { expiration: { type: 'PX', value: ttlMs } })
        .hSet(idx, key, `${range.from ?? ''}:${range.to}`)
        .pExpire(idx, ttlMs)
        .exec(),
    );
  }

  async invalidate(series: string, times: readonly number[]): Promise<number> {
    const idx = `${this.prefix}idx:${series}`;
    return this.o.link.run('invalidate', async (c) => {
      const index = await c.hGetAll(idx);
      const drop = Object.entries(index)
        .filter(([, range]) => {
          const [from, to] = range.split(':');
          return anyIn(times, from === '' || from === undefined ? null : Number(from), Number(to));
        })
        .map(([key]) => key);
      if (drop.length === 0) return 0;
      const replies = await c.multi().del(drop.map((k) => this.prefix + k)).hDel(idx, drop).exec();
      return Number(replies[0] ?? 0);
    });
  }

  sizeBytes(): number {
    const now = this.o.clock.now();
    if (now - this.infoAt >= INFO_EVERY_MS) {
      this.infoAt = now;
      void this.refreshInfo();
    }
    return this.usedMemory;
  }

  private async refreshInfo(): Promise<void> {
    try {
      const info = await this.o.link.run('info', (c) => c.info('memory').then(async (m) => m + (await c.info('stats'))));
      const field = (name: string) => Number(/^(\w+):(.*)$/m.test(info) ? (new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN) : NaN);
      const used = field('used_memory');
      if (Number.isFinite(used)) this.usedMemory = used;
      const evicted = field('evicted_keys');
      if (Number.isFinite(evicted)) {
        if (this.evictedKeys !== null && evicted > this.evictedKeys) this.o.onEvict?.(evicted - this.evictedKeys);
        this.evictedKeys = evicted;
      }
    } catch {
      // counted by the link; the gauge keeps its last value
    }
  }
}
