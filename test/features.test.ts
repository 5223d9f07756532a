/**
 * Features (src/assistant/features.ts) against a plain offline recomputation over the same candles: every
 * feature of every candle equal to 1e-9 (relative, scale at least 1e-6: XRPETH prices are ~0.0014), on real
 * Binance 1m klines (test/fixtures/binance/XRPETH-1m-2019-10-11.json) plus a second exchange's series for the
 * cross-exchange spread; then the FeatureEngine on a real pipeline's bus: stored, /api/features with
 * /api/candles' parameter rules, pushed on /ws, counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { FEATURE_NAMES, FEATURE_WARMUP, FeatureCalculator, type FeatureName } from '../src/assistant/features.js';
import { FeatureEngine } from '../src/assistant/feature-engine.js';
import type { Candle } from '../src/core/types.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { systemClock } from '../src/core/clock.js';
import { featuresRoute } from '../src/api/features-route.js';
import { RoleServer } from '../src/app/role-server.js';
import { LiveHub } from '../src/api/live-ws.js';
import { buildMarkets } from '../src/app/parts.js';
import { defaultConfig } from '../src/config/config.js';
import { loadKlines } from './support/klines.js';
import { log, testMetrics, until } from './support/harness.js';
import { metricValue } from './support/metrics.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const MIN = 60_000;
const DAY = 86_400_000;

function series(): { a: Candle[]; b: Candle[] } {
  const a = loadKlines('XRPETH-1m-2019-10-11.json', 'XRP-ETH', '1m').map((c, i) => ({ ...c, quoteVolume: (Number(c.volume) * Number(c.close) * (1 + (i % 7) / 1000)).toFixed(8), takerBuyVolume: (Number(c.volume) * ((i % 10) / 10)).toFixed(8) }));
  // A second exchange, quoting slightly apart, missing some periods (no peer then).
  const b = a.filter((_, i) => i % 11 !== 5).map((c, i) => ({ ...c, exchange: 'okx' as const, close: (Number(c.close) * (1 + Math.sin(i) / 500)).toFixed(8) }));
  return { a, b };
}

// ── the plain offline recomputation, straight from the definitions in ARCHITECTURE.md ────────────────
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const popStd = (xs: number[]) => {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / xs.length);
};

/** Seeded exponential average over a whole array: undefined before the seed, then (x - v) * alpha + v. */
function seeded(xs: (number | undefined)[], period: number, alpha: number): (number | undefined)[] {
  const out: (number | undefined)[] = [];
  let v: number | undefined;
  const seed: number[] = [];
  for (const x of xs) {
    if (x === undefined) {
      out.push(undefined);
      continue;
    }
    if (v !== undefined) v = (x - v) * alpha + v;
    else {
      seed.push(x);
      if (seed.length === period) v = mean(seed);
    }
    out.push(v);
  }
  return out;
}

