/**
 * Issue 19 item 6: POST /api/alerts accepted anyone (a forged critical alert was logged and counted; one
 * client wrote ~40 MB/s of log). Now: a shared secret (bearer, or basic's password) from the environment, loopback
 * only without one; a rate limit per address; one log line per notification; deep nesting is a 400; the 415
 * answer does not read a large body.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { AlertReceiver } from '../../src/api/alerts-webhook.js';
import { BadParameterError } from '../../src/core/errors.js';
import { sendError } from '../../src/api/http.js';
import { testMetrics } from '../support/harness.js';
import { startTestApi } from '../support/api.js';
import { metricValue } from '../support/metrics.js';

const alert = (i: number) => ({ status: 'firing', labels: { alertname: `Forged${i}`, severity: 'critical' }, annotations: { summary: 'x' }, startsAt: '2024-01-01T00:00:00Z' });
const payload = (n: number) => JSON.stringify({ version: '4', status: 'firing', receiver: 'critical', groupKey: 'g', alerts: Array.from({ length: n }, (_, i) => alert(i)) });

function post(url: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; json: any; sentAll: boolean }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers }, agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : null, sentAll: req.writableFinished }));
    });
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'EPIPE' || (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)));
    req.end(body);
  });
}

async function receiverServer(t: import('node:test').TestContext, receiver: AlertReceiver): Promise<string> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    receiver.handle(req, res).catch((err) => (err instanceof BadParameterError ? sendError(res, 400, err.code, err.message, err.parameter) : sendError(res, 500, 'internal_error', String(err))));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/alerts`;
}

test('with CANDLESTACK_ALERTS_TOKEN set: no or a wrong secret is a 401 and counts nothing; bearer and basic pass', async (t) => {
  process.env.CANDLESTACK_ALERTS_TOKEN = 'a-shared-secret-of-some-length';
  const api = await startTestApi();
  delete process.env.CANDLESTACK_ALERTS_TOKEN;
  t.after(() => api.close());
  const url = `${api.url}/api/alerts`;
  const none = await post(url, payload(1));
  assert.deepEqual([none.status, none.json.error.code], [401, 'unauthorized']);
  const wrong = await post(url, payload(1), { authorization: 'Bearer guess' });
  assert.equal(wrong.status, 401);
  assert.equal(await metricValue(api.metrics, 'candlestack_alerts_received_total', { status: 'firing', severity: 'critical' }), 0, 'a forged alert is not counted');
  assert.equal((await post(url, payload(1), { authorization: 'Bearer a-shared-secret-of-some-length' })).status, 200);
  const basic = `Basic ${Buffer.from('alertmanager:a-shared-secret-of-some-length').toString('base64')}`;
  assert.equal((await post(url, payload(1), { authorization: basic })).status, 200);
  assert.equal(await metricValue(api.metrics, 'candlestack_alerts_received_total', { status: 'firing', severity: 'critical' }), 2);
});

test('without a secret, only loopback clients are accepted', async (t) => {
  const metrics = testMetrics();
  const receiver = new AlertReceiver({ metrics: metrics.api, log: pino({ level: 'silent' }), token: null });
  const url = await receiverServer(t, receiver);
  assert.equal((await post(url, payload(1))).status, 200, 'loopback');
  const remote = await new Promise<number>((resolve) => {
    const fake = { statusCode: 0, headersSent: false, setHeader: () => fake, writeHead: (s: number) => ((fake.statusCode = s), fake), end: () => resolve(fake.statusCode) };
    const res = fake as unknown as ServerResponse;
    void receiver.handle({ socket: { remoteAddress: '203.0.113.7' }, headers: {} } as unknown as IncomingMessage, res);
  });
  assert.equal(remote, 401, 'a non-loopback address');
});

test('rate limit, one log line per notification, deep nesting 400, 415 without reading a large body', async (t) => {
  const lines: { msg: string; alerts?: unknown[]; more?: number }[] = [];
  const logger = pino({ level: 'debug' }, new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }));
  const metrics = testMetrics();
  const receiver = new AlertReceiver({ metrics: metrics.api, log: logger, token: null, rateLimit: { rate: 0.001, burst: 4 } });
  const url = await receiverServer(t, receiver);
  lines.length = 0;
  const ok = await post(url, payload(500));
  assert.equal(ok.status, 200);
  assert.equal(lines.length, 1, 'one line for a notification of 500 alerts');
  assert.equal(lines[0]!.alerts?.length, 20);
  assert.equal(lines[0]!.more, 480);
  assert.equal(await metricValue(metrics, 'candlestack_alerts_received_total', { status: 'firing', severity: 'critical' }), 500);

  const deep = `{"version":"4","status":"firing","alerts":[],"groupLabels":${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}}`;
  const nested = await post(url, deep);
  assert.deepEqual([nested.status, nested.json.error.parameter], [400, 'body']);

  const big = Buffer.alloc(64 * 1024 * 1024, 0x61);
  const t0 = performance.now();
  const wrongType = await post(url, big, { 'content-type': 'text/plain' });
  assert.equal(wrongType.status, 415);
  assert.equal(wrongType.sentAll, false, 'the 64 MiB body was not read to the end');
  const ms = performance.now() - t0;

  assert.equal((await post(url, payload(1))).status, 200, 'the 4th of the burst');
  const limited = await post(url, payload(1));
  assert.deepEqual([limited.status, limited.json.error.code], [429, 'rate_limited'], 'the 5th request of a burst of 4');
  t.diagnostic(`faults.alerts: 500 alerts -> 1 log line; 5,000-deep body -> 400; 64 MiB text/plain -> 415 in ${ms.toFixed(0)} ms without reading it; 5th of a burst of 4 -> 429`);
});
