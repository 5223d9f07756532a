/**
 * The `report` job on a seeded store and a FakeClock: the previous UTC day's range and volume (1d candle, or
 * aggregated from 1m), stored vs expected candles per timeframe, the gaps (a missing hour, a missing minute,
 * a forming candle), the quality score when given; one log line per market; the text stays under 4,096.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Timeframe } from '../src/core/timeframe.js';
import type { Candle } from '../src/core/types.js';
import { DAY_MS, REPORT_TEXT_LIMIT, configuredMarkets, reportJob, type MarketReport } from '../src/jobs/report.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { createLogger } from '../src/telemetry/logger.js';
import { FakeClock } from './support/fake-clock.js';
import { candle } from './support/store-contract.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = Date.UTC(2024, 2, 1); // the reported day
const NOW = Date.UTC(2024, 2, 2, 0, 30); // the run: half an hour into the next day

function capture() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level: 'info', format: 'json' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines };
}

const ctx = (log = capture().log) => ({ signal: new AbortController().signal, log });

async function seeded(): Promise<SqliteStore> {
  const store = new SqliteStore(':memory:', () => NOW);
  const rows: Candle[] = [];
  // BTC-USDT 1m: the whole day but 05:00-05:59 (a missing hour) and 13:37 (only a forming candle).
  for (let t = DAY; t < DAY + DAY_MS; t += MIN) {
    if (t >= DAY + 5 * HOUR && t < DAY + 6 * HOUR) continue;
    const over: Partial<Candle> = { timeframe: '1m', open: '100.00000000', close: '100.75000000' };
    if (t === DAY) Object.assign(over, { open: '99.10000000' });
    if (t === DAY + DAY_MS - MIN) Object.assign(over, { close: '104.20000000' });
    if (t === DAY + 10 * HOUR) Object.assign(over, { high: '150.50000000' });
    if (t === DAY + 20 * HOUR) Object.assign(over, { low: '80.25000000' });
    if (t === DAY + 13 * HOUR + 37 * MIN) Object.assign(over, { closed: false });
    rows.push(candle(t, over));
  }
  // Outside the day: must not count.
  rows.push(candle(DAY - MIN, { high: '999.00000000' }), candle(DAY + DAY_MS, { low: '1.00000000' }));
  // BTC-USDT 1h: 23 of 24 (05:00 missing).
  for (let h = 0; h < 24; h++) if (h !== 5) rows.push(candle(DAY + h * HOUR, { timeframe: '1h' }));
  // ETH-USDT: only its 1d candle.
  rows.push(candle(DAY, { symbol: 'ETH-USDT', timeframe: '1d', open: '3400.00000000', high: '3550.00000000', low: '3300.00000000', close: '3366.00000000', volume: '12345.67800000' }));
  await store.upsert(rows);
  return store;
}

const TIMEFRAMES: Timeframe[] = ['1m', '1h', '1d'];
const MARKETS = configuredMarkets({
  exchanges: [
    { id: 'binance', symbols: ['BTC-USDT', 'ETH-USDT'] },
    { id: 'okx', symbols: ['BTC-USDT'] },
  ],
});

test('report: range, completeness, gaps and quality per market for the previous UTC day', async () => {
  const store = await seeded();
  const clock = new FakeClock(NOW);
  const quality = () => [{ exchange: 'binance' as const, symbol: 'BTC-USDT', score: 0.8734, failing: ['missing_candles' as const] }];
  const job = reportJob({ store, clock, quality }, { markets: MARKETS, timeframes: TIMEFRAMES });
  assert.equal(job.name, 'report');
  const { log, lines } = capture();
  const text = (await job.run(ctx(log))) as string;

  assert.equal(lines.length, 3, 'one log line per market');
  const [btc, eth, okx] = lines as unknown as (MarketReport & { msg: string; job: string })[];
  assert.equal(btc!.msg, 'daily report');
  assert.equal(btc!.job, 'report');
  assert.equal(btc!.day, '2024-03-01');
  assert.deepEqual(btc!.range, { open: '99.10000000', high: '150.50000000', low: '80.25000000', close: '104.20000000', volume: '2758.00000000', from: '1m', candles: 1379 });
  assert.deepEqual(btc!.candles['1m'], {
    stored: 1379,
    expected: 1440,
    completeness: 0.9576,
    missing: 61,
    gaps: [
      { from: DAY + 5 * HOUR, periods: 60 },
      { from: DAY + 13 * HOUR + 37 * MIN, periods: 1 },
    ],
  });
  assert.deepEqual(btc!.candles['1h'], { stored: 23, expected: 24, completeness: 0.9583, missing: 1, gaps: [{ from: DAY + 5 * HOUR, periods: 1 }] });
  assert.deepEqual(btc!.candles['1d'], { stored: 0, expected: 1, completeness: 0, missing: 1, gaps: [{ from: DAY, periods: 1 }] });
  assert.deepEqual(btc!.quality, { score: 0.8734, failing: ['missing_candles'] });

  assert.deepEqual(eth!.range, { open: '3400.00000000', high: '3550.00000000', low: '3300.00000000', close: '3366.00000000', volume: '12345.67800000', from: '1d', candles: 1 });
  assert.equal(eth!.candles['1m']!.stored, 0);
  assert.equal(eth!.quality, null);
  assert.equal(okx!.range, null);

  assert.equal(
    text,
    [
      'candlestack daily report 2024-03-01 (UTC)',
      '',
      'binance BTC-USDT',
      '  range: O 99.1 H 150.5 L 80.25 C 104.2 (+5.15%), volume 2758 (from 1379 1m candles)',
      '  candles: 1m 1379/1440 (95.8%), 1h 23/24 (95.8%), 1d 0/1 (0.0%)',
      '  gaps 1m: 2 (61 missing): 05:00-06:00, 13:37',
      '  gaps 1h: 1 (1 missing): 05:00',
      '  gaps 1d: 1 (1 missing): all day',
      '  quality: 0.87 (failing: missing_candles)',
      '',
      'binance ETH-USDT',
      '  range: O 3400 H 3550 L 3300 C 3366 (-1.00%), volume 12345.678 (1d candle)',
      '  candles: 1m 0/1440 (0.0%), 1h 0/24 (0.0%), 1d 1/1 (100.0%)',
      '  gaps 1m: 1 (1440 missing): all day',
      '  gaps 1h: 1 (24 missing): all day',
      '',
      'okx BTC-USDT',
      '  range: no candles stored for the day',
      '  candles: 1m 0/1440 (0.0%), 1h 0/24 (0.0%), 1d 0/1 (0.0%)',
      '  gaps 1m: 1 (1440 missing): all day',
      '  gaps 1h: 1 (24 missing): all day',
      '  gaps 1d: 1 (1 missing): all day',
    ].join('\n'),
  );
  await store.close();
});

test('report: a complete day has no gaps; the day follows the clock', async () => {
  const store = new SqliteStore(':memory:', () => NOW);
  const day2 = DAY + DAY_MS;
  await store.upsert(Array.from({ length: 24 }, (_, h) => candle(day2 + h * HOUR, { timeframe: '1h' })));
  const clock = new FakeClock(NOW);
  const job = reportJob({ store, clock }, { markets: [{ exchange: 'binance', symbol: 'BTC-USDT' }], timeframes: ['1h'] });
  assert.match((await job.run(ctx())) as string, /1h 0\/24 \(0\.0%\)/, 'the day before is not the day with the candles');
  clock.advance(DAY_MS);
  const text = (await job.run(ctx())) as string;
  assert.match(text, /^candlestack daily report 2024-03-02 \(UTC\)/);
  assert.match(text, /candles: 1h 24\/24 \(100\.0%\)\n  gaps: none/);
  assert.match(text, /volume 48 \(from 24 1h candles\)/);
  await store.close();
});

test('report: many markets: every one logged, the text cut to whole markets under 4,096 characters', async () => {
  const store = new SqliteStore(':memory:', () => NOW);
  const markets = Array.from({ length: 120 }, (_, i) => ({ exchange: 'binance' as const, symbol: `C${i}-USDT` }));
  const { log, lines } = capture();
  const text = (await reportJob({ store, clock: new FakeClock(NOW) }, { markets, timeframes: ['1m', '1h'] }).run(ctx(log))) as string;
  assert.equal(lines.length, 120);
  assert.ok(text.length <= REPORT_TEXT_LIMIT, `${text.length} characters`);
  const shown = (text.match(/^binance C\d+-USDT$/gm) ?? []).length;
  assert.ok(shown > 10 && shown < 120, `${shown} markets shown`);
  assert.ok(text.endsWith(`... ${120 - shown} more markets (in the log)`), text.slice(-80));
  await store.close();
});

test('report: an aborted run stops between markets', async () => {
  const store = new SqliteStore(':memory:', () => NOW);
  const ac = new AbortController();
  ac.abort(new Error('stopping'));
  await assert.rejects(reportJob({ store, clock: new FakeClock(NOW) }, { markets: MARKETS, timeframes: ['1m'] }).run({ signal: ac.signal, log: capture().log }), /stopping/);
  await store.close();
});
