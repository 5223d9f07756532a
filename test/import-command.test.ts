/**
 * `candlestack import`: a dump's stored candles on every timeframe equal `candles`' CSV rows for that
 * timeframe (SQLite and PostgreSQL); a second import skips what is stored, --replace rewrites it; bad lines
 * are counted, bad flags exit 2 naming the flag.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { candlesCommand } from '../src/cli/candles-command.js';
import { IMPORT_BATCH, importCommand, parseImportArgs, type ImportArgs } from '../src/cli/import-command.js';
import { ConfigError } from '../src/core/errors.js';
import { fixed8, formatFixed8, parseFixed8 } from '../src/core/decimal.js';
import type { Timeframe } from '../src/core/timeframe.js';
import type { Candle } from '../src/core/types.js';
import { mulberry32 } from '../src/core/random.js';
import { openStore } from '../src/store/open.js';
import type { Store } from '../src/store/store.js';
import { APRIL, AUGUST } from './support/binance-fixtures.js';
import { fixturePath } from './support/fixtures.js';
import { log, testMetrics } from './support/harness.js';
import { adminPool, pgSkip, testSchema } from './support/postgres.js';

const dir = mkdtempSync(join(tmpdir(), 'candlestack-import-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    cb();
  }
}

const TIMEFRAMES: Timeframe[] = ['1m', '5m', '15m', '1h', '4h', '1d'];
const MIN = 60_000;
const START = Date.UTC(2024, 2, 1, 21, 58, 13); // crosses midnight: two 1d candles, several 4h ones

/**
 * 26 hours of aggTrades, a quiet stretch of 75 minutes (a whole empty hour), a malformed line, and a trade
 * 20 s older than the minute before it (late for 1m, but inside its hour: each timeframe must decide alone).
 */
function generatedDump(): { path: string; lines: number } {
  const rnd = mulberry32(15);
  const lines = ['agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker,was_best_price_match'];
  let agg = 1_000;
  let id = 50_000;
  let cents = 6_100_000;
  for (let t = START; t < START + 26 * 60 * MIN; t += 5_000 + Math.floor(rnd() * 60_000)) {
    if (t > START + 90 * MIN && t < START + 165 * MIN) continue; // quiet
    cents += Math.floor(rnd() * 41) - 20;
    const n = 1 + Math.floor(rnd() * 3);
    const qty = (1 + Math.floor(rnd() * 5_000_000)) / 1e8;
    lines.push(`${agg++},${(cents / 100).toFixed(2)},${qty.toFixed(8)},${id},${id + n - 1},${t},${rnd() < 0.5 ? 'True' : 'False'},True`);
    id += n;
    if (agg === 1_040) lines.push('not,a,trade');
    if (agg === 1_100) lines.push(`${agg++},${(cents / 100 + 3).toFixed(2)},0.5,${id},${id},${t - 20_000},False,True`), id++;
  }
  const path = join(dir, 'BTCUSDT-aggTrades.csv');
  writeFileSync(path, lines.join('\n') + '\n');
  return { path, lines: lines.length };
}
const GENERATED = generatedDump();

const scratch = fixed8();
const dec8 = (text: string) => (parseFixed8(text, scratch) ? formatFixed8(scratch.int, scratch.frac) : `bad:${text}`);

/** A candle as candles' CSV row, every decimal normalized to 8 places (PostgreSQL numerics print their own way). */
function row(c: Candle): string {
  return [c.openTime, dec8(c.open), dec8(c.high), dec8(c.low), dec8(c.close), dec8(c.volume), dec8(c.quoteVolume), c.tradeCount, dec8(c.takerBuyVolume), dec8(c.vwap)].join(',');
}

/** `candles`' CSV rows for the dump and timeframe, normalized like `row`. */
async function csvRows(input: string, format: ImportArgs['format'], symbol: string, timeframe: Timeframe): Promise<string[]> {
  const stdout = new Capture();
  const r = await candlesCommand({ input, format, symbol, timeframe }, { stdout, stderr: new Capture() });
  assert.equal(r.exitCode, 0);
  const [, ...rows] = stdout.text.trim().split('\n');
  return rows.map((line) => {
    const f = line.split(',');
    return [f[0], ...f.slice(1, 7).map(dec8), f[7], ...f.slice(8).map(dec8)].join(',');
  });
}

async function stored(store: Store, symbol: string, timeframe: Timeframe, exchange: ImportArgs['exchange'] = 'binance'): Promise<Candle[]> {
  return store.query({ exchange, symbol, timeframe, from: 0, limit: 100_000 });
}

