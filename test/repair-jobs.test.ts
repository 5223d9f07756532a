/**
 * The REST history filler and the repair jobs (gap-sweep, integrity) against the simulated Binance's REST
 * klines on loopback, on a SQLite store file: holes punched into the store (rows deleted with SQL) are found
 * and refilled with the exchange's klines; candles built from trades are left alone (unless `replace`);
 * periods older than the REST history count as unreachable and cost no request; integrity counts a planted
 * mismatch and none on a clean day. The venues run on a stepped clock shared with the code under test (the
 * store, the jobs): exchange time moves only when a test steps it, so the load of the machine cannot move a
 * period out of the REST history between a test's look at the time and the job's request.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { systemClock } from '../src/core/clock.js';
import { periodStart, timeframeMs, type Timeframe } from '../src/core/timeframe.js';
import type { Candle, Kline } from '../src/core/types.js';
import { SimulatedBinance } from '../src/demo/simulated-binance/server.js';
import { binance } from '../src/exchanges/binance/feed.js';
import type { Endpoints, ExchangeAdapter } from '../src/exchanges/adapter.js';
import { RestClient } from '../src/feed/rest-client.js';
import { gapSweepJob, runs, type GapSweepSummary } from '../src/jobs/gap-sweep.js';
import { compareDay, integrityJob, type IntegritySummary } from '../src/jobs/integrity.js';
import { RestHistory } from '../src/jobs/rest-history.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { kraken } from '../src/exchanges/kraken/feed.js';
import { SimulatedVenue } from '../src/demo/simulated-venue/venue.js';
import { krakenProtocol } from '../src/demo/simulated-venue/kraken.js';
import { FakeClock } from './support/fake-clock.js';
import { log, testMetrics } from './support/harness.js';
import { metricValue } from './support/metrics.js';

const MIN = 60_000;
const MIDNIGHT = Date.UTC(2024, 0, 2);
const SYMBOL = 'BTC-USDT';
/** The venue's clock, from 30 minutes before midnight, stepped by the tests (trades every venue second). */
const VENUE_START = MIDNIGHT - 30 * MIN;
const TICK_MS = 1_000;
const venueClock = new FakeClock(VENUE_START);
const venueNow = () => venueClock.now();

let venue: SimulatedBinance;
let endpoints: Endpoints;
let dir: string;

before(async () => {
  venue = new SimulatedBinance({ symbols: ['BTCUSDT'], seed: 5, tradesPerSecond: 4, tickMs: TICK_MS, clock: venueClock });
  endpoints = await venue.start();
  dir = mkdtempSync(join(tmpdir(), 'candlestack-repair-'));
  venueClock.set(MIDNIGHT + 6 * MIN + 30_000);
});

after(async () => {
  await venue.stop();
  rmSync(dir, { recursive: true, force: true });
});

let stores = 0;
function rig(adapter: ExchangeAdapter = binance) {
  const path = join(dir, `store-${++stores}.db`);
  const now = venueNow();
  const clock = venueClock;
  const store = new SqliteStore(path, () => clock.now());
  const metrics = testMetrics();
  const rest = new RestClient({ exchange: 'binance', clock: systemClock, metrics: metrics.feed, log, attempts: 1 });
  const history = new RestHistory({ sources: new Map([['binance', { adapter, endpoints, rest }]]), store });
  /** Deletes stored rows with SQL, as a crash that lost them would leave the store. */
  const punch = (timeframe: Timeframe, openTimes: number[]) => {
    const db = new Database(path);
    const del = db.prepare('DELETE FROM candles WHERE exchange = ? AND symbol = ? AND timeframe = ? AND open_time = ?');
    for (const t of openTimes) assert.equal(del.run('binance', SYMBOL, timeframe, t).changes, 1, `row ${timeframe} ${t} was there to delete`);
    db.close();
  };
  const rows = (timeframe: Timeframe) => store.query({ exchange: 'binance', symbol: SYMBOL, timeframe, from: 0, limit: 10_000 });
  const ctx = { signal: new AbortController().signal, log };
  return { store, clock, metrics, history, punch, rows, ctx, now };
}

