/**
 * The OKX adapter with the real Collector against the simulated venue speaking OKX's protocol on loopback:
 * subscribe, text ping/pong and the idle close, reconnect and trade-id gaps, backfill, unknown frames.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../src/core/clock.js';
import { periodStart } from '../src/core/timeframe.js';
import type { GapEvent, Kline, Trade } from '../src/core/types.js';
import type { ExchangeAdapter } from '../src/exchanges/adapter.js';
import { okx } from '../src/exchanges/okx/feed.js';
import { Collector } from '../src/feed/collector.js';
import { RestClient } from '../src/feed/rest-client.js';
import { MemoryBus } from '../src/bus/memory.js';
import { SimulatedVenue, type VenueTrade } from '../src/demo/simulated-venue/venue.js';
import { okxProtocol, type OkxProtocolOptions } from '../src/demo/simulated-venue/okx.js';
import { VENUE_PROTOCOLS } from '../src/demo/simulated-venue/protocols.js';
import { UNITS_PER_ONE, formatUnits, parseUnits } from '../src/demo/simulated-binance/price-process.js';
import { log, sleep, testMetrics, until } from './support/harness.js';
import { metricValue } from './support/metrics.js';

const SYMBOLS = ['BTC-USDT', 'ETH-USDT', 'SOL-USDT'];

async function setup(o: { adapter?: ExchangeAdapter; protocol?: OkxProtocolOptions; klines?: boolean; tradesPerSecond?: number } = {}) {
  const protocol = okxProtocol(o.protocol);
  const venue = new SimulatedVenue({ protocol, symbols: SYMBOLS, seed: 7, tradesPerSecond: o.tradesPerSecond ?? 150, klinePushIntervalMs: 200 });
  const endpoints = await venue.start();
  const metrics = testMetrics();
  const bus = new MemoryBus(metrics.bus, log);
  const seen = { trades: [] as Trade[], klines: [] as Kline[], gaps: [] as GapEvent[] };
  bus.subscribe('trade', (t: Trade) => seen.trades.push(t));
  bus.subscribe('kline', (k: Kline) => seen.klines.push(k));
  bus.subscribe('gap', (g: GapEvent) => seen.gaps.push(g));
  const collector = new Collector({
    adapter: o.adapter ?? okx,
    endpoints,
    subscription: { symbols: SYMBOLS, timeframes: ['1m'], tradeStream: 'trade', klines: o.klines ?? false },
    staleAfterMs: 20_000,
    backoff: { initialMs: 50, maxMs: 200 },
    bus,
    clock: systemClock,
    metrics: metrics.feed,
    log,
  });
  collector.start();
  const stop = async () => {
    await collector.stop();
    await venue.stop();
  };
  return { protocol, venue, endpoints, metrics, collector, seen, stop };
}

test('subscribe: one subscribe message; trades of every symbol with canonical symbols and consecutive ids; candles', { timeout: 20_000 }, async () => {
  const s = await setup({ klines: true });
  try {
    await until('trades of every symbol and a candle of each', () => SYMBOLS.every((sym) => s.seen.trades.filter((t) => t.symbol === sym).length >= 5 && s.seen.klines.some((k) => k.symbol === sym)));
    assert.equal(s.protocol.stats.subscribeRequests, 1);
    for (const sym of SYMBOLS) {
      const ids = s.seen.trades.filter((t) => t.symbol === sym).map((t) => t.id);
      assert.deepEqual(ids, ids.map((_, i) => ids[0]! + i), `${sym} ids are consecutive`);
    }
    assert.ok(s.seen.trades.every((t) => t.exchange === 'okx' && t.count === 1 && /^\d+(\.\d*[1-9])?$/.test(t.price)));
    assert.ok(s.seen.klines.every((k) => k.timeframe === '1m' && k.takerBuyVolume === null && k.tradeCount === null));
    assert.equal(s.collector.health()[0]!.tradeIdGaps, 0);
    assert.equal(VENUE_PROTOCOLS.okx?.().name, 'okx', 'registered for the demo');
  } finally {
    await s.stop();
  }
});

test('heartbeat: text pings keep a connection with no data alive; a silent client is closed by the venue', { timeout: 20_000 }, async () => {
  const quiet = (v: SimulatedVenue) => SYMBOLS.forEach((sym) => v.haltSymbol(sym, 60_000));
  const pinging = await setup({ adapter: { ...okx, clientHeartbeat: { intervalMs: 400, message: 'ping' } }, protocol: { idleTimeoutMs: 1_000 } });
  try {
    await until('connected', () => pinging.protocol.stats.subscribeRequests === 1);
    quiet(pinging.venue);
    await sleep(2_500);
    assert.ok(pinging.protocol.stats.pings >= 4, `pings reached the venue (${pinging.protocol.stats.pings})`);
    assert.equal(pinging.protocol.stats.idleCloses, 0);
    assert.equal(pinging.collector.health()[0]!.reconnects, 0);
  } finally {
    await pinging.stop();
  }
  const silent = await setup({ adapter: { ...okx, clientHeartbeat: undefined }, protocol: { idleTimeoutMs: 1_000 } });
  try {
    quiet(silent.venue);
    await until('the venue closed the idle connection and the collector reconnected', () => silent.protocol.stats.idleCloses >= 1 && silent.collector.health()[0]!.reconnects >= 1);
    assert.equal(silent.protocol.stats.pings, 0);
  } finally {
    await silent.stop();
  }
});

test('reconnect: dropped connections -> reconnect gaps and trades resume; skipped ids -> a trade_id gap', { timeout: 20_000 }, async () => {
  const s = await setup();
  try {
    await until('trades', () => s.seen.trades.length >= 10);
    s.venue.dropConnections();
    await until('reconnect gaps for every symbol', () => SYMBOLS.every((sym) => s.seen.gaps.some((g) => g.symbol === sym && g.cause === 'reconnect')));
    const after = s.seen.trades.length;
    await until('trades resume', () => s.seen.trades.length >= after + 10);
    assert.ok((await metricValue(s.metrics, 'candlestack_websocket_reconnections_total', { exchange: 'okx' })) >= 1);
    await until('a BTC trade after the reconnect', () => s.seen.trades.slice(after).some((t) => t.symbol === 'BTC-USDT'));
    s.venue.skipTradeIds('BTC-USDT', 5);
    const gap = await until('a trade_id gap', () => s.seen.gaps.find((g) => g.cause === 'trade_id'));
    assert.deepEqual([gap.symbol, gap.missing], ['BTC-USDT', 5]);
  } finally {
    await s.stop();
  }
});

test('unknown and malformed frames are counted as rejected, never thrown; a service-upgrade notice reconnects', { timeout: 20_000 }, async () => {
  const s = await setup();
  try {
    await until('trades', () => s.seen.trades.length >= 5);
    s.venue.broadcast('{"event":"mystery"}');
    s.venue.broadcast('{"arg":{"channel":"trades-all","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"x"}]}');
    s.venue.broadcast('garbage');
    const rejected = (reason: string) => metricValue(s.metrics, 'candlestack_messages_rejected_total', { exchange: 'okx', reason });
    await until('rejections counted', async () => (await rejected('unknown_event')) === 1 && (await rejected('invalid_field')) === 1 && (await rejected('invalid_json')) === 1);
    const before = s.seen.trades.length;
    await until('trades continue', () => s.seen.trades.length >= before + 5);
    s.venue.broadcast('{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.","connId":"a4d3ae55"}');
    await until('reconnected on notice', async () => (await metricValue(s.metrics, 'candlestack_websocket_reconnections_total', { exchange: 'okx', reason: 'service_upgrade' })) === 1);
  } finally {
    await s.stop();
  }
});

test('backfill: fetchKlines over the venue REST equals candles rebuilt from every venue trade, across many pages', { timeout: 30_000 }, async () => {
  // A venue clock 60x fast, so that ~150 one-second bars exist after 2.5 s; pages of at most 25 rows.
  const t0 = Date.UTC(2024, 0, 1);
  const p0 = performance.now();
  const now = () => t0 + Math.floor((performance.now() - p0) * 60);
  const protocol = okxProtocol({ historyLimit: 25 });
  const venue = new SimulatedVenue({ protocol, symbols: ['BTC-USDT'], seed: 3, tradesPerSecond: 200, now });
  const trades: VenueTrade[] = [];
  venue.onTrade((t) => trades.push(t));
  const endpoints = await venue.start();
  try {
    await sleep(2_500);
    venue.skipTradeIds('BTC-USDT', 3); // sent to no one, yet part of the venue's candles
    await sleep(200);
    const from = periodStart(trades[0]!.time, 1000) + 1000; // a whole bar after the first trade
    const to = periodStart(now(), 1000) - 2000; // closed for sure
    const rest = new RestClient({ exchange: 'okx', clock: systemClock, metrics: testMetrics().feed, log, attempts: 1 });
    const klines = await okx.fetchKlines(rest, endpoints, 'BTC-USDT', '1s', from, to + 999);
    assert.ok(klines.length >= 100, `${klines.length} bars`);
    assert.ok(protocol.stats.restRequests.length >= 4, 'paginated');
    assert.ok(protocol.stats.restRequests.every((q) => q.get('limit') === '300' && q.get('bar') === '1s'));
    assert.deepEqual(klines.map((k) => k.openTime), Array.from({ length: (to - from) / 1000 + 1 }, (_, i) => from + i * 1000));
    assert.deepEqual(klines.map(({ openTime, open, high, low, close, volume, quoteVolume }) => ({ openTime, open, high, low, close, volume, quoteVolume })), rebuild(trades, from, to));
  } finally {
    await venue.stop();
  }
});

/** 1 s candles from trades: empty seconds repeat the previous close; quote volume sum(p x q) cut to 8 decimals. */
function rebuild(trades: readonly VenueTrade[], from: number, to: number) {
  const trim = (u: bigint) => formatUnits(u).replace(/\.?0+$/, '');
  const out = [];
  let i = 0;
  let close = 0n;
  for (let t = periodStart(trades[0]!.time, 1000); t <= to; t += 1000) {
    let [o, h, l, v, q16] = [close, close, close, 0n, 0n];
    for (let first = true; i < trades.length && trades[i]!.time < t + 1000; i++, first = false) {
      const p = parseUnits(trades[i]!.price);
      if (first) [o, h, l] = [p, p, p];
      if (p > h) h = p;
      if (p < l) l = p;
      close = p;
      v += parseUnits(trades[i]!.qty);
      q16 += p * parseUnits(trades[i]!.qty);
    }
    if (v === 0n) [o, h, l] = [close, close, close];
    if (t >= from) out.push({ openTime: t, open: trim(o), high: trim(h), low: trim(l), close: trim(close), volume: trim(v), quoteVolume: trim(q16 / UNITS_PER_ONE) });
  }
  return out;
}