function offline(candles: Candle[], peers: Candle[]): Record<FeatureName, number | null>[] {
  const c = candles.map((x) => Number(x.close));
  const h = candles.map((x) => Number(x.high));
  const l = candles.map((x) => Number(x.low));
  const v = candles.map((x) => Number(x.volume));
  const r1 = c.map((x, i) => (i >= 1 ? Math.log(x / c[i - 1]!) : undefined));
  const gains = c.map((x, i) => (i >= 1 ? Math.max(x - c[i - 1]!, 0) : undefined));
  const losses = c.map((x, i) => (i >= 1 ? Math.max(c[i - 1]! - x, 0) : undefined));
  const ag = seeded(gains, 14, 1 / 14);
  const al = seeded(losses, 14, 1 / 14);
  const fast = seeded(c, 12, 2 / 13);
  const slow = seeded(c, 26, 2 / 27);
  const macd = c.map((_, i) => (slow[i] !== undefined ? fast[i]! - slow[i]! : undefined));
  const signal = seeded(macd, 9, 2 / 10);
  const tr = c.map((_, i) => (i >= 1 ? Math.max(h[i]! - l[i]!, Math.abs(h[i]! - c[i - 1]!), Math.abs(l[i]! - c[i - 1]!)) : undefined));
  const atr = seeded(tr, 14, 1 / 14);
  return candles.map((x, i) => {
    const ret = (k: number) => (i >= k ? Math.log(c[i]! / c[i - k]!) : null);
    const window = (xs: number[]) => xs.slice(i - 19, i + 1);
    let bbPctB: number | null = null;
    if (i >= 19) {
      const w = window(c);
      const m = mean(w);
      const s = popStd(w);
      if (s > 0) bbPctB = (c[i]! - (m - 2 * s)) / (4 * s);
    }
    let volumeZ20: number | null = null;
    if (i >= 19) {
      const s = popStd(window(v));
      volumeZ20 = s === 0 ? 0 : (v[i]! - mean(window(v))) / s;
    }
    const day = Math.floor(x.openTime / DAY);
    const session = candles.slice(0, i + 1).filter((y) => Math.floor(y.openTime / DAY) === day);
    const sv = session.reduce((s, y) => s + Number(y.volume), 0);
    const sq = session.reduce((s, y) => s + Number(y.quoteVolume), 0);
    const peer = peers.filter((p) => p.openTime <= x.openTime && p.openTime >= x.openTime - MIN && (p.openTime < x.openTime || p.exchange < x.exchange)).at(-1);
    return {
      ret1: ret(1),
      ret5: ret(5),
      ret15: ret(15),
      vol20: i >= 20 ? popStd(r1.slice(i - 19, i + 1) as number[]) : null,
      rsi14: ag[i] === undefined ? null : al[i] === 0 ? 100 : 100 - 100 / (ag[i]! / al[i]! + 1),
      macdHist: signal[i] === undefined ? null : macd[i]! - signal[i]!,
      bbPctB,
      atrRatio: atr[i] === undefined ? null : atr[i]! / c[i]!,
      volumeZ20,
      vwapDistance: sv > 0 ? c[i]! / (sq / sv) - 1 : null,
      takerBuyRatio: v[i]! > 0 ? Number(x.takerBuyVolume) / v[i]! : null,
      spreadBps: peer ? (c[i]! / Number(peer.close) - 1) * 1e4 : null,
    };
  });
}

test('streaming features equal a plain offline recomputation over the same candles (1e-9), warm-up nulls included', () => {
  const { a, b } = series();
  // Arrival order: per period binance closes first, then okx (so okx sees binance's candle of the same period).
  const all = [...a, ...b].sort((x, y) => x.openTime - y.openTime || (x.exchange < y.exchange ? -1 : 1));
  const calc = new FeatureCalculator();
  const got = new Map<string, Record<string, number | null>[]>([['binance', []], ['okx', []]]);
  for (const c of all) got.get(c.exchange)!.push(calc.next(c, MIN)!.values);
  let worst = 0;
  let compared = 0;
  for (const [candles, peers, name] of [[a, b, 'binance'], [b, a, 'okx']] as const) {
    const want = offline(candles, peers);
    const ours = got.get(name)!;
    assert.equal(ours.length, candles.length);
    for (let i = 0; i < candles.length; i++) {
      for (const f of FEATURE_NAMES) {
        const e = want[i]![f];
        const g = ours[i]![f];
        if (e === null) {
          assert.equal(g, null, `${name} ${f} at ${i}: null while warming up / absent`);
          continue;
        }
        assert.equal(typeof g, 'number', `${name} ${f} at ${i}`);
        const diff = Math.abs(g! - e) / Math.max(Math.abs(e), 1e-6);
        worst = Math.max(worst, diff);
        assert.ok(diff <= 1e-9, `${name} ${f} at ${i}: ${g} vs offline ${e}`);
        compared++;
      }
    }
  }
  assert.ok(compared > 7000, `${compared} values compared`);
  assert.ok(worst < 1e-9);
  // The last feature to warm up is MACD's histogram (its signal line: 26 + 9 - 1 closes): FEATURE_WARMUP.
  assert.equal(got.get('binance')!.findIndex((v) => v.macdHist !== null), FEATURE_WARMUP - 1);
  // A correction or replay of an older candle gives nothing (and changes nothing).
  assert.equal(calc.next(a[10]!, MIN), null);
});

