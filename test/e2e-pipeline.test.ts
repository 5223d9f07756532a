/**
 * End to end, in process: the simulated Binance -> the real collector -> bus -> engine -> SQLite -> API.
 * The candles the API serves must equal the candles the offline builder computes from every trade the
 * exchange made, including across a forced disconnect and dropped messages (repaired by REST backfill).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../src/core/clock.js';
import { startEmbedded } from '../src/app/embedded.js';
import { SimulatedBinance, type SimTrade } from '../src/demo/simulated-binance/server.js';
import { e2eConfig, offlineCandles } from './support/offline-candles.js';
import { log, sleep } from './support/harness.js';
import { metricValue, scrapeMetrics } from './support/metrics.js';

interface ApiCandle {
  openTime: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  tradeCount: number;
  closed: boolean;
  source: string;
}

test('API candles equal offline candles from every exchange trade, across a disconnect and dropped messages', { timeout: 60_000 }, async () => {
  const sim = new SimulatedBinance({ seed: 7, tradesPerSecond: 150, symbols: ['BTC-USDT', 'ETH-USDT'] });
  const trades: SimTrade[] = [];
  sim.onTrade((t) => trades.push(t));
  const { wsBaseUrl, restBaseUrl } = await sim.start();
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-e2e-'));
  const config = e2eConfig({ wsBaseUrl, restBaseUrl }, `sqlite:${join(dir, 'e2e.db')}`);
  const app = await startEmbedded(config, { clock: systemClock, log, version: 'test', role: 'test' });
  try {
    const api = `http://127.0.0.1:${app.port}`;
    await sleep(3_000);
    sim.dropConnections(); // forced disconnect: trades made while down are missed by the stream
    await sleep(1_500);
    sim.skipTradeIds('ETH-USDT', 7); // dropped messages on a live connection
    await sleep(3_000);
    const stopAt = Date.now();
    await sleep(4_000); // let the last periods close and the backfill (grace + settle) run

    const health = (await (await fetch(`${api}/api/health`)).json()) as { feeds: { status: string; reconnects: number; tradeIdGaps: number }[] };
    assert.equal(health.feeds[0]!.status, 'connected');
    assert.ok(health.feeds[0]!.reconnects >= 1, 'the forced disconnect was seen');
    const metrics = await scrapeMetrics(api);
    assert.equal(await metricValue(metrics, 'candlestack_trade_id_gaps_total', { exchange: 'binance', symbol: 'ETH-USDT', cause: 'stream' }), 1);
    assert.ok((await metricValue(metrics, 'candlestack_backfill_candles_total', { exchange: 'binance', timeframe: '1s' })) >= 1);

    for (const symbol of ['BTC-USDT', 'ETH-USDT']) {
      const body = (await (await fetch(`${api}/api/candles?symbol=${symbol}&timeframe=1s&limit=5000`)).json()) as { candles: ApiCandle[] };
      const expected = await offlineCandles(trades, symbol, dir);
      const closed = body.candles.filter((c) => c.closed && c.openTime < stopAt);
      // The first two seconds may predate the subscription; everything after must match exactly.
      const compared = closed.slice(2);
      assert.ok(compared.length >= 4, `enough closed 1s candles to compare (${compared.length})`);
      for (const c of compared) {
        const want = expected.get(c.openTime);
        assert.ok(want, `offline has the period ${c.openTime}`);
        assert.deepEqual([c.open, c.high, c.low, c.close, c.volume], want, `${symbol} ${new Date(c.openTime).toISOString()} (${c.source})`);
      }
      assert.ok(compared.some((c) => c.source === 'backfill'), `${symbol}: the gap was backfilled`);
    }
  } finally {
    await app.stop();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
