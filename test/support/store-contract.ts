/**
 * The Store contract, written once and run against every implementation (SQLite, PostgreSQL): idempotent
 * upserts keyed by (exchange, symbol, timeframe, open_time), the forming-vs-closed rule, exact decimal
 * strings, and the API's queries (from/to/limit, oldest first), latest(), series() and prune().
 */
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Candle } from '../../src/core/types.js';
import type { CandleQuery, IndicatorRow, Store } from '../../src/store/store.js';
import type { PendingRepair } from '../../src/store/repair-store.js';

export const MIN = 60_000;
export const T0 = Date.UTC(2024, 0, 1, 0, 0);

export function candle(openTime: number, over: Partial<Candle> = {}): Candle {
  return {
    exchange: 'binance',
    symbol: 'BTC-USDT',
    timeframe: '1m',
    openTime,
    open: '100.00000000',
    high: '101.50000000',
    low: '99.25000000',
    close: '100.75000000',
    volume: '2.00000000',
    quoteVolume: '201.00000000',
    takerBuyVolume: '1.00000000',
    tradeCount: 5,
    vwap: '100.50000000',
    closed: true,
    source: 'trades',
    revision: 0,
    ...over,
  };
}

export const q = (over: Partial<CandleQuery> = {}): CandleQuery => ({ exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', limit: 1000, ...over });

/** Makes a new, empty store for one test and closes it after (via `t.after`). */
export type StoreFactory = (t: TestContext, now?: () => number) => Promise<Store>;

export function storeContract(name: string, make: StoreFactory, options: { skip?: string | false } = {}): void {
  const skip = options.skip ?? false;

  describe(`${name}: upserts`, { skip }, () => {
    test('round-trips every field', async (t) => {
      const store = await make(t);
      const c = candle(T0, { closed: false, source: 'backfill', revision: 3, tradeCount: 12345, vwap: '100.12345678' });
      await store.upsert([c]);
      assert.deepEqual(await store.query(q()), [c]);
    });

    test('the last applied trade id round-trips, and is absent when unknown', async (t) => {
      const store = await make(t);
      await store.upsert([candle(T0, { lastTradeId: 9_007_199_254 }), candle(T0 + MIN)]);
      const [a, b] = await store.query(q());
      assert.equal(a!.lastTradeId, 9_007_199_254);
      assert.equal(b!.lastTradeId, undefined);
      assert.equal('lastTradeId' in b!, false);
    });

    test('decimal strings come back exactly as written, whatever their scale', async (t) => {
      const store = await make(t);
      // Binance's fixed 8 decimals, other scales, and forms a numeric type would rewrite ('.5' -> '0.5').
      const values = ['43210.12000000', '0.00000000', '0.00000001', '123456789012.12345678', '1.10', '7', '0.1000', '99999999999999999999.999999999999', '.5', '1e-7', '0012.50'];
      const cs = values.map((v, i) => candle(T0 + i * MIN, { open: v, high: v, low: v, close: v, volume: v, quoteVolume: v, takerBuyVolume: v, vwap: v }));
      await store.upsert(cs);
      assert.deepEqual(await store.query(q()), cs);
    });

    test('awkward strings survive: quotes, backslashes, commas, braces, spaces, unicode, a symbol spelled NULL', async (t) => {
      const store = await make(t);
      const symbols = ['NULL', 'A"B', 'C\\D', 'E,F', '{G}', 'H I', 'ÄÖ€', ''];
      const cs = symbols.map((symbol) => candle(T0, { symbol }));
      await store.upsert(cs);
      for (const c of cs) assert.deepEqual(await store.query(q({ symbol: c.symbol })), [c], JSON.stringify(c.symbol));
    });

    test('is idempotent: the same candles twice leave the same rows', async (t) => {
      const store = await make(t);
      const batch = [candle(T0), candle(T0 + MIN, { close: '101.00000000' }), candle(T0 + 2 * MIN, { closed: false })];
      await store.upsert(batch);
      const once = await store.query(q());
      await store.upsert(batch);
      const twice = await store.query(q());
      assert.deepEqual(twice, once);
      assert.equal(twice.length, 3);
      assert.deepEqual(await store.series(), [{ exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', candles: 3, firstOpenTime: T0, lastOpenTime: T0 + 2 * MIN }]);
    });

    test('a forming candle does not overwrite a closed one; a correction and a close do', async (t) => {
      const store = await make(t);
      await store.upsert([candle(T0, { closed: true, volume: '2.00000000' })]);
      await store.upsert([candle(T0, { closed: false, volume: '1.00000000' })]);
      let [row] = await store.query(q());
      assert.equal(row?.closed, true);
      assert.equal(row?.volume, '2.00000000');
      await store.upsert([candle(T0, { closed: true, revision: 1, volume: '3.00000000' })]);
      [row] = await store.query(q());
      assert.equal(row?.revision, 1);
      assert.equal(row?.volume, '3.00000000');
      // forming then closing the same period
      await store.upsert([candle(T0 + MIN, { closed: false, volume: '0.50000000' })]);
      await store.upsert([candle(T0 + MIN, { closed: false, volume: '0.70000000' })]);
      assert.equal((await store.query(q({ from: T0 + MIN })))[0]?.volume, '0.70000000');
      await store.upsert([candle(T0 + MIN, { closed: true, volume: '0.90000000' })]);
      const [closed] = await store.query(q({ from: T0 + MIN }));
      assert.equal(closed?.closed, true);
      assert.equal(closed?.volume, '0.90000000');
    });

    test('one batch holding the same candle several times ends as if applied in order', async (t) => {
      const store = await make(t);
      await store.upsert([
        candle(T0, { closed: false, volume: '1.00000000' }),
        candle(T0, { closed: true, volume: '2.00000000' }),
        candle(T0, { closed: false, volume: '3.00000000' }), // forming after closed: ignored
        candle(T0 + MIN, { closed: false, volume: '4.00000000' }),
        candle(T0 + MIN, { closed: false, volume: '5.00000000' }),
        candle(T0 + 2 * MIN, { closed: true, volume: '6.00000000' }),
        candle(T0 + 2 * MIN, { closed: true, revision: 1, volume: '7.00000000' }),
      ]);
      const rows = await store.query(q());
      assert.deepEqual(rows.map((r) => [(r.openTime - T0) / MIN, r.volume, r.closed, r.revision]), [
        [0, '2.00000000', true, 0],
        [1, '5.00000000', false, 0],
        [2, '7.00000000', true, 1],
      ]);
    });

    test('a large batch (10,000 candles over 10 series) is written whole', async (t) => {
      const store = await make(t);
      const batch: Candle[] = [];
      for (let s = 0; s < 10; s++) for (let i = 0; i < 1_000; i++) batch.push(candle(T0 + i * MIN, { symbol: `SYM${s}-USDT`, tradeCount: i }));
      await store.upsert(batch);
      const series = await store.series();
      assert.equal(series.length, 10);
      assert.ok(series.every((s) => s.candles === 1_000 && s.firstOpenTime === T0 && s.lastOpenTime === T0 + 999 * MIN));
      const last = await store.query(q({ symbol: 'SYM9-USDT', limit: 2 }));
      assert.deepEqual(last.map((c) => c.tradeCount), [998, 999]);
    });
  });

  describe(`${name}: queries`, { skip }, () => {
    async function seeded(t: TestContext): Promise<Store> {
      const store = await make(t);
      // inserted out of order, plus other series that must not leak into the query
      const times = [5, 0, 9, 3, 1, 8, 2, 7, 6, 4].map((i) => T0 + i * MIN);
      await store.upsert(times.map((ot) => candle(ot, { tradeCount: (ot - T0) / MIN })));
      await store.upsert([candle(T0, { symbol: 'ETH-USDT' }), candle(T0, { timeframe: '5m' }), candle(T0, { exchange: 'okx' })]);
      return store;
    }
    const minutes = (cs: Candle[]): number[] => cs.map((c) => (c.openTime - T0) / MIN);

    test('ordered oldest first; from/to inclusive', async (t) => {
      const store = await seeded(t);
      assert.deepEqual(minutes(await store.query(q())), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      assert.deepEqual(minutes(await store.query(q({ from: T0 + 2 * MIN, to: T0 + 5 * MIN }))), [2, 3, 4, 5]);
      assert.deepEqual(minutes(await store.query(q({ from: T0 + 2 * MIN + 1, to: T0 + 5 * MIN - 1 }))), [3, 4]);
      assert.deepEqual(minutes(await store.query(q({ from: T0 + 7 * MIN }))), [7, 8, 9]);
      assert.deepEqual(await store.query(q({ from: T0 + 20 * MIN })), []);
      assert.deepEqual(await store.query(q({ symbol: 'NOPE' })), []);
    });

    test('limit with from returns the first N from `from`; without from the most recent N, oldest first', async (t) => {
      const store = await seeded(t);
      assert.deepEqual(minutes(await store.query(q({ from: T0 + 2 * MIN, limit: 3 }))), [2, 3, 4]);
      assert.deepEqual(minutes(await store.query(q({ limit: 3 }))), [7, 8, 9]);
      assert.deepEqual(minutes(await store.query(q({ to: T0 + 5 * MIN, limit: 2 }))), [4, 5]);
      assert.deepEqual(minutes(await store.query(q({ limit: 1 }))), [9]);
    });

    test('latest() returns the newest candle of every series of the given symbols', async (t) => {
      const store = await seeded(t);
      await store.upsert([candle(T0 + 3 * MIN, { symbol: 'ETH-USDT' }), candle(T0 + 5 * MIN, { timeframe: '5m' }), candle(T0 + 50 * MIN, { exchange: 'okx' })]);
      const latest = await store.latest('binance', ['BTC-USDT', 'ETH-USDT', 'NOPE']);
      const got = latest.map((c) => `${c.exchange} ${c.symbol} ${c.timeframe} ${(c.openTime - T0) / MIN}`).sort();
      assert.deepEqual(got, ['binance BTC-USDT 1m 9', 'binance BTC-USDT 5m 5', 'binance ETH-USDT 1m 3']);
      assert.deepEqual(latest.find((c) => c.symbol === 'BTC-USDT' && c.timeframe === '1m'), candle(T0 + 9 * MIN, { tradeCount: 9 }), 'the whole candle');
      assert.deepEqual(await store.latest('binance', []), []);
    });

    test('series() lists every series with its count and range, in byte order', async (t) => {
      const store = await seeded(t);
      const series = await store.series();
      assert.deepEqual(
        series.map((s) => [s.exchange, s.symbol, s.timeframe, s.candles, (s.firstOpenTime - T0) / MIN, (s.lastOpenTime - T0) / MIN]),
        [
          ['binance', 'BTC-USDT', '1m', 10, 0, 9],
          ['binance', 'BTC-USDT', '5m', 1, 0, 0],
          ['binance', 'ETH-USDT', '1m', 1, 0, 0],
          ['okx', 'BTC-USDT', '1m', 1, 0, 0],
        ],
      );
    });

    test('prune() deletes only the timeframe before the cut-off (exclusive) and says how many', async (t) => {
      const store = await seeded(t);
      assert.equal(await store.prune('1m', T0 + 4 * MIN), 4 + 1 + 1); // BTC-USDT 0..3, ETH-USDT 0, exchange 'okx' 0
      assert.deepEqual(minutes(await store.query(q())), [4, 5, 6, 7, 8, 9]);
      assert.equal((await store.query(q({ timeframe: '5m' }))).length, 1, '5m untouched');
      assert.equal(await store.prune('1m', T0 + 4 * MIN), 0);
    });

    test('close() closes the store', async (t) => {
      const store = await make(t);
      assert.equal(store.isOpen(), true);
      await store.close();
      assert.equal(store.isOpen(), false);
      await store.close(); // twice is fine
    });
  });

  describe(`${name}: indicators`, { skip }, () => {
    const key = { exchange: 'binance' as const, symbol: 'BTC-USDT', timeframe: '1m' as const };
    const rows = (i: number): IndicatorRow[] => [
      { ...key, openTime: T0 + i * MIN, name: 'sma20', values: { value: 100 + i + 0.1 } },
      { ...key, openTime: T0 + i * MIN, name: 'macd12_26_9', values: { macd: 0.5 * i, signal: i > 2 ? 0.25 * i : null, histogram: i > 2 ? 0.25 * i : null } },
    ];
  test('upsert is idempotent; query groups per candle, filters names, honours from/to/limit; prune', async (t) => {
    const store = await make(t);
    for (let i = 9; i >= 0; i--) await store.upsertIndicators(rows(i));
    await store.upsertIndicators(rows(3)); // replay
    await store.upsertIndicators([{ ...key, openTime: T0 + 3 * MIN, name: 'sma20', values: { value: 42 } }]); // correction wins
    await store.upsertIndicators([{ ...key, timeframe: '5m', openTime: T0, name: 'sma20', values: { value: 7 } }]);

    const all = await store.queryIndicators({ ...key, names: [], limit: 100 });
    assert.deepEqual(all.map((p) => p.openTime), Array.from({ length: 10 }, (_, i) => T0 + i * MIN));
    assert.deepEqual(all[3]!.values, { macd12_26_9: { macd: 1.5, signal: 0.75, histogram: 0.75 }, sma20: { value: 42 } });
    assert.deepEqual(all[0]!.values.macd12_26_9, { macd: 0, signal: null, histogram: null });
    assert.equal(all[7]!.values.sma20!.value, 107.1, 'doubles round-trip exactly');

    const latest = await store.queryIndicators({ ...key, names: ['sma20'], limit: 3 });
    assert.deepEqual(latest.map((p) => [p.openTime, Object.keys(p.values)]), [7, 8, 9].map((i) => [T0 + i * MIN, ['sma20']]));
    const window = await store.queryIndicators({ ...key, names: ['macd12_26_9'], from: T0 + 2 * MIN, to: T0 + 5 * MIN, limit: 2 });
    assert.deepEqual(window.map((p) => p.openTime), [T0 + 2 * MIN, T0 + 3 * MIN]);
    assert.deepEqual(await store.queryIndicators({ ...key, names: ['rsi14'], limit: 5 }), []);

    await store.prune('1m', T0 + 5 * MIN);
    assert.equal((await store.queryIndicators({ ...key, names: [], limit: 100 })).length, 5);
    assert.equal((await store.queryIndicators({ ...key, timeframe: '5m', names: [], limit: 100 })).length, 1, 'other timeframes untouched');
  });
  });

  describe(`${name}: the assistant's features and decisions`, { skip }, () => {
    const key = { exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m' } as const;
    const feature = (i: number, over: Record<string, number | null> = {}) => ({ ...key, openTime: T0 + i * MIN, close: 100 + i / 3, values: { ret1: i === 0 ? null : Math.log((100 + i / 3) / (100 + (i - 1) / 3)), rsi14: 55.123456789012345, ...over } });

    test('features: upsert is idempotent (a correction replaces), query honours from/to/limit oldest first, prune goes with the candles', async (t) => {
      const store = await make(t);
      const a = store.assistant!;
      for (let i = 9; i >= 0; i--) await a.upsertFeatures([feature(i)]);
      await a.upsertFeatures([feature(3, { rsi14: 42 })]);
      await a.upsertFeatures([{ ...feature(0), timeframe: '5m' }]);
      const all = await a.queryFeatures(q());
      assert.deepEqual(all.map((f) => f.openTime), Array.from({ length: 10 }, (_, i) => T0 + i * MIN));
      assert.deepEqual(all[5], feature(5), 'doubles and nulls round-trip exactly');
      assert.equal(all[3]!.values.rsi14, 42);
      assert.deepEqual((await a.queryFeatures(q({ limit: 2 }))).map((f) => f.openTime), [T0 + 8 * MIN, T0 + 9 * MIN]);
      assert.deepEqual((await a.queryFeatures(q({ from: T0 + 2 * MIN, to: T0 + 6 * MIN, limit: 2 }))).map((f) => f.openTime), [T0 + 2 * MIN, T0 + 3 * MIN]);
      await store.prune('1m', T0 + 5 * MIN);
      assert.equal((await a.queryFeatures(q())).length, 5);
      assert.equal((await a.queryFeatures(q({ timeframe: '5m' }))).length, 1, 'other timeframes untouched');
    });

    test('decisions: insert, query most recent first with filters, pending until every outcome is set', async (t) => {
      const store = await make(t);
      const a = store.assistant!;
      const base = { ...key, strategy: 'rules', action: 'BUY', confidence: 0.62, price: 64210.5, asOf: T0 + MIN, reasons: ['trend_up: +0.42%'], features: { ret1: 0.001, spreadBps: null }, scorable: true };
      const id1 = await a.insertDecision({ ...base, decidedAt: T0 + MIN + 1 });
      const id2 = await a.insertDecision({ ...base, symbol: 'ETH-USDT', action: 'SELL', decidedAt: T0 + MIN + 2 });
      const id3 = await a.insertDecision({ ...base, action: 'HOLD', price: null, asOf: null, reasons: ['stale_data'], features: {}, scorable: false, strategy: 'random', decidedAt: T0 + MIN + 3 });
      assert.ok(id1 < id2 && id2 < id3);
      const all = await a.queryDecisions({ limit: 10 });
      assert.deepEqual(all.map((d) => d.id), [id3, id2, id1]);
      assert.deepEqual(all[2], { ...base, decidedAt: T0 + MIN + 1, id: id1, outcomes: {}, pending: true });
      assert.deepEqual(all[0]!.price, null);
      assert.deepEqual((await a.queryDecisions({ symbol: 'BTC-USDT', limit: 10 })).map((d) => d.id), [id3, id1]);
      assert.deepEqual((await a.queryDecisions({ strategy: 'random', limit: 10 })).map((d) => d.id), [id3]);
      assert.deepEqual((await a.queryDecisions({ from: T0 + MIN + 2, limit: 10 })).map((d) => d.id), [id3, id2]);
      assert.deepEqual((await a.queryDecisions({ limit: 1 })).map((d) => d.id), [id3]);
      assert.deepEqual((await a.pendingDecisions(10)).map((d) => d.id), [id1, id2], 'unscorable decisions are never pending');
      const o = { price: 64300.25, change: 64300.25 / 64210.5 - 1, hit: true, scoredAt: T0 + 20 * MIN };
      await a.setOutcomes(id1, { '15m': o }, true);
      assert.deepEqual((await a.queryDecisions({ symbol: 'BTC-USDT', strategy: 'rules', limit: 1 }))[0]!.outcomes, { '15m': o });
      await a.setOutcomes(id1, { '15m': o, '1h': { price: null, change: null, hit: null, scoredAt: T0 + 90 * MIN } }, false);
      assert.deepEqual((await a.pendingDecisions(10)).map((d) => d.id), [id2]);
    });
  });

  describe(`${name}: pending repairs`, { skip }, () => {
    const repair = (id: string, over: Partial<PendingRepair> = {}): PendingRepair => ({ id, exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1s', first: T0, last: T0 + 4_000, ...over });

    test('saved repairs are listed in key order; saving an id again replaces its range; removed ones are gone', async (t) => {
      const store = await make(t);
      const r = store.repairs!;
      assert.deepEqual(await r.pendingRepairs(), []);
      const b = repair('b', { timeframe: '1m', first: T0, last: T0 + 2 * MIN });
      const a = repair('a', { first: T0 + 9_000, last: T0 + 9_000 });
      const eth = repair('c', { symbol: 'ETH-USDT' });
      const okx = repair('d', { exchange: 'okx' });
      await r.saveRepairs([b, a, eth, okx, repair('z')]);
      assert.deepEqual(await r.pendingRepairs(), [b, repair('z'), a, eth, okx], 'exchange, symbol, timeframe (byte order: 1m before 1s), first period, id');
      await r.saveRepairs([{ ...a, first: T0 + 7_000, last: 9_007_199_254_740 }, { ...a, first: T0 + 8_000, last: 9_007_199_254_740 }]);
      assert.deepEqual((await r.pendingRepairs()).find((x) => x.id === 'a'), { ...a, first: T0 + 8_000, last: 9_007_199_254_740 }, 'one row per id, the last saved wins, large open times exact');
      await r.removeRepairs(['z', 'c', 'unknown']);
      assert.deepEqual((await r.pendingRepairs()).map((x) => x.id), ['b', 'a', 'd']);
      await r.removeRepairs([]);
      await r.saveRepairs([]);
      assert.equal((await r.pendingRepairs()).length, 3);
    });
  });
}
