/**
 * Differential check for behaviour-preserving refactors: run it on the build before and on the build after,
 * then diff the two reports.
 *
 *   npm run build && node dist/bench/differential.js > before.txt      (old build)
 *   npm run build && node dist/bench/differential.js > after.txt       (new build)
 *   diff <(grep -v '^~' before.txt) <(grep -v '^~' after.txt)          must print nothing
 *   diff before.txt after.txt                                          the rest: noise, read it by eye
 *
 * Only entry points that survive the refactor are used: the built CLI (dist/src/cli/main.js, subcommands
 * `candles` and `demo`, as child processes), the HTTP API (/api/symbols, /api/candles, /api/health), the
 * SQLite file the demo writes (schema: src/store/sqlite-migrations.ts) and the committed fixtures. No class,
 * constructor or module of src/ is imported. The simulated Binance's own REST API (/api/v3/aggTrades, which
 * keeps its last 1000 trades per symbol) is used as the trade log of the demo; its address is read from the
 * demo's JSON log line that announces each simulated exchange (field `restBaseUrl`). If that line disappears
 * in the refactor, the "offline recomputation" lines say "unavailable" and show up in the diff.
 *
 * Output: every line starts with
 *   '#'  a section header (identical in both runs),
 *   '='  STABLE: must be byte-identical before and after (and run to run on the same build),
 *   '~'  NOISE: depends on the wall clock or the machine (counts of candles, timings, ports, ids); expected to
 *        differ between any two runs. Filter with grep -v '^~'.
 *
 * Part A, the offline candle builder (`candles`). Fully deterministic: one sha256 over the exact stdout bytes,
 * the exit code, the row count and the normalized stderr (its sha256 and the summary line; temp paths replaced
 * by <tmp>) per (input, format, symbol, timeframe). Inputs: the committed Binance WebSocket recordings
 * (test/fixtures/binance/*.jsonl, as is), files derived from them in every other supported format (aggTrades
 * CSV with/without header, µs times, gzip; trades CSV with header and CRLF, without header; unwrapped jsonl),
 * and a seeded synthetic dump (~4.5 hours over midnight, quiet minutes and a quiet hour, same-millisecond
 * trades, multi-id aggTrades; a dirty copy with bad lines, a duplicate id, a late trade and an id jump),
 * written in all three formats. Timeframes 1s, 1m, 3m, 5m, 15m, 1h, 4h, 1d (not every one on every input),
 * plus --from/--to. The sha256 of every generated input is printed too (same script: same bytes). Then bad
 * invocations (unknown flag, bad timeframe, bad format, bad times, missing/unreadable input, positional
 * argument, a symbol without trades, --help) and config errors of `demo` (bad --timeframes, --exchanges,
 * --port, --grace, --rate, --store, an unknown flag, a bad CANDLESTACK_TIMEFRAMES env): full stderr + exit code.
 * Help texts are hashed (stable; a deliberate wording change shows up here and nowhere else).
 *
 * Part B, the five-exchange end-to-end run:
 *   candlestack demo --exchanges binance,coinbase,kraken,bybit,okx --seed 9 --rate 40
 *     --store sqlite:<tmp>/demo.db --port <free> --timeframes 1s,1m --log-format json
 * for 25 s (--seconds), then SIGTERM; exit code and shutdown time recorded. Before SIGTERM: /api/symbols and
 * /api/candles (limit 5000) of every series, and the simulated Binance's trade log (polled every 2 s, so no
 * trade falls out of its 1000-trade window). After exit: every row of the SQLite `candles` table.
 *
 * Why the comparison is meaningful although two runs are never byte-identical: the simulated venues draw
 * their trades from one seeded process per 50 ms tick, so the SEQUENCE of trades (n-th trade's price, qty,
 * side) is the same in every run and on every venue; only the wall-clock time of each tick, and so which
 * second or minute a trade falls into, varies. So the report states (a) a timing-independent fingerprint of
 * that input sequence (first 50 trades per symbol, by ordinal), (b) invariants that must hold in any run,
 * each as a PASS/FAIL line in the stable section (with what failed), and (c) the counts behind them in the
 * noise section. The start is aligned to the wall clock (--no-align to skip; waits 0-50 s): the demo starts
 * between second :42 and :52 of a minute, at ~.5 s, so every 25 s run crosses exactly one minute boundary
 * 7.5-17.5 s in: the first 1m candle closes (and is repaired from the venue's REST candles, the collector
 * having started mid-minute), the second is open at shutdown. Invariants (on the SQLite rows unless said
 * otherwise):
 *   - the set of (exchange, symbol, timeframe) series, /api/symbols' (exchange, symbol, native, timeframes),
 *     the columns of `candles`, the applied schema_migrations and the keys of an /api/candles candle;
 *   - every series has closed candles (1s: at least 5; 1m: at least 1) and candles left open at shutdown;
 *   - each series is contiguous (no missing period between its first and last row) and every zero-volume
 *     period is a fill: open = high = low = close = previous close, trade count 0;
 *   - /api/candles answers in ascending open time without duplicates, and every closed candle it served
 *     equals the row stored after shutdown (unless the row was revised later: counted as noise);
 *   - 1m = aggregation of its 1s rows (open = first open, high = max, low = min, close = last close,
 *     volume = sum, trade count = sum; decimals compared as numbers, not strings), where that is determined
 *     by the code and not by timing: a 1m row built from trades over 1s rows all built from trades (the
 *     minute left open at shutdown, flushed from the same engine state as its 1s rows), and the repaired
 *     first minute on binance and okx (their REST also repairs the first partial 1s candle; trade counts are
 *     skipped next to a REST candle that has none, OKX's). The other 1m rows go to the noise section: on
 *     coinbase, kraken and bybit (no 1s REST candles) the repaired minute also holds the trades made before
 *     the collector subscribed, which the 1s rows miss whenever the subscription comes after the venue's
 *     first tick; a 1m from trades over a repaired 1s row lacks those same trades;
 *   - trade ordinals agree across exchanges: every stored candle's last_trade_id (mod 1e6: the simulators
 *     number each symbol's trades from a round base) names the same trade on every exchange, and its close is
 *     that trade's price in the simulated Binance's trade log;
 *   - offline recomputation (as test/e2e-pipeline.test.ts does): the simulated Binance's trades, written as a
 *     binance-aggtrades-csv dump and run through `candles` for 1s and 1m, equal the stored binance candles
 *     (all closed ones whose period ended before the last trade-log poll): open, high, low, close, volume,
 *     quote volume, trade count, taker-buy volume, vwap for candles built from trades, the same without vwap and
 *     quote volume for candles repaired from REST klines (an empty repaired candle before the venue's first
 *     trade has no offline row: counted as noise).
 *   - the demo exits 0 on SIGTERM, within 10 s.
 * Also noise, by design: the cross-exchange equality of each 1s period (the five venues tick on separate
 * timers, so a tick may straddle a second boundary on one venue and not on another), log lines by level.
 *
 * Flags: --seconds N (default 25), --no-align, --only candles|demo, --keep (keep the temp dir).
 * Run time: ~30 s for part A, 0-50 s alignment wait, ~30 s for part B.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '25' },
    'no-align': { type: 'boolean', default: false },
    only: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const RUN_SECONDS = Number(flags.seconds);
if (!(RUN_SECONDS >= 10)) throw new Error(`--seconds: expected a number >= 10, got ${flags.seconds}`);

const HERE = dirname(fileURLToPath(import.meta.url));
/** The repository: this file runs from dist/bench/. */
const ROOT = resolve(HERE, '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'binance');
const TMP = mkdtempSync(join(tmpdir(), 'candlestack-differential-'));

const t0 = Date.now();
const out: string[] = [];
const S = (line: string) => out.push(`= ${line}`);
const N = (line: string) => out.push(`~ ${line}`);
const H = (line: string) => out.push(`# ${line}`);
const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ── child processes ──────────────────────────────────────────────────────────────────────────────────

interface Run {
  code: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: string;
  ms: number;
}

function runCli(args: string[], o: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((done, fail) => {
    const started = Date.now();
    const env: NodeJS.ProcessEnv = { ...cleanEnv(), ...o.env };
    const child = spawn(process.execPath, [CLI, ...args], { cwd: TMP, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const so: Buffer[] = [];
    const se: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => so.push(b));
    child.stderr.on('data', (b: Buffer) => se.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 30_000);
    child.on('error', fail);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout: Buffer.concat(so), stderr: Buffer.concat(se).toString('utf8'), ms: Date.now() - started });
    });
  });
}

