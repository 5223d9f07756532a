/**
 * End to end on PostgreSQL: the simulated Binance -> the real collector -> bus -> engine -> PostgreSQL ->
 * API, through `startEmbedded` with `store: postgres://...`. The candles the API serves from PostgreSQL must
 * equal the offline builder's from every trade the exchange made, across a forced disconnect (whose gap is
 * repaired by REST backfill: closed candles corrected in place). The password in the URL appears in no log line; /metrics (with the db_* families) passes promtool.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../src/core/clock.js';
import { startEmbedded } from '../src/app/embedded.js';
import { SimulatedBinance, type SimTrade } from '../src/demo/simulated-binance/server.js';
import { createLogger } from '../src/telemetry/logger.js';
import { e2eConfig, offlineCandles } from './support/offline-candles.js';
import { adminPool, pgSkip, testSchema } from './support/postgres.js';
import { sleep } from './support/harness.js';
import { metricValue, parseExposition } from './support/metrics.js';

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }); // required under CI by metrics-exposition.test
const skip = await pgSkip();
const admin = adminPool();
after(() => admin.end());

interface ApiCandle {
  openTime: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  closed: boolean;
  source: string;
}

test('API candles served from PostgreSQL equal offline candles from every exchange trade, across a disconnect', { skip, timeout: 60_000 }, async (t) => {
  const schema = testSchema(t, admin);
  const url = new URL(schema.url);
  if (url.password === '') url.password = 'topsecret-e2e'; // trust auth ignores it; it must still never be logged
  const secret = url.password;
  const lines: string[] = [];
  const log = createLogger({ level: 'info', format: 'json' }, { write: (line: string) => void lines.push(line) });

  const sim = new SimulatedBinance({ seed: 11, tradesPerSecond: 150, symbols: ['BTC-USDT', 'ETH-USDT'] });
  const trades: SimTrade[] = [];
  sim.onTrade((tr) => trades.push(tr));
  const { wsBaseUrl, restBaseUrl } = await sim.start();
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-e2e-pg-'));
  const config = e2eConfig({ wsBaseUrl, restBaseUrl }, url.toString());
  const app = await startEmbedded(config, { clock: systemClock, log, version: 'test', role: 'test' });
  try {
    const api = `http://127.0.0.1:${app.port}`;
    await sleep(2_500);
    sim.dropConnections(); // trades made while down are missed by the stream and backfilled over REST
    await sleep(3_000);
    const stopAt = Date.now();
    await sleep(3_500); // let the last periods close, the backfill run and the writer flush

    const health = (await (await fetch(`${api}/api/health`)).json()) as { store: { kind: string; open: boolean } };
    assert.deepEqual(health.store.kind, 'postgres');
    assert.equal(health.store.open, true);
    const metrics = await (await fetch(`${api}/metrics`)).text();
    const samples = parseExposition(metrics);
    assert.ok((await metricValue(samples, 'candlestack_db_queries_total', { store: 'postgres', operation: 'upsert' })) >= 1);
    assert.equal(await metricValue(samples, 'candlestack_db_connection_pool_size', { store: 'postgres' }), 10);
    assert.ok((await metricValue(samples, 'candlestack_store_rows_written_total', { store: 'postgres' })) >= 1);
    if (promtool.status === 0) {
      const ours = metrics.split('\n').filter((l) => !/nodejs_active_(handles|requests|resources)_total/.test(l)).join('\n');
      const check = spawnSync('promtool', ['check', 'metrics'], { input: ours, encoding: 'utf8' });
      assert.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
    }

    for (const symbol of ['BTC-USDT', 'ETH-USDT']) {
      const body = (await (await fetch(`${api}/api/candles?symbol=${symbol}&timeframe=1s&limit=5000`)).json()) as { candles: ApiCandle[] };
      const expected = await offlineCandles(trades, symbol, dir);
      const closed = body.candles.filter((c) => c.closed && c.openTime < stopAt);
      const compared = closed.slice(2); // the first two seconds may predate the subscription
      assert.ok(compared.length >= 4, `enough closed 1s candles to compare (${compared.length})`);
      for (const c of compared) {
        const want = expected.get(c.openTime);
        assert.ok(want, `offline has the period ${c.openTime}`);
        assert.deepEqual([c.open, c.high, c.low, c.close, c.volume], want, `${symbol} ${new Date(c.openTime).toISOString()} (${c.source})`);
      }
      assert.ok(compared.some((c) => c.source === 'backfill'), `${symbol}: the gap was backfilled`);
      // What the API served is what PostgreSQL holds.
      const last = body.candles.at(-1)!.openTime; // later periods may have been written since
      const { rows } = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema.name}".candles WHERE symbol = $1 AND timeframe = '1s' AND open_time <= $2`, [symbol, last]);
      assert.equal(Number(rows[0]!.n), body.candles.length);
    }
  } finally {
    await app.stop();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(lines.some((l) => l.includes('PostgreSQL store open') && l.includes(':***@')), 'the open is logged with the password redacted');
  assert.ok(!lines.some((l) => l.includes(secret)), 'no log line holds the password');
});
