/**
 * The outgoing HTTP client (src/api/http-client.ts) against a local HTTP server: answers, timeouts, refused
 * connections, retries of a GET on 5xx, the breaker, and the per-target counters; and the RoleServer counting
 * its requests in the same SLA families as the ApiServer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpClient, HttpClientError } from '../src/api/http-client.js';
import { CircuitBreaker } from '../src/core/circuit-breaker.js';
import { systemClock } from '../src/core/clock.js';
import { createMetrics, createRegistry } from '../src/telemetry/metrics.js';
import { RoleServer } from '../src/app/role-server.js';
import { sendJson } from '../src/api/http.js';
import { metricValue } from './support/metrics.js';
import { freePort } from './support/net.js';

async function server(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ base: string; close: () => Promise<void> }> {
  const s = createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () => {
      s.closeAllConnections();
      return new Promise((r) => s.close(() => r()));
    },
  };
}

test('HttpClient: JSON answers with their status, query and headers sent, counted by target and outcome', async () => {
  const seen: { url?: string; auth?: string; body?: string }[] = [];
  const up = await server((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ url: req.url, auth: req.headers.authorization, body });
      res.writeHead(req.url?.startsWith('/missing') ? 404 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true }));
    });
  });
  const metrics = createMetrics(createRegistry({ defaults: false }));
  try {
    const client = new HttpClient({ target: 'decide', baseUrl: `${up.base}/`, timeoutMs: 10_000, metrics: metrics.api, headers: { authorization: 'Bearer k' } });
    const r = await client.get('/api/decision', { query: { symbol: 'BTC-USDT', skip: undefined } });
    assert.deepEqual([r.status, r.body], [200, { ok: true }]);
    assert.equal((await client.get('/missing')).status, 404);
    assert.equal((await client.post('/x', { a: 1 })).status, 200);
    assert.deepEqual(seen, [
      { url: '/api/decision?symbol=BTC-USDT', auth: 'Bearer k', body: '' },
      { url: '/missing', auth: 'Bearer k', body: '' },
      { url: '/x', auth: 'Bearer k', body: '{"a":1}' },
    ]);
    assert.equal(await metricValue(metrics, 'candlestack_http_client_requests_total', { target: 'decide', outcome: '200' }), 2);
    assert.equal(await metricValue(metrics, 'candlestack_http_client_requests_total', { target: 'decide', outcome: '404' }), 1);
    assert.equal(await metricValue(metrics, 'candlestack_http_client_request_duration_seconds_count', { target: 'decide' }), 3);
    // Failure outcomes exist at 0 from the start, so increase() sees the first one.
    assert.equal((await metricValue(metrics, 'candlestack_http_client_requests_total', { target: 'decide', outcome: 'timeout' })), 0);
  } finally {
    await up.close();
  }
});

test('HttpClient: a timeout and a refused connection are HttpClientErrors (timeout, error); a GET is retried on 5xx', async () => {
  let calls = 0;
  const up = await server((req, res) => {
    calls++;
    if (req.url === '/slow') return void setTimeout(() => res.end('{}'), 500);
    res.writeHead(calls < 3 ? 503 : 200);
    res.end('{"n":' + calls + '}');
  });
  const metrics = createMetrics(createRegistry({ defaults: false }));
  try {
    const client = new HttpClient({ target: 'serve', baseUrl: up.base, timeoutMs: 100, metrics: metrics.api, retries: 2, backoffMs: 5 });
    await assert.rejects(client.get('/slow', { timeoutMs: 50 }).then(() => undefined), (e: unknown) => e instanceof HttpClientError && e.failure === 'timeout' && /within 50 ms/.test(e.message));
    assert.equal(calls, 3, 'the timeout applies per attempt: the first try and both retries reached the server');
    calls = 0;
    const r = await client.get('/flaky');
    assert.deepEqual([r.status, r.body], [200, { n: 3 }]);
    assert.equal(await metricValue(metrics, 'candlestack_http_client_requests_total', { target: 'serve', outcome: '503' }), 2);
    assert.equal(await metricValue(metrics, 'candlestack_http_client_requests_total', { target: 'serve', outcome: 'timeout' }), 3);
    calls = 0;
    assert.equal((await client.post('/flaky', {})).status, 503, 'a POST is not retried');
  } finally {
    await up.close();
  }
  const down = new HttpClient({ target: 'serve', baseUrl: `http://127.0.0.1:${await freePort()}`, timeoutMs: 500, metrics: metrics.api });
  await assert.rejects(down.get('/'), (e: unknown) => e instanceof HttpClientError && e.failure === 'error' && e.code === 'upstream_error');
  assert.equal(await metricValue(metrics, 'candlestack_http_client_requests_total', { target: 'serve', outcome: 'error' }), 1);
});

test('HttpClient: the breaker opens after consecutive failures and refuses calls (circuit_open) without a request', async () => {
  const metrics = createMetrics(createRegistry({ defaults: false }));
  const breaker = new CircuitBreaker('llm', { failureThreshold: 2, openMs: 60_000, halfOpenProbes: 1 }, systemClock);
  const client = new HttpClient({ target: 'llm', baseUrl: `http://127.0.0.1:${await freePort()}`, timeoutMs: 500, metrics: metrics.api, breaker });
  for (let i = 0; i < 2; i++) await assert.rejects(client.get('/'), HttpClientError);
  assert.equal(breaker.state, 'open');
  await assert.rejects(client.get('/'), (e: unknown) => e instanceof HttpClientError && e.failure === 'circuit_open');
  assert.equal(await metricValue(metrics, 'candlestack_http_client_requests_total', { target: 'llm', outcome: 'circuit_open' }), 1);
  assert.equal(await metricValue(metrics, 'candlestack_http_client_requests_total', { target: 'llm', outcome: 'error' }), 2);
});

test('RoleServer counts every request in candlestack_http_requests_total / _http_request_duration_seconds by route and status', async () => {
  const metrics = createMetrics(createRegistry({ defaults: false }));
  const server = new RoleServer({
    host: '127.0.0.1',
    port: 0,
    role: 'decide',
    registry: metrics.registry,
    clock: systemClock,
    metrics: metrics.api,
    health: { startedAt: Date.now(), staleAfterMs: 10_000, bus: { kind: 'memory' } },
    routes: { '/api/thing': async (_u, res) => sendJson(res, 200, { ok: true }) },
  });
  await server.start();
  try {
    const base = `http://127.0.0.1:${server.port}`;
    assert.equal((await fetch(`${base}/api/thing`)).status, 200);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/nope/123`)).status, 404);
    assert.equal((await fetch(`${base}/api/thing`, { method: 'POST' })).status, 405);
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.match(text, /candlestack_http_requests_total\{method="GET",route="\/api\/thing",status="200"\} 1/);
    assert.match(text, /candlestack_http_requests_total\{method="GET",route="unknown",status="404"\} 1/);
    assert.match(text, /candlestack_http_requests_total\{method="POST",route="\/api\/thing",status="405"\} 1/);
    assert.match(text, /candlestack_http_request_duration_seconds_count\{method="GET",route="\/healthz"\} 1/);
  } finally {
    await server.stop();
  }
});
