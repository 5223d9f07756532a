/**
 * Fault suite, HTTP: the malformed-request table (issue 19). Every case asserts the status and the JSON error
 * body; JSON answers carry `X-Content-Type-Options: nosniff`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startTestApi } from '../support/api.js';
import { redactUrl } from '../../src/store/postgres-url.js';
import { HostPolicy } from '../../src/api/host-policy.js';
import { metricValue } from '../support/metrics.js';
import { LiveHub } from '../../src/api/live-ws.js';
import { Markets } from '../../src/api/markets.js';
import { binance } from '../../src/exchanges/binance/feed.js';
import { systemClock } from '../../src/core/clock.js';
import { log, testMetrics } from '../support/harness.js';

/** Sends raw bytes, returns the status and the parsed JSON body of the answer (null when not JSON). */
function raw(port: number, bytes: string): Promise<{ status: number; json: any; headers: string }> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' }, () => s.write(bytes));
    let text = '';
    s.on('data', (d) => {
      text += d.toString();
      const head = text.indexOf('\r\n\r\n');
      const len = /content-length: (\d+)/i.exec(text)?.[1];
      if (head >= 0 && len !== undefined && text.length >= head + 4 + Number(len)) s.destroy();
    });
    s.on('close', () => {
      const head = text.indexOf('\r\n\r\n');
      const body = text.slice(head + 4);
      let json: any = null;
      try {
        json = JSON.parse(body);
      } catch {
        json = null;
      }
      resolve({ status: Number(text.slice(9, 12)), json, headers: text.slice(0, head) });
    });
    s.on('error', reject);
  });
}

const get = (path: string, host = '127.0.0.1') => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
/** A WebSocket upgrade request for /ws with these extra header lines. */
const upgrade = (host: string, extra = '') => `GET /ws HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;
const alerts = (extra: string) => `POST /api/alerts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n${extra}\r\n{}`;

const CASES: { what: string; request: string; status: number; code: string; mentions?: RegExp }[] = [
  { what: 'timeframe not configured', request: get('/api/candles?timeframe=3m'), status: 400, code: 'bad_parameter', mentions: /configured timeframes 1m, 5m/ },
  { what: 'timeframe not configured (indicators)', request: get('/api/indicators?timeframe=3m'), status: 400, code: 'bad_parameter', mentions: /configured timeframes 1m, 5m/ },
  { what: 'timeframe not configured (features)', request: get('/api/features?timeframe=3m'), status: 400, code: 'bad_parameter', mentions: /configured timeframes 1m, 5m/ },
  { what: 'timeframe not a timeframe', request: get('/api/candles?timeframe=7x'), status: 400, code: 'bad_parameter' },
  { what: 'unknown parameter', request: get('/api/candles?frm=1'), status: 400, code: 'bad_parameter' },
  { what: 'unknown exchange', request: get('/api/candles?exchange=mtgox'), status: 400, code: 'bad_parameter' },
  { what: 'from after to', request: get('/api/candles?from=2000&to=1000'), status: 400, code: 'bad_parameter' },
  { what: 'limit not a number', request: get('/api/candles?limit=lots'), status: 400, code: 'bad_parameter' },
  { what: 'unknown route', request: get('/nope'), status: 404, code: 'not_found' },
  { what: 'path traversal', request: get('/assets/../../etc/passwd'), status: 404, code: 'not_found' },
  { what: 'DELETE on a GET route', request: 'DELETE /api/candles HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n', status: 405, code: 'method_not_allowed' },
  { what: 'GET on the alerts webhook', request: get('/api/alerts'), status: 405, code: 'method_not_allowed' },
  { what: 'alerts: not JSON content type', request: 'POST /api/alerts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi', status: 415, code: 'unsupported_media_type' },
  { what: 'not HTTP at all', request: 'GARBAGE\r\n\r\n', status: 400, code: 'bad_request' },
  { what: 'a bad header line', request: 'GET / HTTP/1.1\r\nHost x\r\n\r\n', status: 400, code: 'bad_request' },
  { what: 'headers over 16 KiB', request: `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, status: 431, code: 'headers_too_large' },
  // DNS rebinding: the attacker's name as Host; cross-site pages: another Origin (issue 19 item 7)
  { what: 'Host: a name not served (DNS rebinding)', request: get('/api/candles', 'rebind.attacker.example:9001'), status: 403, code: 'host_not_allowed', mentions: /http\.allowedHosts/ },
  { what: 'Host: a look-alike of localhost', request: get('/api/health', 'localhost.attacker.example'), status: 403, code: 'host_not_allowed' },
  { what: 'Host: not a host', request: get('/', 'a b@c'), status: 403, code: 'host_not_allowed' },
  { what: 'Host: a name not served, on the dashboard page', request: get('/', 'rebind.attacker.example'), status: 403, code: 'host_not_allowed' },
  { what: 'Host: a name not served, on POST /api/alerts', request: alerts('').replace('Host: 127.0.0.1', 'Host: rebind.attacker.example'), status: 403, code: 'host_not_allowed' },
  { what: 'alerts: posted by a page of another origin', request: alerts('Origin: https://attacker.example\r\n'), status: 403, code: 'origin_not_allowed', mentions: /http\.allowedOrigins/ },
  { what: '/ws: Host a name not served', request: upgrade('rebind.attacker.example'), status: 403, code: 'host_not_allowed' },
  { what: '/ws: a page of another origin', request: upgrade('127.0.0.1', 'Origin: https://attacker.example\r\n'), status: 403, code: 'origin_not_allowed', mentions: /http\.allowedOrigins/ },
  { what: '/ws: the same host on another port', request: upgrade('127.0.0.1:9001', 'Origin: http://127.0.0.1:3000\r\n'), status: 403, code: 'origin_not_allowed' },
  { what: '/ws: Origin null (a sandboxed page)', request: upgrade('127.0.0.1', 'Origin: null\r\n'), status: 403, code: 'origin_not_allowed' },
];

