/**
 * Store faults on the real PostgreSQL, with the whole `run` pipeline in process against the simulated Binance:
 * the store's connections killed (pg_terminate_backend from another connection) while it writes, and the
 * candles table renamed away for a while and back. No closed candle may be lost (every period present and
 * equal to the simulator's own kline), and during the outage /readyz and the store metrics tell the truth:
 * errors counted, rows queued, not ready; ready again and the queue drained once the table is back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../src/core/clock.js';
import { defaultConfig, type Config } from '../../src/config/config.js';
import { startEmbedded } from '../../src/app/embedded.js';
import { SimulatedBinance } from '../../src/demo/simulated-binance/server.js';
import { adminPool, backends, pgSkip, terminate, testSchema } from '../support/postgres.js';
import { log, sleep, until } from '../support/harness.js';
import { metricValue } from '../support/metrics.js';
import { simKlines, wrongCandles, type ComparedCandle } from './sim-truth.js';

const SEED = Number(process.env.FAULT_SEED ?? 19);
const KILLS = Number(process.env.FAULT_PG_KILLS ?? 5);
const OUTAGE_MS = Number(process.env.FAULT_PG_OUTAGE_MS ?? 4_000);
const SYMBOLS = ['BTC-USDT', 'ETH-USDT'];

test('PostgreSQL connections killed during writes and the candles table renamed away: 0 closed candles lost, /readyz and metrics tell the truth', { timeout: 180_000 }, async (t) => {
  const skip = await pgSkip();
  if (skip) return t.skip(skip);
  const admin = adminPool();
  const schema = testSchema(t, admin);
  const sim = new SimulatedBinance({ seed: SEED, tradesPerSecond: 40, symbols: SYMBOLS });
  const { wsBaseUrl, restBaseUrl } = await sim.start();
  t.after(() => sim.stop());
  const base = defaultConfig();
  const config: Config = {
    ...base,
    exchanges: [{ ...base.exchanges[0]!, symbols: SYMBOLS, wsUrl: wsBaseUrl, restUrl: restBaseUrl }],
    timeframes: ['1s'],
    candles: { graceMs: 1_000, latePolicy: 'drop', tickMs: 50 },
    feed: { staleAfterMs: 10_000, backoffInitialMs: 50, backoffMaxMs: 300 },
    store: { url: schema.url, flushMs: 100 },
    http: { host: '127.0.0.1', port: 0 },
    // The store_write breaker opens during the outage either way; a 3 s open period (default 30 s) makes its
    // half-open probe, which writes the queue once the table is back, come within seconds.
    breakers: { ...base.breakers, overrides: { ...base.breakers.overrides, store_write: { openMs: 3_000 } } },
  };
  const app = await startEmbedded(config, { clock: systemClock, log, version: 'test', role: 'test' });
  t.after(() => app.stop());
  t.after(() => admin.end()); // after the schema's clean-up, which uses it
  const api = `http://127.0.0.1:${app.port}`;
  const m = app.metrics;
  const storeErrors = () => metricValue(m, 'candlestack_store_errors_total', { store: 'postgres' });
  const queue = () => metricValue(m, 'candlestack_store_queue_depth', { store: 'postgres' });
  const ready = async () => (await fetch(`${api}/readyz`)).status;
  await until('the feed connected and the role ready', async () => sim.stats().connections >= 1 && (await ready()) === 200, 30_000);
  const startedAt = Date.now();
  await sleep(2_000);

  // ── connections killed while the writer writes ──
  let killed = 0;
  for (let i = 0; i < KILLS; i++) {
    const pids = await backends(admin, schema.applicationName);
    await terminate(admin, pids);
    killed += pids.length;
    await sleep(400);
  }
  await until('writing again after the killed connections', async () => (await queue()) < 50 && (await ready()) === 200, 30_000);
  t.diagnostic(`faults.store connections killed: ${killed} backends terminated in ${KILLS} rounds, ${await storeErrors()} store errors counted, ready again`);
  assert.ok(killed >= KILLS, `the store's connections were found and terminated (${killed})`);

  // ── the candles table renamed away, then back ──
  const errorsBefore = await storeErrors();
  await admin.query(`ALTER TABLE "${schema.name}".candles RENAME TO candles_away`);
  const awayAt = performance.now();
  const during = { notReadyAfterMs: -1, maxQueue: 0, errors: 0 };
  while (performance.now() - awayAt < OUTAGE_MS) {
    const status = await ready();
    if (status === 503 && during.notReadyAfterMs < 0) during.notReadyAfterMs = performance.now() - awayAt;
    during.maxQueue = Math.max(during.maxQueue, await queue());
    await sleep(100);
  }
  during.errors = (await storeErrors()) - errorsBefore;
  const readyz = (await (await fetch(`${api}/readyz`)).json()) as { reasons?: string[] };
  await admin.query(`ALTER TABLE "${schema.name}".candles_away RENAME TO candles`);
  const backAt = performance.now();
  await until('ready and the queue drained after the table came back', async () => (await ready()) === 200 && (await queue()) < 50, 60_000);
  const recoveredMs = performance.now() - backAt;
  t.diagnostic(`faults.store table renamed away ${OUTAGE_MS} ms: ${during.errors} store errors counted, queue up to ${during.maxQueue} rows, /readyz 503 after ${during.notReadyAfterMs.toFixed(0)} ms (${JSON.stringify(readyz.reasons ?? [])}), ready and drained ${recoveredMs.toFixed(0)} ms after it came back`);
  assert.ok(during.errors > 0, 'the failed writes were counted in candlestack_store_errors_total');
  assert.ok(during.maxQueue > 0, 'the rows waiting showed in candlestack_store_queue_depth');
  assert.ok(during.notReadyAfterMs >= 0, '/readyz reported the store not ready during the outage');

  // ── nothing lost: every closed 1s period in the store, equal to the exchange's kline ──
  await sleep(config.candles.graceMs + 1_500);
  const endAt = Date.now() - config.candles.graceMs - 1_000;
  const first = Math.ceil(startedAt / 1000) * 1000;
  let compared = 0;
  const wrong: string[] = [];
  const missing: string[] = [];
  for (const symbol of SYMBOLS) {
    const { rows } = await admin.query<{ open_time: string }>(`SELECT open_time FROM "${schema.name}".candles WHERE symbol = $1 AND timeframe = '1s' AND open_time >= $2 AND open_time < $3 AND closed`, [symbol, first, endAt - 1000]);
    const res = await fetch(`${api}/api/candles?symbol=${symbol}&timeframe=1s&from=${first}&to=${endAt}&limit=5000`);
    const candles = ((await res.json()) as { candles: ComparedCandle[] }).candles.filter((c) => c.openTime + 1000 <= endAt);
    const stored = new Set(rows.map((r) => Number(r.open_time)));
    for (let p = first; p + 1000 <= endAt - 1000; p += 1000) if (!stored.has(p)) missing.push(`${symbol} ${new Date(p).toISOString()}`);
    wrong.push(...wrongCandles(symbol, candles, await simKlines(restBaseUrl, symbol.replace('-', ''), '1s', first, endAt)));
    compared += candles.filter((c) => c.closed).length;
  }
  t.diagnostic(`faults.store after all: ${compared} closed 1s candles compared with the exchange's klines: ${missing.length} missing from the table, ${wrong.length} wrong${wrong.length + missing.length ? `: ${[...missing, ...wrong].slice(0, 10).join('; ')}` : ''}`);
  assert.deepEqual(missing, [], 'no closed candle lost');
  assert.deepEqual(wrong, [], 'every closed candle equals the exchange\'s kline');
});
