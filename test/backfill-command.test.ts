/**
 * `candlestack backfill` end to end: the command as a child process against the simulated Binance's REST
 * klines (behind a loopback proxy that records every request), on a SQLite store file. It fills the range;
 * a second run resumes where the first stopped (the requests show it does not fetch again); candles built
 * from trades stay unless --replace; bad flags exit 2 naming the flag.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { backfillCommand, parseBackfillArgs, type BackfillArgs } from '../src/cli/backfill-command.js';
import { systemClock } from '../src/core/clock.js';
import { periodStart } from '../src/core/timeframe.js';
import type { Candle } from '../src/core/types.js';
import { SimulatedBinance } from '../src/demo/simulated-binance/server.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { log, sleep } from './support/harness.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MIN = 60_000;
const SYMBOL = 'BTC-USDT';

/** The venue runs 600x from three hours ago, so its periods are closed on the command's (real) clock too. */
const VENUE_START = periodStart(Date.now(), 60 * MIN) - 3 * 60 * MIN;
let t0 = 0;
const venueNow = () => VENUE_START + (Date.now() - t0) * 600;

let venue: SimulatedBinance;
let proxy: Server;
let restUrl: string;
let dir: string;
/** The kline requests the proxy saw: their startTime. */
const requests: number[] = [];

before(async () => {
  t0 = Date.now();
  venue = new SimulatedBinance({ symbols: ['BTCUSDT', 'ETHUSDT'], seed: 9, tradesPerSecond: 40, now: venueNow });
  const upstream = (await venue.start()).restBaseUrl;
  proxy = createServer((req, res) => {
    const url = new URL(req.url ?? '/', upstream);
    if (url.pathname === '/api/v3/klines') requests.push(Number(url.searchParams.get('startTime')));
    fetch(`${upstream}${url.pathname}${url.search}`).then(
      async (r) => {
        res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
        res.end(Buffer.from(await r.arrayBuffer()));
      },
      () => {
        res.writeHead(502);
        res.end();
      },
    );
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  restUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'candlestack-backfill-cli-'));
  while (venueNow() < VENUE_START + 40 * MIN) await sleep(100);
});

