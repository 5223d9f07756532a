/**
 * A `process` role killed with SIGKILL mid-stream and restarted leaves neither a duplicate nor a missing
 * candle in the store: offsets are committed only after the store write, the restart resumes each symbol from
 * its stored candles (with the last applied trade id), and Kafka redelivers the rest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../src/core/clock.js';
import { startCollect } from '../src/app/collect.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { kafkaMockUnavailable } from './support/kafka/mock-cluster.js';
import { assertSameCandles, offlineCandles } from './support/offline.js';
import { SYMBOLS, kafkaFixture } from './support/roles-fixture.js';
import { log, skipUnlessAvailable, sleep, until } from './support/harness.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

test('a process role killed with SIGKILL mid-stream and restarted: no duplicate, no missing candle', { timeout: 150_000 }, async (t) => {
  const why = kafkaMockUnavailable();
  const reason = skipUnlessAvailable(why === undefined, why ?? '');
  if (reason) return t.skip(reason);
  const fx = await kafkaFixture(13);
  const ex = fx.config.exchanges[0]!;
  // Commits every 3 s while the store is written every second: at the kill the store is ahead of the committed
  // offsets, so the restart is redelivered trades that its resumed candles already hold (and must skip).
  const configFile = join(fx.dir, 'process.yaml');
  writeFileSync(configFile, 'kafka:\n  commitInterval: 3s\nstore:\n  flushInterval: 200ms\n');
  const args = ['process', '--config', configFile, '--bus', fx.config.bus, '--store', fx.config.store.url, '--port', '0', '--timeframes', '1s,1m', '--grace', '300ms', '--symbols', SYMBOLS.join(','), '--ws-url', ex.wsUrl, '--rest-url', ex.restUrl, '--log-level', 'warn', '--log-format', 'json'];
  const children: ChildProcess[] = [];
  const startChild = () => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.once('exit', (code, signal) => {
      if (code !== 0 && signal !== 'SIGKILL' && signal !== 'SIGTERM') log.error({ code, stderr }, 'process role exited');
    });
    children.push(child);
    return child;
  };
  const collect = await startCollect(fx.config, { clock: systemClock, log, version: 'test' });
  try {
    const first = startChild();
    await sleep(1_500);
    const startAt = Math.ceil(Date.now() / 1000) * 1000 + 1000;
    await sleep(3_500);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    await sleep(2_000); // trades keep flowing into Kafka while no process runs
    startChild();
    await sleep(5_000);
    const stopAt = Math.floor(Date.now() / 1000) * 1000;
    const path = fx.config.store.url.slice('sqlite:'.length);
    await until('the candles stored across the crash to match the offline builder', async () => {
      const store = new SqliteStore(path);
      try {
        for (const symbol of SYMBOLS) {
          const got = await store.query({ exchange: 'binance', symbol, timeframe: '1s', limit: 5000 });
          const n = assertSameCandles(symbol, got, await offlineCandles(fx.trades, symbol, fx.dir), startAt, stopAt);
          assert.ok(n >= 8, `${symbol}: enough candles across the crash (${n})`);
        }
        return true;
      } finally {
        await store.close();
      }
    }, 40_000, { pollMs: 500, retryOnThrow: true });
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
    await collect.stop();
    await fx.cleanup();
  }
});
