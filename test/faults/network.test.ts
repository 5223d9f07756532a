/**
 * Network faults, in process against the simulated Binance on loopback: a storm of forced disconnects of the
 * feed WebSocket (FAULT_DISCONNECTS, default 100), a feed that goes silent with its socket open, and the
 * exchange answering the backfill's REST calls with 429, 418 and 503. The feed must see the silence within
 * 2x its stale interval, the REST client must not ask again before a Retry-After has passed, and afterwards
 * every closed candle equals the simulator's own kline of its period, with no period missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../src/core/clock.js';
import { defaultConfig, type Config } from '../../src/config/config.js';
import { startEmbedded } from '../../src/app/embedded.js';
import { SimulatedBinance } from '../../src/demo/simulated-binance/server.js';
import { log, sleep, until } from '../support/harness.js';
import { metricValue } from '../support/metrics.js';
import { simKlines, wrongCandles, type ComparedCandle } from './sim-truth.js';
import { mulberry32 } from '../../src/core/random.js';

const DISCONNECTS = Number(process.env.FAULT_DISCONNECTS ?? 100);
const SEED = Number(process.env.FAULT_SEED ?? 19);
const STALE_MS = 2_000;
const SYMBOLS = ['BTC-USDT', 'ETH-USDT'];

test(`network faults: ${DISCONNECTS} forced disconnects, a silent feed, REST 429/418/503 during backfill; 0 candles wrong`, { timeout: 240_000 }, async (t) => {
  const random = mulberry32(SEED);
  const sim = new SimulatedBinance({ seed: SEED, tradesPerSecond: 40, symbols: SYMBOLS });
  const { wsBaseUrl, restBaseUrl } = await sim.start();
  t.after(() => sim.stop());
  const base = defaultConfig();
  const config: Config = {
    ...base,
    exchanges: [{ ...base.exchanges[0]!, symbols: SYMBOLS, wsUrl: wsBaseUrl, restUrl: restBaseUrl }],
    timeframes: ['1s'],
    candles: { graceMs: 1_000, latePolicy: 'drop', tickMs: 50 },
    feed: { staleAfterMs: STALE_MS, backoffInitialMs: 50, backoffMaxMs: 300 },
    store: { url: 'sqlite::memory:', flushMs: 100 },
    http: { host: '127.0.0.1', port: 0 },
  };
  const app = await startEmbedded(config, { clock: systemClock, log, version: 'test', role: 'test' });
  t.after(() => app.stop());
  const api = `http://127.0.0.1:${app.port}`;
  const m = app.metrics;
  const reconnects = () => metricValue(m, 'candlestack_websocket_reconnections_total', { exchange: 'binance' });
  await until('the feed connected', () => sim.stats().connections >= 1, 30_000);
  const startedAt = Date.now();

  // ── disconnect storm: each drop once the feed is back, at seeded intervals ──
  const stormStart = performance.now();
  const reconnectsBefore = await reconnects();
  for (let i = 0; i < DISCONNECTS; i++) {
    // the client counted its reconnection after the previous drop, and the simulator has the new socket
    await until(`reconnection ${i}`, async () => (await reconnects()) >= reconnectsBefore + i && sim.stats().connections >= 1, 30_000, { pollMs: 10 });
    await sleep(Math.floor(random() * 150));
    sim.dropConnections();
  }
  await until('the feed back after the storm', async () => (await reconnects()) >= reconnectsBefore + DISCONNECTS && sim.stats().connections >= 1, 30_000);
  const stormSeconds = (performance.now() - stormStart) / 1000;
  const stormReconnects = (await reconnects()) - reconnectsBefore;
  t.diagnostic(`faults.network disconnect storm: ${DISCONNECTS} forced disconnects in ${stormSeconds.toFixed(1)} s, ${stormReconnects} reconnections counted`);
  assert.equal(sim.stats().connections, 1, 'one feed connection at the simulator after the storm');

  // ── silent feed: the socket stays open, nothing arrives (no data, no pings) ──
  await sleep(1_000);
  const staleBefore = await metricValue(m, 'candlestack_feed_stale_total', { exchange: 'binance' });
  const silentAt = performance.now();
  sim.pauseStreams(3 * STALE_MS);
  await until('the silence detected', async () => (await metricValue(m, 'candlestack_feed_stale_total', { exchange: 'binance' })) > staleBefore, 6 * STALE_MS, { pollMs: 20 });
  const detectedMs = performance.now() - silentAt;
  t.diagnostic(`faults.network silent feed: detected stale after ${detectedMs.toFixed(0)} ms (stale interval ${STALE_MS} ms, promise < ${2 * STALE_MS} ms)`);
  assert.ok(detectedMs < 2 * STALE_MS, `the silence was detected within 2x the stale interval (${detectedMs.toFixed(0)} ms)`);
  await sleep(3 * STALE_MS - detectedMs + 500);
  await until('the feed back after the silence', () => sim.stats().connections >= 1, 30_000);

  // ── REST faults during backfill: each answer to the gap a disconnect leaves ──
  const faults: { name: string; arm: () => void }[] = [
    { name: '429 Retry-After 1 s (x2)', arm: () => sim.rateLimitRest(2, 429, 1) },
    { name: '418 Retry-After 2 s', arm: () => sim.rateLimitRest(1, 418, 2) },
    { name: '503 (x3)', arm: () => sim.failRest(3) },
  ];
  for (const f of faults) {
    const pendingDone = async () => (await metricValue(m, 'candlestack_backfill_pending', { exchange: 'binance' })) === 0;
    await until('no backfill pending', pendingDone, 60_000, { pollMs: 100 });
    const requestsBefore = sim.restRequests().length;
    f.arm();
    sim.dropConnections();
    await until(`the gap after "${f.name}" backfilled`, async () => sim.restRequests().slice(requestsBefore).some((r) => r.status === 200) && (await pendingDone()), 90_000, { pollMs: 100 });
  }
  const requests = sim.restRequests();
  const early: string[] = [];
  let limited = 0;
  for (let i = 0; i < requests.length; i++) {
    const r = requests[i]!;
    if (r.status !== 429 && r.status !== 418) continue;
    limited++;
    const wait = r.status === 418 ? 2_000 : 1_000;
    const next = requests[i + 1];
    if (next && next.at < r.at + wait) early.push(`${r.status} at ${r.at} then a request ${next.at - r.at} ms later`);
  }
  const failed = requests.filter((r) => r.status === 503).length;
  t.diagnostic(`faults.network REST faults during backfill: ${limited} rate-limit answers (429/418), ${failed} 503s, ${early.length} requests before Retry-After, ${requests.length} requests in all`);
  assert.equal(limited, 3, 'the three rate-limit answers were given');
  assert.equal(failed, 3, 'the three 503 answers were given');
  assert.deepEqual(early, [], 'no request before a Retry-After passed');

  // ── the truth: every closed candle since the first full period ──
  await sleep(config.candles.graceMs + 500);
  const endAt = Date.now() - config.candles.graceMs - 1_000;
  const first = Math.ceil(startedAt / 1000) * 1000 + 1000;
  let compared = 0;
  let backfilled = 0;
  const wrong: string[] = [];
  const missing: string[] = [];
  for (const symbol of SYMBOLS) {
    const res = await fetch(`${api}/api/candles?symbol=${symbol}&timeframe=1s&from=${first}&to=${endAt}&limit=5000`);
    assert.equal(res.status, 200);
    const candles = ((await res.json()) as { candles: (ComparedCandle & { source: string })[] }).candles.filter((c) => c.openTime >= first && c.openTime + 1000 <= endAt);
    const opens = new Set(candles.map((c) => c.openTime));
    for (let p = first; p + 1000 <= endAt; p += 1000) if (!opens.has(p)) missing.push(`${symbol} ${new Date(p).toISOString()}`);
    const truth = await simKlines(restBaseUrl, symbol.replace('-', ''), '1s', first, endAt);
    wrong.push(...wrongCandles(symbol, candles, truth));
    compared += candles.filter((c) => c.closed).length;
    backfilled += candles.filter((c) => c.source === 'backfill').length;
  }
  t.diagnostic(`faults.network after all: ${compared} closed 1s candles compared with the exchange's klines (${backfilled} backfilled): ${wrong.length} wrong, ${missing.length} missing${wrong.length + missing.length ? `: ${[...wrong, ...missing].slice(0, 10).join('; ')}` : ''}`);
  assert.deepEqual(missing, [], 'no period missing');
  assert.deepEqual(wrong, [], 'every closed candle equals the exchange\'s kline');
});