/** The exchange's klines for [from, to] straight from its REST API (what a repaired row must equal). */
async function exchangeKlines(tf: Timeframe, from: number, to: number): Promise<Map<number, Kline>> {
  const rest = new RestClient({ exchange: 'binance', clock: systemClock, metrics: testMetrics().feed, log, attempts: 1 });
  const ks = await binance.fetchKlines(rest, endpoints, SYMBOL, tf, from, to);
  return new Map(ks.map((k) => [k.openTime, k]));
}

const asTrades = (c: Candle, close: string): Candle => ({ ...c, close, source: 'trades' });

test('runs() groups sorted period starts into consecutive runs', () => {
  assert.deepEqual(runs([0, 60, 120, 300, 360, 600], 60), [[0, 120], [300, 360], [600, 600]]);
  assert.deepEqual(runs([], 60), []);
});

test('the filler writes klines as backfilled candles, never over candles built from trades unless replace is set', async () => {
  const { store, history, rows, now } = rig();
  try {
    const first = await history.fill({ exchange: 'binance', symbol: SYMBOL, timeframe: '1m', from: VENUE_START, to: now }, now);
    const last = periodStart(now - 2_000, MIN) - MIN;
    assert.equal(first.written, (last - VENUE_START) / MIN + 1, 'one candle per closed period, none for the forming one');
    assert.equal(first.skippedTrades, 0);
    assert.ok((await rows('1m')).every((c) => c.source === 'backfill' && c.closed));

    const stored = await rows('1m');
    const ours = stored.slice(3, 6).map((c) => asTrades(c, '1.00000000'));
    await store.upsert(ours);
    const again = await history.fill({ exchange: 'binance', symbol: SYMBOL, timeframe: '1m', from: VENUE_START, to: now }, now);
    assert.equal(again.skippedTrades, 3);
    assert.equal(again.written, first.written - 3);
    const kept = (await rows('1m')).filter((c) => c.source === 'trades');
    assert.deepEqual(kept.map((c) => [c.openTime, c.close]), ours.map((c) => [c.openTime, '1.00000000']), 'trades-built candles untouched');

    const replaced = await history.fill({ exchange: 'binance', symbol: SYMBOL, timeframe: '1m', from: VENUE_START, to: now, replace: true }, now);
    assert.equal(replaced.skippedTrades, 0);
    assert.equal(replaced.written, first.written);
    const after = await rows('1m');
    assert.ok(after.every((c) => c.source === 'backfill'), 'replace overwrote them');
    assert.deepEqual(after.slice(3, 6).map((c) => c.close), stored.slice(3, 6).map((c) => c.close), "with the exchange's values");
  } finally {
    await store.close();
  }
});

