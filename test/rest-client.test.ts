/** RestClient against a local node:http server (127.0.0.1, port 0): rate limits, retries, errors. */
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock } from '../src/core/clock.js';
import { ExchangeRequestError } from '../src/core/errors.js';
import { RestClient, parseRetryAfter, type RestClientOptions } from '../src/feed/rest-client.js';
import type { Metrics } from '../src/telemetry/metrics.js';
import { log, testMetrics } from './support/harness.js';
import { metricValue } from './support/metrics.js';

type Reply = (req: IncomingMessage, res: ServerResponse) => void;

interface TestServer {
  url: string;
  port: number;
  requests: { at: number; url: string }[];
  close(): Promise<void>;
}

/** Answers the n-th request with replies[n] (the last one repeats). */
async function startServer(t: TestContext, replies: Reply[]): Promise<TestServer> {
  const requests: TestServer['requests'] = [];
  const server = createServer((req, res) => {
    const reply = replies[Math.min(requests.length, replies.length - 1)]!;
    requests.push({ at: Date.now(), url: req.url ?? '' });
    reply(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  t.after(close);
  return { url: `http://127.0.0.1:${port}/api/v3/klines?symbol=BTCUSDT`, port, requests, close };
}

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Reply =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

function client(overrides: Partial<RestClientOptions> = {}): { rest: RestClient; metrics: Metrics } {
  const metrics = testMetrics();
  const rest = new RestClient({
    exchange: 'binance',
    clock: systemClock,
    metrics: metrics.feed,
    log,
    attempts: 4,
    timeoutMs: 2_000,
    backoff: { initialMs: 20, maxMs: 100 },
    maxWaitMs: 5_000,
    ...overrides,
  });
  return { rest, metrics };
}

/**
 * systemClock timers are unref'd, so a retry sleep alone does not keep the process alive (the app always has
 * its API server open); hold the event loop open while a test has no other handle.
 */
function keepAlive(t: TestContext): void {
  const handle = setInterval(() => undefined, 1_000);
  t.after(() => clearInterval(handle));
}

describe('RestClient', () => {
  test('200: returns the parsed JSON body', async (t) => {
    const server = await startServer(t, [json(200, [[1, '2'], [3, '4']])]);
    const { rest, metrics } = client();
    assert.deepEqual(await rest.getJson(server.url), [[1, '2'], [3, '4']]);
    assert.equal(server.requests.length, 1);
    assert.equal(server.requests[0]!.url, '/api/v3/klines?symbol=BTCUSDT');
    assert.equal(rest.rateLimitedUntil, 0);
    assert.equal(await metricValue(metrics, 'candlestack_rest_requests_total', { exchange: 'binance', status: '200' }), 1);
  });

  for (const status of [429, 418]) {
    test(`${status} with Retry-After: 1 waits ~1 s, then succeeds`, async (t) => {
      const server = await startServer(t, [json(status, { code: -1003, msg: 'Too many requests' }, { 'retry-after': '1' }), json(200, { ok: true })]);
      const { rest, metrics } = client();
      const started = Date.now();
      const result = await rest.getJson(server.url);
      const elapsed = Date.now() - started;
      assert.deepEqual(result, { ok: true });
      assert.equal(server.requests.length, 2);
      const spacing = server.requests[1]!.at - server.requests[0]!.at;
      assert.ok(spacing >= 950, `retried after ${spacing} ms; Retry-After asked for 1000`);
      assert.ok(elapsed < 2500, `took ${elapsed} ms`);
      assert.ok(rest.rateLimitedUntil >= server.requests[0]!.at + 950 && rest.rateLimitedUntil <= server.requests[1]!.at + 50, 'rateLimitedUntil is ~1 s after the rate-limited answer');
      assert.equal(await metricValue(metrics, 'candlestack_rest_rate_limited_total', { exchange: 'binance', status: String(status) }), 1);
      assert.equal(await metricValue(metrics, 'candlestack_rest_requests_total', { status: String(status) }), 1);
      assert.equal(await metricValue(metrics, 'candlestack_rest_requests_total', { status: '200' }), 1);
    });
  }

  test('a Retry-After longer than maxWaitMs fails fast, and keeps the client blocked', async (t) => {
    const server = await startServer(t, [json(429, { msg: 'banned' }, { 'retry-after': '120' }), json(200, { ok: true })]);
    const { rest, metrics } = client({ maxWaitMs: 5_000 });
    const started = Date.now();
    await assert.rejects(rest.getJson(server.url), (err: unknown) => {
      assert.ok(err instanceof ExchangeRequestError, `got ${String(err)}`);
      assert.equal(err.status, 429);
      assert.equal(err.code, 'exchange_request_failed');
      return true;
    });
    assert.ok(Date.now() - started < 1000, 'failed fast');
    assert.equal(server.requests.length, 1);
    assert.ok(rest.rateLimitedUntil >= started + 119_000, 'blocked for the Retry-After');
    assert.equal(await metricValue(metrics, 'candlestack_rest_rate_limited_total', { status: '429' }), 1);

    // another request from the same client does not hit the server while blocked
    await assert.rejects(rest.getJson(server.url), ExchangeRequestError);
    assert.equal(server.requests.length, 1);
  });

  test('500 then 200: retried with backoff', async (t) => {
    const server = await startServer(t, [json(500, { msg: 'oops' }), json(200, { ok: 1 })]);
    const { rest, metrics } = client({ backoff: { initialMs: 100, maxMs: 400 }, random: () => 1 });
    assert.deepEqual(await rest.getJson(server.url), { ok: 1 });
    assert.equal(server.requests.length, 2);
    const spacing = server.requests[1]!.at - server.requests[0]!.at;
    assert.ok(spacing >= 95 && spacing < 1000, `retried after ${spacing} ms (backoff 100 ms)`);
    assert.equal(await metricValue(metrics, 'candlestack_rest_requests_total', { status: '500' }), 1);
    assert.equal(await metricValue(metrics, 'candlestack_rest_rate_limited_total'), 0);
    assert.equal(rest.rateLimitedUntil, 0);
  });

  test('5xx every time: gives up after `attempts` with ExchangeRequestError', async (t) => {
    const server = await startServer(t, [json(503, { msg: 'down' })]);
    const { rest } = client({ attempts: 3 });
    await assert.rejects(rest.getJson(server.url), (err: unknown) => {
      assert.ok(err instanceof ExchangeRequestError);
      assert.match(err.message, /after 3 attempts/);
      assert.ok(err.cause instanceof ExchangeRequestError && err.cause.status === 503, 'cause is the last 503');
      return true;
    });
    assert.equal(server.requests.length, 3);
  });

  test('400: ExchangeRequestError without retry', async (t) => {
    const server = await startServer(t, [json(400, { code: -1121, msg: 'Invalid symbol.' })]);
    const { rest, metrics } = client();
    await assert.rejects(rest.getJson(server.url), (err: unknown) => {
      assert.ok(err instanceof ExchangeRequestError);
      assert.equal(err.status, 400);
      assert.match(err.message, /400/);
      assert.match(err.message, /Invalid symbol/);
      return true;
    });
    assert.equal(server.requests.length, 1, 'not retried');
    assert.equal(await metricValue(metrics, 'candlestack_rest_requests_total', { status: '400' }), 1);
  });

  test('network error (closed port): retries, then ExchangeRequestError with the cause', async (t) => {
    const server = await startServer(t, [json(200, {})]);
    await server.close();
    keepAlive(t);
    const { rest, metrics } = client({ attempts: 3 });
    const started = Date.now();
    await assert.rejects(rest.getJson(server.url), (err: unknown) => {
      assert.ok(err instanceof ExchangeRequestError, `got ${String(err)}`);
      assert.equal(err.status, undefined);
      assert.ok(err.cause instanceof Error, 'carries the network error as cause');
      return true;
    });
    assert.ok(Date.now() - started < 3000);
    assert.equal(await metricValue(metrics, 'candlestack_rest_requests_total', { exchange: 'binance', status: 'error' }), 3);
  });

  test('a server that never answers times out and is retried', async (t) => {
    const server = await startServer(t, [() => undefined]);
    keepAlive(t);
    const { rest } = client({ attempts: 2, timeoutMs: 150 });
    const started = Date.now();
    await assert.rejects(rest.getJson(server.url), (err: unknown) => {
      assert.ok(err instanceof ExchangeRequestError);
      assert.ok(err.cause instanceof Error);
      return true;
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 290 && elapsed < 2000, `took ${elapsed} ms`);
    assert.equal(server.requests.length, 2);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2024, 0, 1, 12, 0, 0);

  test('delta-seconds', () => {
    assert.equal(parseRetryAfter('1', now), 1000);
    assert.equal(parseRetryAfter('0', now), 0);
    assert.equal(parseRetryAfter('120', now), 120_000);
  });

  test('HTTP-date', () => {
    assert.equal(parseRetryAfter(new Date(now + 30_000).toUTCString(), now), 30_000);
    assert.equal(parseRetryAfter('Mon, 01 Jan 2024 12:01:00 GMT', now), 60_000);
    assert.equal(parseRetryAfter('Mon, 01 Jan 2024 11:00:00 GMT', now), 0, 'a date in the past means no wait');
  });

  test('missing or unparseable', () => {
    assert.equal(parseRetryAfter(null, now), undefined);
    assert.equal(parseRetryAfter('', now), undefined);
    assert.equal(parseRetryAfter('soon', now), undefined);
  });
});
