/**
 * The read API's cache (src/api/cache/): the byte-bounded LRU; over HTTP a closed range is a miss then a hit
 * with the same body, the forming candle and unsettled ranges are never cached, a correction drops exactly
 * the entries whose range contains it; the same against real Redis (127.0.0.1:6379); and a private
 * redis-server killed mid-run: answers keep coming from the store, the `cache` breaker opens, and closes
 * again once Redis is back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { MemoryCache } from '../src/api/cache/memory.js';
import { ReadCache } from '../src/api/cache/read-cache.js';
import { RedisCache } from '../src/api/cache/redis.js';
import { anyIn, type CacheBackend } from '../src/api/cache/backend.js';
import { RedisLink } from '../src/api/redis-link.js';
import { systemClock } from '../src/core/clock.js';
import type { Candle } from '../src/core/types.js';
import { instrumentedBreaker } from '../src/telemetry/breaker-metrics.js';
import { startTestApi, type TestApi } from './support/api.js';
import { FakeClock } from './support/fake-clock.js';
import { log, skipUnlessAvailable, testMetrics, until } from './support/harness.js';
import { metricValue } from './support/metrics.js';
import { PrivateRedis, REDIS_URL, redisAvailable, redisServerInstalled } from './support/redis.js';
import { candle, MIN, T0 } from './support/store-contract.js';

type TestMetrics = ReturnType<typeof testMetrics>;

function redisLink(url: string, metrics: TestMetrics, breaker = { failureThreshold: 3, openMs: 500, halfOpenProbes: 1 }, timeoutMs = 200) {
  return new RedisLink({ url, timeoutMs, breaker: instrumentedBreaker('cache', breaker, { clock: systemClock, metrics: metrics.breakers, log }), clock: systemClock, metrics: metrics.cache, log });
}

async function connected(link: RedisLink): Promise<void> {
  link.start();
  await until('Redis connected', () => link.client.isReady, 10_000, { pollMs: 20 });
}

/** An API over an in-memory store holding 500 closed 1m candles from T0, with the cache in front. */
async function cachedApi(backend: CacheBackend, metrics = testMetrics(), settleMs = 1_000) {
  const cache = new ReadCache({ backend, clock: systemClock, metrics: metrics.cache, log, ttlMs: 60_000, settleMs });
  const t = await startTestApi({ metrics, cache });
  await t.store.upsert(Array.from({ length: 500 }, (_, i) => candle(T0 + i * MIN, { close: `${100 + i}.00000000` })));
  return { t, cache, metrics };
}

async function get(t: TestApi, query: string): Promise<{ status: number; cache: string | null; body: string }> {
  const r = await fetch(`${t.url}${query}`);
  return { status: r.status, cache: r.headers.get('x-cache'), body: await r.text() };
}

const range = (from: number, to: number) => `/api/candles?symbol=BTC-USDT&timeframe=1m&from=${from}&to=${to}&limit=1000`;
const correction = (c: Candle) => ({ type: 'candle' as const, kind: 'correction' as const, candle: c });

test('anyIn: a sorted list has a value in [from, to]', () => {
  assert.equal(anyIn([1, 5, 9], 2, 4), false);
  assert.equal(anyIn([1, 5, 9], 2, 5), true);
  assert.equal(anyIn([1, 5, 9], null, 1), true);
  assert.equal(anyIn([1, 5, 9], 10, 20), false);
  assert.equal(anyIn([], null, 20), false);
});

test('MemoryCache: bounded by bytes, least recently used evicted first; invalidation drops exactly the ranges containing a time', async () => {
  const clock = new FakeClock(0);
  let evicted = 0;
  const m = new MemoryCache({ maxBytes: 300, clock, onEvict: (n) => (evicted += n) });
  const body = 'x'.repeat(90);
  await m.set('a', body, { series: 's', from: 0, to: 10 }, 1_000);
  await m.set('b', body, { series: 's', from: 20, to: 30 }, 1_000);
  await m.set('c', body, { series: 's', from: null, to: 40 }, 1_000);
  assert.equal(m.sizeBytes(), 273);
  await m.get('a'); // a is now the most recently used
  await m.set('d', body, { series: 't', from: 0, to: 10 }, 1_000);
  assert.equal(evicted, 1);
  assert.equal(await m.get('b'), null, 'b was the least recently used');
  assert.equal(await m.get('a'), body);
  assert.ok(m.sizeBytes() <= 300);
  assert.equal(await m.invalidate('s', [15]), 1, 'only c ([-inf, 40]) contains 15');
  assert.equal(await m.get('a'), body);
  assert.equal(await m.invalidate('s', [5]), 1);
  assert.equal(await m.get('d'), body, 'another series is untouched');
  await m.set('big', 'y'.repeat(400), { series: 's', from: 0, to: 1 }, 1_000);
  assert.equal(await m.get('big'), null, 'larger than the bound: not kept');
  clock.advance(1_000);
  assert.equal(await m.get('d'), null, 'expired');
});

