/**
 * Fault suite, HTTP: the malformed-request table (issue 19). Every case asserts the status and the JSON error
 * body; JSON answers carry `X-Content-Type-Options: nosniff`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startTestApi } from '../support/api.js';
import { redactUrl } from '../../src/store/postgres-url.js';

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

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`;

const CASES: { what: string; request: string; status: number; code: string; mentions?: RegExp }[] = [
  { what: 'timeframe not configured', request: get('/api/candles?timeframe=3m'), status: 400, code: 'bad_parameter', mentions: /configured timeframes 1m, 5m/ },
  { what: 'timeframe not a timeframe', request: get('/api/candles?timeframe=7x'), status: 400, code: 'bad_parameter' },
  { what: 'unknown parameter', request: get('/api/candles?frm=1'), status: 400, code: 'bad_parameter' },
  { what: 'unknown exchange', request: get('/api/candles?exchange=mtgox'), status: 400, code: 'bad_parameter' },
  { what: 'from after to', request: get('/api/candles?from=2000&to=1000'), status: 400, code: 'bad_parameter' },
  { what: 'limit not a number', request: get('/api/candles?limit=lots'), status: 400, code: 'bad_parameter' },
  { what: 'unknown route', request: get('/nope'), status: 404, code: 'not_found' },
  { what: 'path traversal', request: get('/assets/../../etc/passwd'), status: 404, code: 'not_found' },
  { what: 'DELETE on a GET route', request: 'DELETE /api/candles HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', status: 405, code: 'method_not_allowed' },
  { what: 'GET on the alerts webhook', request: get('/api/alerts'), status: 405, code: 'method_not_allowed' },
  { what: 'alerts: not JSON content type', request: 'POST /api/alerts HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi', status: 415, code: 'unsupported_media_type' },
  { what: 'not HTTP at all', request: 'GARBAGE\r\n\r\n', status: 400, code: 'bad_request' },
  { what: 'a bad header line', request: 'GET / HTTP/1.1\r\nHost x\r\n\r\n', status: 400, code: 'bad_request' },
  { what: 'headers over 16 KiB', request: `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, status: 431, code: 'headers_too_large' },
];

test('the malformed-request table: every case a JSON error with its status and code', async (t) => {
  const api = await startTestApi({ timeframes: ['1m', '5m'] });
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
  t.diagnostic(`faults.http table: ${CASES.length} malformed requests, each answered with its JSON error (${results.join(' ')})`);
});

test('secret query parameters of a PostgreSQL URL are redacted, as the password of its user part is', () => {
  assert.equal(redactUrl('postgres://app@db:5432/candles?password=hunter2&sslmode=require'), 'postgres://app@db:5432/candles?password=***&sslmode=require');
  assert.equal(redactUrl('postgres://app:pw@db/c?sslpassword=k3y'), 'postgres://app:***@db/c?sslpassword=***');
  assert.equal(redactUrl('postgres://app@db/c?sslmode=require'), 'postgres://app@db/c?sslmode=require');
});
