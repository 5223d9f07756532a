/**
 * Indicators through the real components: SQLite (migration 2 over a version-1 database, upsert, query, prune),
 * the batched IndicatorWriter, GET /api/indicators (values and 400s) and /ws pushes, and the `indicators:`
 * config section's validation.
 */
import { after, before, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import Database from 'better-sqlite3';
import type { LiveHub } from '../src/api/live-ws.js';
import { ConfigError } from '../src/core/errors.js';
import type { IndicatorEvent } from '../src/core/types.js';
import { loadConfig } from '../src/config/config.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { SQLITE_MIGRATIONS } from '../src/store/sqlite-migrations.js';
import { IndicatorWriter } from '../src/store/indicator-writer.js';
import type { IndicatorRow, Store } from '../src/store/store.js';
import { log, testMetrics, until } from './support/harness.js';
import { FakeClock } from './support/fake-clock.js';
import { startTestApi, type TestApi } from './support/api.js';
import { metricValue } from './support/metrics.js';

const T0 = Date.UTC(2024, 0, 1);
const MIN = 60_000;
const key = { exchange: 'binance' as const, symbol: 'BTC-USDT', timeframe: '1m' as const };

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-ind-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function rows(i: number): IndicatorRow[] {
  return [
    { ...key, openTime: T0 + i * MIN, name: 'sma20', values: { value: 100 + i + 0.1 } },
    { ...key, openTime: T0 + i * MIN, name: 'macd12_26_9', values: { macd: 0.5 * i, signal: i > 2 ? 0.25 * i : null, histogram: i > 2 ? 0.25 * i : null } },
  ];
}

describe('SqliteStore: indicators', () => {
  test('migration 2 adds the indicators table to a version-1 database and keeps its candles', async (t) => {
    const path = join(tempDir(t), 'v1.db');
    // A database as version 1 left it (the current store's statements need the later columns).
    const v1 = new Database(path);
    v1.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    v1.exec(SQLITE_MIGRATIONS[0]!.sql);
    v1.prepare('INSERT INTO schema_migrations VALUES (1, ?, 1)').run(SQLITE_MIGRATIONS[0]!.name);
    v1.close();
    const store = new SqliteStore(path, () => 2);
    t.after(() => store.close());
    await store.upsertIndicators(rows(0));
    assert.equal((await store.queryIndicators({ ...key, names: [], limit: 10 })).length, 1);
    const db = new Database(path, { readonly: true });
    t.after(() => db.close());
    assert.deepEqual(db.prepare('SELECT version, name FROM schema_migrations WHERE version <= 2 ORDER BY version').all(), [{ version: 1, name: 'candles' }, { version: 2, name: 'indicators' }]);
  });
  // Upserts, grouping, name filters, from/to/limit and prune: the shared store contract (test/support/store-contract.ts).
});

describe('IndicatorWriter', () => {
  const event = (kind: IndicatorEvent['kind'], i: number, sma: number): IndicatorEvent => ({ type: 'indicator', kind, ...key, openTime: T0 + i * MIN, values: { sma20: { value: sma }, vwap: { value: sma + 1 } } });

  test('stores close and correction values (latest wins), never forming ones; a failed write is kept and counted', async (t) => {
    const clock = new FakeClock(T0);
    const metrics = testMetrics();
    const inner = new SqliteStore(':memory:', () => 1);
    t.after(() => inner.close());
    let fail = 1;
    const writes: number[] = [];
    const store: Pick<Store, 'kind' | 'upsertIndicators'> = {
      kind: 'sqlite',
      upsertIndicators: async (r) => {
        writes.push(r.length);
        if (fail-- > 0) throw new Error('disk I/O error (simulated)');
        return inner.upsertIndicators(r);
      },
    };
    const writer = new IndicatorWriter({ store, clock, metrics: metrics.store, log, flushMs: 1_000 });
    writer.start();
    writer.onEvent(event('close', 0, 10));
    writer.onEvent(event('update', 1, 11));
    writer.onEvent(event('close', 1, 12));
    writer.onEvent(event('correction', 0, 9));
    assert.equal(writer.depth, 4);
    clock.advance(1_000);
    await writer.flush(); // the timer's flush failed; this one writes the kept rows
    assert.deepEqual(writes, [4, 4]);
    const got = await inner.queryIndicators({ ...key, names: [], limit: 10 });
    assert.deepEqual(got.map((p) => p.values.sma20!.value), [9, 12]);
    assert.equal(await metricValue(metrics, 'candlestack_store_errors_total', { operation: 'upsert_indicators' }), 1);
    await writer.stop();
  });
});

describe('GET /api/indicators and /ws', () => {
  let server: TestApi;
  let live: LiveHub;
  let store: SqliteStore;
  let base = '';
  let wsBase = '';

  before(async () => {
    store = new SqliteStore(':memory:');
    for (let i = 0; i < 10; i++) await store.upsertIndicators(rows(i));
    server = await startTestApi({ store, symbols: ['BTC-USDT', 'ETH-USDT'], timeframes: ['1m', '5m'], indicatorNames: ['sma20', 'macd12_26_9', 'rsi14'] });
    ({ live, url: base, wsUrl: wsBase } = server);
  });

  after(async () => {
    await server.close();
    await store.close();
  });

  async function get(path: string): Promise<{ status: number; body: any }> {
    const res = await fetch(base + path);
    return { status: res.status, body: await res.json() };
  }

  test('values per candle, oldest first; names, from/to and limit', async () => {
    const all = await get('/api/indicators?exchange=binance&symbol=BTCUSDT&timeframe=1m');
    assert.equal(all.status, 200);
    assert.deepEqual([all.body.exchange, all.body.symbol, all.body.timeframe], ['binance', 'BTC-USDT', '1m']);
    assert.deepEqual(all.body.names, ['sma20', 'macd12_26_9', 'rsi14']);
    assert.equal(all.body.count, 10);
    assert.deepEqual(all.body.indicators[4], { openTime: T0 + 4 * MIN, values: { macd12_26_9: { macd: 2, signal: 1, histogram: 1 }, sma20: { value: 104.1 } } });
    const some = await get(`/api/indicators?symbol=btc-usdt&names=sma20&from=${T0 + 8 * MIN}`);
    assert.deepEqual(some.body.indicators, [8, 9].map((i) => ({ openTime: T0 + i * MIN, values: { sma20: { value: 100 + i + 0.1 } } })));
    const last = await get('/api/indicators?limit=2&to=2024-01-01T00:05:00Z');
    assert.deepEqual(last.body.indicators.map((p: { openTime: number }) => p.openTime), [T0 + 4 * MIN, T0 + 5 * MIN]);
    assert.equal((await get('/api/indicators?symbol=ETHUSDT')).body.count, 0);
    assert.match((await get('/api')).body.endpoints.indicators, /^\/api\/indicators\?/);
  });

  const bad: [string, string][] = [
    ['names=sma99', 'names'],
    ['names=sma20,nope', 'names'],
    ['timeframe=7m', 'timeframe'],
    ['limit=0', 'limit'],
    ['limit=5001', 'limit'],
    ['from=yesterday', 'from'],
    [`from=${T0 + MIN}&to=${T0}`, 'from'],
    ['symbol=DOGEUSDT', 'symbol'],
    ['exchange=nope', 'exchange'],
    ['name=sma20', 'name'],
  ];
  for (const [query, parameter] of bad) {
    test(`400 bad_parameter for ${query}`, async () => {
      const { status, body } = await get(`/api/indicators?${query}`);
      assert.equal(status, 400);
      assert.equal(body.error.code, 'bad_parameter');
      assert.equal(body.error.parameter, parameter);
      assert.ok(body.error.message.includes(parameter), body.error.message);
    });
  }

  test('/ws: indicator events reach the clients subscribed to that series only', async (t) => {
    const ws = new WebSocket(`${wsBase}/ws`);
    t.after(() => ws.terminate());
    const messages: any[] = [];
    ws.on('message', (d: Buffer) => messages.push(JSON.parse(d.toString())));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ op: 'subscribe', exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m' }));
    const received = (n: number) => until(`${n} messages`, () => messages.length >= n, 1_000, { pollMs: 5 });
    await received(1);
    assert.equal(messages[0].type, 'subscribed');
    const values = { sma20: { value: 1.5 }, macd12_26_9: { macd: 0.1, signal: null, histogram: null } };
    live.onIndicator({ type: 'indicator', kind: 'update', ...key, timeframe: '5m', openTime: T0, values }); // other series
    live.onIndicator({ type: 'indicator', kind: 'close', ...key, openTime: T0, values });
    await received(2);
    assert.deepEqual(messages[1], { type: 'indicator', kind: 'close', exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', openTime: T0, values });
    assert.equal(messages.length, 2);
  });
});

describe('config: indicators section', () => {
  function load(t: TestContext, yaml: string) {
    const file = join(tempDir(t), 'c.yaml');
    writeFileSync(file, yaml);
    return loadConfig({ file, env: {}, flags: {} });
  }

  test('defaults: all seven on, forming values on, history 500', (t) => {
    const c = load(t, 'log: { level: info }\n');
    assert.equal(c.indicators.enabled, true);
    assert.equal(c.indicators.forming, true);
    assert.equal(c.indicators.history, 500);
    assert.deepEqual(c.indicators.specs.map((s) => s.kind), ['sma', 'ema', 'rsi', 'macd', 'bollinger', 'atr', 'vwap']);
  });

  test('a kind given replaces its defaults; others stay; [] turns one off; false turns all off', (t) => {
    const c = load(t, 'indicators:\n  sma: [5, 50]\n  macd: ["3/10/4", { fast: 12, slow: 26, signal: 9 }]\n  bollinger: [{ period: 10, stdDev: 2.5 }]\n  atr: []\n  vwap: false\n  forming: false\n  history: 100\n');
    assert.deepEqual(c.indicators.specs, [
      { kind: 'ema', period: 20 },
      { kind: 'rsi', period: 14 },
      { kind: 'sma', period: 5 },
      { kind: 'sma', period: 50 },
      { kind: 'macd', fast: 3, slow: 10, signal: 4 },
      { kind: 'macd', fast: 12, slow: 26, signal: 9 },
      { kind: 'bollinger', period: 10, stdDev: 2.5 },
    ]);
    assert.equal(c.indicators.forming, false);
    assert.equal(load(t, 'indicators: false\n').indicators.enabled, false);
  });

  const invalid: [string, string][] = [
    ['indicators: { sma: [0] }', 'indicators.sma[0]'],
    ['indicators: { ema: [2.5] }', 'indicators.ema[0]'],
    ['indicators: { rsi: ["x"] }', 'indicators.rsi[0]'],
    ['indicators: { macd: ["26/12/9"] }', 'indicators.macd[0]'],
    ['indicators: { macd: [{ fast: 12, slow: 26 }] }', 'indicators.macd[0].signal'],
    ['indicators: { macd: [{ fast: 12, slow: 26, signal: 9, extra: 1 }] }', 'indicators.macd[0].extra'],
    ['indicators: { bollinger: ["20/0"] }', 'indicators.bollinger[0]'],
    ['indicators: { bollinger: [{ period: 20, stdDev: -1 }] }', 'indicators.bollinger[0].stdDev'],
    ['indicators: { vwap: yes please }', 'indicators.vwap'],
    ['indicators: { history: 5 }', 'indicators.history'],
    ['indicators: { sma: [600] }', 'indicators.history'],
    ['indicators: { smma: [3] }', 'indicators.smma'],
    ['indicators: [sma]', 'indicators'],
  ];
  for (const [yaml, field] of invalid) {
    test(`invalid: ${yaml} -> names ${field}`, (t) => {
      assert.throws(() => load(t, `${yaml}\n`), (err: unknown) => err instanceof ConfigError && err.field === field && err.message.startsWith(`${field}: expected`));
    });
  }
});
