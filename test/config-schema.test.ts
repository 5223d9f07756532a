/**
 * The config schema itself (src/config/schema.ts, declared in src/config/config.ts): every declared default is
 * valid, flags and environment variables are unique and all in --help, the defaults stated in help are the
 * real ones, and a bad value through each layer (file, env, flag) is one line naming that layer's name for it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SETTINGS, configLeaves, defaultConfig, loadConfig, settingsHelp } from '../src/config/config.js';
import { breakerSettings } from '../src/config/quality-config.js';
import { BREAKER_COMPONENTS } from '../src/core/circuit-breaker.js';
import { ConfigError } from '../src/core/errors.js';
import { indicatorWarmup, type IndicatorSpec } from '../src/core/indicator-specs.js';
import { createIndicator } from '../src/pipeline/indicators/specs.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'candlestack-schema-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const BAD = '!?';

/** A file document with `value` at `path` (an exchange entry also gets the id it needs). */
function documentWith(path: readonly (string | number)[], value: unknown, doc: Record<string, unknown> = {}): Record<string, unknown> {
  let at: Record<string | number, unknown> = doc;
  path.forEach((key, i) => {
    if (i === path.length - 1) at[key] = value;
    else at = (at[key] ??= typeof path[i + 1] === 'number' ? [] : {}) as Record<string | number, unknown>;
  });
  if (path[0] === 'exchanges' && path[2] !== 'id') ((doc.exchanges as Record<string, unknown>[])[0]!.id ??= 'binance');
  return doc;
}

function fromFile(doc: unknown) {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(doc));
  return loadConfig({ file, env: {}, flags: {} });
}

function throwsNaming(fn: () => unknown, field: string) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `${field}: a ConfigError, not ${String(err)}`);
    assert.equal(err.field, field);
    assert.match(err.message, new RegExp(`^${field.replace(/[.[\]]/g, '\\$&')}: expected .+, got "!\\?"$`));
    assert.equal(err.message.split('\n').length, 1, 'one line');
    return true;
  });
}

const leaves = configLeaves();

test('the schema declares the fields of every section, by their file names', () => {
  const fields = leaves.map((l) => l.field);
  for (const f of ['exchanges[0].id', 'exchanges[0].symbols', 'exchanges[0].wsUrl', 'timeframes', 'candles.grace', 'feed.backoffMax', 'bus', 'store.url', 'store.flushInterval', 'retention.1m', 'http.port', 'log.format', 'indicators.history', 'quality.outlierK', 'quality.weights.staleness', 'breakers.openFor', 'breakers.storeBufferRows', 'breakers.store_write.openFor', 'breakers.bus_produce.halfOpenProbes', 'kafka.topics.kline', 'kafka.commitInterval', 'jobs.retention.schedule', 'jobs.gap-sweep.timeout', 'jobs.vacuum.jitter', 'jobs.report.enabled', 'telegram.token', 'telegram.allowedChats', 'telegram.defaultMarket', 'telegram.apiUrl']) {
    assert.ok(fields.includes(f), f);
  }
  assert.equal(new Set(fields).size, fields.length, 'no field declared twice');
});

test('every declared default passes its own validation', () => {
  for (const l of leaves) assert.deepEqual(l.parse(l.default ?? null), l.default, l.field);
});

test('a file giving every declared field its default loads as defaultConfig()', () => {
  const doc: Record<string, unknown> = {};
  for (const l of leaves) documentWith(l.path, l.default ?? null, doc);
  const c = fromFile(doc);
  // Per-component overrides equal to the defaults are overrides all the same; they change no breaker.
  for (const component of BREAKER_COMPONENTS) assert.deepEqual(breakerSettings(c.breakers, component), defaultConfig().breakers.defaults, component);
  c.breakers.overrides = {};
  assert.deepEqual(c, defaultConfig());
});

