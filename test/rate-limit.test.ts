/**
 * Rate limits (src/api/rate-limit.ts): the token bucket on a fake clock; over HTTP the N+1th request of a
 * burst is a 429 with a JSON body, Retry-After and RateLimit-* headers, counted per route; /healthz and
 * /readyz are never limited; /metrics and /ws connects have budgets of their own; an API key is a client of
 * its own and an unknown key a 401; X-Forwarded-For counts only with trustProxy; with Redis two limiters (two
 * serve instances) draw from one budget (real Redis on 127.0.0.1:6379).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { FallbackBuckets, MemoryBuckets, RateLimiter, RedisBuckets } from '../src/api/rate-limit.js';
import { RedisLink } from '../src/api/redis-link.js';
import { systemClock } from '../src/core/clock.js';
import { CircuitBreaker } from '../src/core/circuit-breaker.js';
import { RATE_LIMIT_DEFAULTS, type RateLimitGroup, type TokenBucketSettings } from '../src/config/serve-config.js';
import { startTestApi } from './support/api.js';
import { FakeClock } from './support/fake-clock.js';
import { log, skipUnlessAvailable, testMetrics } from './support/harness.js';
import { metricValue as counterValue } from './support/metrics.js';
import { redisAvailable, REDIS_URL } from './support/redis.js';

const KEY = 'k'.repeat(20);
const OTHER_KEY = 'o'.repeat(20);

function limiterFor(metrics: ReturnType<typeof testMetrics>, limits: Partial<Record<RateLimitGroup, TokenBucketSettings | null>>, o: { trustProxy?: boolean; apiKeys?: string[]; buckets?: MemoryBuckets | RedisBuckets | FallbackBuckets } = {}) {
  return new RateLimiter({
    limits: { reads: null, metrics: null, ws: null, writes: null, ...limits },
    apiKeys: o.apiKeys ?? [],
    trustProxy: o.trustProxy ?? false,
    buckets: o.buckets ?? new MemoryBuckets(systemClock),
    metrics: metrics.limits,
  });
}

test('token bucket: a burst, then the refill rate', async () => {
  const clock = new FakeClock(0);
  const b = new MemoryBuckets(clock);
  const bucket = { rate: 2, burst: 3 };
  const taken = [];
  for (let i = 0; i < 4; i++) taken.push(b.takeNow('x', bucket));
  assert.deepEqual(taken.map((d) => d.allowed), [true, true, true, false]);
  assert.deepEqual(taken.map((d) => d.remaining), [2, 1, 0, 0]);
  assert.equal(taken[3]!.retryAfterMs, 500, 'one token comes back after 1/rate s');
  assert.equal(taken[3]!.resetMs, 1500, 'full again after burst/rate s');
  clock.advance(499);
  assert.equal(b.takeNow('x', bucket).allowed, false);
  clock.advance(2);
  assert.equal(b.takeNow('x', bucket).allowed, true, 'a token after 500 ms');
  assert.equal(b.takeNow('y', bucket).allowed, true, 'another client has its own bucket');
  clock.advance(10_000);
  assert.equal(b.takeNow('x', bucket).remaining, 2, 'never more than the burst');
});

test('token bucket: the key map is bounded', () => {
  const b = new MemoryBuckets(new FakeClock(0), 3);
  for (const k of ['a', 'b', 'c', 'd']) b.takeNow(k, { rate: 1, burst: 1 });
  assert.equal(b.size, 3);
});

test('HTTP: the N+1th request of a burst is a 429 with Retry-After and RateLimit-* headers; health probes never limited', async () => {
  const metrics = testMetrics();
  const t = await startTestApi({ metrics, limiter: limiterFor(metrics, { reads: { rate: 0.5, burst: 5 } }) });
  try {
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${t.url}/api/symbols`);
      assert.equal(r.status, 200, `request ${i + 1}`);
      assert.equal(r.headers.get('ratelimit-limit'), '5');
      assert.equal(r.headers.get('ratelimit-remaining'), String(4 - i));
      await r.arrayBuffer();
    }
    const over = await fetch(`${t.url}/api/candles?symbol=BTC-USDT`);
    assert.equal(over.status, 429);
    assert.match(over.headers.get('content-type')!, /application\/json/);
    const body = (await over.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'rate_limited');
    assert.match(body.error.message, /reads/);
    assert.equal(over.headers.get('retry-after'), '2', 'one token per 2 s');
    assert.equal(over.headers.get('ratelimit-remaining'), '0');
    assert.equal(over.headers.get('ratelimit-limit'), '5');
    assert.ok(Number(over.headers.get('ratelimit-reset')) >= 9);
    for (let i = 0; i < 50; i++) {
      assert.equal((await fetch(`${t.url}/healthz`)).status, 200);
      assert.notEqual((await fetch(`${t.url}/readyz`)).status, 429);
    }
    assert.equal((await fetch(`${t.url}/metrics`)).status, 200, '/metrics has its own group (unlimited here)');
    assert.equal(await counterValue(metrics.registry, 'candlestack_rate_limit_exceeded_total', { route: '/api/candles' }), 1);
  } finally {
    await t.close();
  }
});

test('HTTP: with the default limits a burst of 2,000 requests from one address sees 429s', async () => {
  const metrics = testMetrics();
  const t = await startTestApi({ metrics, limiter: limiterFor(metrics, RATE_LIMIT_DEFAULTS) });
  try {
    const statuses = new Map<number, number>();
    for (let batch = 0; batch < 20; batch++) {
      const rs = await Promise.all(Array.from({ length: 100 }, () => fetch(`${t.url}/api/symbols`).then(async (r) => (await r.arrayBuffer(), r.status))));
      for (const s of rs) statuses.set(s, (statuses.get(s) ?? 0) + 1);
    }
    assert.ok((statuses.get(429) ?? 0) > 1000, `most of the burst refused: ${JSON.stringify([...statuses])}`);
    assert.ok((statuses.get(200) ?? 0) >= 100, 'the burst allowance went through');
  } finally {
    await t.close();
  }
});

test('HTTP: /metrics and /ws connects have budgets of their own', async () => {
  const metrics = testMetrics();
  const t = await startTestApi({ metrics, limiter: limiterFor(metrics, { reads: { rate: 0.01, burst: 1 }, metrics: { rate: 0.01, burst: 2 }, ws: { rate: 0.01, burst: 1 } }) });
  try {
    assert.equal((await fetch(`${t.url}/api/symbols`)).status, 200);
    assert.equal((await fetch(`${t.url}/api/symbols`)).status, 429);
    assert.equal((await fetch(`${t.url}/metrics`)).status, 200);
    assert.equal((await fetch(`${t.url}/metrics`)).status, 200);
    assert.equal((await fetch(`${t.url}/metrics`)).status, 429);
    const first = new WebSocket(`${t.wsUrl}/ws`);
    await new Promise((resolve, reject) => (first.once('open', resolve), first.once('error', reject)));
    const second = new WebSocket(`${t.wsUrl}/ws`);
    const refused = await new Promise<{ status: number; retryAfter: string | undefined; body: string }>((resolve, reject) => {
      second.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] as string | undefined, body }));
      });
      second.once('open', () => reject(new Error('second connect accepted')));
    });
    assert.equal(refused.status, 429);
    assert.ok(refused.retryAfter);
    assert.equal(JSON.parse(refused.body).error.code, 'rate_limited');
    first.close();
    assert.equal(await counterValue(metrics.registry, 'candlestack_rate_limit_exceeded_total', { route: '/ws' }), 1);
    assert.equal(await counterValue(metrics.registry, 'candlestack_rate_limit_exceeded_total', { route: '/metrics' }), 1);
  } finally {
    await t.close();
  }
});

test('HTTP: an API key is a client of its own; an unknown key is a 401', async () => {
  const metrics = testMetrics();
  const t = await startTestApi({ metrics, limiter: limiterFor(metrics, { reads: { rate: 0.01, burst: 1 } }, { apiKeys: [KEY, OTHER_KEY] }) });
  try {
    assert.equal((await fetch(`${t.url}/api/symbols`)).status, 200);
    assert.equal((await fetch(`${t.url}/api/symbols`)).status, 429, 'the address spent its budget');
    const keyed = (k: string) => fetch(`${t.url}/api/symbols`, { headers: { authorization: `Bearer ${k}` } });
    assert.equal((await keyed(KEY)).status, 200, 'the key has its own budget');
    assert.equal((await keyed(KEY)).status, 429);
    assert.equal((await keyed(OTHER_KEY)).status, 200, 'each key its own');
    const bad = await keyed('not-a-configured-key-at-all');
    assert.equal(bad.status, 401);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'unauthorized');
    assert.equal(bad.headers.get('www-authenticate'), 'Bearer');
  } finally {
    await t.close();
  }
});

test('HTTP: X-Forwarded-For names the client only with trustProxy', async () => {
  for (const trustProxy of [false, true]) {
    const metrics = testMetrics();
    const t = await startTestApi({ metrics, limiter: limiterFor(metrics, { reads: { rate: 0.01, burst: 1 } }, { trustProxy }) });
    try {
      const from = (ip: string) => fetch(`${t.url}/api/symbols`, { headers: { 'x-forwarded-for': `${ip}, 10.0.0.1` } }).then((r) => r.status);
      assert.equal(await from('203.0.113.1'), 200);
      assert.equal(await from('203.0.113.2'), trustProxy ? 200 : 429, trustProxy ? 'another forwarded client' : 'the header is ignored: same socket address');
    } finally {
      await t.close();
    }
  }
});

test('Redis: two limiters (two serve instances) share one budget', async (t) => {
  const skip = skipUnlessAvailable(await redisAvailable(), `no Redis at ${REDIS_URL}`);
  if (skip) return t.skip(skip);
  const links = [0, 1].map(() => {
    const metrics = testMetrics();
    return { metrics, link: new RedisLink({ url: REDIS_URL, timeoutMs: 1000, breaker: new CircuitBreaker('cache', { failureThreshold: 5, openMs: 1000, halfOpenProbes: 1 }, systemClock), clock: systemClock, metrics: metrics.cache, log }) };
  });
  const prefix = `candlestack-test:${randomUUID()}:`;
  const apis = await Promise.all(
    links.map(({ metrics, link }) => {
      link.start();
      const buckets = new FallbackBuckets(new RedisBuckets(link, prefix), new MemoryBuckets(systemClock));
      return startTestApi({ metrics, limiter: limiterFor(metrics, { reads: { rate: 0.01, burst: 6 } }, { buckets }) });
    }),
  );
  try {
    for (const { link } of links) while (!link.client.isReady) await new Promise((r) => setTimeout(r, 20));
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await fetch(`${apis[i % 2]!.url}/api/symbols`)).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 429, 429], 'six requests in all, alternating between the instances');
    assert.equal(await counterValue(apis[0]!.metrics.registry, 'candlestack_cache_errors_total', { operation: 'rate_limit' }), 0);
  } finally {
    await Promise.all(apis.map((a) => a.close()));
    const cleanup = links[0]!.link.client;
    for await (const keys of cleanup.scanIterator({ MATCH: `${prefix}*` })) if (keys.length) await cleanup.del(keys);
    await Promise.all(links.map(({ link }) => link.stop()));
  }
});
