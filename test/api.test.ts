/**
 * ApiServer end to end on 127.0.0.1:0: REST candles from an in-memory SQLite store, parameter errors,
 * health/readiness, /metrics, and the live WebSocket (LiveHub) at /ws.
 */
import { after, before, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import type { LiveHub } from '../src/api/live-ws.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { Metrics } from '../src/telemetry/metrics.js';
import type { Candle } from '../src/core/types.js';
import type { Timeframe } from '../src/core/timeframe.js';
import type { FeedHealth } from '../src/feed/collector.js';
import type { ConnectionStatus } from '../src/feed/connection.js';
import { until } from './support/harness.js';
import { startTestApi, type TestApi } from './support/api.js';
import { metricValue } from './support/metrics.js';

const BASE = Date.UTC(2024, 0, 1, 0, 0, 0);
const MIN = 60_000;
const STALE_AFTER_MS = 10_000;

function candle(symbol: string, timeframe: Timeframe, openTime: number, close: string, closed = true): Candle {
  return {
    exchange: 'binance',
    symbol,
    timeframe,
    openTime,
    open: '100.00000000',
    high: '110.00000000',
    low: '90.00000000',
    close,
    volume: '1.50000000',
    quoteVolume: '150.00000000',
    takerBuyVolume: '0.50000000',
    tradeCount: 3,
    vwap: '100.00000000',
    closed,
    source: 'trades',
    revision: 0,
  };
}

function feed(connection: string, status: ConnectionStatus, lastMessageAgeMs: number | null): FeedHealth {
  const now = Date.now();
  return {
    exchange: 'binance',
    connection,
    status,
    symbols: ['BTC-USDT'],
    streams: 1,
    lastMessageAt: lastMessageAgeMs === null ? null : now - lastMessageAgeMs,
    lastMessageAgeMs,
    connectedSince: status === 'connected' ? now - 60_000 : null,
    reconnects: 0,
    tradeIdGaps: 0,
    lastError: status === 'connected' ? null : 'connect ECONNREFUSED',
  };
}

/** A WebSocket client that buffers every message from the start, so nothing sent on open is missed. */
class LiveClient {
  private readonly queue: any[] = [];
  private waiter: ((m: any) => void) | null = null;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const m = JSON.parse(data.toString());
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w(m);
      } else this.queue.push(m);
    });
  }

  static open(t: TestContext, url: string): Promise<LiveClient> {
    const ws = new WebSocket(url);
    const client = new LiveClient(ws);
    t.after(() => client.close());
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
    });
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  next(timeoutMs = 2000): Promise<any> {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error('timed out waiting for a live message'));
      }, timeoutMs);
      this.waiter = (m) => {
        clearTimeout(timer);
        resolve(m);
      };
    });
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      if (this.ws.readyState === WebSocket.OPEN) this.ws.close();
      else this.ws.terminate();
    });
  }
}