async function hitMissInvalidate(backend: CacheBackend) {
  const { t, cache, metrics } = await cachedApi(backend);
  try {
    const early = range(T0, T0 + 99 * MIN);
    const late = range(T0 + 200 * MIN, T0 + 299 * MIN);
    const first = await get(t, early);
    assert.equal(first.status, 200);
    assert.equal(first.cache, 'miss');
    assert.equal(JSON.parse(first.body).count, 100);
    await until('stored', async () => (await get(t, early)).cache === 'hit', 5_000, { pollMs: 10 });
    const hit = await get(t, early);
    assert.equal(hit.body, first.body, 'a hit sends the same bytes');
    assert.equal((await get(t, late)).cache, 'miss');
    await until('late stored', async () => (await get(t, late)).cache === 'hit', 5_000, { pollMs: 10 });
    assert.ok((await metricValue(metrics, 'candlestack_cache_hits_total', { route: '/api/candles' })) >= 2);
    assert.ok((await metricValue(metrics, 'candlestack_cache_misses_total', { route: '/api/candles' })) >= 2);

    // A correction at T0 + 50 min: the store has it, the event drops the early range only.
    const fixed = candle(T0 + 50 * MIN, { close: '999.00000000', revision: 1, source: 'backfill' });
    await t.store.upsert([fixed]);
    cache.onCandle(correction(fixed));
    await cache.drain();
    assert.equal(await metricValue(metrics, 'candlestack_cache_invalidated_keys_total'), 1);
    assert.equal((await get(t, late)).cache, 'hit', 'a range without the corrected candle stays cached');
    const after = await get(t, early);
    assert.equal(after.cache, null, 'within the settle window the corrected range is not cached: answered from the store');
    assert.equal(JSON.parse(after.body).candles[50].close, '999.00000000');
    return { t, metrics };
  } catch (err) {
    await t.close();
    throw err;
  }
}

test('HTTP, in-process LRU: miss then hit, a correction drops exactly the affected entry', async () => {
  const { t } = await hitMissInvalidate(new MemoryCache({ maxBytes: 10 * 1024 * 1024, clock: systemClock }));
  await t.close();
});

test('HTTP: the forming candle, an open range and an unsettled range are never cached', async () => {
  const { t, metrics } = await cachedApi(new MemoryCache({ maxBytes: 10 * 1024 * 1024, clock: systemClock }));
  try {
    const now = Date.now();
    const minute = now - (now % MIN);
    await t.store.upsert([candle(minute - MIN), candle(minute, { closed: false })]);
    for (const q of [
      `/api/candles?symbol=BTC-USDT&timeframe=1m&from=${minute - MIN}&to=${minute}`, // to is the forming period
      `/api/candles?symbol=BTC-USDT&timeframe=1m&from=${T0}`, // no to: the latest candles
      `/api/candles?symbol=BTC-USDT&timeframe=1m`,
    ]) {
      for (let i = 0; i < 3; i++) assert.equal((await get(t, q)).cache, null, q);
    }
    // A closed, settled range whose stored rows include a forming candle (a writer still catching up) is not kept.
    await t.store.upsert([candle(T0 + 600 * MIN, { closed: false })]);
    const q = range(T0 + 599 * MIN, T0 + 600 * MIN);
    assert.equal((await get(t, q)).cache, 'miss');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await get(t, q)).cache, 'miss');
    assert.equal(await metricValue(metrics, 'candlestack_cache_hits_total'), 0);
  } finally {
    await t.close();
  }
});