test('FeatureEngine: closed candles -> stored vectors, /api/features with /api/candles\' rules, /ws push, counted per timeframe', async (t) => {
  const store = new SqliteStore(':memory:', () => Date.now());
  t.after(() => store.close());
  const metrics = testMetrics();
  const { a } = series();
  await store.upsert(a.slice(0, 100));
  const config = defaultConfig();
  config.exchanges = [{ ...config.exchanges[0]!, symbols: ['XRP-ETH'] }];
  config.timeframes = ['1m'];
  const markets = buildMarkets(config);
  const engine = new FeatureEngine({ store, clock: systemClock, metrics: metrics.assistant, log, timeframes: ['1m'], flushMs: 20 });
  await engine.warmUp([{ exchange: 'binance', symbol: 'XRP-ETH', timeframe: '1m' }], a[99]!.openTime + MIN);
  assert.equal(engine.latest('binance', 'XRP-ETH', '1m')!.openTime, a[99]!.openTime, 'warmed up from the store');
  assert.equal(await metricValue(metrics, 'candlestack_features_calculated_total', { timeframe: '1m' }), 0, 'warm-up is not counted');

  const live = new LiveHub({ markets, metrics: metrics.api, log, clock: systemClock });
  engine.onFeature(live.onFeature);
  const http = createServer();
  http.on('upgrade', (req, socket, head) => live.handleUpgrade(req, socket, head));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  t.after(async () => {
    await live.stop();
    http.close();
  });
  const ws = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}/ws`);
  const frames: any[] = [];
  ws.on('message', (d) => frames.push(JSON.parse(String(d))));
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ op: 'subscribe', exchange: 'binance', symbol: 'XRP-ETH', timeframe: '1m' }));
  await until('subscribed', () => frames.some((f) => f.type === 'subscribed'));

  engine.start();
  t.after(() => engine.stop());
  // Live candles 100..149, then a forming update and a correction (neither makes a vector).
  const reference = new FeatureCalculator();
  let want = null;
  for (const c of a.slice(0, 150)) want = reference.next(c, MIN);
  for (const c of a.slice(100, 150)) engine.onCandle({ type: 'candle', kind: 'close', candle: c });
  engine.onCandle({ type: 'candle', kind: 'update', candle: { ...a[150]!, closed: false } });
  engine.onCandle({ type: 'candle', kind: 'correction', candle: a[120]! });
  assert.deepEqual(engine.latest('binance', 'XRP-ETH', '1m'), want, 'warm-up + live = one pass over all candles');
  assert.equal(await metricValue(metrics, 'candlestack_features_calculated_total', { timeframe: '1m' }), 50);
  assert.equal(await metricValue(metrics, 'candlestack_feature_calculation_duration_seconds_count'), 50);
  await until('features pushed on /ws', () => frames.filter((f) => f.type === 'feature').length === 50);
  const last = frames.filter((f) => f.type === 'feature').at(-1);
  assert.deepEqual(last, { type: 'feature', exchange: 'binance', symbol: 'XRP-ETH', timeframe: '1m', openTime: want!.openTime, close: want!.close, values: want!.values });
  ws.close();

  await engine.flush();
  const server = new RoleServer({ host: '127.0.0.1', port: 0, role: 'serve', registry: metrics.registry, clock: systemClock, metrics: metrics.api, health: { startedAt: Date.now(), staleAfterMs: 1000, bus: { kind: 'memory' } }, routes: { '/api/features': (u, res) => featuresRoute({ store, markets }, u, res) } });
  await server.start();
  t.after(() => server.stop());
  const get = async (q: string) => {
    const res = await fetch(`http://127.0.0.1:${server.port}/api/features${q}`);
    return { status: res.status, body: (await res.json()) as any };
  };
  const page = await get('?symbol=XRPETH&timeframe=1m&limit=3');
  assert.equal(page.status, 200);
  assert.deepEqual([page.body.exchange, page.body.symbol, page.body.timeframe, page.body.count], ['binance', 'XRP-ETH', '1m', 3]);
  assert.deepEqual(page.body.features.at(-1), { openTime: want!.openTime, close: want!.close, values: want!.values });
  const ranged = await get(`?symbol=XRP-ETH&from=${a[110]!.openTime}&to=${new Date(a[112]!.openTime).toISOString()}`);
  assert.deepEqual(ranged.body.features.map((f: any) => f.openTime), [a[110]!.openTime, a[111]!.openTime, a[112]!.openTime]);
  assert.equal((await get('')).body.count, 50, 'only live vectors are stored (warm-up stores nothing)');
  for (const [q, parameter] of [['?limit=0', 'limit'], ['?limit=5001', 'limit'], ['?timeframe=2m', 'timeframe'], ['?symbol=DOGE-USDT', 'symbol'], ['?exchange=nope', 'exchange'], ['?from=yesterday', 'from'], [`?from=${a[120]!.openTime}&to=${a[110]!.openTime}`, 'from'], ['?names=x', 'names']] as const) {
    const r = await get(q);
    assert.equal(r.status, 400, q);
    assert.deepEqual([r.body.error.code, r.body.error.parameter], ['bad_parameter', parameter], q);
  }
});
