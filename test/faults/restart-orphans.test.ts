/**
 * Issue 19 item 3: after a stop (kill -9 or graceful) inside a period's grace, the stored candle before the
 * latest stayed `closed: false` forever. On start every stored forming candle whose period has ended is closed,
 * and the startup gap reaches back to it so it is backfilled.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteStore } from '../../src/store/sqlite.js';
import { CandleEngine } from '../../src/pipeline/candle-engine.js';
import { restoreAndFindStartupGaps } from '../../src/pipeline/restart.js';
import type { Candle } from '../../src/core/types.js';
import { candle } from '../support/store-contract.js';
import { FakeClock } from '../support/fake-clock.js';
import { log, testMetrics } from '../support/harness.js';

const T = Date.UTC(2024, 0, 1, 12, 0, 0);

test('a restart closes every stored forming candle whose period ended, and its startup gap covers them', async (t) => {
  const store = new SqliteStore(':memory:', () => Date.now());
  t.after(() => store.close());
  // The stop came at T + 2.3 s: the 1s candle of T+1 s was in its grace period (its close never written), the
  // one of T+2 s forming; the 1m candle of 11:59 was in its grace too, 12:00 forming.
  await store.upsert([
    candle(T - 1_000, { timeframe: '1s', closed: true }),
    candle(T, { timeframe: '1s', closed: true }),
    candle(T + 1_000, { timeframe: '1s', closed: false }),
    candle(T + 2_000, { timeframe: '1s', closed: false }),
    candle(T - 60_000, { timeframe: '1m', closed: false }),
    candle(T, { timeframe: '1m', closed: false }),
  ]);
  const clock = new FakeClock(T + 30_000); // restarted 28 s later
  const emitted: Candle[] = [];
  const engine = new CandleEngine({ timeframes: ['1s', '1m'], graceMs: 500, latePolicy: 'drop', clock, metrics: testMetrics(), log, emit: (e) => void (e.kind === 'close' && emitted.push(e.candle)) });
  const gaps = await restoreAndFindStartupGaps(store, engine, [{ exchange: 'binance', symbols: ['BTC-USDT'] }], clock);
  const stored = [...(await store.query({ exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1s', limit: 100 })), ...(await store.query({ exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', limit: 100 }))];
  const open = stored.filter((c) => !c.closed && c.openTime + (c.timeframe === '1s' ? 1_000 : 60_000) <= clock.now());
  // The latest forming ones are closed by the engine (published); the ones before them directly in the store.
  const closedByEngine = new Set(emitted.map((c) => `${c.timeframe}/${c.openTime}`));
  assert.deepEqual(open.filter((c) => !closedByEngine.has(`${c.timeframe}/${c.openTime}`)).map((c) => `${c.timeframe}/${c.openTime - T}`), [], 'no ended period left forming');
  assert.equal(gaps.length, 1);
  assert.ok(gaps[0]!.from <= T - 60_000, `the startup gap reaches back to the oldest orphan (from ${gaps[0]!.from - T})`);
});
