/**
 * Issue 19 item 5: with `LOCK TABLE candles` held, writes stopped with no error, the queue gauge stayed 0,
 * /readyz stayed 200 and reads hung 15 s. Now the store's statements have a lock timeout (the writer sees an
 * error and keeps its rows), an API read that the store does not answer in time is a 503 JSON, not a hang, the
 * queue gauge counts the rows waiting behind a blocked write, and /readyz is 503 naming the store while rows
 * wait and no write has completed for N flush intervals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PostgresStore } from '../../src/store/postgres.js';
import { adminPool, pgSkip, testSchema } from '../support/postgres.js';
import { log, testMetrics, until } from '../support/harness.js';
import { CandleWriter } from '../../src/store/candle-writer.js';
import { systemClock } from '../../src/core/clock.js';
import { startTestApi } from '../support/api.js';
import { candle } from '../support/store-contract.js';

test('a locked candles table: writes fail within the lock timeout, API reads answer 503 JSON within the deadline', { timeout: 60_000 }, async (t) => {
  const skip = await pgSkip();
  if (skip) return t.skip(skip);
  const admin = adminPool();
  const schema = testSchema(t, admin);
  const metrics = testMetrics();
  const store = await PostgresStore.open({ url: schema.url, now: () => Date.now(), metrics: metrics.store, log, lockTimeoutMs: 500 });
  t.after(() => store.close());
  const api = await startTestApi({ store, metrics, readDeadlineMs: 2_000 });
  t.after(() => api.close());
  t.after(() => admin.end());
  await store.upsert([candle(Date.UTC(2024, 0, 1))]);

  const unlock = await schema.lockCandles();
  const t0 = performance.now();
  await assert.rejects(store.upsert([candle(Date.UTC(2024, 0, 1, 0, 1))]), /lock timeout/i);
  const writeMs = performance.now() - t0;
  const t1 = performance.now();
  const res = await fetch(`${api.url}/api/candles`);
  const readMs = performance.now() - t1;
  assert.equal(res.status, 503);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, "store_unavailable");
  assert.ok(readMs < 5_000, `read answered after ${readMs.toFixed(0)} ms`);
  await unlock();
  const after = await fetch(`${api.url}/api/candles`);
  assert.equal(after.status, 200);
  t.diagnostic(`faults.store locked table: write failed after ${writeMs.toFixed(0)} ms (lock_timeout 500 ms), read 503 after ${readMs.toFixed(0)} ms, 200 again once unlocked`);
});

test('a write blocked on a locked table: the queue gauge counts the waiting rows and /readyz is 503 naming the store until a write completes', { timeout: 60_000 }, async (t) => {
  const skip = await pgSkip();
  if (skip) return t.skip(skip);
  const admin = adminPool();
  const schema = testSchema(t, admin);
  const metrics = testMetrics();
  // the lock timeout is longer than the test holds the lock: the write waits (as behind any slow write), it does not fail
  const store = await PostgresStore.open({ url: schema.url, now: () => Date.now(), metrics: metrics.store, log, lockTimeoutMs: 20_000 });
  t.after(() => store.close());
  const flushMs = 100;
  const stallAfterFlushes = 5;
  const writer = new CandleWriter({ store, clock: systemClock, metrics: metrics.store, log, flushMs, stallAfterFlushes });
  const api = await startTestApi({
    store,
    metrics,
    health: { store: { kind: store.kind, isOpen: () => store.isOpen(), queueDepth: () => writer.pending, writeStall: () => writer.stall() } },
  });
  t.after(() => api.close());
  t.after(() => admin.end());
  writer.start();
  t.after(() => writer.stop());
  const gauge = async () => (await metrics.registry.getSingleMetric('candlestack_store_queue_depth')!.get()).values.find((v) => v.labels.store === 'postgres')?.value ?? 0;
  const ready = async () => {
    const res = await fetch(`${api.url}/readyz`);
    return { status: res.status, body: (await res.json()) as { ready: boolean; reasons: string[] } };
  };
  const at = (minute: number) => ({ type: 'candle' as const, kind: 'close' as const, candle: candle(Date.UTC(2024, 0, 1, 0, minute)) });

  writer.onEvent(at(0));
  await until('the first write', () => writer.status().rowsWritten === 1);
  assert.equal((await ready()).status, 200);

  const unlock = await schema.lockCandles();
  const t0 = performance.now();
  writer.onEvent(at(1)); // this batch's write blocks on the lock
  writer.onEvent(at(2));
  await until('the blocked write to start', () => writer.depth === 0 && writer.pending === 2);
  writer.onEvent(at(3)); // and these wait behind it
  writer.onEvent(at(4));
  writer.onEvent(at(5));
  const depth = await until('the queue gauge to count the rows behind the blocked write', async () => ((await gauge()) === 5 ? 5 : false), 10_000);
  const notReady = await until('/readyz 503', async () => {
    const r = await ready();
    return r.status === 503 ? r : false;
  }, 10_000);
  const stalledMs = performance.now() - t0;
  assert.equal(notReady.body.ready, false);
  assert.ok(notReady.body.reasons.some((r) => /^store postgres has completed no write for [\d.]+ s with 5 rows waiting$/.test(r)), JSON.stringify(notReady.body.reasons));
  assert.equal(writer.status().rowsWritten, 1, 'nothing written while locked');

  await unlock();
  const t1 = performance.now();
  await until('/readyz 200 once writes succeed', async () => (await ready()).status === 200, 10_000);
  const recoveredMs = performance.now() - t1;
  await until('the rows behind it written too', () => writer.status().rowsWritten === 6, 10_000);
  await until('the queue gauge back to 0', async () => (await gauge()) === 0, 10_000);
  assert.equal(writer.stall(), null);
  t.diagnostic(`faults.store blocked write: queue gauge ${depth} rows behind it, /readyz 503 after ${stalledMs.toFixed(0)} ms (${stallAfterFlushes} flushes of ${flushMs} ms), 200 again ${recoveredMs.toFixed(0)} ms after unlock`);
});