test('gap-sweep finds the rows deleted from the store and refills them from REST klines; candles built from trades stay', async () => {
  const { store, clock, metrics, history, punch, rows, ctx, now } = rig();
  try {
    for (const tf of ['1m', '5m'] as const) await history.fill({ exchange: 'binance', symbol: SYMBOL, timeframe: tf, from: VENUE_START, to: now }, now);
    const before1m = await rows('1m');
    const before5m = await rows('5m');
    assert.ok(before1m.length >= 30 && before5m.length >= 6);
    // Candles built from trades (a close of 1, unlike the exchange's) next to and between the holes.
    const trades = [before1m[4]!, before1m[10]!].map((c) => asTrades(c, '1.00000000'));
    await store.upsert(trades);
    const hole1m = [before1m[5]!, before1m[6]!, before1m[7]!, before1m[11]!, before1m[before1m.length - 1]!].map((c) => c.openTime);
    const hole5m = [before5m[2]!.openTime];
    punch('1m', hole1m);
    punch('5m', hole5m);

    const job = gapSweepJob({ store, history, clock, metrics: metrics.candles }, { markets: [{ exchange: 'binance', symbols: [SYMBOL] }], timeframes: ['1m', '5m'], settleMs: 0 });
    assert.equal(job.name, 'gap-sweep');
    const summary = (await job.run(ctx)) as GapSweepSummary;
    assert.equal(summary.found, 6);
    assert.equal(summary.repaired, 6);
    assert.equal(summary.unreachable, 0);
    assert.equal(await metricValue(metrics, 'candlestack_gap_sweep_periods_total', { exchange: 'binance', timeframe: '1m', result: 'found' }), 5);
    assert.equal(await metricValue(metrics, 'candlestack_gap_sweep_periods_total', { exchange: 'binance', timeframe: '1m', result: 'repaired' }), 5);
    assert.equal(await metricValue(metrics, 'candlestack_gap_sweep_periods_total', { exchange: 'binance', timeframe: '5m', result: 'repaired' }), 1);
    assert.equal(await metricValue(metrics, 'candlestack_gap_sweep_periods_total', { exchange: 'binance', timeframe: '5m', result: 'unreachable' }), 0);

    const after1m = await rows('1m');
    assert.deepEqual(after1m.map((c) => c.openTime), before1m.map((c) => c.openTime), 'every period has its row again');
    const theirs = await exchangeKlines('1m', hole1m[0]!, hole1m[hole1m.length - 1]! + MIN - 1);
    for (const t of hole1m) {
      const c = after1m.find((x) => x.openTime === t)!;
      const k = theirs.get(t)!;
      assert.equal(c.source, 'backfill');
      assert.deepEqual([c.open, c.high, c.low, c.close, c.volume, c.tradeCount], [k.open, k.high, k.low, k.close, k.volume, k.tradeCount], `period ${t} is the exchange's kline`);
    }
    for (const t of trades) {
      const c = after1m.find((x) => x.openTime === t.openTime)!;
      assert.deepEqual([c.source, c.close], ['trades', '1.00000000'], 'a candle built from trades is left alone');
    }
    assert.equal((await rows('5m')).length, before5m.length);

    const second = (await job.run(ctx)) as GapSweepSummary;
    assert.deepEqual([second.found, second.repaired], [0, 0], 'nothing left to repair');
  } finally {
    await store.close();
  }
});

test('gap-sweep: periods older than the REST history count as unreachable and are not requested', async () => {
  const HISTORY = 10;
  const { store, clock, metrics, history, punch, rows, ctx, now } = rig({ ...binance, klineHistoryPeriods: HISTORY });
  try {
    // Filled through a full-history source; the sweep's source reaches only the HISTORY most recent periods.
    const full = rig();
    await full.history.fill({ exchange: 'binance', symbol: SYMBOL, timeframe: '1m', from: VENUE_START, to: now }, now);
    await store.upsert(await full.rows('1m'));
    await full.store.close();
    const stored = await rows('1m');
    const oldest = periodStart(now, MIN) - (HISTORY - 1) * MIN;
    const old = stored.filter((c) => c.openTime < oldest).slice(2, 6).map((c) => c.openTime);
    assert.equal(old.length, 4);
    punch('1m', old);

    const job = gapSweepJob({ store, history, clock, metrics: metrics.candles }, { markets: [{ exchange: 'binance', symbols: [SYMBOL] }], timeframes: ['1m'] });
    const summary = (await job.run(ctx)) as GapSweepSummary;
    assert.deepEqual([summary.found, summary.repaired, summary.unreachable], [4, 0, 4]);
    assert.equal(await metricValue(metrics, 'candlestack_gap_sweep_periods_total', { exchange: 'binance', timeframe: '1m', result: 'unreachable' }), 4);
    assert.equal(await metricValue(metrics, 'candlestack_rest_requests_total'), 0, 'nothing asked for');

    const recent = stored.filter((c) => c.openTime >= oldest).slice(1, 3).map((c) => c.openTime);
    punch('1m', recent);
    const next = (await job.run(ctx)) as GapSweepSummary;
    assert.deepEqual([next.found, next.repaired, next.unreachable], [6, 2, 4], 'the reachable ones are repaired, the old ones still counted');
  } finally {
    await store.close();
  }
});