test('flags and environment variables are unique, CANDLESTACK_ and the flag name', () => {
  assert.ok(SETTINGS.length >= 16);
  assert.equal(new Set(SETTINGS.map((s) => s.flag)).size, SETTINGS.length);
  assert.equal(new Set(SETTINGS.map((s) => s.env)).size, SETTINGS.length);
  for (const s of SETTINGS) assert.equal(s.env, `CANDLESTACK_${s.flag.toUpperCase().replaceAll('-', '_')}`);
  assert.ok(!SETTINGS.some((s) => s.flag === 'config' || s.env === 'CANDLESTACK_CONFIG'), '--config is not a setting');
});

test('--help of run, demo and the roles lists every flag with its environment variable', () => {
  for (const command of ['run', 'demo', 'process']) {
    const r = spawnSync(process.execPath, [MAIN, command, '--help'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0);
    assert.ok(r.stdout.includes(settingsHelp()), `${command} --help shows the settings`);
    for (const s of [{ flag: 'config', value: 'FILE', env: 'CANDLESTACK_CONFIG' }, ...SETTINGS]) {
      assert.match(r.stdout, new RegExp(`^  --${s.flag} ${s.value} .*\\(env ${s.env}\\)`, 'm'), `${command}: --${s.flag}`);
    }
  }
});

test('the defaults help states are the defaults', () => {
  const stated = SETTINGS.filter((s) => s.shown !== undefined);
  assert.deepEqual(
    Object.fromEntries(stated.map((s) => [s.flag, s.shown])),
    { symbols: 'BTC-USDT,ETH-USDT', 'trade-stream': 'trade', timeframes: '1m,5m,15m,1h,4h,1d', grace: '2s', 'late-policy': 'drop', 'stale-after': '30s', store: 'sqlite:data/candlestack.db', host: '127.0.0.1', port: '9001', 'log-level': 'info', 'log-format': 'auto', 'log-retention': '30d', 'kafka-group': 'candlestack-process', strategy: 'rules', 'strategy-seed': '1', 'llm-url': 'https://api.openai.com/v1', 'llm-model': 'gpt-4o-mini' },
  );
  for (const s of stated) {
    assert.ok(s.help.includes(`default ${s.shown}`), s.flag);
    assert.deepEqual(loadConfig({ env: {}, flags: { [s.flag]: s.shown } }), defaultConfig(), `--${s.flag} ${s.shown} changes nothing`);
  }
});

test('a bad value in the file is a ConfigError naming the field, for every declared field', () => {
  for (const l of leaves) throwsNaming(() => fromFile(documentWith(l.path, BAD)), l.field);
});

test('a bad value in the environment or a flag is a ConfigError naming the variable or the flag, for every setting', () => {
  for (const s of SETTINGS) {
    throwsNaming(() => loadConfig({ env: { [s.env]: BAD }, flags: {} }), s.env);
    throwsNaming(() => loadConfig({ env: {}, flags: { [s.flag]: BAD } }), `--${s.flag}`);
  }
});

test('each layer wins over the one before: file < env < flag', () => {
  const file = join(dir, 'layers.yaml');
  writeFileSync(file, 'candles: { grace: 1s }\nhttp: { port: 1111 }\nlog: { level: warn }\n');
  const c = loadConfig({ file, env: { CANDLESTACK_PORT: '2222', CANDLESTACK_LOG_LEVEL: 'debug' }, flags: { 'log-level': 'error' } });
  assert.deepEqual([c.candles.graceMs, c.http.port, c.log.level], [1_000, 2_222, 'error']);
});

test('the CLI: a bad value in each layer is one line naming it, exit code 2', () => {
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify({ quality: { outlierK: BAD } }));
  const cases: [string[], Record<string, string>, string][] = [
    [['run', '--config', file], {}, 'quality.outlierK'],
    [['run'], { CANDLESTACK_STALE_AFTER: BAD }, 'CANDLESTACK_STALE_AFTER'],
    [['run', '--kafka-group', BAD], {}, '--kafka-group'],
  ];
  for (const [args, env, name] of cases) {
    const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, ...env } });
    assert.equal(r.status, 2, `${name}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^candlestack: ${name}: expected .+, got "!\\?"\\n$`));
  }
});