test('the malformed-request table: every case a JSON error with its status and code', async (t) => {
  const metrics = testMetrics();
  const markets = new Markets([{ exchange: 'binance', symbols: ['BTC-USDT'], timeframes: ['1m', '5m'], codec: binance.symbols }]);
  const live = new LiveHub({ markets, metrics: metrics.api, log, clock: systemClock, limitMetrics: metrics.limits });
  const api = await startTestApi({ metrics, markets, live });
  t.after(() => api.close());
  const results: string[] = [];
  for (const c of CASES) {
    const r = await raw(api.port, c.request);
    assert.equal(r.status, c.status, `${c.what}: status`);
    assert.equal(r.json?.error?.code, c.code, `${c.what}: ${JSON.stringify(r.json)}`);
    assert.equal(typeof r.json.error.message, 'string');
    if (c.mentions) assert.match(r.json.error.message, c.mentions, c.what);
    assert.match(r.headers, /x-content-type-options: nosniff/i, `${c.what}: nosniff`);
    results.push(`${c.status}`);
  }
  const ok = await raw(api.port, get('/api/candles'));
  assert.equal(ok.status, 200);
  assert.match(ok.headers, /x-content-type-options: nosniff/i);
  const hostRefused = await metricValue(api.metrics, 'candlestack_http_connections_refused_total', { reason: 'host' });
  const originRefused = await metricValue(api.metrics, 'candlestack_http_connections_refused_total', { reason: 'origin' });
  const wsOriginRefused = await metricValue(api.metrics, 'candlestack_websocket_refused_total', { reason: 'origin' });
  assert.deepEqual([hostRefused, originRefused, wsOriginRefused], [6, 1, 3], 'Host refusals (5 HTTP, 1 /ws), the cross-site POST and the 3 cross-site /ws upgrades counted');
  t.diagnostic(`faults.http table: ${CASES.length} malformed requests, each answered with its JSON error (${results.join(' ')}); refusals counted: http host ${hostRefused}, http origin ${originRefused}, websocket origin ${wsOriginRefused}`);
});

test('Host and Origin: loopback names, IP literals, the same origin, the configured names and origins are served; probes answer any Host', async (t) => {
  const api = await startTestApi({ hosts: new HostPolicy({ bound: '127.0.0.1', allowedHosts: ['serve', '.example.org'], allowedOrigins: ['https://dash.example.net'] }) });
  t.after(() => api.close());
  const p = api.port;
  const served: [string, string][] = [
    [`127.0.0.1:${p}`, '/api/candles'],
    [`localhost:${p}`, '/api/candles'],
    ['LOCALHOST.', '/api/symbols'],
    ['dash.localhost', '/api/health'],
    [`[::1]:${p}`, '/api/candles'],
    ['10.1.2.3:9001', '/api/candles'],
    ['serve:9001', '/api/candles'],
    ['example.org', '/api/candles'],
    ['eu.example.org', '/api'],
    ['prometheus-sees-any-name:9001', '/metrics'],
    ['collector:8000', '/healthz'],
    ['rebind.attacker.example', '/readyz'],
  ];
  for (const [host, path] of served) assert.equal((await raw(p, get(path, host))).status, 200, `Host ${host} ${path}`);
  const opened: string[] = [
    upgrade(`127.0.0.1:${p}`), // no Origin: curl, a script
    upgrade(`127.0.0.1:${p}`, `Origin: http://127.0.0.1:${p}\r\n`), // the dashboard, same origin
    upgrade(`localhost:${p}`, `Origin: http://localhost:${p}\r\n`),
    upgrade('serve', 'Origin: http://serve\r\n'), // default port on both sides
    upgrade(`127.0.0.1:${p}`, 'Origin: https://dash.example.net\r\n'), // configured
  ];
  for (const req of opened) {
    const head = await new Promise<string>((resolve, reject) => {
      const s = connect({ port: p, host: '127.0.0.1' }, () => s.write(req));
      s.once('data', (d) => {
        resolve(d.toString());
        s.destroy();
      });
      s.on('error', reject);
    });
    assert.match(head, /^HTTP\/1\.1 101 /, req);
  }
  const sameOrigin = await raw(p, alerts('Origin: http://127.0.0.1\r\n')); // Host 127.0.0.1: port 80 on both sides
  assert.notEqual(sameOrigin.status, 403, `a same-origin POST is not refused: ${JSON.stringify(sameOrigin.json)}`);
  assert.equal((await raw(p, upgrade(`127.0.0.1:${p}`, 'Origin: https://dash.example.net.attacker.example\r\n'))).status, 403);
  t.diagnostic(`faults.http host/origin: ${served.length} allowed Host cases 200, ${opened.length} allowed /ws upgrades 101`);
});

test('secret query parameters of a PostgreSQL URL are redacted, as the password of its user part is', () => {
  assert.equal(redactUrl('postgres://app@db:5432/candles?password=hunter2&sslmode=require'), 'postgres://app@db:5432/candles?password=***&sslmode=require');
  assert.equal(redactUrl('postgres://app:pw@db/c?sslpassword=k3y'), 'postgres://app:***@db/c?sslpassword=***');
  assert.equal(redactUrl('postgres://app@db/c?sslmode=require'), 'postgres://app@db/c?sslmode=require');
});
