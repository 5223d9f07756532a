/**
 * Issue 19 item 4: idle connections were never timed out or capped (22,000 idle sockets exhausted the file
 * descriptors; /healthz stopped answering, nothing logged). Now: header/request/idle timeouts, a total and a
 * per-address cap whose refusals are counted, and /healthz answering from another address meanwhile.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';
import { startTestApi } from '../support/api.js';
import { metricValue } from '../support/metrics.js';
import { until } from '../support/harness.js';

/** A raw TCP socket to the server from `localAddress` (any 127.x address is this machine), once connected. */
function rawSocket(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', localAddress }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Everything the server sends until it closes the socket (or `ms` pass). */
function readAll(s: Socket, ms = 5_000): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const timer = setTimeout(() => resolve(text), ms);
    s.on('data', (d) => (text += d.toString()));
    s.on('close', () => (clearTimeout(timer), resolve(text)));
    s.on('error', () => undefined);
  });
}

function getFrom(port: number, path: string, localAddress: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, localAddress, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('connection caps: one address is held at its cap, refusals are JSON 503s and counted, /healthz still answers', { timeout: 30_000 }, async (t) => {
  const api = await startTestApi({ socketLimits: { maxPerAddress: 50, maxConnections: 80, idleTimeoutMs: 60_000 } });
  t.after(() => api.close());
  const held: Socket[] = [];
  t.after(() => held.forEach((s) => s.destroy()));
  const started = performance.now();
  for (let i = 0; i < 50; i++) held.push(await rawSocket(api.port));
  // Over the per-address cap: answered 503 and closed at once.
  const extra = await rawSocket(api.port);
  const answer = await readAll(extra);
  assert.match(answer, /^HTTP\/1.1 503 /);
  assert.deepEqual(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error.code, 'too_many_connections');
  assert.equal(await metricValue(api.metrics, 'candlestack_http_connections_refused_total', { reason: 'per_address' }), 1);
  // Another address still gets /healthz.
  const health = await getFrom(api.port, '/healthz', '127.0.0.2');
  assert.equal(health.status, 200);
  // Up to the total cap from other addresses, then refused as total.
  for (let i = 0; i < 30; i++) held.push(await rawSocket(api.port, `127.0.1.${i + 1}`));
  await until('80 open', async () => (await metricValue(api.metrics, 'candlestack_http_connections')) === 80, 5_000);
  const overTotal = await rawSocket(api.port, '127.0.2.1');
  assert.match(await readAll(overTotal), /^HTTP\/1.1 503 /);
  assert.equal(await metricValue(api.metrics, 'candlestack_http_connections_refused_total', { reason: 'total' }), 1);
  // Freed sockets are counted back: /healthz answers again once the flood is gone.
  held.splice(0).forEach((s) => s.destroy());
  await until('sockets released', async () => (await metricValue(api.metrics, 'candlestack_http_connections')) === 0, 5_000);
  assert.equal((await getFrom(api.port, '/healthz', '127.0.0.1')).status, 200);
  t.diagnostic(`faults.http caps: 50 per address + 30 others held, 2 refused (per_address, total), /healthz 200 throughout, ${(performance.now() - started).toFixed(0)} ms`);
});

test('timeouts: an idle socket is closed; headers that never finish get a JSON 408; both counted', { timeout: 30_000 }, async (t) => {
  const api = await startTestApi({ socketLimits: { idleTimeoutMs: 300, headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 } });
  t.after(() => api.close());
  const idle = await rawSocket(api.port);
  const t0 = performance.now();
  assert.equal(await readAll(idle, 5_000), '', 'closed without a response');
  const idleMs = performance.now() - t0;
  assert.ok(idleMs < 3_000, `idle socket closed after ${idleMs.toFixed(0)} ms`);
  assert.equal(await metricValue(api.metrics, 'candlestack_http_connections_closed_total', { reason: 'idle' }), 1);

  // Slowloris: a header line every 200 ms keeps the socket busy (no idle timeout), but the headers never end.
  const slow = await rawSocket(api.port);
  slow.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
  const drip = setInterval(() => slow.writable && slow.write('X-Drip: 1\r\n'), 200);
  t.after(() => clearInterval(drip));
  const t1 = performance.now();
  const answer = await readAll(slow, 8_000);
  clearInterval(drip);
  const slowMs = performance.now() - t1;
  assert.match(answer, /^HTTP\/1.1 408 /);
  assert.equal(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error.code, 'request_timeout');
  assert.ok(slowMs < 4_000, `slow headers cut after ${slowMs.toFixed(0)} ms`);
  assert.equal(await metricValue(api.metrics, 'candlestack_http_connections_closed_total', { reason: 'timeout' }), 1);
  t.diagnostic(`faults.http timeouts: idle socket closed after ${idleMs.toFixed(0)} ms (bound 300), slow headers answered 408 after ${slowMs.toFixed(0)} ms (bound 1000)`);
});