test('unknown keys name the field and list the known ones in declaration order', () => {
  assert.throws(() => fromFile({ nope: 1 }), { message: 'nope: expected no such field (known: exchanges, timeframes, candles, feed, bus, store, retention, http, log, indicators, quality, breakers, jobs, decide, telegram, kafka, tracing, cache), got 1' });
  assert.throws(() => fromFile({ breakers: { kafka: {} } }), { message: 'breakers.kafka: expected no such field (known: failureThreshold, openFor, halfOpenProbes, storeBufferRows, backfill_rest, store_write, bus_produce, decide_llm, cache), got {}' });
  assert.throws(() => fromFile({ exchanges: [{ id: 'okx', url: 'x' }] }), { message: 'exchanges[0].url: expected no such field (known: id, symbols, tradeStream, klines, wsUrl, restUrl), got "x"' });
});

test('the warm-up rule config checks indicators.history against agrees with each indicator', () => {
  const specs: IndicatorSpec[] = [];
  for (const period of [2, 14, 50]) {
    for (const kind of ['sma', 'ema', 'rsi', 'atr'] as const) specs.push({ kind, period });
    specs.push({ kind: 'bollinger', period, stdDev: 2 });
  }
  specs.push({ kind: 'vwap' });
  for (const s of specs) assert.equal(indicatorWarmup(s), createIndicator(s).warmup, JSON.stringify(s));
  // MACD's own warmup is its MACD line (slow); history must also cover its signal line.
  const macd: IndicatorSpec = { kind: 'macd', fast: 12, slow: 26, signal: 9 };
  assert.equal(createIndicator(macd).warmup, 26);
  assert.equal(indicatorWarmup(macd), 26 + 9);
});

test('http.allowedHosts and http.allowedOrigins: from the environment, normalized; a port, a path or a wildcard inside a name is a ConfigError naming the variable (the file: the field)', () => {
  const c = loadConfig({ env: { CANDLESTACK_ALLOWED_HOSTS: 'Serve,.Example.org,*', CANDLESTACK_ALLOWED_ORIGINS: 'https://Dash.example.net,http://localhost:3000,*' }, flags: {} });
  assert.deepEqual(c.http.allowedHosts, ['serve', '.example.org', '*']);
  assert.deepEqual(c.http.allowedOrigins, ['https://dash.example.net', 'http://localhost:3000', '*']);
  assert.deepEqual([defaultConfig().http.allowedHosts, defaultConfig().http.allowedOrigins], [[], []]);
  for (const bad of ['serve:9001', 'a b', '*.example.org', 'http://serve']) {
    assert.throws(() => loadConfig({ env: { CANDLESTACK_ALLOWED_HOSTS: bad }, flags: {} }), (err: unknown) => err instanceof ConfigError && err.field === 'CANDLESTACK_ALLOWED_HOSTS', bad);
  }
  for (const bad of ['dash.example.net', 'https://dash.example.net/path', 'ftp://x.example', 'https://x.example?q=1']) {
    assert.throws(() => loadConfig({ env: { CANDLESTACK_ALLOWED_ORIGINS: bad }, flags: {} }), (err: unknown) => err instanceof ConfigError && err.field === 'CANDLESTACK_ALLOWED_ORIGINS', bad);
  }
});

test('http.allowedHosts in a file: a bad name is a ConfigError naming http.allowedHosts', () => {
  assert.throws(() => fromFile({ http: { allowedHosts: ['serve:9001'] } }), (err: unknown) => err instanceof ConfigError && err.field === 'http.allowedHosts');
  assert.throws(() => fromFile({ http: { allowedOrigins: ['https://a.example/x'] } }), (err: unknown) => err instanceof ConfigError && err.field === 'http.allowedOrigins');
});
