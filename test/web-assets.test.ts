/**
 * Serving the dashboard from the ApiServer: the page at `/` with its security and caching headers, hashed
 * assets under /assets/ cached for a year, brotli/gzip negotiation, 304 revalidation, JSON errors for
 * anything else, the JSON index at /api, compressed large API responses, and the real build's output.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { ApiServer } from '../src/api/server.js';
import { LiveHub } from '../src/api/live-ws.js';
import { Markets } from '../src/api/markets.js';
import { chooseEncoding, COMPRESS_MIN_BYTES } from '../src/api/compress.js';
import { DEFAULT_WEB_DIR, PAGE_CSP, WebAssets } from '../src/api/web-assets.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { systemClock } from '../src/core/clock.js';
import type { Candle } from '../src/core/types.js';
import { binance } from '../src/exchanges/binance/feed.js';
import { log, testMetrics } from './support/harness.js';

const PAGE = '<!doctype html><title>candlestack</title><script type="module" src="/assets/app-ABC123.js"></script>';
const SCRIPT = `console.log(${JSON.stringify('x'.repeat(4000))});`;

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A raw request (node:http, no automatic decompression), so encodings and bodies are seen as sent. */
function raw(base: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(base + path, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

function candle(i: number): Candle {
  return {
    exchange: 'binance',
    symbol: 'BTC-USDT',
    timeframe: '1m',
    openTime: Date.UTC(2024, 0, 1) + i * 60_000,
    open: '100.00000000',
    high: '110.00000000',
    low: '90.00000000',
    close: '105.00000000',
    volume: '1.50000000',
    quoteVolume: '150.00000000',
    takerBuyVolume: '0.50000000',
    tradeCount: 3,
    vwap: '100.00000000',
    closed: true,
    source: 'trades',
    revision: 0,
  };
}

async function startApi(web: WebAssets | undefined, store: SqliteStore) {
  const metrics = testMetrics();
  const markets = new Markets([{ exchange: 'binance', symbols: ['BTC-USDT'], timeframes: ['1m'], codec: binance.symbols }]);
  const live = new LiveHub({ markets, metrics: metrics.api, log, clock: systemClock });
  const api = new ApiServer({
    host: '127.0.0.1',
    port: 0,
    store,
    markets,
    live,
    registry: metrics.registry,
    metrics: metrics.api,
    clock: systemClock,
    log,
    version: 'test',
    web,
    health: { feeds: () => [], staleAfterMs: 10_000, store: { kind: 'sqlite', isOpen: () => true, queueDepth: () => 0 }, bus: { kind: 'memory' }, backfillPending: () => 0, startedAt: Date.now() },
  });
  const port = await api.listen();
  return { api, metrics, base: `http://127.0.0.1:${port}` };
}

describe('dashboard assets served by the ApiServer', () => {
  let dir: string;
  let store: SqliteStore;
  let server: Awaited<ReturnType<typeof startApi>>;
  let bare: Awaited<ReturnType<typeof startApi>>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'candlestack-web-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), PAGE);
    writeFileSync(join(dir, 'index.html.br'), brotliCompressSync(PAGE));
    writeFileSync(join(dir, 'index.html.gz'), gzipSync(PAGE));
    writeFileSync(join(dir, 'assets', 'app-ABC123.js'), SCRIPT);
    writeFileSync(join(dir, 'assets', 'app-ABC123.js.br'), brotliCompressSync(SCRIPT));
    writeFileSync(join(dir, 'assets', 'app-ABC123.js.gz'), gzipSync(SCRIPT));
    writeFileSync(join(dir, 'assets', 'app-DEF456.css'), 'body{margin:0}');
    writeFileSync(join(dir, 'assets', 'favicon-0011.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    store = new SqliteStore(':memory:');
    await store.upsert(Array.from({ length: 200 }, (_, i) => candle(i)));
    server = await startApi(WebAssets.load(dir, log), store);
    bare = await startApi(undefined, store);
  });

  after(async () => {
    await server.api.close();
    await bare.api.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('/ is the page: HTML, revalidated on every load, same-origin-only CSP', async () => {
    const r = await raw(server.base, '/');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(r.headers['cache-control'], 'no-cache');
    assert.equal(r.headers['content-security-policy'], PAGE_CSP);
    assert.match(PAGE_CSP, /default-src 'self'/);
    assert.doesNotMatch(PAGE_CSP, /https?:|\*/, 'no other origin is allowed');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal(r.body.toString(), PAGE);
    assert.match(String(r.headers.etag), /^"[\w-]+"$/);
  });

  test('brotli, then gzip, then identity by Accept-Encoding; the ETag names the encoding', async () => {
    const br = await raw(server.base, '/assets/app-ABC123.js', { 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(brotliDecompressSync(br.body).toString(), SCRIPT);
    assert.equal(Number(br.headers['content-length']), br.body.length);
    assert.ok(br.body.length < SCRIPT.length / 4);
    const gz = await raw(server.base, '/assets/app-ABC123.js', { 'accept-encoding': 'br;q=0, gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(gz.body).toString(), SCRIPT);
    const plain = await raw(server.base, '/assets/app-ABC123.js');
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.body.toString(), SCRIPT);
    assert.equal(plain.headers.vary, 'accept-encoding');
    assert.notEqual(br.headers.etag, gz.headers.etag);
    assert.notEqual(gz.headers.etag, plain.headers.etag);
  });

  test('hashed assets: content types, cached for a year, immutable', async () => {
    const cases: [string, string][] = [
      ['/assets/app-ABC123.js', 'text/javascript; charset=utf-8'],
      ['/assets/app-DEF456.css', 'text/css; charset=utf-8'],
      ['/assets/favicon-0011.svg', 'image/svg+xml'],
    ];
    for (const [path, type] of cases) {
      const r = await raw(server.base, path);
      assert.equal(r.status, 200, path);
      assert.equal(r.headers['content-type'], type, path);
      assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable', path);
    }
    // The precompressed siblings are variants, not assets of their own.
    assert.deepEqual(WebAssets.load(dir, log).assetPaths.sort(), ['/assets/app-ABC123.js', '/assets/app-DEF456.css', '/assets/favicon-0011.svg']);
  });

  test('If-None-Match with the current ETag: 304 without a body', async () => {
    const first = await raw(server.base, '/', { 'accept-encoding': 'br' });
    const again = await raw(server.base, '/', { 'accept-encoding': 'br', 'if-none-match': String(first.headers.etag) });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    const stale = await raw(server.base, '/', { 'accept-encoding': 'br', 'if-none-match': '"something-else"' });
    assert.equal(stale.status, 200);
  });

  test('HEAD answers the headers only', async () => {
    const r = await raw(server.base, '/assets/app-ABC123.js', {}, 'HEAD');
    assert.equal(r.status, 200);
    assert.equal(Number(r.headers['content-length']), Buffer.byteLength(SCRIPT));
    assert.equal(r.body.length, 0);
  });

  test('unknown assets, traversal and methods other than GET/HEAD are JSON errors', async () => {
    for (const path of ['/assets/app-NOPE.js', '/assets/../package.json', '/assets/%2e%2e/package.json', '/assets/', '/index.html']) {
      const r = await raw(server.base, path);
      assert.equal(r.status, 404, path);
      assert.match(String(r.headers['content-type']), /application\/json/);
      assert.equal(JSON.parse(r.body.toString()).error.code, 'not_found', path);
    }
    const post = await raw(server.base, '/assets/app-ABC123.js', {}, 'POST');
    assert.equal(post.status, 405);
  });

  test('requests for assets are counted under one bounded route label', async () => {
    await raw(server.base, '/assets/app-DEF456.css');
    const text = await server.metrics.registry.metrics();
    assert.match(text, /candlestack_http_requests_total\{method="GET",route="\/assets\/",status="200"\} [1-9]/);
    assert.doesNotMatch(text, /route="\/assets\/app-/);
  });

  test('/api is the JSON index; without built assets / says how to build them', async () => {
    const index = await raw(server.base, '/api');
    assert.equal(index.status, 200);
    const body = JSON.parse(index.body.toString());
    assert.equal(body.name, 'candlestack');
    assert.equal(body.endpoints.dashboard, '/');
    const missing = await startApi(WebAssets.load(join(dir, 'nothing-here'), log), store);
    try {
      const r = await raw(missing.base, '/');
      assert.equal(r.status, 503);
      const err = JSON.parse(r.body.toString()).error;
      assert.equal(err.code, 'dashboard_not_built');
      assert.match(err.message, /npm run build/);
    } finally {
      await missing.api.close();
    }
    assert.equal((await raw(bare.base, '/')).status, 503);
  });

  test('large API answers are compressed when accepted, small ones are not', async () => {
    const path = '/api/candles?symbol=BTCUSDT&timeframe=1m&limit=200';
    const plain = await raw(server.base, path);
    assert.ok(plain.body.length > COMPRESS_MIN_BYTES, 'the page of candles is large enough to compress');
    assert.equal(plain.headers['content-encoding'], undefined);
    const gz = await raw(server.base, path, { 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.deepEqual(JSON.parse(gunzipSync(gz.body).toString()), JSON.parse(plain.body.toString()));
    const br = await raw(server.base, path, { 'accept-encoding': 'br, gzip' });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.deepEqual(JSON.parse(brotliDecompressSync(br.body).toString()), JSON.parse(plain.body.toString()));
    assert.ok(br.body.length < plain.body.length / 5, `${br.body.length} of ${plain.body.length} bytes`);
    const small = await raw(server.base, '/healthz', { 'accept-encoding': 'br, gzip' });
    assert.equal(small.headers['content-encoding'], undefined);
    const error = await raw(server.base, '/api/candles?limit=0', { 'accept-encoding': 'gzip' });
    assert.equal(error.status, 400);
    assert.equal(JSON.parse(error.body.toString()).error.parameter, 'limit');
  });
});

test('chooseEncoding: br over gzip, q=0 refuses, anything else is identity', () => {
  assert.equal(chooseEncoding('gzip, deflate, br'), 'br');
  assert.equal(chooseEncoding('gzip'), 'gzip');
  assert.equal(chooseEncoding('br;q=0, gzip;q=0.5'), 'gzip');
  assert.equal(chooseEncoding('BR'), 'br');
  assert.equal(chooseEncoding('deflate'), 'identity');
  assert.equal(chooseEncoding('gzip;q=0'), 'identity');
  assert.equal(chooseEncoding(''), 'identity');
  assert.equal(chooseEncoding(undefined), 'identity');
});

test('the build produced the dashboard: the page and every asset it references are served', () => {
  const web = WebAssets.load(DEFAULT_WEB_DIR, log);
  assert.ok(web.available, 'dist/web/index.html exists (npm run build)');
  const page = readFileSync(join(DEFAULT_WEB_DIR, 'index.html'), 'utf8');
  const refs = [...page.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
  assert.ok(refs.some((r) => /^\/assets\/app-\w+\.js$/.test(r)), 'a hashed script');
  assert.ok(refs.some((r) => /^\/assets\/app-\w+\.css$/.test(r)), 'a hashed stylesheet');
  for (const ref of refs) assert.ok(web.assetPaths.includes(ref), `${ref} is served`);
  assert.doesNotMatch(page, /(?:src|href)="(?:https?:)?\/\/(?!www\.tradingview\.com\/")/, 'nothing is loaded from another origin');
  assert.doesNotMatch(page, /%JS%|%CSS%|%FAVICON%/, 'no placeholder left');
});