async function runImport(store: Store, over: Partial<ImportArgs> = {}) {
  const stdout = new Capture();
  const stderr = new Capture();
  const args: ImportArgs = { input: GENERATED.path, format: 'binance-aggtrades-csv', symbol: 'BTC-USDT', exchange: 'binance', timeframes: TIMEFRAMES, replace: false, ...over };
  const result = await importCommand(args, store, { stdout, stderr });
  return { ...result, stdout: stdout.text, stderr: stderr.text };
}

async function sqlite(name: string): Promise<Store> {
  return openStore(`sqlite:${join(dir, name)}`, () => 1, { metrics: testMetrics().store, log });
}

/** Import, compare per timeframe, import again (nothing new), tamper one row, --replace restores it. */
async function roundTrip(store: Store): Promise<void> {
  const first = await runImport(store);
  assert.equal(first.exitCode, 0, first.stderr);
  assert.equal(first.badLines, 1);
  assert.match(first.stderr, /^line \d+: /m);
  let total = 0;
  for (const tf of TIMEFRAMES) {
    const expected = await csvRows(GENERATED.path, 'binance-aggtrades-csv', 'BTCUSDT', tf);
    const rows = await stored(store, 'BTC-USDT', tf);
    assert.ok(expected.length > 1, `${tf}: the dump spans several periods`);
    assert.deepEqual(rows.map(row), expected, `${tf}: stored candles == candles --timeframe ${tf}`);
    assert.ok(rows.every((c) => c.source === 'trades' && c.closed && c.timeframe === tf));
    assert.deepEqual(first.perTimeframe[tf], { written: expected.length, skipped: 0 });
    total += expected.length;
  }
  assert.ok(total > IMPORT_BATCH, `more rows (${total}) than one batch`);
  assert.match(first.stdout, /^import: binance BTC-USDT -> \w+: 1m \d+ written 0 skipped, 5m .*1d 2 written 0 skipped, \d+ trades used, 1 bad lines/);

  const again = await runImport(store);
  assert.equal(again.exitCode, 0);
  for (const tf of TIMEFRAMES) assert.deepEqual(again.perTimeframe[tf], { written: 0, skipped: first.perTimeframe[tf]!.written }, tf);
  assert.match(again.stdout, /--replace overwrites them/);

  // A stored hour that differs: kept without --replace, overwritten with it.
  const hours = await stored(store, 'BTC-USDT', '1h');
  const tampered = { ...hours[1]!, close: '1.00000000', source: 'backfill' as const };
  await store.upsert([tampered]);
  await runImport(store, { timeframes: ['1h'] });
  assert.equal((await stored(store, 'BTC-USDT', '1h'))[1]!.close.replace(/0+$/, ''), '1.');
  const replaced = await runImport(store, { timeframes: ['1h'], replace: true });
  assert.deepEqual(replaced.perTimeframe['1h'], { written: hours.length, skipped: 0 });
  assert.deepEqual((await stored(store, 'BTC-USDT', '1h')).map(row), hours.map(row));
  assert.equal((await stored(store, 'BTC-USDT', '1h'))[1]!.source, 'trades');
}

test('SQLite: stored candles equal candles CSV per timeframe; re-import skips; --replace rewrites', async () => {
  const store = await sqlite('round-trip.db');
  try {
    await roundTrip(store);
  } finally {
    await store.close();
  }
});

const pgSkipReason = await pgSkip();
const admin = pgSkipReason ? null : adminPool();
after(() => admin?.end());
test('PostgreSQL: the same round trip', { skip: pgSkipReason }, async (t) => {
  const schema = testSchema(t, admin!);
  const store = await openStore(schema.url, () => 1, { metrics: testMetrics().store, log });
  try {
    await roundTrip(store);
  } finally {
    await store.close();
  }
});

test('real recordings (jsonl): every symbol of the committed fixtures imports to candles CSV rows', async () => {
  const store = await sqlite('fixtures.db');
  try {
    for (const [file, symbol] of [[APRIL, 'BTCUSDT'], [APRIL, 'ETHUSDT'], [AUGUST, 'FTMUSDT'], [AUGUST, 'XMRBTC']] as const) {
      const input = fixturePath('binance', file);
      const canonical = symbol.replace(/(USDT|BTC)$/, '-$1');
      const r = await runImport(store, { input, format: 'binance-ws-jsonl', symbol: canonical, timeframes: ['1m', '1h'] });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.badLines, 0);
      for (const tf of ['1m', '1h'] as const) {
        const rows = (await stored(store, canonical, tf)).map(row);
        assert.ok(rows.length >= 1);
        assert.deepEqual(rows, await csvRows(input, 'binance-ws-jsonl', symbol, tf), `${symbol} ${tf}`);
      }
    }
  } finally {
    await store.close();
  }
});

