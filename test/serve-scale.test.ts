/**
 * Many `serve` instances (src/app/serve.ts) over one store, the Kafka mock cluster and real Redis: two
 * instances with one Redis answer the same bodies (the second hits what the first cached), draw from one rate
 * limit budget, and a correction published on candlestack_candles reaches both and drops the key; two
 * instances without a cache URL (in-process LRU each) each drop their own copy on the same correction.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { KafkaBus } from '../src/bus/kafka.js';
import { startServe } from '../src/app/serve.js';
import { systemClock } from '../src/core/clock.js';
import type { Candle } from '../src/core/types.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { kafkaMockUnavailable } from './support/kafka/mock-cluster.js';
import { kafkaFixture } from './support/roles-fixture.js';
import { log, skipUnlessAvailable, testMetrics, until } from './support/harness.js';
import { metricValue } from './support/metrics.js';
import { REDIS_URL, redisAvailable } from './support/redis.js';
import { candle, MIN, T0 } from './support/store-contract.js';
import { join } from 'node:path';

const Q = `/api/candles?exchange=binance&symbol=BTC-USDT&timeframe=1m&from=${T0}&to=${T0 + 499 * MIN}&limit=500`;

async function get(port: number, path: string) {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, cache: r.headers.get('x-cache'), remaining: r.headers.get('ratelimit-remaining'), body: await r.text() };
}

async function setup(t: { skip(reason: string): void }, needRedis: boolean) {
  const why = kafkaMockUnavailable();
  const skip = skipUnlessAvailable(why === undefined, why ?? '') || (needRedis && skipUnlessAvailable(await redisAvailable(), `no Redis at ${REDIS_URL}`));
  if (skip) {
    t.skip(skip);
    return null;
  }
  const fx = await kafkaFixture(16, { symbols: ['BTC-USDT'] });
  const path = join(fx.dir, 'roles.db');
  const store = new SqliteStore(path);
  await store.upsert(Array.from({ length: 500 }, (_, i) => candle(T0 + i * MIN, { close: `${100 + i}.00000000` })));
  await store.close();
  return { fx, path };
}

/** Publishes the correction on candlestack_candles until `done` (serve reads from the end: it must have joined first). */
async function correctUntil(brokers: string[], fixed: Candle, done: () => Promise<boolean>): Promise<void> {
  const producer = new KafkaBus({ brokers, clientId: 'test-correction', clock: systemClock, metrics: testMetrics(), log });
  try {
    await until('the correction to reach every serve instance', async () => {
      producer.publish('candle', { type: 'candle', kind: 'correction', candle: fixed });
      await producer.drain();
      return done();
    }, 30_000, { pollMs: 500 });
  } finally {
    await producer.stop();
  }
}

async function writeCorrection(path: string, fixed: Candle): Promise<void> {
  const store = new SqliteStore(path);
  await store.upsert([fixed]);
  await store.close();
}

test('two serve instances with one Redis: the same bodies, one rate limit budget, both drop the key on a correction', { timeout: 120_000 }, async (t) => {
  const s = await setup(t, true);
  if (!s) return;
  const keyPrefix = `candlestack-test-${randomUUID()}:`;
  const config = {
    ...s.fx.config,
    cache: { ...s.fx.config.cache, url: REDIS_URL, keyPrefix, settleMs: 0 },
    http: { ...s.fx.config.http, rateLimits: { reads: { rate: 0.01, burst: 1000 }, metrics: null, ws: null, writes: null } },
  };
  const deps = { clock: systemClock, log, version: 'test' };
  const a = await startServe(config, deps);
  const b = await startServe(config, deps);
  try {
    await until('both connected to Redis', async () => {
      const [ra, rb] = [await get(a.port, Q), await get(b.port, Q)];
      return ra.cache === 'hit' && rb.cache === 'hit';
    }, 15_000, { pollMs: 100 });
    const [ra, rb] = [await get(a.port, Q), await get(b.port, Q)];
    assert.equal(ra.body, rb.body, 'the same bytes from both instances');
    assert.equal(JSON.parse(ra.body).count, 500);

    // One budget: each request on either instance takes one token of the same bucket.
    const r1 = Number((await get(a.port, '/api/symbols')).remaining);
    const r2 = Number((await get(b.port, '/api/symbols')).remaining);
    const r3 = Number((await get(a.port, '/api/symbols')).remaining);
    assert.deepEqual([r2, r3], [r1 - 1, r1 - 2], 'the instances draw from one bucket');

    const fixed = candle(T0 + 123 * MIN, { close: '7.00000000', revision: 1, source: 'backfill' });
    await writeCorrection(s.path, fixed);
    const corrected = (body: string) => JSON.parse(body).candles[123].close === '7.00000000';
    await correctUntil(s.fx.cluster.brokers, fixed, async () => corrected((await get(a.port, Q)).body) && corrected((await get(b.port, Q)).body));
    assert.equal((await get(a.port, Q)).body, (await get(b.port, Q)).body, 'the same corrected bytes from both');
    const dropped = (await metricValue(a.metrics, 'candlestack_cache_invalidated_keys_total')) + (await metricValue(b.metrics, 'candlestack_cache_invalidated_keys_total'));
    assert.ok(dropped >= 1, 'the key was dropped by an instance (the other found it gone)');
    for (const m of [a.metrics, b.metrics]) assert.ok((await metricValue(m, 'candlestack_kafka_messages_consumed_total', { topic: 'candlestack_candles' })) >= 1, 'each instance consumed the correction');
    assert.equal(await metricValue(a.metrics, 'candlestack_cache_errors_total'), 0);
  } finally {
    await a.stop();
    await b.stop();
    const c = createClient({ url: REDIS_URL });
    await c.connect();
    for await (const keys of c.scanIterator({ MATCH: `${keyPrefix}*` })) if (keys.length) await c.del(keys);
    await c.close();
    await s.fx.cleanup();
  }
});

test('two serve instances without a cache URL: each drops its own copy when the correction arrives over Kafka', { timeout: 120_000 }, async (t) => {
  const s = await setup(t, false);
  if (!s) return;
  const config = { ...s.fx.config, cache: { ...s.fx.config.cache, settleMs: 0 }, http: { ...s.fx.config.http, rateLimits: { reads: null, metrics: null, ws: null, writes: null } } };
  const deps = { clock: systemClock, log, version: 'test' };
  const a = await startServe(config, deps);
  const b = await startServe(config, deps);
  try {
    for (const x of [a, b]) {
      assert.equal((await get(x.port, Q)).cache, 'miss');
      await until('cached', async () => (await get(x.port, Q)).cache === 'hit', 5_000, { pollMs: 20 });
    }
    const fixed = candle(T0 + 7 * MIN, { close: '8.00000000', revision: 1, source: 'trades' });
    await writeCorrection(s.path, fixed);
    await correctUntil(s.fx.cluster.brokers, fixed, async () => (await metricValue(a.metrics, 'candlestack_cache_invalidated_keys_total')) >= 1 && (await metricValue(b.metrics, 'candlestack_cache_invalidated_keys_total')) >= 1);
    for (const x of [a, b]) {
      const r = await get(x.port, Q);
      assert.equal(r.cache, 'miss', 'dropped: read from the store again');
      assert.equal(JSON.parse(r.body).candles[7].close, '8.00000000');
    }
  } finally {
    await a.stop();
    await b.stop();
    await s.fx.cleanup();
  }
});
