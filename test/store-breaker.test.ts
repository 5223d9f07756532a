/**
 * The store-write circuit breaker around CandleWriter, with a real SQLite store that fails while "down":
 * writes stop while the breaker is open, rows stay buffered within the bound (oldest forming updates dropped
 * first, closed candles never), every drop is counted and logged, and recovery writes everything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { Candle, CandleEvent } from '../src/core/types.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { CandleWriter } from '../src/store/candle-writer.js';
import { instrumentedBreaker } from '../src/telemetry/breaker-metrics.js';
import { createLogger } from '../src/telemetry/logger.js';
import { FakeClock } from './support/fake-clock.js';
import { log, testMetrics } from './support/harness.js';
import { metricValue } from './support/metrics.js';

const T0 = Date.UTC(2024, 0, 1);

/** The real SQLite store, failing every write while `down` (as a full disk or a locked database would). */
class FlakyStore extends SqliteStore {
  down = false;
  upserts = 0;
  constructor() {
    super(':memory:', () => T0);
  }
  override async upsert(candles: readonly Candle[]): Promise<void> {
    this.upserts++;
    if (this.down) throw new Error('SQLITE_FULL: database or disk is full');
    return super.upsert(candles);
  }
}

function event(symbol: string, openTime: number, closed: boolean, close = '100.00000000'): CandleEvent {
  const candle: Candle = { exchange: 'binance', symbol, timeframe: '1s', openTime, open: '100.00000000', high: close, low: '100.00000000', close, volume: '1.00000000', quoteVolume: '100.00000000', takerBuyVolume: '0.00000000', tradeCount: 1, vwap: '100.00000000', closed, source: 'trades', revision: 0 };
  return { type: 'candle', kind: closed ? 'close' : 'update', candle };
}

function setup(maxBufferedRows = 100_000) {
  const clock = new FakeClock(T0);
  const metrics = testMetrics();
  const lines: Record<string, any>[] = [];
  const sink = new Writable({ write: (chunk, _e, cb) => (lines.push(...String(chunk).trim().split('\n').map((l) => JSON.parse(l))), cb()) });
  const writerLog = createLogger({ level: 'info', format: 'json' }, sink);
  const store = new FlakyStore();
  const breaker = instrumentedBreaker('store_write', { failureThreshold: 2, openMs: 5_000, halfOpenProbes: 1 }, { clock, metrics: metrics.breakers, log });
  const writer = new CandleWriter({ store, clock, metrics: metrics.store, log: writerLog, flushMs: 1_000, breaker, maxBufferedRows });
  const value = (name: string, labels: Record<string, string> = {}) => metricValue(metrics, name, labels);
  const stored = async (symbol: string) => (await store.query({ exchange: 'binance', symbol, timeframe: '1s', limit: 5000 })).map((c) => [c.openTime - T0, c.closed]);
  return { clock, metrics, lines, store, breaker, writer, value, stored };
}

test('while the store_write breaker is open no write is attempted; after openFor a probe writes every buffered row', async () => {
  const { clock, store, breaker, writer, value, stored } = setup();
  store.down = true;
  writer.onEvent(event('BTC-USDT', T0, true));
  await writer.flush();
  writer.onEvent(event('BTC-USDT', T0 + 1000, true));
  await writer.flush();
  assert.equal(breaker.state, 'open', 'two failed writes open it');
  assert.equal(store.upserts, 2);

  for (let i = 2; i < 10; i++) {
    writer.onEvent(event('BTC-USDT', T0 + i * 1000, true));
    clock.advance(500);
    await writer.flush();
  }
  assert.equal(store.upserts, 2, 'no write while open');
  assert.equal(writer.depth, 10, 'every closed candle is buffered');
  assert.ok((await value('candlestack_circuit_breaker_rejected_total', { component: 'store_write' })) >= 8);
  assert.equal(await value('candlestack_store_queue_depth'), 10);

  store.down = false;
  clock.advance(1_000); // 5 s after opening
  assert.equal(breaker.state, 'half_open');
  await writer.flush();
  assert.equal(breaker.state, 'closed', 'the probe write succeeded');
  assert.equal(writer.depth, 0);
  assert.deepEqual(await stored('BTC-USDT'), Array.from({ length: 10 }, (_, i) => [i * 1000, true]));
  assert.equal(await value('candlestack_store_rows_dropped_total'), 0, 'nothing dropped');
});

