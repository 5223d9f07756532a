/**
 * Issue 19 item 5: with `LOCK TABLE candles` held, writes stopped with no error and reads hung 15 s. Now the
 * store's statements have a lock timeout (the writer sees an error and keeps its rows), and an API read that
 * the store does not answer in time is a 503 JSON, not a hang.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PostgresStore } from '../../src/store/postgres.js';
import { adminPool, pgSkip, testSchema } from '../support/postgres.js';
import { log, testMetrics } from '../support/harness.js';
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