/** The environment without CANDLESTACK_* settings (they would change the config) and colour hints. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CANDLESTACK_') && k !== 'FORCE_COLOR') env[k] = v;
  env.NO_COLOR = '1';
  return env;
}

const norm = (text: string) => text.split(TMP).join('<tmp>').split(ROOT).join('<repo>');

// ── decimals ─────────────────────────────────────────────────────────────────────────────────────────

const SCALE = 12;
/** A plain decimal string as an integer × 10^12 (null when it is not one, or has more digits). */
function dec(text: string): bigint | null {
  const m = /^(-?)(\d+)(?:\.(\d{0,12}))?$/.exec(text);
  if (!m) return null;
  const v = BigInt(m[2]!) * 10n ** BigInt(SCALE) + BigInt((m[3] ?? '').padEnd(SCALE, '0'));
  return m[1] === '-' ? -v : v;
}
/** Numeric equality of two decimal strings ("0.6" == "0.60000000"). */
const decEq = (a: string, b: string) => {
  const x = dec(a);
  const y = dec(b);
  return x !== null && y !== null ? x === y : a === b;
};
const decNorm = (text: string) => {
  const v = dec(text);
  return v === null ? text : String(v);
};

// ── a seeded generator (mulberry32), for the synthetic dump ──────────────────────────────────────────

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A trade of a dump: price and qty as decimal strings, `m` = buyer was maker. */
interface DumpTrade {
  a: number;
  f: number;
  l: number;
  p: string;
  q: string;
  T: number;
  m: boolean;
}

const e8 = (units: bigint) => `${units / 100_000_000n}.${(units % 100_000_000n).toString().padStart(8, '0')}`;
const py = (b: boolean) => (b ? 'True' : 'False');

function aggCsv(trades: DumpTrade[], o: { header?: boolean; micros?: boolean; lower?: boolean; eol?: string } = {}): string {
  const lines = o.header ? ['agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker,is_best_match'] : [];
  for (const t of trades) lines.push(`${t.a},${t.p},${t.q},${t.f},${t.l},${o.micros ? t.T * 1000 + (t.a % 1000) : t.T},${o.lower ? String(t.m) : py(t.m)},True`);
  return lines.join(o.eol ?? '\n') + (o.eol ?? '\n');
}

/** One line per aggTrade, its agg id as the trade id (what a trades dump of those trades would hold). */
function tradesCsv(trades: DumpTrade[], o: { header?: boolean; eol?: string } = {}): string {
  const lines = o.header ? ['id,price,qty,quote_qty,time,is_buyer_maker,is_best_match'] : [];
  for (const t of trades) lines.push(`${t.a},${t.p},${t.q},0,${t.T},${py(t.m)},True`);
  return lines.join(o.eol ?? '\n') + (o.eol ?? '\n');
}

function synthetic(): DumpTrade[] {
  const rnd = mulberry32(20_260_101);
  const start = Date.UTC(2024, 2, 1, 22, 30, 0, 0) + 417;
  const end = Date.UTC(2024, 2, 2, 3, 0, 0, 0);
  const quiet: [number, number][] = [
    [Date.UTC(2024, 2, 1, 23, 10), Date.UTC(2024, 2, 1, 23, 17)], // seven empty minutes
    [Date.UTC(2024, 2, 2, 0, 50), Date.UTC(2024, 2, 2, 2, 5)], // the whole 01:00 hour empty
  ];
  const trades: DumpTrade[] = [];
  let cents = 6_250_000n; // 62500.00
  let aggId = 3_000_000;
  let tradeId = 7_000_000;
  for (let t = start; t < end; t += Math.floor(rnd() * rnd() * 2600)) {
    if (quiet.some(([a, b]) => t >= a && t < b)) continue;
    cents += BigInt(Math.floor(rnd() * 31) - 15);
    const count = rnd() < 0.15 ? 2 + Math.floor(rnd() * 3) : 1;
    const qty = BigInt(1 + Math.floor(rnd() * rnd() * 150_000_000));
    trades.push({ a: aggId++, f: tradeId, l: tradeId + count - 1, p: e8(cents * 1_000_000n), q: e8(qty), T: t, m: rnd() < 0.47 });
    tradeId += count;
  }
  return trades;
}