test('beyond the bound the least recently updated forming candle is dropped first', async () => {
  const { store, breaker, writer, value, stored } = setup(4);
  store.down = true;
  writer.onEvent(event('BTC-USDT', T0 - 1000, true));
  await writer.flush();
  await writer.flush();
  assert.equal(breaker.state, 'open');
  writer.onEvent(event('ETH-USDT', T0, false));
  writer.onEvent(event('SOL-USDT', T0, false));
  writer.onEvent(event('BTC-USDT', T0, false));
  writer.onEvent(event('ETH-USDT', T0, false, '101.00000000')); // ETH updated again: SOL is now the oldest update
  assert.equal(writer.depth, 4, 'at the bound (BTC closed + 3 forming)');
  writer.onEvent(event('XRP-USDT', T0, true));
  assert.equal(writer.depth, 4, 'one forming row made room for the closed candle');
  assert.equal(await value('candlestack_store_rows_dropped_total', { reason: 'buffer_full' }), 1);

  store.down = false;
  await writer.flush(true);
  assert.deepEqual(await stored('SOL-USDT'), [], 'SOL (least recently updated) was dropped');
  assert.deepEqual(await stored('ETH-USDT'), [[0, false]]);
  assert.deepEqual(await stored('BTC-USDT'), [[-1000, true], [0, false]]);
  assert.deepEqual(await stored('XRP-USDT'), [[0, true]]);
});

test('closed candles are never dropped, even past the bound; drops and the overflow are counted and logged', async () => {
  const { clock, store, breaker, writer, value, stored, lines } = setup(4);
  store.down = true;
  writer.onEvent(event('BTC-USDT', T0, false));
  await writer.flush();
  await writer.flush();
  assert.equal(breaker.state, 'open');
  writer.onEvent(event('ETH-USDT', T0, false));
  writer.onEvent(event('SOL-USDT', T0, false));
  for (const s of ['XRP-USDT', 'BNB-USDT', 'ADA-USDT', 'DOT-USDT']) writer.onEvent(event(s, T0, true));
  assert.equal(writer.depth, 4, 'the three forming rows were dropped for closed ones');
  writer.onEvent(event('XRP-USDT', T0 + 1000, true));
  writer.onEvent(event('BNB-USDT', T0 + 1000, true));
  assert.equal(writer.depth, 6, 'closed candles are kept past the bound');
  assert.equal(await value('candlestack_store_rows_dropped_total', { reason: 'buffer_full' }), 3);
  const dropLog = lines.find((l) => /dropped the oldest forming-candle updates/.test(l.msg));
  assert.ok(dropLog, 'the drop is logged');
  assert.equal(dropLog.droppedFormingUpdates, 1, 'the first drop is logged at once');
  clock.advance(10_000);
  writer.onEvent(event('XRP-USDT', T0 + 2000, true));
  const overflow = lines.find((l) => /holds more closed candles than its bound; they are kept/.test(l.msg));
  assert.ok(overflow, 'holding closed candles past the bound is logged');
  assert.equal(overflow.droppedFormingUpdates, 2, 'with the drops since the last log line');

  store.down = false;
  clock.advance(5_000);
  await writer.flush();
  assert.equal(breaker.state, 'closed');
  assert.deepEqual(await stored('XRP-USDT'), [[0, true], [1000, true], [2000, true]]);
  assert.deepEqual(await stored('BNB-USDT'), [[0, true], [1000, true]]);
  for (const s of ['ADA-USDT', 'DOT-USDT']) assert.deepEqual(await stored(s), [[0, true]]);
  for (const s of ['BTC-USDT', 'ETH-USDT', 'SOL-USDT']) assert.deepEqual(await stored(s), [], `${s}: forming update dropped`);
});

test('a forming update never replaces a buffered closed candle of the same period', async () => {
  const { store, writer, stored } = setup();
  writer.onEvent(event('BTC-USDT', T0, true, '105.00000000'));
  writer.onEvent(event('BTC-USDT', T0, false, '999.00000000'));
  await writer.flush();
  assert.equal(store.upserts, 1);
  const [c] = await store.query({ exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1s', limit: 10 });
  assert.equal(c?.close, '105.00000000');
  assert.deepEqual(await stored('BTC-USDT'), [[0, true]]);
});

test('at shutdown the writer tries the store even with the breaker open; rows it cannot write are counted and logged', async () => {
  const { store, breaker, writer, value, lines } = setup();
  store.down = true;
  writer.onEvent(event('BTC-USDT', T0, true));
  await writer.flush();
  await writer.flush();
  assert.equal(breaker.state, 'open');
  writer.onEvent(event('BTC-USDT', T0 + 1000, false));
  await writer.stop();
  assert.equal(store.upserts, 3, 'one last attempt despite the open breaker');
  assert.equal(await value('candlestack_store_rows_dropped_total', { reason: 'shutdown' }), 2);
  assert.ok(lines.some((l) => /store unavailable at shutdown/.test(l.msg) && l.rows === 2));
});
