/**
 * GET /api/decision of the `decide` role (a real role root on a SQLite store holding real Binance 1m klines):
 * the exact body shape, the rules strategy's deterministic answer, 400 for bad parameters, 404 for a market
 * that is not watched, HOLD stale_data when no candle closed within 3 periods; the random strategy is seeded;
 * run/demo's ApiServer answers the same route in-process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig, type Config } from '../src/config/config.js';
import { startDecide } from '../src/app/decide.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { FEATURE_NAMES } from '../src/assistant/features.js';
import { RulesStrategy } from '../src/assistant/rules-strategy.js';
import { RandomStrategy } from '../src/assistant/random-strategy.js';
import type { Candle } from '../src/core/types.js';
import { FakeClock } from './support/fake-clock.js';
import { log, until } from './support/harness.js';
import { loadKlines } from './support/klines.js';
import { metricValue } from './support/metrics.js';

const MIN = 60_000;

function xrpAsBtc(): Candle[] {
  return loadKlines('XRPETH-1m-2019-10-11.json', 'BTC-USDT', '1m').map((c) => ({ ...c, quoteVolume: (Number(c.volume) * Number(c.close)).toFixed(8), takerBuyVolume: (Number(c.volume) * 0.6).toFixed(8) }));
}

async function decideRole(t: import('node:test').TestContext, candles: Candle[], clock: FakeClock, over: (c: Config) => void = () => {}) {
  const dir = mkdtempSync(join(tmpdir(), 'decide-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteStore(join(dir, 'c.db'), () => clock.now());
  await store.upsert(candles);
  const config = defaultConfig();
  config.http.port = 0;
  config.timeframes = ['1m', '5m'];
  config.store.url = `sqlite:${join(dir, 'c.db')}`;
  over(config);
  const app = await startDecide(config, { clock, log, version: 'test', store });
  t.after(async () => {
    await app.stop();
    await store.close();
  });
  const base = `http://127.0.0.1:${app.port}`;
  const get = async (q: string) => {
    const res = await fetch(`${base}/api/decision${q}`);
    return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as any };
  };
  return { app, get, base };
}

test('decide role: GET /api/decision answers exactly {action, confidence, strategy, reasons, features, price, asOf} for the latest closed candle', async (t) => {
  const candles = xrpAsBtc();
  const last = candles.at(-1)!;
  const clock = new FakeClock(last.openTime + MIN + 5_000);
  const { get, app } = await decideRole(t, candles, clock);
  const r = await get('?exchange=binance&symbol=BTC-USDT&timeframe=1m');
  assert.equal(r.status, 200);
  assert.match(r.type ?? '', /application\/json/);
  assert.deepEqual(Object.keys(r.body).sort(), ['action', 'asOf', 'confidence', 'features', 'price', 'reasons', 'strategy']);
  assert.ok(['BUY', 'SELL', 'HOLD'].includes(r.body.action));
  assert.equal(r.body.strategy, 'rules');
  assert.equal(r.body.price, Number(last.close));
  assert.equal(r.body.asOf, last.openTime + MIN);
  assert.deepEqual(Object.keys(r.body.features), [...FEATURE_NAMES]);
  for (const n of FEATURE_NAMES.filter((n) => n !== 'spreadBps')) assert.equal(typeof r.body.features[n], 'number', `${n} has a value after ${candles.length} candles`);
  assert.ok(r.body.confidence >= 0 && r.body.confidence <= 1);
  assert.ok(r.body.reasons.length >= 1 && r.body.reasons.every((x: unknown) => typeof x === 'string'));
  // The rules strategy is deterministic: the same features give the same answer as the strategy itself.
  const again = new RulesStrategy().decide({ exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', openTime: last.openTime, price: r.body.price, features: r.body.features });
  assert.deepEqual([again.action, again.reasons], [r.body.action, r.body.reasons]);
  // Native spelling and defaults resolve to the same market.
  assert.deepEqual((await get('?symbol=BTCUSDT')).body, r.body);
  assert.deepEqual((await get('')).body, r.body);
  // Counted in the SLA families on the role's server.
  assert.equal(await metricValue(app.metrics, 'candlestack_http_requests_total', { route: '/api/decision', status: '200' }), 3);
});

test('decide role: bad parameters are 400 JSON naming the parameter; a market not watched is 404 JSON', async (t) => {
  const candles = xrpAsBtc();
  const clock = new FakeClock(candles.at(-1)!.openTime + MIN + 5_000);
  const { get } = await decideRole(t, candles, clock);
  for (const [q, parameter] of [
    ['?timeframe=7m', 'timeframe'],
    ['?exchange=Bin%20ance', 'exchange'],
    ['?symbol=%3Cscript%3E', 'symbol'],
    ['?foo=1', 'foo'],
  ] as const) {
    const r = await get(q);
    assert.equal(r.status, 400, q);
    assert.equal(r.body.error.code, 'bad_parameter');
    assert.equal(r.body.error.parameter, parameter);
  }
  for (const q of ['?exchange=kraken', '?symbol=DOGE-USDT', '?timeframe=4h']) {
    const r = await get(q);
    assert.equal(r.status, 404, q);
    assert.equal(r.body.error.code, 'unknown_market');
    assert.match(r.body.error.message, /watched|built/);
  }
});

test('decide role: no closed candle within 3 periods -> HOLD with reason stale_data, never a guess', async (t) => {
  const candles = xrpAsBtc();
  const last = candles.at(-1)!;
  const clock = new FakeClock(last.openTime + MIN + 3 * MIN - 1);
  const { get } = await decideRole(t, candles, clock);
  assert.notDeepEqual((await get('')).body.reasons, ['stale_data'], 'within 3 periods: a real decision');
  clock.advance(2);
  const stale = (await get('')).body;
  assert.deepEqual({ ...stale, features: undefined }, { action: 'HOLD', confidence: 0, strategy: 'rules', reasons: ['stale_data'], features: undefined, price: Number(last.close), asOf: last.openTime + MIN });
  // A series with no candle at all.
  const none = (await get('?symbol=ETH-USDT')).body;
  assert.deepEqual(none, { action: 'HOLD', confidence: 0, strategy: 'rules', reasons: ['stale_data'], features: {}, price: null, asOf: null });
});

test('random strategy: seeded, reproducible per market and candle, all three actions over many candles', () => {
  const input = (openTime: number) => ({ exchange: 'binance' as const, symbol: 'BTC-USDT', timeframe: '1m' as const, openTime, price: 1, features: {} as never });
  const a = new RandomStrategy(7);
  const b = new RandomStrategy(7);
  const c = new RandomStrategy(8);
  const seen = new Set<string>();
  let differs = 0;
  for (let i = 0; i < 60; i++) {
    const x = a.decide(input(i * MIN));
    assert.deepEqual(b.decide(input(i * MIN)), x);
    if (c.decide(input(i * MIN)).action !== x.action) differs++;
    seen.add(x.action);
    assert.ok(x.confidence > 0 && x.confidence <= 1);
  }
  assert.deepEqual([...seen].sort(), ['BUY', 'HOLD', 'SELL']);
  assert.ok(differs > 10, 'another seed gives other answers');
});

test('decide role with --strategy random answers from the seeded strategy', async (t) => {
  const candles = xrpAsBtc();
  const last = candles.at(-1)!;
  const clock = new FakeClock(last.openTime + MIN + 5_000);
  const { get } = await decideRole(t, candles, clock, (c) => {
    c.decide.strategy = 'random';
    c.decide.seed = 42;
  });
  const r = (await get('')).body;
  const want = new RandomStrategy(42).decide({ exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', openTime: last.openTime, price: 0, features: {} as never });
  assert.deepEqual([r.strategy, r.action, r.confidence, r.reasons], ['random', want.action, want.confidence, want.reasons]);
});

test('decide role: every decision is recorded once per candle and answer, listed by GET /api/decisions, counted by strategy and action', async (t) => {
  const candles = xrpAsBtc();
  const last = candles.at(-1)!;
  const clock = new FakeClock(last.openTime + MIN + 5_000);
  const { get, base, app } = await decideRole(t, candles, clock);
  const d = (await get('')).body;
  await get('?symbol=BTCUSDT');
  const list = async (q = '') => {
    const res = await fetch(`${base}/api/decisions${q}`);
    return { status: res.status, body: (await res.json()) as any };
  };
  const all = await until('recorded', async () => ((await list()).body.count === 1 ? (await list()).body : undefined));
  assert.deepEqual(all.horizons, ['15m', '1h', '4h']);
  const r = all.decisions[0];
  assert.deepEqual({ action: r.action, confidence: r.confidence, strategy: r.strategy, reasons: r.reasons, features: r.features, price: r.price, asOf: r.asOf }, d);
  assert.deepEqual([r.exchange, r.symbol, r.timeframe, r.pending, r.outcomes], ['binance', 'BTC-USDT', '1m', true, {}]);
  assert.equal(await metricValue(app.metrics, 'candlestack_decisions_total', { strategy: 'rules', action: d.action }), 2, 'both answers counted');
  assert.equal((await list('?strategy=random')).body.count, 0);
  assert.equal((await list('?symbol=ETH-USDT')).body.count, 0);
  assert.equal((await list('?strategy=gpt')).status, 400);
  assert.equal((await list('?limit=1001')).status, 400);
});

test('DecisionLog scores each horizon once it has passed: BUY/SELL/HOLD against the threshold, no_data after an hour, hit ratio per strategy and horizon', async (t) => {
  const clock = new FakeClock(Date.UTC(2024, 0, 1, 12));
  const store = new SqliteStore(':memory:', () => clock.now());
  t.after(() => store.close());
  const metrics = (await import('./support/harness.js')).testMetrics();
  const config = defaultConfig();
  const { DecisionLog } = await import('../src/assistant/decision-log.js');
  const { buildMarkets } = await import('../src/app/parts.js');
  const dl = new DecisionLog({ store, clock, log, metrics: metrics.assistant, horizonsMs: [15 * MIN, 60 * MIN], hitThreshold: 0.001, scoreIntervalMs: 30_000, priceTimeframe: '1m', markets: buildMarkets(config) });
  const t0 = clock.now();
  const candle = (openTime: number, close: string): Candle => ({ exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', openTime, open: close, high: close, low: close, close, volume: '1', quoteVolume: close, takerBuyVolume: '0.5', tradeCount: 1, vwap: close, closed: true, source: 'trades', revision: 0 });
  const decision = (action: 'BUY' | 'SELL' | 'HOLD', strategy = 'rules', symbol = 'BTC-USDT') => ({ exchange: 'binance' as const, symbol, timeframe: '1m' as const, action, confidence: 0.6, strategy, reasons: ['x'], features: {}, price: 100, asOf: t0, decidedAt: t0 + 1 });
  dl.record(decision('BUY'));
  dl.record(decision('BUY')); // the same answer about the same candle: counted, stored once
  dl.record(decision('SELL', 'random'));
  dl.record(decision('HOLD', 'llm', 'ETH-USDT')); // no ETH prices at all: no_data after an hour
  dl.record({ ...decision('HOLD'), strategy: 'rules', symbol: 'BTC-USDT', timeframe: '5m', reasons: ['stale_data'] }); // never scored
  await until('stored', async () => (await store.assistant.queryDecisions({ limit: 10 })).length === 4);
  // Price +0.5% at 15 min (BUY hits, SELL misses), back to +0.05% at 1 h (within the threshold: both miss).
  await store.upsert([candle(t0 + 14 * MIN, '100.5'), candle(t0 + 59 * MIN, '100.05')]);
  clock.advance(14 * MIN);
  await dl.score();
  assert.equal((await store.assistant.pendingDecisions(10)).every((d) => Object.keys(d.outcomes).length === 0), true, 'nothing before its horizon');
  clock.advance(2 * MIN);
  await dl.score();
  const byStrategy = async () => Object.fromEntries((await store.assistant.queryDecisions({ limit: 10 })).map((d) => [d.strategy + ':' + d.timeframe, d]));
  let rows = await byStrategy();
  assert.deepEqual(rows['rules:1m']!.outcomes['15m'], { price: 100.5, change: 100.5 / 100 - 1, hit: true, scoredAt: clock.now() });
  assert.equal(rows['random:1m']!.outcomes['15m']!.hit, false);
  assert.equal(rows['llm:1m']!.outcomes['15m'], undefined, 'no price yet: waits up to an hour');
  assert.equal(await metricValue(metrics, 'candlestack_decision_hit_ratio', { strategy: 'rules', horizon: '15m' }), 1);
  assert.equal(await metricValue(metrics, 'candlestack_decision_hit_ratio', { strategy: 'random', horizon: '15m' }), 0);
  clock.advance(60 * MIN);
  await dl.score();
  rows = await byStrategy();
  assert.equal(rows['rules:1m']!.outcomes['1h']!.hit, false);
  assert.equal(rows['rules:1m']!.pending, false);
  assert.equal(rows['llm:1m']!.outcomes['15m']!.hit, null);
  assert.equal(rows['rules:5m']!.pending, false, 'a stale decision is recorded but never scored');
  assert.deepEqual(rows['rules:5m']!.outcomes, {});
  assert.equal(await metricValue(metrics, 'candlestack_decision_outcomes_total', { strategy: 'rules', result: 'hit' }), 1);
  assert.equal(await metricValue(metrics, 'candlestack_decision_outcomes_total', { strategy: 'rules', result: 'miss' }), 1);
  assert.equal(await metricValue(metrics, 'candlestack_decision_outcomes_total', { strategy: 'llm', horizon: '15m', result: 'no_data' }), 1);
  assert.equal(await metricValue(metrics, 'candlestack_decision_hit_ratio', { strategy: 'rules', horizon: '1h' }), 0);
  assert.equal(await metricValue(metrics, 'candlestack_decisions_total', { strategy: 'rules', action: 'BUY' }), 2);
  // HOLD hits when the price stays within the threshold.
  dl.record({ ...decision('HOLD'), asOf: t0 + 59 * MIN + MIN, price: 100.05, decidedAt: clock.now() });
  await until('stored', async () => (await store.assistant.queryDecisions({ limit: 10 })).length === 5);
  await store.upsert([candle(t0 + 74 * MIN, '100.1')]);
  await dl.score();
  const hold = (await store.assistant.queryDecisions({ limit: 1 }))[0]!;
  assert.equal(hold.outcomes['15m']!.hit, true);
});
