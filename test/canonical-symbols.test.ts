/**
 * Canonical BASE-QUOTE symbols: the core helpers, reading a user's symbol in either form, Binance's codec on
 * the mapper's path, and migration 4 moving rows stored under Binance's native spelling to the canonical one
 * (SQLite and PostgreSQL).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalSymbol, splitCanonical, splitConcatenated, splitSeparated, memoSymbols } from '../src/core/symbols.js';
import { resolveSymbol } from '../src/exchanges/symbols.js';
import { binance } from '../src/exchanges/binance/feed.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { SQLITE_MIGRATIONS } from '../src/store/sqlite-migrations.js';
import { PostgresStore } from '../src/store/postgres.js';
import { POSTGRES_MIGRATIONS } from '../src/store/postgres-migrations.js';
import type { Store } from '../src/store/store.js';
import { log, testMetrics } from './support/harness.js';
import { candle } from './support/store-contract.js';
import { adminPool, pgSkip, testSchema } from './support/postgres.js';

describe('core symbols', () => {
  test('concatenated symbols split at the longest known quote', () => {
    assert.deepEqual(splitConcatenated('BTCUSDT'), { base: 'BTC', quote: 'USDT' });
    assert.deepEqual(splitConcatenated('BTCFDUSD'), { base: 'BTC', quote: 'FDUSD' }, 'FDUSD, not BTCFD-USD');
    assert.deepEqual(splitConcatenated('ETHBTC'), { base: 'ETH', quote: 'BTC' });
    assert.deepEqual(splitConcatenated('XRPETH'), { base: 'XRP', quote: 'ETH' });
    assert.equal(splitConcatenated('USDT'), null, 'a quote alone has no base');
    assert.equal(splitConcatenated('FOOBAR'), null);
    assert.equal(splitConcatenated('btcusdt'), null, 'native input is upper case by then');
  });

  test('separated symbols in any punctuation; Kraken XBT is BTC in canonical form', () => {
    assert.deepEqual(splitSeparated('btc/usd'), { base: 'BTC', quote: 'USD' });
    assert.equal(canonicalSymbol(splitSeparated('XBT/USD')!), 'BTC-USD');
    assert.equal(canonicalSymbol(splitSeparated('xdg_usdt')!), 'DOGE-USDT');
    assert.equal(splitSeparated('BTC--USD'), null);
    assert.deepEqual(splitCanonical('BTC-USDT'), { base: 'BTC', quote: 'USDT' });
    assert.equal(splitCanonical('BTCUSDT'), null);
    assert.equal(splitCanonical('btc-usdt'), null, 'canonical is upper case');
  });

  test('the memo answers repeats without calling the mapping again, and stays bounded', () => {
    let calls = 0;
    const f = memoSymbols((s) => {
      calls++;
      return s === 'X' ? null : `${s}-USD`;
    }, 3);
    assert.equal(f('A'), 'A-USD');
    assert.equal(f('A'), 'A-USD');
    assert.equal(f('X'), null);
    assert.equal(f('X'), null);
    assert.equal(calls, 2, 'hits and remembered misses do not call the mapping');
    f('B');
    f('C'); // the memo was full: cleared, then C remembered
    f('A');
    assert.equal(calls, 5);
  });

  test('a user symbol resolves from Binance native or canonical spelling, and nonsense does not', () => {
    for (const input of ['BTCUSDT', 'btcusdt', 'BTC-USDT', 'btc/usdt', ' BTC_USDT ']) assert.equal(resolveSymbol(binance.symbols, input), 'BTC-USDT', input);
    assert.equal(resolveSymbol(binance.symbols, 'XBT-USDT'), 'BTC-USDT');
    assert.equal(resolveSymbol(binance.symbols, 'BTC'), null);
    assert.equal(resolveSymbol(binance.symbols, 'BTC USDT'), null);
    assert.equal(binance.symbols.toNative('BTC-USDT'), 'BTCUSDT');
    assert.equal(binance.symbols.toNative('ETH-BTC'), 'ETHBTC');
  });
});

describe('Binance mapper: canonical symbols out, unreadable ones rejected', () => {
  const run = (frame: string) => {
    const out: { trades: { symbol: string }[]; rejects: string[] } = { trades: [], rejects: [] };
    binance.mapper.map(frame, 1_800_000_000_000, { trade: (t) => out.trades.push(t), kline: (k) => out.trades.push(k), reject: (r) => out.rejects.push(r), reconnect: () => undefined });
    return out;
  };
  test('BTCUSDT trade -> BTC-USDT', () => {
    const r = run('{"e":"trade","E":1672515782136,"s":"BTCUSDT","t":7,"p":"1.0","q":"2.0","T":1672515782136,"m":true,"M":true}');
    assert.deepEqual(r.trades.map((t) => t.symbol), ['BTC-USDT']);
  });
  test('a symbol whose quote is unknown is counted as unknown_symbol, not guessed', () => {
    const r = run('{"e":"trade","E":1,"s":"FOOBAR","t":7,"p":"1.0","q":"2.0","T":1,"m":true,"M":true}');
    assert.deepEqual(r, { trades: [], rejects: ['unknown_symbol'] });
  });
});

async function migrationCase(open: (migrations: 'v3' | 'all') => Promise<Store>): Promise<void> {
  const before = await open('v3');
  await before.upsert([
    candle(60_000, { symbol: 'BTCUSDT' }),
    candle(60_000, { symbol: 'BTCFDUSD' }),
    candle(60_000, { symbol: 'ETHBTC' }),
    candle(60_000, { exchange: 'coinbase', symbol: 'BTCUSD' }),
  ]);
  await before.upsertIndicators([{ exchange: 'binance', symbol: 'BTCUSDT', timeframe: '1m', openTime: 60_000, name: 'sma20', values: { value: 1 } }]);
  await before.close();
  const store = await open('all');
  try {
    const series = (await store.series()).map((s) => `${s.exchange}:${s.symbol}`).sort();
    assert.deepEqual(series, ['binance:BTC-FDUSD', 'binance:BTC-USDT', 'binance:ETH-BTC', 'coinbase:BTCUSD'], 'only Binance rows are rewritten');
    const [c] = await store.query({ exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', from: 0, to: 120_000, limit: 10 });
    assert.equal(c?.close, candle(60_000).close, 'the row itself is unchanged');
    const ind = await store.queryIndicators({ exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', from: 0, to: 120_000, limit: 10, names: [] });
    assert.equal(ind.length, 1, 'indicator rows follow');
  } finally {
    await store.close();
  }
}

describe('migration 4: stored Binance symbols become canonical', () => {
  test('SQLite', async (t) => {
    const dir = (await import('node:fs')).mkdtempSync((await import('node:path')).join((await import('node:os')).tmpdir(), 'cs-mig-'));
    t.after(() => import('node:fs').then((fs) => fs.rmSync(dir, { recursive: true, force: true })));
    const path = `${dir}/db.sqlite`;
    await migrationCase(async (m) => new SqliteStore(path, () => 1, m === 'v3' ? SQLITE_MIGRATIONS.filter((x) => x.version <= 3) : SQLITE_MIGRATIONS));
  });

  const admin = adminPool();
  after(() => admin.end());
  test('PostgreSQL', async (t) => {
    const skip = await pgSkip();
    if (skip) return t.skip(skip);
    const schema = testSchema(t, admin);
    await migrationCase((m) =>
      PostgresStore.open({ url: schema.url, now: () => 1, metrics: testMetrics().store, log, migrations: m === 'v3' ? POSTGRES_MIGRATIONS.filter((x) => x.version <= 3) : POSTGRES_MIGRATIONS }),
    );
  });
});
