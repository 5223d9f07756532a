/**
 * The Coinbase feed description: streams, subscribe batching, candle rows, and REST backfill against the
 * simulated Coinbase venue (pagination past 300 buckets, equal to the venue's own trades aggregated here).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../src/core/clock.js';
import { periodStart, timeframeMs } from '../src/core/timeframe.js';
import type { Kline } from '../src/core/types.js';
import { coinbase, decimalText, klineFromRow } from '../src/exchanges/coinbase/feed.js';
import { RestClient } from '../src/feed/rest-client.js';
import { SimulatedVenue } from '../src/demo/simulated-venue/venue.js';
import type { VenueTrade } from '../src/demo/simulated-venue/venue.js';
import { coinbaseProtocol } from '../src/demo/simulated-venue/coinbase.js';
import { parseUnits } from '../src/demo/simulated-binance/price-process.js';
import { log, testMetrics } from './support/harness.js';
import { FakeClock } from './support/fake-clock.js';
import { metricValue } from './support/metrics.js';

const ENDPOINTS = { wsBaseUrl: 'wss://example.invalid', restBaseUrl: 'https://example.invalid' };

test('streams: heartbeat and matches per product; kline subscriptions are ignored (the feed has no candles)', () => {
  const streams = coinbase.streams({ symbols: ['BTC-USD', 'ETH-USDT'], timeframes: ['1m', '1h'], tradeStream: 'aggTrade', klines: true });
  assert.deepEqual(streams, [
    { symbol: 'BTC-USD', name: 'heartbeat:BTC-USD' },
    { symbol: 'BTC-USD', name: 'matches:BTC-USD' },
    { symbol: 'ETH-USDT', name: 'heartbeat:ETH-USDT' },
    { symbol: 'ETH-USDT', name: 'matches:ETH-USDT' },
  ]);
  assert.deepEqual(coinbase.klineTimeframes, ['1m', '5m', '15m', '1h', '6h', '1d']);
});

test('connection plan: the feed URL, one subscribe per channel and batch of 100 products, every product once', () => {
  const few = coinbase.connection(coinbase.streams({ symbols: ['BTC-USD'], timeframes: [], tradeStream: 'trade', klines: false }), ENDPOINTS);
  assert.equal(few.url, 'wss://example.invalid');
  assert.deepEqual(few.subscribeMessages.map((m) => JSON.parse(m)), [
    { type: 'subscribe', channels: [{ name: 'heartbeat', product_ids: ['BTC-USD'] }] },
    { type: 'subscribe', channels: [{ name: 'matches', product_ids: ['BTC-USD'] }] },
  ]);
  const symbols = Array.from({ length: 250 }, (_, i) => `C${i}-USD`);
  const plan = coinbase.connection(coinbase.streams({ symbols, timeframes: [], tradeStream: 'trade', klines: false }), ENDPOINTS);
  const msgs = plan.subscribeMessages.map((m) => JSON.parse(m) as { channels: { name: string; product_ids: string[] }[] });
  assert.deepEqual(msgs.map((m) => [m.channels[0]!.name, m.channels[0]!.product_ids.length]), [
    ['heartbeat', 100], ['heartbeat', 100], ['heartbeat', 50], ['matches', 100], ['matches', 100], ['matches', 50],
  ]);
  for (const name of ['heartbeat', 'matches']) {
    assert.deepEqual(msgs.filter((m) => m.channels[0]!.name === name).flatMap((m) => m.channels[0]!.product_ids), symbols);
  }
});

test('decimal text of JSON numbers: shortest round-trip form, exponents written out, garbage refused', () => {
  assert.equal(decimalText(4.2), '4.2');
  assert.equal(decimalText(0.1), '0.1');
  assert.equal(decimalText(65000), '65000');
  assert.equal(decimalText(12.34567891), '12.34567891');
  assert.equal(decimalText(1e-7), '0.0000001');
  assert.equal(decimalText(1.305e-5), '0.00001305');
  assert.equal(decimalText(2.5e21), '2500000000000000000000');
  assert.equal(decimalText('0.00120000'), '0.00120000', 'a string is kept as sent');
  for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '1e3', '', null, true]) assert.equal(decimalText(bad), null, String(bad));
});

test('candle rows: [time, low, high, open, close, volume] -> kline with nulls for what Coinbase does not report', () => {
  const k = klineFromRow('BTC-USD', '1m', 60_000, [1415398740, 0.32, 4.2, 0.35, 4.2, 12.3]);
  assert.deepEqual(k, {
    type: 'kline', exchange: 'coinbase', symbol: 'BTC-USD', timeframe: '1m', openTime: 1_415_398_740_000,
    open: '0.35', high: '4.2', low: '0.32', close: '4.2', volume: '12.3', quoteVolume: null, takerBuyVolume: null, tradeCount: null,
    closed: true, time: 1_415_398_799_999, receivedAt: 1_415_398_799_999,
  });
  assert.throws(() => klineFromRow('BTC-USD', '1m', 60_000, [1415398740, 0.32, 4.2]), TypeError);
  assert.throws(() => klineFromRow('BTC-USD', '1m', 60_000, [1415398741, 0.32, 4.2, 0.35, 4.2, 12.3]), /bucket time/, 'not on a minute boundary');
  assert.throws(() => klineFromRow('BTC-USD', '1m', 60_000, [1415398740, 0.32, '4.2x', 0.35, 4.2, 12.3]), TypeError);
});

interface Bar { open: bigint; high: bigint; low: bigint; close: bigint; volume: bigint }

/** The venue's trades aggregated here, independently of its KlineBook: bucket start -> OHLCV in 1e-8 units. */
function aggregate(trades: readonly VenueTrade[], step: number): Map<number, Bar> {
  const bars = new Map<number, Bar>();
  for (const t of trades) {
    const at = periodStart(t.time, step);
    const p = parseUnits(t.price);
    const q = parseUnits(t.qty);
    const b = bars.get(at);
    if (!b) bars.set(at, { open: p, high: p, low: p, close: p, volume: q });
    else Object.assign(b, { high: p > b.high ? p : b.high, low: p < b.low ? p : b.low, close: p, volume: b.volume + q });
  }
  return bars;
}