function syntheticJsonl(trades: DumpTrade[]): string {
  const lines: string[] = ['{"result":null,"id":1}'];
  trades.forEach((t, i) => {
    const data = { e: 'trade', E: t.T + 3, s: 'BTCUSDT', t: t.a, p: t.p, q: t.q, T: t.T, m: t.m, M: true };
    lines.push(JSON.stringify({ stream: 'btcusdt@trade', data }));
    if (i % 50 === 0) {
      lines.push(JSON.stringify({ stream: 'ethusdt@trade', data: { ...data, s: 'ETHUSDT', t: 100 + i, p: '3100.00000000' } }));
      const open = t.T - (t.T % 60_000);
      lines.push(JSON.stringify({ stream: 'btcusdt@kline_1m', data: { e: 'kline', E: t.T, s: 'BTCUSDT', k: { t: open, T: open + 59_999, s: 'BTCUSDT', i: '1m', f: 1, L: 2, o: '1.0', c: '1.0', h: '1.0', l: '1.0', v: '1.0', n: 1, x: false, q: '1.0', V: '0', Q: '0', B: '0' } } }));
    }
  });
  return lines.join('\n') + '\n';
}

/** The synthetic aggTrades CSV with bad lines, a duplicate id, a late trade and an id jump (CRLF). */
function dirtyCsv(trades: DumpTrade[]): string {
  const lines = aggCsv(trades, { header: true }).trimEnd().split('\n');
  const at = (i: number) => trades[i]!;
  const jumped = lines.map((l, i) => {
    if (i < 9000) return l;
    const c = l.split(',');
    return [Number(c[0]) + 9, ...c.slice(1)].join(','); // agg ids jump by 9 from line 9001 (index 9000, after the header)
  });
  // in the hole: a trade with the next id whose time is in a period long closed (late, dropped)
  jumped.splice(9000, 0, `${Number(jumped[8999]!.split(',')[0]) + 1},62000.00000000,1.00000000,1,1,${at(100).T},False,True`);
  jumped.splice(6000, 0, jumped[5999]!); // the previous line again: duplicate id
  jumped.splice(3000, 0, '3999999,62000.00000000,abc,1,1,1709332200000,True,True'); // bad quantity
  jumped.splice(2000, 0, '3999998,62000.00000000,0.1,1,1,1709332200000,maybe,True'); // bad boolean
  jumped.splice(1000, 0, '3999997,62000.00000000,0.1'); // too few columns
  jumped.splice(500, 0, ''); // an empty line
  return jumped.join('\r\n') + '\r\n';
}

/** aggTrade frames of `native` in a combined-stream recording, as dump trades. */
function fixtureAggTrades(file: string, native: string): DumpTrade[] {
  const trades: DumpTrade[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue;
    const f = JSON.parse(line) as { stream: string; data: { e: string; s: string; a: number; f: number; l: number; p: string; q: string; T: number; m: boolean } };
    if (f.data.e === 'aggTrade' && f.data.s === native) trades.push({ a: f.data.a, f: f.data.f, l: f.data.l, p: f.data.p, q: f.data.q, T: f.data.T, m: f.data.m });
  }
  return trades;
}

function unwrappedJsonl(file: string): string {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  return lines.map((l) => JSON.stringify((JSON.parse(l) as { data: unknown }).data)).join('\n') + '\n';
}

// ── part A: the offline candle builder ───────────────────────────────────────────────────────────────