test('integrity: no mismatch on a clean day, and the one planted in the store is counted per field', async () => {
  const { store, clock, metrics, history, rows, ctx, now } = rig();
  try {
    const yesterday = MIDNIGHT - DAY_MS;
    await history.fill({ exchange: 'binance', symbol: SYMBOL, timeframe: '1m', from: VENUE_START, to: now }, now);
    // Yesterday's candles as if built from trades (the same values: a faithful aggregator).
    const day = (await rows('1m')).filter((c) => c.openTime >= yesterday && c.openTime < MIDNIGHT);
    assert.equal(day.length, 30);
    await store.upsert(day.map((c) => ({ ...c, source: 'trades' })));

    const job = integrityJob({ store, history, clock, metrics: metrics.candles }, { markets: [{ exchange: 'binance', symbols: [SYMBOL] }] });
    assert.equal(job.name, 'integrity');
    const clean = (await job.run(ctx)) as IntegritySummary;
    assert.equal(clean.day, '2024-01-01');
    assert.deepEqual([clean.checked, clean.mismatched], [30, 0]);
    assert.equal(await metricValue(metrics, 'candlestack_integrity_candles_checked_total', { exchange: 'binance' }), 30);
    assert.equal(await metricValue(metrics, 'candlestack_integrity_mismatches_total', { exchange: 'binance' }), 0);

    const planted = day[12]!;
    await store.upsert([{ ...planted, source: 'trades', high: `${Number(planted.high) + 1}`, volume: '0.5' }]);
    const dirty = (await job.run(ctx)) as IntegritySummary;
    assert.deepEqual([dirty.checked, dirty.mismatched], [30, 1]);
    assert.equal(await metricValue(metrics, 'candlestack_integrity_candles_checked_total', { exchange: 'binance' }), 60);
    assert.equal(await metricValue(metrics, 'candlestack_integrity_mismatches_total', { exchange: 'binance', field: 'high' }), 1);
    assert.equal(await metricValue(metrics, 'candlestack_integrity_mismatches_total', { exchange: 'binance', field: 'volume' }), 1);
    assert.equal(await metricValue(metrics, 'candlestack_integrity_mismatches_total', { exchange: 'binance', field: 'open' }), 0);
    assert.equal(await metricValue(metrics, 'candlestack_integrity_mismatches_total', { exchange: 'binance', field: 'close' }), 0);
  } finally {
    await store.close();
  }
});

test('compareDay: stored candles without a kline are unmatched, periods without a stored candle are counted', () => {
  const c = (openTime: number, close: string): Candle => ({
    exchange: 'binance', symbol: SYMBOL, timeframe: '1m', openTime, open: '1', high: '2', low: '1', close, volume: '3',
    quoteVolume: '4', takerBuyVolume: '1', tradeCount: 2, vwap: '1.5', closed: true, source: 'trades', revision: 0,
  });
  const k = (openTime: number, close: string): Kline => ({
    type: 'kline', exchange: 'binance', symbol: SYMBOL, timeframe: '1m', openTime, open: '1.0', high: '2', low: '1', close, volume: '3.00',
    quoteVolume: null, takerBuyVolume: null, tradeCount: null, closed: true, time: openTime + MIN - 1, receivedAt: openTime + MIN - 1,
  });
  const s = compareDay('binance', SYMBOL, [c(0, '1.5'), c(MIN, '1.5'), c(2 * MIN, '1.5')], [k(0, '1.50'), k(MIN, '1.6')]);
  assert.deepEqual([s.checked, s.mismatched, s.unmatched, s.notStored], [2, 1, 1, 1440 - 3]);
  assert.deepEqual(s.fields, { close: 1 }, 'decimals compare by value; fields the exchange does not report are skipped');
});

const DAY_MS = timeframeMs('1d');