const asUnits = (k: Kline): Bar => ({ open: parseUnits(k.open), high: parseUnits(k.high), low: parseUnits(k.low), close: parseUnits(k.close), volume: parseUnits(k.volume) });

test('backfill: fetchKlines pages by 300 buckets and equals the venue\'s own trades, 1m and 5m', { timeout: 60_000 }, async (t) => {
  // The exchange's clock is stepped by the test (not sped-up real time): 400+ one-minute buckets at once, and
  // nothing moves between a look at the time and a request, whatever the machine's load.
  const clock = new FakeClock(Date.UTC(2024, 0, 1, 0, 0, 15));
  const venueNow = () => clock.now();
  const venue = new SimulatedVenue({ protocol: coinbaseProtocol(), symbols: ['BTC-USD'], seed: 5, tickMs: 1_000, tradesPerSecond: 2, clock });
  const trades: VenueTrade[] = [];
  venue.onTrade((x) => trades.push(x));
  const { restBaseUrl } = await venue.start();
  t.after(() => venue.stop());
  const metrics = testMetrics();
  const rest = new RestClient({ exchange: 'coinbase', clock: systemClock, metrics: metrics.feed, log, backoff: { initialMs: 10, maxMs: 50 } });
  const first = periodStart(venueNow(), 60_000) + 60_000;
  clock.set(first + 421 * 60_000 + 20_000);
  const endTime = periodStart(venueNow(), 300_000) - 1; // every bucket in range is closed at the venue

  for (const tf of ['1m', '5m'] as const) {
    const step = timeframeMs(tf);
    const before = await metricValue(metrics, 'candlestack_rest_requests_total');
    const klines = await coinbase.fetchKlines(rest, { wsBaseUrl: '', restBaseUrl }, 'BTC-USD', tf, first, endTime);
    const requests = (await metricValue(metrics, 'candlestack_rest_requests_total')) - before;
    const periods = Math.ceil((endTime + 1 - first) / step);
    assert.equal(requests, Math.ceil(periods / 300), `${tf}: ${periods} buckets need ${Math.ceil(periods / 300)} requests`);
    const expected = [...aggregate(trades, step)].filter(([at]) => at >= first && at + step - 1 <= endTime).sort((a, b) => a[0] - b[0]);
    assert.ok(expected.length > (tf === '1m' ? 300 : 60), `${tf}: enough buckets with trades (${expected.length})`);
    assert.deepEqual(klines.map((k) => k.openTime), expected.map(([at]) => at), `${tf}: the same buckets, oldest first`);
    assert.deepEqual(klines.map(asUnits), expected.map(([, b]) => b), `${tf}: exact OHLCV`);
    assert.ok(klines.every((k) => k.closed && k.symbol === 'BTC-USD' && k.timeframe === tf && k.tradeCount === null && k.quoteVolume === null));
  }

  // A start inside a bucket: the exchange returns that bucket too ("may precede start"); it is not ours to return.
  const mid = await coinbase.fetchKlines(rest, { wsBaseUrl: '', restBaseUrl }, 'BTC-USD', '1m', first + 30_000, first + 5 * 60_000 - 1);
  assert.ok(mid.every((k) => k.openTime >= first + 60_000 && k.openTime + 59_999 <= first + 5 * 60_000 - 1), 'only whole buckets inside the window');
  await assert.rejects(coinbase.fetchKlines(rest, { wsBaseUrl: '', restBaseUrl }, 'BTC-USD', '4h', first, endTime), RangeError);
  // The venue enforces the documented limits: 301 buckets or an unsupported granularity -> 400.
  const iso = (ms: number) => new Date(ms).toISOString();
  const tooMany = await fetch(`${restBaseUrl}/products/BTC-USD/candles?granularity=60&start=${iso(first)}&end=${iso(first + 301 * 60_000)}`);
  assert.equal(tooMany.status, 400);
  assert.match(((await tooMany.json()) as { message: string }).message, /exceeds 300/);
  assert.equal((await fetch(`${restBaseUrl}/products/BTC-USD/candles?granularity=120`)).status, 400);
  assert.equal((await fetch(`${restBaseUrl}/products/XYZ-USD/candles?granularity=60`)).status, 404);
});