async function candlesPart(): Promise<void> {
  H('A. offline candle builder: `candlestack candles` (deterministic: every = line must match)');
  const dir = join(TMP, 'dumps');
  mkdirSync(dir, { recursive: true });
  const F1 = join(FIXTURES, 'ws-combined-2021-04-04T2004Z-btc-eth-dot-aggtrade-kline.jsonl');
  const F2 = join(FIXTURES, 'ws-combined-2021-08-14T1446Z-aggtrade-kline.jsonl');

  const inputs: { name: string; path: string }[] = [];
  const put = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, name.endsWith('.gz') ? gzipSync(text) : text);
    inputs.push({ name, path });
    S(`input ${name}: ${Buffer.byteLength(text)} bytes${name.endsWith('.gz') ? ' before gzip' : ''}, sha256 ${sha(text)}`);
    return path;
  };
  for (const f of [F1, F2]) S(`input test/fixtures/binance/${f.split('/').pop()}: sha256 ${sha(readFileSync(f))}`);
  const btc = fixtureAggTrades(F1, 'BTCUSDT');
  const sxp = fixtureAggTrades(F2, 'SXPBTC');
  const syn = synthetic();
  S(`synthetic dump: ${syn.length} aggTrades, ${syn.reduce((n, t) => n + t.l - t.f + 1, 0)} trades, ${new Date(syn[0]!.T).toISOString()} .. ${new Date(syn.at(-1)!.T).toISOString()}`);
  const d = {
    aggHeader: put('f1-btc-agg-header.csv', aggCsv(btc, { header: true })),
    aggMicros: put('f1-btc-agg-noheader-us.csv', aggCsv(btc, { micros: true, lower: true })),
    aggGz: put('f1-btc-agg-header.csv.gz', aggCsv(btc, { header: true })),
    tradesCrlf: put('f1-btc-trades-header-crlf.csv', tradesCsv(btc, { header: true, eol: '\r\n' })),
    tradesPlain: put('f1-btc-trades-noheader.csv', tradesCsv(btc)),
    wsRaw: put('f1-unwrapped.jsonl', unwrappedJsonl(F1)),
    sxpAgg: put('f2-sxp-agg-header.csv', aggCsv(sxp, { header: true })),
    synAgg: put('syn-agg-header.csv', aggCsv(syn, { header: true })),
    synAggGz: put('syn-agg-header.csv.gz', aggCsv(syn, { header: true })),
    synTrades: put('syn-trades-noheader.csv', tradesCsv(syn)),
    synWs: put('syn-trade-wrapped.jsonl', syntheticJsonl(syn)),
    synDirty: put('syn-agg-dirty-crlf.csv', dirtyCsv(syn)),
  };

  type Case = [label: string, input: string, format: string, symbol: string, timeframes: string[], extra?: string[]];
  const AGG = 'binance-aggtrades-csv';
  const TRD = 'binance-trades-csv';
  const WS = 'binance-ws-jsonl';
  const fixtureTfs = ['1s', '1m', '5m', '1h'];
  const cases: Case[] = [
    ...['BTCUSDT', 'ETHUSDT', 'DOTUSDT'].map((s): Case => [`fixture-2021-04-04 ${s}`, F1, WS, s, fixtureTfs]),
    ...['FTMUSDT', 'SXPBTC', 'XMRBTC'].map((s): Case => [`fixture-2021-08-14 ${s}`, F2, WS, s, ['1s', '1m', '1h']]),
    ['f1-btc-agg-header.csv', d.aggHeader, AGG, 'BTCUSDT', ['1s', '1m', '1h']],
    ['f1-btc-agg-noheader-us.csv', d.aggMicros, AGG, 'BTC-USDT', ['1s', '1m', '1h']],
    ['f1-btc-agg-header.csv.gz', d.aggGz, AGG, 'btcusdt', ['1s', '1m', '1h']],
    ['f1-btc-trades-header-crlf.csv', d.tradesCrlf, TRD, 'BTCUSDT', ['1s', '1m', '1h']],
    ['f1-btc-trades-noheader.csv', d.tradesPlain, TRD, 'BTCUSDT', ['1s', '1m', '1h']],
    ['f1-unwrapped.jsonl BTC', d.wsRaw, WS, 'BTC-USDT', ['1s', '1m', '1h']],
    ['f1-unwrapped.jsonl DOT', d.wsRaw, WS, 'DOTUSDT', ['1m']],
    ['f2-sxp-agg-header.csv', d.sxpAgg, AGG, 'SXPBTC', ['1s', '1m']],
    ['syn-agg-header.csv', d.synAgg, AGG, 'BTCUSDT', ['1s', '1m', '3m', '15m', '1h', '4h', '1d']],
    ['syn-agg-header.csv.gz', d.synAggGz, AGG, 'BTCUSDT', ['1m']],
    ['syn-trades-noheader.csv', d.synTrades, TRD, 'BTCUSDT', ['1s', '1m', '1h']],
    ['syn-trade-wrapped.jsonl', d.synWs, WS, 'BTCUSDT', ['1s', '1m', '1h']],
    ['syn-trade-wrapped.jsonl ETH', d.synWs, WS, 'ETH-USDT', ['1m']],
    ['syn-agg-dirty-crlf.csv', d.synDirty, AGG, 'BTCUSDT', ['1s', '1m', '1h']],
    ['syn-agg-header.csv --from ISO --to ms', d.synAgg, AGG, 'BTCUSDT', ['1m', '5m'], ['--from', '2024-03-01T23:00:00Z', '--to', String(Date.UTC(2024, 2, 2, 0, 30))]],
    ['syn-agg-header.csv --from date', d.synAgg, AGG, 'BTCUSDT', ['1h'], ['--from', '2024-03-02']],
    ['syn-trades-noheader.csv --to +01:00', d.synTrades, TRD, 'BTCUSDT', ['15m'], ['--to', '2024-03-02T00:10:00+01:00']],
  ];
  for (const [label, input, format, symbol, tfs, extra = []] of cases) {
    for (const tf of tfs) {
      const r = await runCli(['candles', '--input', input, '--format', format, '--symbol', symbol, '--timeframe', tf, ...extra]);
      const rows = Math.max(0, r.stdout.toString('utf8').split('\n').filter((l) => l !== '').length - 1);
      const err = norm(r.stderr);
      const summary = err.trimEnd().split('\n').filter((l) => l.startsWith('candles: ')).join(' | ');
      S(`candles [${label}] ${format} ${symbol} ${tf}${extra.length ? ' ' + extra.join(' ') : ''}: exit ${r.code}, ${rows} rows, stdout sha256 ${sha(r.stdout)}, stderr sha256 ${sha(err)}`);
      S(`  stderr summary: ${summary}`);
      N(`  candles [${label}] ${tf}: ${r.ms} ms`);
    }
  }

  H('A.2 bad invocations of `candles` (stderr and exit code)');
  const base = ['candles', '--input', d.synAgg, '--format', AGG, '--symbol', 'BTCUSDT', '--timeframe', '1m'];
  const without = (flag: string) => {
    const i = base.indexOf(flag);
    return [...base.slice(0, i), ...base.slice(i + 2)];
  };
  const bad: [string, string[]][] = [
    ['unknown flag', [...base, '--bogus', '1']],
    ['bad timeframe', [...without('--timeframe'), '--timeframe', '7m']],
    ['bad format', [...without('--format'), '--format', 'nope']],
    ['missing --symbol', without('--symbol')],
    ['bad --symbol', [...without('--symbol'), '--symbol', 'BTC$']],
    ['bad --from', [...base, '--from', 'yesterday']],
    ['--to before --from', [...base, '--from', '2024-03-02', '--to', '2024-03-01']],
    ['flag without value', [...base, '--input']],
    ['positional argument', [...base, 'extra']],
    ['no flags', ['candles']],
    ['missing input file', [...without('--input'), '--input', join(dir, 'does-not-exist.csv')]],
    ['input is a directory', [...without('--input'), '--input', dir]],
    ['symbol without trades (jsonl)', ['candles', '--input', d.synWs, '--format', WS, '--symbol', 'XRPUSDT', '--timeframe', '1m']],
    ['--help', ['candles', '--help']],
    ['unknown command', ['frobnicate']],
  ];
  for (const [label, args] of bad) {
    const r = await runCli(args);
    S(`candles error [${label}]: exit ${r.code}, stdout ${r.stdout.length} bytes sha256 ${sha(r.stdout)}`);
    for (const line of norm(r.stderr).trimEnd().split('\n')) if (line !== '') S(`  stderr: ${line}`);
  }

  H('A.3 config errors of `demo` (must fail before anything starts; stderr and exit code)');
  const demoBad: [string, string[], Record<string, string>?][] = [
    ['--timeframes 7m', ['demo', '--timeframes', '7m']],
    ['--exchanges foo', ['demo', '--exchanges', 'binance,foo']],
    ['--port abc', ['demo', '--port', 'abc']],
    ['--grace soon', ['demo', '--grace', 'soon']],
    ['--late-policy maybe', ['demo', '--late-policy', 'maybe']],
    ['--rate 0', ['demo', '--rate', '0']],
    ['--seed x', ['demo', '--seed', 'x']],
    ['--store nope:x', ['demo', '--store', 'nope:x']],
    ['--log-level loud', ['demo', '--log-level', 'loud']],
    ['unknown flag', ['demo', '--bogus']],
    ['env CANDLESTACK_TIMEFRAMES=7m', ['demo'], { CANDLESTACK_TIMEFRAMES: '7m' }],
    ['--help', ['demo', '--help']],
    ['run --help', ['run', '--help']],
    ['--version', ['--version']],
  ];
  for (const [label, args, env] of demoBad) {
    const r = await runCli(args, { env: env ?? {}, timeoutMs: 15_000 });
    S(`demo error [${label}]: exit ${r.code}${r.signal ? ` signal ${r.signal}` : ''}, stdout ${r.stdout.length} bytes sha256 ${sha(r.stdout)}`);
    for (const line of norm(r.stderr).trimEnd().split('\n')) if (line !== '') S(`  stderr: ${line}`);
  }
}