describe('ApiServer', () => {
  let server: TestApi;
  let live: LiveHub;
  let store: SqliteStore;
  let metrics: Metrics;
  let base = '';
  let wsBase = '';
  let feeds: FeedHealth[] = [];

  const btc1m = Array.from({ length: 10 }, (_, i) => candle('BTC-USDT', '1m', BASE + i * MIN, `${100 + i}.00000000`));

  before(async () => {
    store = new SqliteStore(':memory:');
    // inserted out of order: the API must still answer oldest first
    await store.upsert([...btc1m].reverse());
    await store.upsert([candle('BTC-USDT', '5m', BASE, '101.00000000'), candle('BTC-USDT', '5m', BASE + 5 * MIN, '102.00000000', false)]);
    await store.upsert([0, 1, 2].map((i) => candle('ETH-USDT', '1m', BASE + i * MIN, `${2000 + i}.00000000`)));
    server = await startTestApi({ store, symbols: ['BTC-USDT', 'ETH-USDT', 'SOL-USDT'], timeframes: ['1m', '5m'], health: { feeds: () => feeds, staleAfterMs: STALE_AFTER_MS } });
    ({ live, metrics, url: base, wsUrl: wsBase } = server);
    live.start();
  });

  after(async () => {
    await server.close();
    await store.close();
  });

  async function getJson(path: string, init?: RequestInit): Promise<{ status: number; body: any; res: Response }> {
    const res = await fetch(base + path, init);
    const text = await res.text();
    assert.match(res.headers.get('content-type') ?? '', /application\/json/, `${path} answers JSON`);
    return { status: res.status, body: JSON.parse(text), res };
  }

  describe('GET /api/candles', () => {
    test('returns the stored candles oldest first', async () => {
      const { status, body } = await getJson('/api/candles?exchange=binance&symbol=BTCUSDT&timeframe=1m');
      assert.equal(status, 200);
      assert.equal(body.exchange, 'binance');
      assert.equal(body.symbol, 'BTC-USDT');
      assert.equal(body.timeframe, '1m');
      assert.equal(body.count, 10);
      assert.deepEqual(body.candles.map((c: Candle) => c.openTime), btc1m.map((c) => c.openTime));
      assert.deepEqual(body.candles[3], btc1m[3]);
    });

    test('defaults: first configured exchange and symbol, 1m', async () => {
      const { status, body } = await getJson('/api/candles');
      assert.equal(status, 200);
      assert.deepEqual([body.exchange, body.symbol, body.timeframe], ['binance', 'BTC-USDT', '1m']);
      assert.equal(body.count, 10);
    });

    test('symbols are normalized; other timeframes and symbols are separate series', async () => {
      const btc = await getJson('/api/candles?symbol=btc-usdt');
      assert.equal(btc.body.symbol, 'BTC-USDT');
      assert.equal(btc.body.count, 10);
      const fiveMin = await getJson('/api/candles?timeframe=5m');
      assert.deepEqual(fiveMin.body.candles.map((c: Candle) => [c.openTime, c.closed]), [[BASE, true], [BASE + 5 * MIN, false]]);
      const eth = await getJson('/api/candles?symbol=ETHUSDT');
      assert.deepEqual(eth.body.candles.map((c: Candle) => c.close), ['2000.00000000', '2001.00000000', '2002.00000000']);
      const sol = await getJson('/api/candles?symbol=SOLUSDT');
      assert.equal(sol.status, 200);
      assert.deepEqual(sol.body.candles, []);
    });

    test('from/to (epoch ms), inclusive', async () => {
      const { body } = await getJson(`/api/candles?from=${BASE + 2 * MIN}&to=${BASE + 5 * MIN}`);
      assert.deepEqual(body.candles.map((c: Candle) => c.openTime), [2, 3, 4, 5].map((i) => BASE + i * MIN));
      const fromOnly = await getJson(`/api/candles?from=${BASE + 8 * MIN}`);
      assert.deepEqual(fromOnly.body.candles.map((c: Candle) => c.openTime), [BASE + 8 * MIN, BASE + 9 * MIN]);
      const toOnly = await getJson(`/api/candles?to=${BASE + MIN}`);
      assert.deepEqual(toOnly.body.candles.map((c: Candle) => c.openTime), [BASE, BASE + MIN]);
    });

    test('from/to as ISO-8601', async () => {
      const { status, body } = await getJson('/api/candles?from=2024-01-01T00:02:00Z&to=2024-01-01T00:05:00.000Z');
      assert.equal(status, 200);
      assert.deepEqual(body.candles.map((c: Candle) => c.openTime), [2, 3, 4, 5].map((i) => BASE + i * MIN));
      const offset = await getJson(`/api/candles?from=${encodeURIComponent('2024-01-01T01:07:00+01:00')}`);
      assert.deepEqual(offset.body.candles.map((c: Candle) => c.openTime), [7, 8, 9].map((i) => BASE + i * MIN));
    });

    test('limit: the most recent candles without from, the first ones after from; always oldest first', async () => {
      const latest = await getJson('/api/candles?limit=3');
      assert.deepEqual(latest.body.candles.map((c: Candle) => c.openTime), [7, 8, 9].map((i) => BASE + i * MIN));
      const fromStart = await getJson(`/api/candles?limit=3&from=${BASE + MIN}`);
      assert.deepEqual(fromStart.body.candles.map((c: Candle) => c.openTime), [1, 2, 3].map((i) => BASE + i * MIN));
      const max = await getJson('/api/candles?limit=5000');
      assert.equal(max.status, 200);
      assert.equal(max.body.count, 10);
    });

    const bad: [string, string][] = [
      ['timeframe=7m', 'timeframe'],
      ['limit=0', 'limit'],
      ['limit=999999', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=-1', 'limit'],
      ['limit=2.5', 'limit'],
      ['from=yesterday', 'from'],
      ['to=later', 'to'],
      [`from=${BASE + 5 * MIN}&to=${BASE}`, 'from'],
      ['exchange=nope', 'exchange'],
      ['symbol=DOGEUSDT', 'symbol'],
      ['symbl=BTCUSDT', 'symbl'],
    ];
    for (const [query, parameter] of bad) {
      test(`400 bad_parameter for ${query}`, async () => {
        const { status, body } = await getJson(`/api/candles?${query}`);
        assert.equal(status, 400);
        assert.equal(body.error?.code, 'bad_parameter');
        assert.equal(body.error?.parameter, parameter);
        assert.equal(typeof body.error?.message, 'string');
        assert.ok(body.error.message.includes(parameter), `message names the parameter: ${body.error.message}`);
      });
    }
  });

  test('unknown route: JSON 404', async () => {
    for (const path of ['/api/nope', '/api/candles/extra', '/favicon.ico']) {
      const { status, body } = await getJson(path);
      assert.equal(status, 404, path);
      assert.equal(body.error?.code, 'not_found');
    }
  });

  test('POST: JSON 405 with Allow', async () => {
    const { status, body, res } = await getJson('/api/candles', { method: 'POST', body: '{}' });
    assert.equal(status, 405);
    assert.equal(body.error?.code, 'method_not_allowed');
    assert.match(res.headers.get('allow') ?? '', /GET/);
  });

  test('/api lists the endpoints', async () => {
    const { status, body } = await getJson('/api');
    assert.equal(status, 200);
    assert.equal(body.name, 'candlestack');
    assert.equal(body.endpoints.candles.startsWith('/api/candles'), true);
  });

  test('/healthz is 200', async () => {
    const { status, body } = await getJson('/healthz');
    assert.equal(status, 200);
    assert.equal(body.status, 'alive');
  });

  test('/readyz: 503 with reasons while a feed is disconnected, 200 once all are connected', async () => {
    feeds = [feed('0', 'connected', 100), feed('1', 'disconnected', null)];
    const down = await getJson('/readyz');
    assert.equal(down.status, 503);
    assert.equal(down.body.ready, false);
    assert.deepEqual(down.body.reasons, ['feed binance#1 is disconnected']);

    feeds = [feed('0', 'connected', 100), feed('1', 'connected', 200)];
    const up = await getJson('/readyz');
    assert.equal(up.status, 200);
    assert.equal(up.body.ready, true);
    assert.deepEqual(up.body.reasons, []);
  });

  test('/api/health: feed state up / stale / down', async () => {
    feeds = [feed('0', 'connected', 100), feed('1', 'connected', STALE_AFTER_MS), feed('2', 'disconnected', null)];
    const { status, body } = await getJson('/api/health');
    assert.equal(status, 200);
    assert.deepEqual(body.feeds.map((f: { connection: string; state: string }) => [f.connection, f.state]), [['0', 'up'], ['1', 'stale'], ['2', 'down']]);
    assert.equal(body.status, 'degraded');
    assert.deepEqual(body.store, { kind: 'sqlite', open: true, queueDepth: 0 });
    assert.deepEqual(body.bus, { kind: 'memory' });
    assert.equal(typeof body.uptimeSeconds, 'number');

    feeds = [feed('0', 'connected', 100)];
    assert.equal((await getJson('/api/health')).body.status, 'ok');
    feeds = [feed('0', 'connecting', null), feed('1', 'disconnected', null)];
    assert.equal((await getJson('/api/health')).body.status, 'down');
    feeds = [];
  });

  test('/api/symbols lists configured symbols with their stored series', async () => {
    const { status, body } = await getJson('/api/symbols');
    assert.equal(status, 200);
    assert.deepEqual(body.symbols.map((s: { symbol: string }) => s.symbol), ['BTC-USDT', 'ETH-USDT', 'SOL-USDT']);
    const btc = body.symbols[0];
    assert.equal(btc.exchange, 'binance');
    assert.deepEqual(btc.timeframes, ['1m', '5m']);
    assert.deepEqual(btc.stored, {
      '1m': { candles: 10, firstOpenTime: BASE, lastOpenTime: BASE + 9 * MIN },
      '5m': { candles: 2, firstOpenTime: BASE, lastOpenTime: BASE + 5 * MIN },
    });
    assert.deepEqual(body.symbols[1].stored, { '1m': { candles: 3, firstOpenTime: BASE, lastOpenTime: BASE + 2 * MIN } });
    assert.deepEqual(body.symbols[2].stored, {});
  });

  test('/metrics is Prometheus text with the HTTP request counter', async () => {
    await fetch(`${base}/api/candles?limit=2`).then((r) => r.text());
    await fetch(`${base}/api/candles?limit=0`).then((r) => r.text());
    await fetch(`${base}/no/such/route`).then((r) => r.text());
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.match(text, /# TYPE candlestack_http_requests_total counter/);
    assert.match(text, /candlestack_http_requests_total\{method="GET",route="\/api\/candles",status="200"\} \d+/);
    assert.match(text, /candlestack_http_requests_total\{method="GET",route="\/api\/candles",status="400"\} \d+/);
    assert.match(text, /candlestack_http_requests_total\{method="GET",route="unknown",status="404"\} \d+/);
    assert.match(text, /candlestack_http_request_duration_seconds_bucket/);
  });

  describe('WebSocket /ws', () => {
    const update = (c: Candle) => live.onCandle({ type: 'candle', kind: 'update', candle: c });

    test('subscribe -> subscribed; candles for that key arrive, others do not', async (t) => {
      const client = await LiveClient.open(t, `${wsBase}/ws`);
      client.send({ op: 'subscribe', exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m' });
      assert.deepEqual(await client.next(), { type: 'subscribed', exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m' });

      // other keys first: if they were delivered they would come before the BTC 1m candle
      update(candle('ETH-USDT', '1m', BASE, '2000.00000000'));
      update(candle('BTC-USDT', '5m', BASE, '101.00000000'));
      update(btc1m[4]!);
      assert.deepEqual(await client.next(), { type: 'candle', kind: 'update', candle: btc1m[4] });
      live.onCandle({ type: 'candle', kind: 'close', candle: btc1m[5]! });
      assert.deepEqual(await client.next(), { type: 'candle', kind: 'close', candle: btc1m[5] });
    });

    test('bad subscribe messages get an error naming the parameter', async (t) => {
      const client = await LiveClient.open(t, `${wsBase}/ws`);
      client.send({ op: 'subscribe', exchange: 'binance', symbol: 'BTC-USDT', timeframe: '7m' });
      const e1 = await client.next();
      assert.equal(e1.type, 'error');
      assert.equal(e1.error.code, 'bad_parameter');
      assert.equal(e1.error.parameter, 'timeframe');
      client.send({ op: 'subscribe', symbol: 'DOGE-USDT' });
      assert.equal((await client.next()).error.parameter, 'symbol');
      client.send({ op: 'subscribe', exchange: 'nope', symbol: 'BTC-USDT' });
      assert.equal((await client.next()).error.parameter, 'exchange');
      client.send({ op: 'dance' });
      assert.equal((await client.next()).error.parameter, 'op');
      client.send('not json');
      const e5 = await client.next();
      assert.equal(e5.type, 'error');
      assert.equal(e5.error.code, 'bad_message');
      // nothing was subscribed
      update(btc1m[0]!);
      client.send({ op: 'subscribe', symbol: 'ETH-USDT' });
      assert.equal((await client.next()).type, 'subscribed', 'the BTC candle was not delivered');
    });

    test('a timeframe that is not configured, mistyped and non-string fields get an error naming the field, never a default subscription', async (t) => {
      const client = await LiveClient.open(t, `${wsBase}/ws`);
      client.send({ op: 'subscribe', exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1h' }); // valid, but only 1m and 5m are built
      const e1 = await client.next();
      assert.equal(e1.type, 'error');
      assert.equal(e1.error.parameter, 'timeframe');
      assert.match(e1.error.message, /configured timeframes 1m, 5m/);
      client.send({ op: 'subscribe', exchnage: 'binance', sym: 'ETH-USDT' });
      const e2 = await client.next();
      assert.deepEqual([e2.type, e2.error.code, e2.error.parameter], ['error', 'bad_parameter', 'exchnage']);
      client.send({ op: 'subscribe', symbol: 'BTC-USDT', timeframe: 1 });
      assert.equal((await client.next()).error.parameter, 'timeframe');
      client.send({ op: 'subscribe', symbol: ['BTC-USDT'] });
      assert.equal((await client.next()).error.parameter, 'symbol');
      client.send({ op: 'unsubscribe', symbol: 'BTC-USDT', timeframe: '1h' });
      assert.equal((await client.next()).error.parameter, 'timeframe');
      client.send([{ op: 'subscribe' }]);
      assert.equal((await client.next()).error.code, 'bad_message');
      // none of them subscribed anything: a BTC-USDT 1m candle is not delivered before the next answer
      update(btc1m[0]!);
      client.send({ op: 'subscribe', symbol: 'SOL-USDT' });
      assert.deepEqual(await client.next(), { type: 'subscribed', exchange: 'binance', symbol: 'SOL-USDT', timeframe: '1m' });
    });

    test('unsubscribe stops delivery', async (t) => {
      const client = await LiveClient.open(t, `${wsBase}/ws`);
      client.send({ op: 'subscribe', symbol: 'BTC-USDT', timeframe: '1m' });
      client.send({ op: 'subscribe', symbol: 'ETH-USDT', timeframe: '1m' });
      assert.equal((await client.next()).type, 'subscribed');
      assert.equal((await client.next()).type, 'subscribed');
      update(btc1m[1]!);
      assert.equal((await client.next()).candle.symbol, 'BTC-USDT');

      client.send({ op: 'unsubscribe', symbol: 'BTC-USDT', timeframe: '1m' });
      assert.deepEqual(await client.next(), { type: 'unsubscribed', exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m' });
      update(btc1m[2]!);
      const eth = candle('ETH-USDT', '1m', BASE + MIN, '2001.00000000');
      update(eth);
      assert.deepEqual(await client.next(), { type: 'candle', kind: 'update', candle: eth }, 'the BTC candle after unsubscribe was not delivered');
    });

    test('subscription in the URL query', async (t) => {
      const client = await LiveClient.open(t, `${wsBase}/ws?symbol=BTCUSDT&timeframe=1m`);
      assert.deepEqual(await client.next(), { type: 'subscribed', exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m' });
      update(btc1m[6]!);
      assert.deepEqual(await client.next(), { type: 'candle', kind: 'update', candle: btc1m[6] });

      const bad = await LiveClient.open(t, `${wsBase}/ws?symbol=BTCUSDT&timeframe=7m`);
      const e = await bad.next();
      assert.equal(e.type, 'error');
      assert.equal(e.error.parameter, 'timeframe');
    });

    test('an upgrade on another path is refused', async () => {
      const ws = new WebSocket(`${wsBase}/nope`);
      const status = await new Promise<number>((resolve, reject) => {
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.once('open', () => reject(new Error('opened')));
        ws.once('error', reject);
      });
      ws.terminate();
      assert.equal(status, 404);
    });

    test('candlestack_websocket_clients goes 1 then 0 after close', async (t) => {
      const clients = () => metricValue(metrics, 'candlestack_websocket_clients');
      await until('no clients from earlier tests', async () => (await clients()) === 0, 3_000, { pollMs: 5 });
      const client = await LiveClient.open(t, `${wsBase}/ws`);
      await until('gauge 1', async () => (await clients()) === 1, 3_000, { pollMs: 5 });
      await client.close();
      await until('gauge 0', async () => (await clients()) === 0, 3_000, { pollMs: 5 });
    });
  });
});