test('HTTP: /api/indicators goes through the cache too', async () => {
  const metrics = testMetrics();
  const cache = new ReadCache({ backend: new MemoryCache({ maxBytes: 1 << 20, clock: systemClock }), clock: systemClock, metrics: metrics.cache, log, ttlMs: 60_000, settleMs: 0 });
  const t = await startTestApi({ metrics, cache, indicatorNames: ['sma2'] });
  try {
    await t.store.upsertIndicators([{ exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', openTime: T0, name: 'sma2', values: { value: 1 } }]);
    const q = `/api/indicators?symbol=BTC-USDT&timeframe=1m&from=${T0}&to=${T0 + MIN}`;
    assert.equal((await get(t, q)).cache, 'miss');
    await until('stored', async () => (await get(t, q)).cache === 'hit', 5_000, { pollMs: 10 });
    await t.store.upsertIndicators([{ exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', openTime: T0, name: 'sma2', values: { value: 2 } }]);
    cache.onIndicator({ type: 'indicator', kind: 'correction', exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', openTime: T0, values: { sma2: { value: 2 } } });
    await cache.drain();
    const fresh = await get(t, q);
    assert.equal(fresh.cache, 'miss');
    assert.equal(JSON.parse(fresh.body).indicators[0].values.sma2.value, 2);
  } finally {
    await t.close();
  }
});

test('HTTP: /api/features goes through the cache too; a candle correction in the range drops it', async () => {
  const metrics = testMetrics();
  const cache = new ReadCache({ backend: new MemoryCache({ maxBytes: 1 << 20, clock: systemClock }), clock: systemClock, metrics: metrics.cache, log, ttlMs: 60_000, settleMs: 0 });
  const t = await startTestApi({ metrics, cache });
  try {
    const row = (ret1: number) => ({ exchange: 'binance' as const, symbol: 'BTC-USDT', timeframe: '1m' as const, openTime: T0, close: 100, values: { ret1 } });
    await t.store.assistant!.upsertFeatures([row(0.5)]);
    const q = `/api/features?symbol=BTC-USDT&timeframe=1m&from=${T0}&to=${T0 + MIN}`;
    assert.equal((await get(t, q)).cache, 'miss');
    await until('stored', async () => (await get(t, q)).cache === 'hit', 5_000, { pollMs: 10 });
    assert.equal(await metricValue(metrics, 'candlestack_cache_hits_total', { route: '/api/features' }), 1);
    await t.store.assistant!.upsertFeatures([row(0.25)]);
    cache.onCandle(correction(candle(T0)));
    await cache.drain();
    const fresh = await get(t, q);
    assert.equal(fresh.cache, 'miss');
    assert.equal(JSON.parse(fresh.body).features[0].values.ret1, 0.25);
    assert.equal((await get(t, '/api/features?symbol=BTC-USDT&timeframe=1m&limit=x')).status, 400, 'the parameter rules are unchanged');
  } finally {
    await t.close();
  }
});

test('HTTP, Redis: miss then hit, a correction drops exactly the affected key', async (ctx) => {
  const skip = skipUnlessAvailable(await redisAvailable(), `no Redis at ${REDIS_URL}`);
  if (skip) return ctx.skip(skip);
  const metrics = testMetrics();
  const link = redisLink(REDIS_URL, metrics);
  await connected(link);
  const prefix = `candlestack-test:${randomUUID()}:`;
  try {
    const { t } = await hitMissInvalidate(new RedisCache({ link, clock: systemClock, prefix }));
    assert.equal(await metricValue(metrics, 'candlestack_cache_errors_total'), 0);
    await t.close();
  } finally {
    for await (const keys of link.client.scanIterator({ MATCH: `${prefix}*` })) if (keys.length) await link.client.del(keys);
    await link.stop();
  }
});

test('Redis killed mid-run: answers keep coming from the store, the breaker opens, then closes once Redis is back', async (ctx) => {
  const skip = skipUnlessAvailable(redisServerInstalled(), 'redis-server is not installed (Debian redis-server)');
  if (skip) return ctx.skip(skip);
  const redis = await PrivateRedis.start();
  const metrics = testMetrics();
  const link = redisLink(redis.url, metrics, { failureThreshold: 3, openMs: 300, halfOpenProbes: 1 });
  await connected(link);
  const { t } = await cachedApi(new RedisCache({ link, clock: systemClock }), metrics);
  const state = () => metricValue(metrics, 'candlestack_circuit_breaker_state', { component: 'cache' });
  try {
    const q = range(T0, T0 + 99 * MIN);
    const expected = (await get(t, q)).body;
    await until('cached', async () => (await get(t, q)).cache === 'hit', 5_000, { pollMs: 10 });

    await redis.kill();
    const statuses = new Set<number>();
    for (let i = 0; i < 30; i++) {
      const r = await get(t, q);
      statuses.add(r.status);
      assert.equal(r.body, expected, 'the same answer, from the store');
      assert.equal(r.cache, 'miss');
    }
    assert.deepEqual([...statuses], [200], 'never a 500');
    assert.equal(await state(), 1, 'the cache breaker is open');
    assert.ok((await metricValue(metrics, 'candlestack_cache_errors_total')) >= 3, 'the failed gets and sets are counted');
    assert.ok((await metricValue(metrics, 'candlestack_circuit_breaker_rejected_total', { component: 'cache' })) > 0, 'while open, Redis is not asked');

    await redis.restart();
    await until(
      'the breaker closed and the cache answers again',
      async () => {
        const r = await get(t, q);
        assert.equal(r.body, expected);
        return (await state()) === 0 && r.cache === 'hit';
      },
      15_000,
      { pollMs: 100 },
    );
    assert.equal(await metricValue(metrics, 'candlestack_circuit_breaker_transitions_total', { component: 'cache', from: 'half_open', to: 'closed' }) >= 1, true);
  } finally {
    await t.close();
    await link.stop();
    await redis.kill();
  }
});