// ── part B: the five-exchange demo ───────────────────────────────────────────────────────────────────

const EXCHANGES = ['binance', 'coinbase', 'kraken', 'bybit', 'okx'];
const TIMEFRAMES = ['1s', '1m'];
const TF_MS: Record<string, number> = { '1s': 1000, '1m': 60_000 };

interface Row {
  exchange: string;
  symbol: string;
  timeframe: string;
  open_time: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  quote_volume: string;
  taker_buy_volume: string;
  trade_count: number;
  vwap: string;
  closed: number;
  source: string;
  revision: number;
  updated_at: number;
  last_trade_id: number | null;
}

interface ApiCandle {
  openTime: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  quoteVolume: string;
  takerBuyVolume: string;
  tradeCount: number;
  vwap: string;
  closed: boolean;
  source: string;
  revision: number;
  lastTradeId?: number | null;
  [k: string]: unknown;
}

interface SimTrade {
  a: number;
  p: string;
  q: string;
  f: number;
  l: number;
  T: number;
  m: boolean;
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => done(port));
    });
  });
}

async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

/** Periods of the first and last row, how many are missing in between, and zero-volume rows that are not fills. */
function contiguity(rows: Row[], tfMs: number): { missing: number; badFills: number; fills: number } {
  let missing = 0;
  let badFills = 0;
  let fills = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const prev = rows[i - 1];
    if (prev && r.open_time !== prev.open_time + tfMs) missing += Math.max(1, (r.open_time - prev.open_time) / tfMs - 1);
    if (dec(r.volume) === 0n) {
      fills++;
      const flat = decEq(r.open, r.high) && decEq(r.open, r.low) && decEq(r.open, r.close);
      if (!flat || r.trade_count !== 0 || (prev && !decEq(r.open, prev.close))) badFills++;
    }
  }
  return { missing, badFills, fills };
}

/** The 1s rows of [openTime, openTime + 1m) aggregated; null when there are none. */
function aggregate(rows: Row[]): { open: string; high: string; low: string; close: string; volume: bigint; trades: number } | null {
  if (rows.length === 0) return null;
  let high = rows[0]!.high;
  let low = rows[0]!.low;
  let volume = 0n;
  let trades = 0;
  for (const r of rows) {
    if (dec(r.high)! > dec(high)!) high = r.high;
    if (dec(r.low)! < dec(low)!) low = r.low;
    volume += dec(r.volume)!;
    trades += r.trade_count;
  }
  return { open: rows[0]!.open, high, low, close: rows.at(-1)!.close, volume, trades };
}

