/**
 * Five exchanges in one pipeline: `candlestack demo --exchanges binance,coinbase,kraken,bybit,okx` runs each
 * real adapter against a simulated venue speaking its protocol. Every exchange's trades become canonical
 * candles in the same store and API, /api/symbols shows each native spelling, the cross-exchange spread is
 * measured, and a gap on a non-Binance exchange is repaired from that exchange's REST candles.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../src/core/clock.js';
import { defaultConfig } from '../src/config/config.js';
import { EXCHANGE_IDS } from '../src/exchanges/index.js';
import { startDemo } from '../src/demo/demo.js';
import { log, until } from './support/harness.js';
import { metricSeries, scrapeMetric, scrapeMetrics } from './support/metrics.js';

const NATIVE: Record<string, string> = { binance: 'BTCUSDT', coinbase: 'BTC-USDT', kraken: 'BTC/USDT', bybit: 'BTCUSDT', okx: 'BTC-USDT' };

test('five exchanges stream into the same candles, API and metrics; an OKX gap is backfilled from OKX', { timeout: 90_000 }, async () => {
  const base = defaultConfig();
  const config = {
    ...base,
    exchanges: EXCHANGE_IDS.map((id) => ({ ...base.exchanges[0]!, id })),
    timeframes: ['1s' as const, '1m' as const],
    candles: { ...base.candles, graceMs: 300, tickMs: 50 },
    feed: { staleAfterMs: 5_000, backoffInitialMs: 100, backoffMaxMs: 500 },
    store: { url: 'sqlite::memory:', flushMs: 100 },
    http: { host: '127.0.0.1', port: 0 },
  };
  const demo = await startDemo(config, { rate: 40, seed: 9, chaos: false, symbolsGiven: false, storeGiven: true }, { clock: systemClock, log, version: 'test' });
  const api = `http://127.0.0.1:${demo.port}`;
  const json = async (path: string) => (await fetch(`${api}${path}`)).json() as Promise<any>;
  try {
    assert.deepEqual(demo.venues.map((v) => v.exchange), [...EXCHANGE_IDS]);

    // every exchange's trades become closed 1s candles under the canonical symbol, through the same API
    for (const exchange of EXCHANGE_IDS) {
      const closed = await until(`closed ${exchange} BTC-USDT 1s candles`, async () => {
        const r = await json(`/api/candles?exchange=${exchange}&symbol=BTC-USDT&timeframe=1s&limit=50`);
        const c = (r.candles as any[]).filter((x) => x.closed && x.tradeCount > 0);
        return c.length >= 2 ? c : undefined;
      }, 30_000);
      assert.ok(closed.every((c) => c.symbol === 'BTC-USDT' && c.exchange === exchange));
      // the exchange's own spelling is accepted as a parameter and names the same series
      const native = await json(`/api/candles?exchange=${exchange}&symbol=${encodeURIComponent(NATIVE[exchange]!)}&timeframe=1s&limit=1`);
      assert.equal(native.symbol, 'BTC-USDT', `${exchange} ${NATIVE[exchange]} resolves to the canonical symbol`);
    }

    const symbols = (await json('/api/symbols')).symbols as { exchange: string; symbol: string; native: string }[];
    assert.deepEqual(
      Object.fromEntries(symbols.filter((s) => s.symbol === 'BTC-USDT').map((s) => [s.exchange, s.native])),
      NATIVE,
      '/api/symbols shows canonical and native side by side',
    );

    // one price path on every venue: the spread of the five last prices is measured and small
    const spread = await until('the BTC-USDT cross-exchange spread', async () => (await metricSeries(await scrapeMetrics(api), 'candlestack_cross_exchange_spread_bps', { symbol: 'BTC-USDT' }))[0]?.value);
    assert.ok(spread >= 0 && spread < 100, `spread ${spread} bps`);
    for (const exchange of EXCHANGE_IDS) {
      const n = await scrapeMetric(api, 'candlestack_trades_received_total', { exchange, symbol: 'BTC-USDT' });
      assert.ok(n > 0, `${exchange} trades counted under the canonical symbol`);
    }

    // dropped messages on OKX: the trade-id jump is a gap, and OKX's REST candles repair the 1s candles
    const okx = demo.venues.find((v) => v.exchange === 'okx')!;
    okx.skipTradeIds('BTC-USDT', 4);
    const gaps = await until('an OKX trade-id gap', async () => {
      const n = await scrapeMetric(api, 'candlestack_trade_id_gaps_total', { exchange: 'okx', symbol: 'BTC-USDT', cause: 'stream' });
      return n > 0 ? n : undefined; // the counter starts at 0
    }, 15_000);
    assert.equal(gaps, 1);
    await until('OKX 1s candles backfilled from OKX', async () => (await scrapeMetric(api, 'candlestack_backfill_candles_total', { exchange: 'okx', timeframe: '1s' })) > 0, 20_000);
    const health = await json('/api/health');
    const feeds = (health.feeds as { exchange: string; state: string }[]) ?? [];
    for (const exchange of EXCHANGE_IDS) assert.ok(feeds.some((f) => f.exchange === exchange && f.state === 'up'), `${exchange} feed up in /api/health`);
  } finally {
    await demo.stop();
  }
});
