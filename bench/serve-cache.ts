/**
 * Bench 8: GET /api/candles of 500 closed 1m candles (about 175 kB of JSON) at 50 concurrent connections from
 * a separate load process (autocannon's CLI in a child process), against the real ApiServer over SQLite:
 * the cache off (every request is a store query and a JSON.stringify), cold (the cache in front but never
 * holding the body: its lookup plus the store path), hot in-process, and hot in Redis (127.0.0.1:6379, when
 * it answers). Rate limits off. RPS and latency p50/p99 per case; the ratio is hot over off, measured in the
 * same run. Standalone: `node dist/bench/serve-cache.js [--seconds 10]`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { LiveHub } from '../src/api/live-ws.js';
import { Markets } from '../src/api/markets.js';
import { ApiServer } from '../src/api/server.js';
import { MemoryCache } from '../src/api/cache/memory.js';
import { ReadCache } from '../src/api/cache/read-cache.js';
import { RedisCache } from '../src/api/cache/redis.js';
import type { CacheBackend } from '../src/api/cache/backend.js';
import { RedisLink } from '../src/api/redis-link.js';
import { CircuitBreaker } from '../src/core/circuit-breaker.js';
import { systemClock } from '../src/core/clock.js';
import type { Candle } from '../src/core/types.js';
import { binance } from '../src/exchanges/binance/feed.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { createMetrics, createRegistry } from '../src/telemetry/metrics.js';

const MIN = 60_000;
const T0 = Date.UTC(2024, 0, 1);
const CONNECTIONS = 50;

export interface ServeCaseResult {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

export interface ServeCacheResult {
  cases: ServeCaseResult[];
  bodyBytes: number;
  /** hot in-process RPS / off RPS. */
  ratio: number;
  redis: string | null;
}

function candles(n: number): Candle[] {
  return Array.from({ length: n }, (_, i) => {
    const p = (60_000 + i * 1.25).toFixed(8);
    return { exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', openTime: T0 + i * MIN, open: p, high: p, low: p, close: p, volume: '12.34567890', quoteVolume: '740740.12345678', takerBuyVolume: '6.17283945', tradeCount: 321, vwap: p, closed: true, source: 'trades', revision: 0 };
  });
}

/** autocannon in its own process, so the load generator does not share the server's event loop. */
function autocannon(url: string, seconds: number): Promise<{ rps: number; p50: number; p99: number; errors: number; non2xx: number }> {
  const bin = join(dirname(createRequire(import.meta.url).resolve('autocannon/package.json')), 'autocannon.js');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [bin, '-c', String(CONNECTIONS), '-d', String(seconds), '-j', url], { maxBuffer: 1 << 26 }, (err, stdout) => {
      if (err) return reject(err);
      const r = JSON.parse(stdout) as { requests: { average: number }; latency: { p50: number; p99: number }; errors: number; non2xx: number };
      resolve({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx });
    });
  });
}

function dirname(p: string): string {
  return p.slice(0, p.lastIndexOf('/'));
}

async function redisUp(url: string): Promise<RedisLink | null> {
  const metrics = createMetrics(createRegistry({ defaults: false }));
  const link = new RedisLink({ url, keyPrefix: `candlestack-bench-${process.pid}:`, timeoutMs: 1_000, breaker: new CircuitBreaker('cache', { failureThreshold: 5, openMs: 1_000, halfOpenProbes: 1 }, systemClock), clock: systemClock, metrics: metrics.cache, log: silentLogger() });
  await link.start();
  if (link.client.isReady) return link;
  await link.stop();
  return null;
}

export async function benchServeCache(seconds = 10, redisUrl = 'redis://127.0.0.1:6379'): Promise<ServeCacheResult> {
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-bench-serve-'));
  const store = new SqliteStore(join(dir, 'bench.db'));
  await store.upsert(candles(2_000));
  const markets = new Markets([{ exchange: 'binance', symbols: ['BTC-USDT'], timeframes: ['1m'], codec: binance.symbols }]);
  const log = silentLogger();
  const link = await redisUp(redisUrl);
  const cases: { name: string; backend: () => CacheBackend | null }[] = [
    { name: 'cache off (store path)', backend: () => null },
    { name: 'cache cold (lookup misses, store path)', backend: () => new MemoryCache({ maxBytes: 1024, clock: systemClock }) },
    { name: 'cache hot, in-process LRU', backend: () => new MemoryCache({ maxBytes: 64 << 20, clock: systemClock }) },
    ...(link ? [{ name: 'cache hot, Redis', backend: () => new RedisCache({ link, clock: systemClock }) }] : []),
  ];
  const path = `/api/candles?exchange=binance&symbol=BTC-USDT&timeframe=1m&from=${T0}&to=${T0 + 499 * MIN}&limit=500`;
  const results: ServeCaseResult[] = [];
  let bodyBytes = 0;
  try {
    for (const c of cases) {
      const metrics = createMetrics(createRegistry({ defaults: false }));
      const backend = c.backend();
      const cache = backend ? new ReadCache({ backend, clock: systemClock, metrics: metrics.cache, log, ttlMs: 3_600_000, settleMs: 10_000 }) : null;
      const live = new LiveHub({ markets, metrics: metrics.api, log, clock: systemClock });
      const api = new ApiServer({ host: '127.0.0.1', port: 0, store, markets, live, registry: metrics.registry, metrics: metrics.api, clock: systemClock, log, version: 'bench', cache, health: { feeds: () => [], staleAfterMs: 10_000, store: { kind: store.kind, isOpen: () => true, queueDepth: () => 0 }, bus: { kind: 'memory' }, backfillPending: () => 0, startedAt: Date.now() } });
      await api.start();
      try {
        const url = `http://127.0.0.1:${api.port}${path}`;
        const first = await fetch(url);
        const body = await first.text();
        bodyBytes = Buffer.byteLength(body);
        if (JSON.parse(body).count !== 500) throw new Error(`expected 500 candles, got ${JSON.parse(body).count}`);
        await new Promise((r) => setTimeout(r, 50)); // the hot cases' first set lands
        await autocannon(url, 1); // warm-up
        const r = await autocannon(url, seconds);
        results.push({ name: c.name, ...r });
        console.error(`${c.name}: ${Math.round(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, errors ${r.errors}, non-2xx ${r.non2xx}`);
      } finally {
        await api.stop();
      }
    }
  } finally {
    if (link) {
      for await (const keys of link.client.scanIterator({ MATCH: `${link.keyPrefix}*` })) if (keys.length) await link.client.del(keys);
      await link.stop();
    }
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const off = results[0]!.rps;
  const hot = results.find((r) => r.name.includes('hot, in-process'))!.rps;
  return { cases: results, bodyBytes, ratio: hot / off, redis: link ? redisUrl : null };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' } } });
  const r = await benchServeCache(Number(values.seconds));
  console.log(JSON.stringify(r, null, 2));
}