async function demoPart(): Promise<void> {
  H('B. five-exchange demo: `candlestack demo` as a child process, API before SIGTERM, SQLite after');
  const db = join(TMP, 'demo.db');
  const port = await freePort();
  const args = ['demo', '--exchanges', EXCHANGES.join(','), '--seed', '9', '--rate', '40', '--store', `sqlite:${db}`, '--port', String(port), '--timeframes', TIMEFRAMES.join(','), '--log-format', 'json'];
  S(`command: candlestack ${args.join(' ').replace(db, '<tmp>/demo.db').replace(`--port ${port}`, '--port <free>')}, SIGTERM after ${RUN_SECONDS} s${flags['no-align'] ? ' (not aligned)' : ', started between :42 and :52 of a minute'}`);
  if (!flags['no-align']) {
    // Start so that the venues come up (~0.4 s after the spawn) mid-second (a venue starting in the last tick
    // of a second can leave a few trades outside every repaired 1s candle) and between :42.5 and :52.5 of a
    // minute: the minute boundary then comes 7.5-17.5 s into the run, the first 1m candle is closed and
    // repaired well before the API snapshot at 23.5 s. Outside that window, wait for :44.1.
    const inMinute = Date.now() % 60_000;
    const wait = inMinute >= 42_000 && inMinute < 52_000 ? (1100 - (inMinute % 1000)) % 1000 : (44_100 - inMinute + 60_000) % 60_000;
    N(`alignment wait: ${(wait / 1000).toFixed(1)} s`);
    await sleep(wait);
  }
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, ...args], { cwd: TMP, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: string | null; at: number }>((done) => child.on('close', (code, signal) => done({ code, signal, at: Date.now() })));
  let exitedEarly = false;
  void exited.then(() => (exitedEarly = true));
  const api = `http://127.0.0.1:${port}`;

  // ready: /api/health answers
  let readyMs = -1;
  for (let i = 0; i < 150 && !exitedEarly; i++) {
    try {
      await fetch(`${api}/api/health`, { signal: AbortSignal.timeout(1000) });
      readyMs = Date.now() - started;
      break;
    } catch {
      await sleep(100);
    }
  }
  S(`demo answered /api/health: ${readyMs >= 0 ? 'yes' : 'no'}`);
  N(`demo ready after ${readyMs} ms (first candle period ${new Date(Math.floor(started / 1000) * 1000).toISOString()})`);
  if (readyMs < 0) {
    child.kill('SIGKILL');
    const e = await exited;
    S(`demo did not start: exit ${e.code} signal ${e.signal}`);
    for (const l of norm(stderr).split('\n').slice(0, 20)) S(`  stderr: ${l}`);
    return;
  }

  // the simulated Binance's trade log, from the demo's JSON log line that announces it
  const restOf = (exchange: string): string | null => {
    for (const line of stdout.split('\n')) {
      try {
        const o = JSON.parse(line) as { exchange?: string; restBaseUrl?: string };
        if (o.exchange === exchange && typeof o.restBaseUrl === 'string') return o.restBaseUrl;
      } catch {
        /* not JSON */
      }
    }
    return null;
  };
  const venueStart = /"time":"([^"]+)"[^\n]*"restBaseUrl"/.exec(stdout)?.[1];
  N(`first simulated venue announced at ${venueStart ?? '?'}`);
  const symbolsBody = await getJson<{ symbols: { exchange: string; symbol: string; native: string; timeframes: string[] }[] }>(`${api}/api/symbols`);
  const binanceRest = restOf('binance');
  const natives = symbolsBody.symbols.filter((s) => s.exchange === 'binance').map((s) => [s.symbol, s.native] as const);
  const simTrades = new Map<string, SimTrade[]>(natives.map(([s]) => [s, []]));
  let tradeLogError: string | null = binanceRest ? null : 'the simulated Binance REST address was not found in the demo log';
  let lastPollAt = 0;
  const poll = async () => {
    if (!binanceRest || tradeLogError) return;
    const at = Date.now();
    try {
      for (const [symbol, native] of natives) {
        const list = simTrades.get(symbol)!;
        for (;;) {
          const q = list.length === 0 ? 'startTime=0' : `fromId=${list.at(-1)!.a + 1}`;
          const batch = await getJson<SimTrade[]>(`${binanceRest}/api/v3/aggTrades?symbol=${native}&limit=1000&${q}`);
          list.push(...batch);
          if (batch.length < 1000) break;
        }
      }
      lastPollAt = at;
    } catch (e) {
      tradeLogError = (e as Error).message;
    }
  };
  const stopAt = started + RUN_SECONDS * 1000;
  while (Date.now() < stopAt - 1500 && !exitedEarly) {
    await poll();
    await sleep(Math.min(2000, Math.max(0, stopAt - 1500 - Date.now())));
  }

  // API snapshot of every series, then the last poll, then SIGTERM
  const apiSnap = new Map<string, ApiCandle[]>();
  const apiKeys = new Set<string>();
  for (const s of symbolsBody.symbols) {
    for (const tf of s.timeframes) {
      const body = await getJson<{ candles: ApiCandle[] }>(`${api}/api/candles?exchange=${s.exchange}&symbol=${encodeURIComponent(s.symbol)}&timeframe=${tf}&limit=5000`);
      apiSnap.set(`${s.exchange} ${s.symbol} ${tf}`, body.candles);
      for (const c of body.candles) for (const k of Object.keys(c)) apiKeys.add(k);
    }
  }
  await poll();
  await sleep(Math.max(0, stopAt - Date.now()));
  const termAt = Date.now();
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const e = await exited;
  clearTimeout(killer);
  const shutdownMs = e.at - termAt;
  S(`demo exit after SIGTERM: code ${e.code}, signal ${e.signal}, within 10 s: ${shutdownMs <= 10_000 ? 'yes' : 'no'}, exited before SIGTERM: ${exitedEarly && e.at < termAt ? 'yes' : 'no'}`);
  N(`demo shutdown took ${shutdownMs} ms; ran ${((termAt - started) / 1000).toFixed(1)} s`);
  const logLines = stdout.split('\n').filter((l) => l !== '');
  const levels = new Map<string, number>();
  const warnMsgs = new Set<string>();
  for (const l of logLines) {
    try {
      const o = JSON.parse(l) as { level?: number; msg?: string; component?: string };
      const lv = String(o.level ?? '?');
      levels.set(lv, (levels.get(lv) ?? 0) + 1);
      if ((o.level ?? 0) >= 40) warnMsgs.add(`${o.level} ${o.component ?? ''}: ${o.msg ?? ''}`);
    } catch {
      levels.set('not-json', (levels.get('not-json') ?? 0) + 1);
    }
  }
  N(`demo log: ${logLines.length} stdout lines by pino level ${[...levels].map(([k, v]) => `${k}:${v}`).join(' ')}; stderr ${stderr.length} bytes`);
  for (const m of [...warnMsgs].sort()) N(`  warn+: ${m}`);
  for (const l of norm(stderr).split('\n').filter((x) => x !== '').slice(0, 10)) N(`  stderr: ${l}`);

  // ── the store ──
  const sql = new Database(db, { readonly: true, fileMustExist: true });
  const columns = (sql.pragma('table_info(candles)') as { name: string; type: string; notnull: number; pk: number }[]).map((c) => `${c.name} ${c.type}${c.notnull ? ' not null' : ''}${c.pk ? ` pk${c.pk}` : ''}`);
  S(`store candles columns: ${columns.join(', ')}`);
  const migrations = sql.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all() as { version: number; name: string }[];
  S(`store schema_migrations: ${migrations.map((m) => `${m.version} ${m.name}`).join('; ')}`);
  const tables = (sql.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
  S(`store tables: ${tables.join(', ')}`);
  const all = sql.prepare('SELECT * FROM candles ORDER BY exchange, symbol, timeframe, open_time').all() as Row[];
  sql.close();
  const series = new Map<string, Row[]>();
  for (const r of all) {
    const k = `${r.exchange} ${r.symbol} ${r.timeframe}`;
    if (!series.has(k)) series.set(k, []);
    series.get(k)!.push(r);
  }
  S(`series stored (${series.size}): ${[...series.keys()].join(', ')}`);
  S(`/api/symbols: ${symbolsBody.symbols.map((s) => `${s.exchange} ${s.symbol} ${s.native} [${s.timeframes.join(',')}]`).join('; ')}`);
  S(`/api/candles candle keys (union, sorted): ${[...apiKeys].sort().join(',')}`);
  const symbols = [...new Set(symbolsBody.symbols.map((s) => s.symbol))];

  // counts per series (noise)
  H('B.1 counts per series (noise)');
  for (const [k, rows] of series) {
    const closed = rows.filter((r) => r.closed).length;
    const bySource = new Map<string, number>();
    for (const r of rows) bySource.set(r.source, (bySource.get(r.source) ?? 0) + 1);
    const rev = rows.filter((r) => r.revision > 0).length;
    N(`${k}: ${rows.length} rows, ${closed} closed, ${rows.length - closed} open, ${[...bySource].map(([s, n]) => `${s} ${n}`).join(', ')}, revised ${rev}, api ${apiSnap.get(k)?.length ?? 0}, first ${new Date(rows[0]!.open_time).toISOString().slice(11, 19)}`);
  }

  H('B.2 invariants (each line PASS in every run; the noise lines after it give the counts)');
  const verdict = (name: string, failures: string[], detail?: string) => {
    S(`${name}: ${failures.length === 0 ? 'PASS' : `FAIL (${failures.length})`}`);
    for (const f of failures.slice(0, 12)) S(`  fail: ${f}`);
    if (failures.length > 12) S(`  fail: ... ${failures.length - 12} more`);
    if (detail) N(`  ${name}: ${detail}`);
  };
  const expected = EXCHANGES.flatMap((ex) => symbols.flatMap((s) => TIMEFRAMES.map((tf) => `${ex} ${s} ${tf}`)));
  verdict('every (exchange, symbol, timeframe) of the config is stored, nothing else', [...expected.filter((k) => !series.has(k)).map((k) => `missing ${k}`), ...[...series.keys()].filter((k) => !expected.includes(k)).map((k) => `unexpected ${k}`)]);
  {
    const f: string[] = [];
    let c1s = 0;
    let c1m = 0;
    for (const [k, rows] of series) {
      const closed = rows.filter((r) => r.closed).length;
      const min = k.endsWith(' 1s') ? 5 : 1;
      if (closed < min) f.push(`${k}: ${closed} closed candles`);
      if (rows.every((r) => r.closed)) f.push(`${k}: no candle open at shutdown`);
      if (k.endsWith(' 1s')) c1s += closed;
      else c1m += closed;
    }
    verdict('every series has closed candles (1s >= 5, 1m >= 1) and open ones at shutdown', f, `${c1s} closed 1s, ${c1m} closed 1m candles`);
  }
  {
    const f: string[] = [];
    let fills = 0;
    for (const [k, rows] of series) {
      const c = contiguity(rows, TF_MS[k.split(' ')[2]!]!);
      fills += c.fills;
      if (c.missing) f.push(`${k}: ${c.missing} periods missing`);
      if (c.badFills) f.push(`${k}: ${c.badFills} zero-volume rows that are not previous-close fills`);
    }
    verdict('every series is contiguous, zero-volume rows are fills (o=h=l=c=previous close, 0 trades)', f, `${fills} zero-volume fills`);
  }
  {
    const f: string[] = [];
    let compared = 0;
    let revisedLater = 0;
    for (const [k, candles] of apiSnap) {
      const times = candles.map((c) => c.openTime);
      if (new Set(times).size !== times.length) f.push(`${k}: duplicate open times in /api/candles`);
      if (times.some((t, i) => i > 0 && t <= times[i - 1]!)) f.push(`${k}: /api/candles not ascending`);
      const rows = new Map((series.get(k) ?? []).map((r) => [r.open_time, r]));
      for (const c of candles.filter((x) => x.closed)) {
        const r = rows.get(c.openTime);
        if (!r) {
          f.push(`${k} ${c.openTime}: served closed, not stored`);
          continue;
        }
        if (r.revision > c.revision) {
          revisedLater++;
          continue;
        }
        compared++;
        const same = r.closed === 1 && r.open === c.open && r.high === c.high && r.low === c.low && r.close === c.close && r.volume === c.volume && r.quote_volume === c.quoteVolume && r.taker_buy_volume === c.takerBuyVolume && r.trade_count === c.tradeCount && r.vwap === c.vwap && r.source === c.source && r.revision === c.revision && (r.last_trade_id ?? null) === (c.lastTradeId ?? null);
        if (!same) f.push(`${k} ${c.openTime}: api ${JSON.stringify(c)} vs stored ${JSON.stringify(r)}`);
      }
    }
    verdict('/api/candles ascending, no duplicates, every closed candle served equals the stored row', f, `${compared} compared, ${revisedLater} revised after the snapshot`);
  }
  {
    // 1m vs the aggregation of its 1s rows
    const strict: string[] = [];
    const timing: string[] = [];
    let nStrict = 0;
    let nTiming = 0;
    /** A candle repaired from REST candles that carry no trade count (OKX, Coinbase): its count is 0. */
    const noCount = (r: Row) => r.source === 'backfill' && r.trade_count === 0 && dec(r.volume) !== 0n;
    for (const ex of EXCHANGES) {
      for (const s of symbols) {
        const ones = series.get(`${ex} ${s} 1s`) ?? [];
        for (const m of series.get(`${ex} ${s} 1m`) ?? []) {
          const inside = ones.filter((r) => r.open_time >= m.open_time && r.open_time < m.open_time + 60_000);
          const a = aggregate(inside);
          const diffs: string[] = [];
          if (!a) diffs.push('no 1s rows');
          else {
            if (!decEq(a.open, m.open)) diffs.push(`open ${m.open} vs ${a.open}`);
            if (!decEq(a.high, m.high)) diffs.push(`high ${m.high} vs ${a.high}`);
            if (!decEq(a.low, m.low)) diffs.push(`low ${m.low} vs ${a.low}`);
            if (!decEq(a.close, m.close)) diffs.push(`close ${m.close} vs ${a.close}`);
            if (a.volume !== dec(m.volume)) diffs.push(`volume ${m.volume} vs ${a.volume}e-12`);
            if (!noCount(m) && !inside.some(noCount) && a.trades !== m.trade_count) diffs.push(`trades ${m.trade_count} vs ${a.trades}`);
          }
          const label = `${ex} ${s} 1m ${new Date(m.open_time).toISOString().slice(11, 16)} (${m.source}, ${m.closed ? 'closed' : 'open'}, 1s: ${inside.filter((r) => r.source === 'backfill').length} of ${inside.length} repaired): ${diffs.join(', ')}`;
          // From trades, over 1s rows all from trades: the same engine, the same trades. Repaired from REST on
          // binance/okx: the venue's minute, and the venue's own first 1s candle fills what the stream missed.
          const deterministic = m.source === 'backfill' ? ex === 'binance' || ex === 'okx' : inside.every((r) => r.source === 'trades');
          if (deterministic) {
            nStrict++;
            if (diffs.length) strict.push(label);
          } else {
            nTiming++;
            if (diffs.length) timing.push(label);
          }
        }
      }
    }
    verdict('1m = aggregation of its 1s rows (1m from trades over 1s rows from trades; 1m repaired from REST on binance and okx)', strict, `${nStrict} 1m candles compared`);
    N(`1m = aggregation of 1s, other 1m candles (a repaired 1s inside a 1m from trades; repaired 1m on coinbase, kraken, bybit): ${nTiming - timing.length} of ${nTiming} equal`);
    for (const t of timing.slice(0, 15)) N(`  differs: ${t}`);
  }
  {
    // trade ordinals across exchanges
    const f: string[] = [];
    const byOrdinal = new Map<string, { price: string; where: string }>();
    let keys = 0;
    let checks = 0;
    const note = (symbol: string, id: number, price: string, where: string) => {
      const k = `${symbol} #${id % 1_000_000}`;
      const seen = byOrdinal.get(k);
      checks++;
      if (!seen) {
        byOrdinal.set(k, { price, where });
        keys++;
      } else if (!decEq(seen.price, price)) f.push(`${k}: ${where} close ${price} vs ${seen.where} ${seen.price}`);
    };
    for (const [s, list] of simTrades) for (const t of list) note(s, t.f, t.p, 'simulated Binance trade log');
    const logged = keys;
    for (const r of all) if (r.last_trade_id !== null && r.trade_count > 0) note(r.symbol, r.last_trade_id, r.close, `${r.exchange} ${r.timeframe} ${r.open_time}`);
    const fromCandles = checks - logged;
    if (fromCandles === 0) f.push('no stored candle has a last_trade_id');
    verdict("a stored candle's last trade id (mod 1e6) names the same trade, at its close price, on every exchange and in the trade log", f, `${fromCandles} candle closes checked against ${keys} trade ordinals (${logged} from the trade log)`);
    const missingIds = EXCHANGES.filter((ex) => !all.some((r) => r.exchange === ex && r.last_trade_id !== null));
    verdict('every exchange stores last_trade_id on candles built from trades', missingIds.map((ex) => `${ex}: none`));
  }
  {
    // cross-exchange equality of 1s periods (noise by design: separate timers per venue)
    let equal = 0;
    let differ = 0;
    const examples: string[] = [];
    for (const s of symbols) {
      const maps = EXCHANGES.map((ex) => new Map((series.get(`${ex} ${s} 1s`) ?? []).filter((r) => r.closed && r.source === 'trades').map((r) => [r.open_time, r])));
      for (const [t, r0] of maps[0]!) {
        const rs = maps.map((m) => m.get(t));
        if (rs.some((r) => !r)) continue;
        const sig = (r: Row) => [r.open, r.high, r.low, r.close, r.volume, r.quote_volume, r.taker_buy_volume].map(decNorm).join(',') + `,${r.trade_count}`;
        if (rs.every((r) => sig(r!) === sig(r0))) equal++;
        else {
          differ++;
          if (examples.length < 5) examples.push(`${s} ${new Date(t).toISOString().slice(11, 19)}: ${EXCHANGES.map((ex, i) => `${ex} n=${rs[i]!.trade_count}`).join(' ')}`);
        }
      }
    }
    N(`cross-exchange: closed 1s periods built from trades on all five exchanges, equal in OHLCV, quote, taker volume and count: ${equal}, differing: ${differ}`);
    for (const x of examples) N(`  differs: ${x}`);
  }

  // ── offline recomputation of the binance candles from the simulator's trade log ──
  H('B.3 offline recomputation: the simulated Binance trade log through `candles`, against the stored binance candles');
  if (tradeLogError) {
    S(`offline recomputation: unavailable (${tradeLogError})`);
    return;
  }
  const fingerprint: string[] = [];
  const gaps: string[] = [];
  for (const [s, list] of simTrades) {
    for (let i = 1; i < list.length; i++) if (list[i]!.a !== list[i - 1]!.a + 1) gaps.push(`${s}: agg id ${list[i - 1]!.a} -> ${list[i]!.a}`);
    if (list.length < 50) gaps.push(`${s}: only ${list.length} trades logged`);
    const first = list[0]?.a ?? 0;
    fingerprint.push(`${s} ${sha(list.slice(0, 50).map((t) => `${t.a - first},${t.f - t.a},${t.p},${t.q},${t.m}`).join('\n')).slice(0, 16)}`);
  }
  verdict('simulated Binance trade log: complete (agg ids contiguous, >= 50 per symbol)', gaps, `${[...simTrades].map(([s, l]) => `${s} ${l.length}`).join(', ')} trades logged; last poll ${new Date(lastPollAt).toISOString().slice(11, 23)}`);
  S(`input fingerprint, first 50 trades per symbol by ordinal (seed 9, rate 40): ${fingerprint.join('; ')}`);
  const dir = join(TMP, 'offline');
  mkdirSync(dir, { recursive: true });
  const failures: string[] = [];
  const counts: string[] = [];
  for (const [s, list] of simTrades) {
    const file = join(dir, `${s}.csv`);
    writeFileSync(file, list.map((t) => `${t.a},${t.p},${t.q},${t.f},${t.l},${t.T},${py(t.m)},True`).join('\n') + '\n');
    for (const tf of TIMEFRAMES) {
      const r = await runCli(['candles', '--input', file, '--format', 'binance-aggtrades-csv', '--symbol', s, '--timeframe', tf]);
      if (r.code !== 0) {
        failures.push(`${s} ${tf}: candles exit ${r.code}: ${norm(r.stderr).trim()}`);
        continue;
      }
      const offline = new Map(
        r.stdout
          .toString('utf8')
          .trim()
          .split('\n')
          .slice(1)
          .map((l) => l.split(','))
          .map((c) => [Number(c[0]), c] as const),
      );
      const tfMs = TF_MS[tf]!;
      let trades = 0;
      let backfills = 0;
      let emptyBefore = 0;
      const firstOffline = Math.min(...offline.keys());
      for (const row of series.get(`binance ${s} ${tf}`) ?? []) {
        if (!row.closed || row.open_time + tfMs > lastPollAt) continue;
        const c = offline.get(row.open_time);
        const at = `${s} ${tf} ${new Date(row.open_time).toISOString().slice(11, 19)} (${row.source})`;
        if (!c && row.open_time < firstOffline && dec(row.volume) === 0n) {
          emptyBefore++; // the venue's empty candle of its first second(s), repaired from REST before any trade
          continue;
        }
        if (!c) {
          failures.push(`${at}: no offline candle`);
          continue;
        }
        const [, open, high, low, close, volume, quote, count, taker, vwap] = c;
        const got = [row.open, row.high, row.low, row.close, row.volume, String(row.trade_count), row.taker_buy_volume];
        const want = [open, high, low, close, volume, count, taker];
        if (row.source === 'trades') {
          got.push(row.quote_volume, row.vwap);
          want.push(quote, vwap);
          trades++;
        } else backfills++;
        if (got.join(',') !== want.join(',')) failures.push(`${at}: stored ${got.join(',')} vs offline ${want.join(',')}`);
      }
      counts.push(`${s} ${tf}: ${trades} from trades + ${backfills} repaired${emptyBefore ? ` (+${emptyBefore} empty before the first trade)` : ''}`);
    }
  }
  verdict('stored binance candles (closed, period ended before the last poll) = `candles` over the simulated Binance trade log', failures, counts.join('; '));
}

// ── main ─────────────────────────────────────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  H(`candlestack differential report, format 1 (lines: '=' stable, '~' noise; diff <(grep -v '^~' a) <(grep -v '^~' b))`);
  N(`run at ${new Date().toISOString()}, node ${process.version}, cli ${norm(CLI)}`);
  try {
    if (flags.only !== 'demo') await candlesPart();
    if (flags.only !== 'candles') await demoPart();
  } finally {
    N(`total run time ${((Date.now() - t0) / 1000).toFixed(1)} s${flags.keep ? `; kept ${TMP}` : ''}`);
    if (!flags.keep) rmSync(TMP, { recursive: true, force: true });
    process.stdout.write(out.join('\n') + '\n');
  }
}

await main();