test('--exchange names the stored series; a symbol without trades exits 1 and writes nothing', async () => {
  const store = await sqlite('exchange.db');
  try {
    const r = await runImport(store, { exchange: 'okx', timeframes: ['1h'] });
    assert.equal(r.exitCode, 0);
    assert.ok((await stored(store, 'BTC-USDT', '1h', 'okx')).length > 1);
    assert.equal((await stored(store, 'BTC-USDT', '1h', 'binance')).length, 0);

    const none = await runImport(store, { input: fixturePath('binance', APRIL), format: 'binance-ws-jsonl', symbol: 'SOL-USDT', timeframes: ['1m'] });
    assert.equal(none.exitCode, 1);
    assert.match(none.stderr, /no usable SOL-USDT trade/);
    assert.equal((await stored(store, 'SOL-USDT', '1m')).length, 0);
  } finally {
    await store.close();
  }
});

test('a store that fails mid-way: exit 1, the error named, reading stops', async () => {
  const inner = await sqlite('failing.db');
  let upserts = 0;
  const store: Store = Object.assign(Object.create(inner) as Store, {
    kind: 'sqlite',
    upsert: async (candles: readonly Candle[]) => {
      if (++upserts === 2) throw new Error('disk full');
      return inner.upsert(candles);
    },
  });
  try {
    const r = await runImport(store, { timeframes: ['1m'] });
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, /writing to the sqlite store failed: disk full/);
    const written = r.perTimeframe['1m']!.written;
    assert.ok(written >= IMPORT_BATCH && written < 26 * 60, `one batch written (${written})`);
    assert.equal((await stored(inner, 'BTC-USDT', '1m')).length, written);
  } finally {
    await inner.close();
  }
});

test('parseImportArgs: defaults from config, flags override, errors name the flag', () => {
  const base = ['--input', 'x.csv', '--format', 'binance-trades-csv', '--symbol', 'ethusdt'];
  const ok = parseImportArgs([...base, '--timeframes', '1m,1h', '--store', 'sqlite::memory:', '--replace', '--from', '2024-03-01'], {});
  assert.ok(!ok.help);
  assert.deepEqual(ok.args, { input: 'x.csv', format: 'binance-trades-csv', symbol: 'ETH-USDT', exchange: 'binance', timeframes: ['1m', '1h'], replace: true, from: Date.UTC(2024, 2, 1) });
  assert.equal(ok.config.store.url, 'sqlite::memory:');
  const env = parseImportArgs(base, { CANDLESTACK_TIMEFRAMES: '5m' });
  assert.ok(!env.help);
  assert.deepEqual(env.args.timeframes, ['5m']);
  assert.equal(env.args.replace, false);
  assert.deepEqual(parseImportArgs(['--help'], {}), { help: true });

  const field = (argv: string[]) => {
    try {
      parseImportArgs(argv, {});
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      return (e as ConfigError).message.split(':')[0];
    }
    assert.fail(`accepted ${argv.join(' ')}`);
  };
  assert.equal(field(base.slice(2)), '--input');
  assert.equal(field([...base.slice(0, 2), '--format', 'parquet', ...base.slice(4)]), '--format');
  assert.equal(field([...base.slice(0, 4), '--symbol', '???']), '--symbol');
  assert.equal(field([...base, '--exchange', 'mtgox']), '--exchange');
  assert.equal(field([...base, '--timeframes', '7m']), '--timeframes');
  assert.equal(field([...base, '--timeframe', '1m']), '--timeframe');
  assert.equal(field([...base, '--from', 'yesterday']), '--from');
});

test('CLI: import into a SQLite file, summary on stdout; a bad flag exits 2 naming it', () => {
  const db = join(dir, 'cli.db');
  const cli = (...args: string[]) => spawnSync(process.execPath, [MAIN, 'import', ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, CANDLESTACK_CONFIG: '' } });
  const r = cli('--input', GENERATED.path, '--format', 'binance-aggtrades-csv', '--symbol', 'BTCUSDT', '--timeframes', '1h,1d', '--store', `sqlite:${db}`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^import: binance BTC-USDT -> sqlite: 1h \d+ written 0 skipped, 1d 2 written 0 skipped, /);
  assert.match(r.stderr, /line \d+: /);
  const bad = cli('--input', GENERATED.path, '--format', 'csv', '--symbol', 'BTCUSDT');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--format/);
  const missing = cli('--input', join(dir, 'nope.csv'), '--format', 'binance-aggtrades-csv', '--symbol', 'BTCUSDT', '--store', `sqlite:${db}`);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /--input: cannot read/);
});