test('gap-sweep on Kraken (the simulated venue keeps its OHLC rows short, as Kraken keeps 720): old holes are unreachable, recent ones repaired', { timeout: 30_000 }, async () => {
  const ROWS = 8;
  const clock = new FakeClock(VENUE_START);
  const venue = new SimulatedVenue({ protocol: krakenProtocol({ ohlcMaxEntries: ROWS }), symbols: ['BTC-USD'], seed: 4, tradesPerSecond: 4, tickMs: TICK_MS, clock });
  const endpoints = await venue.start();
  const path = join(dir, 'kraken.db');
  try {
    clock.set(VENUE_START + 25 * MIN + 30_000);
    const now = clock.now();
    const store = new SqliteStore(path, () => clock.now());
    const metrics = testMetrics();
    const rest = new RestClient({ exchange: 'kraken', clock: systemClock, metrics: metrics.feed, log, attempts: 1 });
    const history = new RestHistory({ sources: new Map([['kraken', { adapter: { ...kraken, klineHistoryPeriods: ROWS }, endpoints, rest }]]), store });
    const current = periodStart(now, MIN);
    const oldest = current - (ROWS - 1) * MIN;
    const last = periodStart(now - 62_000, MIN) - MIN;
    // Rows for every period since the venue opened: the old ones as if built from trades, the recent ones from REST.
    const older: Candle[] = [];
    for (let t = VENUE_START; t < oldest; t += MIN) {
      older.push({ exchange: 'kraken', symbol: 'BTC-USD', timeframe: '1m', openTime: t, open: '1', high: '1', low: '1', close: '1', volume: '0', quoteVolume: '0', takerBuyVolume: '0', tradeCount: 0, vwap: '1', closed: true, source: 'trades', revision: 0 });
    }
    await store.upsert(older);
    const filled = await history.fill({ exchange: 'kraken', symbol: 'BTC-USD', timeframe: '1m', from: VENUE_START, to: last }, now);
    assert.equal(filled.unreachable, older.length, 'the filler itself counts the periods out of reach');
    const stored = await store.query({ exchange: 'kraken', symbol: 'BTC-USD', timeframe: '1m', from: 0, limit: 1000 });
    assert.equal(stored.length, (last - VENUE_START) / MIN + 1);

    const holes = [VENUE_START + 3 * MIN, VENUE_START + 4 * MIN, VENUE_START + 9 * MIN, oldest + 3 * MIN, oldest + 4 * MIN];
    const db = new Database(path);
    for (const t of holes) db.prepare("DELETE FROM candles WHERE exchange = 'kraken' AND open_time = ?").run(t);
    db.close();

    const job = gapSweepJob({ store, history, clock, metrics: metrics.candles }, { markets: [{ exchange: 'kraken', symbols: ['BTC-USD'] }], timeframes: ['1m'] });
    const summary = (await job.run({ signal: new AbortController().signal, log })) as GapSweepSummary;
    assert.deepEqual([summary.found, summary.repaired, summary.unreachable], [5, 2, 3]);
    assert.equal(await metricValue(metrics, 'candlestack_gap_sweep_periods_total', { exchange: 'kraken', result: 'unreachable' }), 3);
    const after = await store.query({ exchange: 'kraken', symbol: 'BTC-USD', timeframe: '1m', from: oldest, limit: 1000 });
    assert.ok(after.some((c) => c.openTime === oldest + 3 * MIN && c.source === 'backfill'), 'a recent hole is refilled');
    await store.close();
  } finally {
    await venue.stop();
  }
});

test('integrity: the part of yesterday older than the REST history is not compared, and stored candles there are not unmatched', async () => {
  // A history that reaches back to about ten minutes before midnight (the venue keeps running).
  const HISTORY = (periodStart(venueNow(), MIN) - (MIDNIGHT - 10 * MIN)) / MIN + 1;
  const { store, clock, metrics, history, ctx, now } = rig({ ...binance, klineHistoryPeriods: HISTORY });
  try {
    const full = rig();
    await full.history.fill({ exchange: 'binance', symbol: SYMBOL, timeframe: '1m', from: VENUE_START, to: now }, now);
    await store.upsert(await full.rows('1m'));
    await full.store.close();
    const oldest = periodStart(now, MIN) - (HISTORY - 1) * MIN;
    assert.ok(oldest > VENUE_START && oldest < MIDNIGHT, 'the history ends inside the stored part of yesterday');
    const job = integrityJob({ store, history, clock, metrics: metrics.candles }, { markets: [{ exchange: 'binance', symbols: [SYMBOL] }] });
    const s = ((await job.run(ctx)) as IntegritySummary).series[0]!;
    assert.deepEqual([s.checked, s.mismatched, s.unmatched, s.unreachable], [(MIDNIGHT - oldest) / MIN, 0, 0, (oldest - (MIDNIGHT - DAY_MS)) / MIN]);
    assert.equal(s.notStored, 0);
  } finally {
    await store.close();
  }
});