after(async () => {
  proxy.closeAllConnections();
  await new Promise<void>((resolve) => proxy.close(() => resolve()));
  await venue.stop();
  rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, env: { ...process.env, CANDLESTACK_CONFIG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const iso = (t: number) => new Date(t).toISOString();

async function storedRows(path: string, symbol = SYMBOL): Promise<Candle[]> {
  const store = new SqliteStore(path, Date.now);
  try {
    return await store.query({ exchange: 'binance', symbol, timeframe: '1m', from: 0, limit: 10_000 });
  } finally {
    await store.close();
  }
}

test('backfill fills the range, and a second run resumes where the first stopped without fetching again', { timeout: 60_000 }, async () => {
  const path = join(dir, 'resume.db');
  const base = ['backfill', '--exchange', 'binance', '--rest-url', restUrl, '--store', `sqlite:${path}`, '--symbols', 'BTC-USDT,ETHUSDT', '--timeframes', '1m', '--from', iso(VENUE_START)];
  const stopAt = VENUE_START + 14 * MIN; // a first run that stopped after 15 periods

  requests.length = 0;
  const first = await cli([...base, '--to', String(stopAt)]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /^backfill: binance BTC-USDT 1m: 15 written, 0 skipped \(built from trades\), 0 unreachable, 0 not served$/m);
  assert.match(first.stderr, /^backfill: binance ETH-USDT 1m: 15 written/m);
  assert.doesNotMatch(first.stderr, /\r|\[#/, 'no progress bar when stderr is not a terminal');
  assert.deepEqual(requests, [VENUE_START, VENUE_START]);
  assert.deepEqual((await storedRows(path)).map((c) => c.openTime), Array.from({ length: 15 }, (_, i) => VENUE_START + i * MIN));

  requests.length = 0;
  const end = VENUE_START + 29 * MIN;
  const second = await cli([...base, '--to', String(end)]);
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual(requests, [stopAt + MIN, stopAt + MIN], 'each series asks only for the periods after those stored');
  assert.match(second.stderr, new RegExp(`^backfill: binance BTC-USDT 1m: 15 written, .*resumed after ${iso(stopAt).replace(/\./g, '\\.')}$`, 'm'));
  const rows = await storedRows(path);
  assert.deepEqual(rows.map((c) => c.openTime), Array.from({ length: 30 }, (_, i) => VENUE_START + i * MIN));
  assert.ok(rows.every((c) => c.source === 'backfill' && c.closed));

  requests.length = 0;
  const third = await cli([...base, '--to', String(end)]);
  assert.equal(third.code, 0, third.stderr);
  assert.deepEqual(requests, [], 'a finished range costs no request');
  assert.match(third.stderr, /BTC-USDT 1m: 0 written/);
});

test('backfill keeps candles built from trades; --replace overwrites them', { timeout: 60_000 }, async () => {
  const path = join(dir, 'replace.db');
  const to = VENUE_START + 19 * MIN;
  const base = ['backfill', '--exchange', 'binance', '--rest-url', restUrl, '--store', `sqlite:${path}`, '--symbols', SYMBOL, '--timeframes', '1m', '--from', String(VENUE_START), '--to', String(to)];
  // Three candles of ours in the middle of the range, built from trades (a close the exchange never had).
  const ours = [5, 6, 9].map((i): Candle => ({
    exchange: 'binance', symbol: SYMBOL, timeframe: '1m', openTime: VENUE_START + i * MIN, open: '1', high: '1', low: '1', close: '1.00000000',
    volume: '1', quoteVolume: '1', takerBuyVolume: '0', tradeCount: 1, vwap: '1', closed: true, source: 'trades', revision: 0,
  }));
  const store = new SqliteStore(path, Date.now);
  await store.upsert(ours);
  await store.close();

  const kept = await cli(base);
  assert.equal(kept.code, 0, kept.stderr);
  assert.match(kept.stderr, /BTC-USDT 1m: 17 written, 3 skipped \(built from trades\)/);
  let rows = await storedRows(path);
  assert.equal(rows.length, 20);
  assert.deepEqual(rows.filter((c) => c.source === 'trades').map((c) => [c.openTime, c.close]), ours.map((c) => [c.openTime, '1.00000000']));

  requests.length = 0;
  const replaced = await cli([...base, '--replace']);
  assert.equal(replaced.code, 0, replaced.stderr);
  assert.match(replaced.stderr, /BTC-USDT 1m: 15 written, 0 skipped/, 'resumes at the first candle built from trades');
  assert.deepEqual(requests, [VENUE_START + 5 * MIN]);
  rows = await storedRows(path);
  assert.equal(rows.length, 20);
  assert.ok(rows.every((c) => c.source === 'backfill' && c.close !== '1.00000000'), 'every candle is now the exchange kline');
});

test('backfill: bad or missing flags exit 2 with one line naming the flag', { timeout: 60_000 }, async () => {
  const ok = ['--exchange', 'binance', '--symbols', SYMBOL, '--timeframes', '1m', '--from', '2024-01-01', '--store', 'sqlite::memory:', '--rest-url', restUrl];
  const cases: [string[], RegExp][] = [
    [ok.filter((_, i) => i > 1), /^candlestack: --exchange: expected one of binance/],
    [['--exchange', 'nyse', ...ok.slice(2)], /^candlestack: --exchange: expected one of .* got "nyse"/],
    [ok.filter((_, i) => i !== 6 && i !== 7), /^candlestack: --from: expected/],
    [[...ok, '--from', 'yesterday'], /^candlestack: --from: expected epoch milliseconds or an ISO-8601 time/],
    [[...ok, '--to', '2023-01-01'], /^candlestack: --to: expected a time not before --from/],
    [[...ok.slice(0, 4), '--timeframes', '2m', ...ok.slice(6)], /^candlestack: --timeframes: expected timeframes from/],
    [[...ok, '--exchange', 'kraken', '--timeframes', '1s'], /^candlestack: --timeframes: expected timeframes kraken serves klines for/],
    [[...ok, '--symbols', 'BTC'], /^candlestack: --symbols: expected symbols/],
    [[...ok, '--bogus'], /^candlestack: --bogus: expected a known flag/],
    [[...ok, '--replace=yes'], /^candlestack: --replace: expected no value/],
  ];
  for (const [args, want] of cases) {
    const r = await cli(['backfill', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, want, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  }
  const help = await cli(['backfill', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: candlestack backfill --exchange E/);
});

test('backfill draws a progress bar on a terminal and ends with the summary line', { timeout: 30_000 }, async () => {
  const path = join(dir, 'tty.db');
  const args = parseBackfillArgs(['--exchange', 'binance', '--rest-url', restUrl, '--store', `sqlite:${path}`, '--symbols', SYMBOL, '--timeframes', '1m,5m', '--from', String(VENUE_START), '--to', String(VENUE_START + 29 * MIN)], {});
  assert.notEqual(args, 'help');
  let written = '';
  const stderr = Object.assign(new Writable({ write: (chunk, _enc, done) => ((written += chunk), done()) }), { isTTY: true });
  const r = await backfillCommand(args as BackfillArgs, { stderr }, { clock: systemClock, log });
  assert.equal(r.exitCode, 0, written);
  assert.match(written, /\r\x1b\[Kbackfill \[#{30}\] 100% 36\/36 periods {2}binance BTC-USDT 5m/, 'the bar counts every series');
  assert.match(written, /\r\x1b\[Kbackfill \[#{25}-{5}\]  83% 30\/36 periods {2}binance BTC-USDT 1m/);
  assert.match(written, /\r\x1b\[Kbackfill: binance BTC-USDT 1m: 30 written/, 'the bar is cleared before the summary');
  assert.match(written, /backfill: binance BTC-USDT 5m: 6 written/);

  const stop = new AbortController();
  stop.abort();
  written = '';
  const interrupted = await backfillCommand(parseBackfillArgs(['--exchange', 'binance', '--rest-url', restUrl, '--store', `sqlite:${join(dir, 'stopped.db')}`, '--symbols', SYMBOL, '--timeframes', '1m', '--from', String(VENUE_START)], {}) as BackfillArgs, { stderr }, { clock: systemClock, log, signal: stop.signal });
  assert.equal(interrupted.exitCode, 1);
  assert.match(written, /interrupted; run the command again to resume/);
});

test('backfill: a series whose requests keep failing exits 1 and says to run again; the next run completes it', { timeout: 60_000 }, async () => {
  const argv = ['--exchange', 'binance', '--rest-url', restUrl, '--store', `sqlite:${join(dir, 'failing.db')}`, '--symbols', SYMBOL, '--timeframes', '1m', '--from', String(VENUE_START), '--to', String(VENUE_START + 9 * MIN)];
  let written = '';
  const stderr = new Writable({ write: (chunk, _enc, done) => ((written += chunk), done()) });
  venue.failRest(1_000);
  const failed = await backfillCommand(parseBackfillArgs(argv, {}) as BackfillArgs, { stderr }, { clock: systemClock, log });
  venue.failRest(0);
  assert.equal(failed.exitCode, 1);
  assert.match(written, /^backfill: binance BTC-USDT 1m: failed: binance REST request failed after 5 attempts; what was written stays, run the command again to resume$/m);
  written = '';
  const again = await backfillCommand(parseBackfillArgs(argv, {}) as BackfillArgs, { stderr }, { clock: systemClock, log });
  assert.equal(again.exitCode, 0);
  assert.match(written, /BTC-USDT 1m: 10 written/);
});
