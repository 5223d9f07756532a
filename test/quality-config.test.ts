/** Config sections `quality:` and `breakers:`: defaults, values from a file, and field-named errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/config.js';
import { breakerSettings, resolveCandleTimeframe } from '../src/config/quality-config.js';
import { ConfigError } from '../src/core/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'candlestack-qcfg-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function fromYaml(text: string) {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return loadConfig({ file, env: {}, flags: {} });
}

function rejects(text: string, field: string, pattern?: RegExp) {
  assert.throws(
    () => fromYaml(text),
    (err: unknown) => err instanceof ConfigError && err.field === field && (pattern === undefined || pattern.test(err.message)),
    `${field} is named`,
  );
}

test('defaults: every breaker 5 failures / 30 s / 1 probe, quality thresholds as documented', () => {
  const c = loadConfig({ env: {}, flags: {} });
  assert.deepEqual(breakerSettings(c.breakers, 'store_write'), { failureThreshold: 5, openMs: 30_000, halfOpenProbes: 1 });
  assert.equal(c.breakers.storeBufferRows, 100_000);
  assert.equal(c.quality.staleAfterMs, 60_000);
  assert.equal(c.quality.outlierK, 10);
  assert.equal(resolveCandleTimeframe(c.quality, c.timeframes), '1m', 'the smallest configured timeframe');
});

test('values from the file, with per-component breaker overrides', () => {
  const c = fromYaml(`
timeframes: [1s, 1m]
quality:
  checkInterval: 2s
  staleAfter: 45s
  outlierK: 8
  outlierMinJump: 0.01
  outlierWindow: 256
  volumeMaxMultiple: 50000
  candleTimeframe: 1m
  candlePeriods: 120
  maxDivergence: 0.02
  halfLife: 10m
  window: 30m
  weights: { staleness: 5, cross_exchange: 0 }
breakers:
  failureThreshold: 3
  openFor: 1m
  storeBufferRows: 5000
  store_write: { openFor: 5s, halfOpenProbes: 2 }
`);
  assert.deepEqual(
    [c.quality.checkIntervalMs, c.quality.staleAfterMs, c.quality.outlierK, c.quality.outlierMinJump, c.quality.outlierWindow, c.quality.volumeMaxMultiple, c.quality.candlePeriods, c.quality.maxDivergence, c.quality.halfLifeMs, c.quality.windowMs],
    [2_000, 45_000, 8, 0.01, 256, 50_000, 120, 0.02, 600_000, 1_800_000],
  );
  assert.equal(c.quality.weights.staleness, 5);
  assert.equal(c.quality.weights.cross_exchange, 0);
  assert.equal(c.quality.weights.trade_id_gap, 2, 'unlisted weights keep their default');
  assert.equal(resolveCandleTimeframe(c.quality, c.timeframes), '1m');
  assert.deepEqual(breakerSettings(c.breakers, 'store_write'), { failureThreshold: 3, openMs: 5_000, halfOpenProbes: 2 });
  assert.deepEqual(breakerSettings(c.breakers, 'backfill_rest'), { failureThreshold: 3, openMs: 60_000, halfOpenProbes: 1 });
  assert.equal(c.breakers.storeBufferRows, 5_000);
});

test('an invalid value is a ConfigError naming its field', () => {
  rejects('quality: { outlierK: -1 }', 'quality.outlierK', /a number from 1 to 1000, got -1/);
  rejects('quality: { staleAfter: soon }', 'quality.staleAfter', /duration/);
  rejects('quality: { outlierWindow: 10.5 }', 'quality.outlierWindow', /integer/);
  rejects('quality: { candleTimeframe: 7m }', 'quality.candleTimeframe');
  rejects('quality: { nope: 1 }', 'quality.nope', /no such field/);
  rejects('quality: { weights: { loudness: 2 } }', 'quality.weights.loudness', /no such field/);
  rejects('quality: 3', 'quality', /a mapping/);
  rejects('breakers: { failureThreshold: 0 }', 'breakers.failureThreshold');
  rejects('breakers: { store_write: { openFor: forever } }', 'breakers.store_write.openFor');
  rejects('breakers: { store_write: { storeBufferRows: 10 } }', 'breakers.store_write.storeBufferRows', /no such field/);
  rejects('breakers: { kafka: {} }', 'breakers.kafka', /no such field/);
  const c = fromYaml('timeframes: [1m, 5m]\nquality: { candleTimeframe: 1s }');
  assert.throws(() => resolveCandleTimeframe(c.quality, c.timeframes), (err: unknown) => err instanceof ConfigError && err.field === 'quality.candleTimeframe' && /configured timeframes 1m, 5m/.test(err.message));
});

test('the CLI stops with one line naming the field and exit code 2', () => {
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'breakers:\n  openFor: -5s\n');
  const main = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
  const r = spawnSync(process.execPath, [main, 'run', '--config', file], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^candlestack: breakers\.openFor: expected a duration/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});
