/**
 * The offline candle builder: dumps in every supported format round-trip to the candles computed here
 * independently with plain BigInt decimal arithmetic (not with the engine), and a real Binance recording
 * reproduces Binance's own kline.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { CANDLES_HELP, CSV_HEADER, candlesCommand, parseCandlesArgs, type CandlesArgs } from '../src/cli/candles-command.js';
import { ConfigError } from '../src/core/errors.js';
import type { DumpFormat } from '../src/sources/binance-dumps.js';
import { mulberry32 } from '../src/core/random.js';
import { APRIL } from './support/binance-fixtures.js';
import { fixtureLines, fixturePath } from './support/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'candlestack-candles-'));
after(() => rmSync(dir, { recursive: true, force: true }));

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    cb();
  }
}

async function run(args: CandlesArgs) {
  const stdout = new Capture();
  const stderr = new Capture();
  const result = await candlesCommand(args, { stdout, stderr });
  return { ...result, stdout: stdout.text, stderr: stderr.text };
}

function write(name: string, lines: string[], eol = '\n'): string {
  const path = join(dir, name);
  const text = lines.join(eol) + eol;
  writeFileSync(path, name.endsWith('.gz') ? gzipSync(text) : text);
  return path;
}

// ── generated trades ─────────────────────────────────────────────────────────────────────────────────

interface GenTrade {
  aggId: number;
  firstId: number;
  lastId: number;
  /** Price and qty in units of 1e-8. */
  price: bigint;
  qty: bigint;
  time: number;
  /** Extra microseconds for the µs variant (0..999). */
  micros: number;
  buyerMaker: boolean;
}


const MIN = 60_000;
const BASE = Date.UTC(2024, 2, 1, 0, 0, 0); // 2024-03-01T00:00Z
const BUSY_MINUTES = [1, 2, 3, 4, 11, 12, 13]; // 5..10 quiet: six empty minutes, and the whole 5m period 00:05

function generate(): GenTrade[] {
  const rnd = mulberry32(20240301);
  const out: GenTrade[] = [];
  let aggId = 5_000_000;
  let tradeId = 9_000_000;
  let cents = 4_200_000n; // 42000.00
  for (const minute of BUSY_MINUTES) {
    const n = 35 + Math.floor(rnd() * 20);
    const lo = minute === 1 ? 17_000 : 0; // the first trade at 00:01:17
    const offsets = Array.from({ length: n }, () => lo + Math.floor(rnd() * (MIN - lo))).sort((a, b) => a - b);
    offsets[0] = Math.min(offsets[0]!, lo);
    for (let i = 0; i < n; i++) {
      cents += BigInt(Math.floor(rnd() * 41) - 20);
      const count = rnd() < 0.2 ? 2 + Math.floor(rnd() * 3) : 1;
      out.push({
        aggId: aggId++,
        firstId: tradeId,
        lastId: tradeId + count - 1,
        price: cents * 1_000_000n,
        qty: BigInt(1 + Math.floor(rnd() * 250_000_000)),
        time: BASE + minute * MIN + offsets[i]!,
        micros: Math.floor(rnd() * 1000),
        buyerMaker: rnd() < 0.45,
      });
      tradeId += count;
    }
  }
  return out;
}

const TRADES = generate();
const SYMBOL = 'BTC-USDT';

const E8 = 100_000_000n;
const dec = (x: bigint) => `${x / E8}.${(x % E8).toString().padStart(8, '0')}`;
/** "42000.10000000" -> "42000.1": dumps do not always pad. */
const trimmed = (x: bigint) => dec(x).replace(/\.?0+$/, '');

// ── writers for each format ──────────────────────────────────────────────────────────────────────────

const py = (b: boolean) => (b ? 'True' : 'False');

function aggCsvLines(trades: GenTrade[], o: { header?: boolean; micros?: boolean; lower?: boolean } = {}): string[] {
  const lines = o.header ? ['agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker,is_best_match'] : [];
  for (const t of trades) {
    const time = o.micros ? t.time * 1000 + t.micros : t.time;
    const m = o.lower ? String(t.buyerMaker) : py(t.buyerMaker);
    lines.push(`${t.aggId},${dec(t.price)},${dec(t.qty)},${t.firstId},${t.lastId},${time},${m},True`);
  }
  return lines;
}

/** One line per trade id (an aggTrade of count n becomes n trades of qty/n; the remainder on the first). */
function expandToTrades(trades: GenTrade[]): GenTrade[] {
  const out: GenTrade[] = [];
  for (const t of trades) {
    const n = BigInt(t.lastId - t.firstId + 1);
    for (let id = t.firstId; id <= t.lastId; id++) {
      const share = t.qty / n + (id === t.firstId ? t.qty % n : 0n);
      if (share === 0n) continue;
      out.push({ ...t, aggId: id, firstId: id, lastId: id, qty: share });
    }
  }
  return out;
}

function tradeCsvLines(trades: GenTrade[], header: boolean): string[] {
  const lines = header ? ['id,price,qty,quote_qty,time,is_buyer_maker,is_best_match'] : [];
  for (const t of trades) {
    lines.push(`${t.aggId},${trimmed(t.price)},${trimmed(t.qty)},${dec((t.price * t.qty) / E8)},${t.time},${py(t.buyerMaker)},True`);
  }
  return lines;
}

function wsLines(trades: GenTrade[], o: { stream: 'aggTrade' | 'trade'; wrapper: boolean; micros?: boolean; symbolCase?: string }): string[] {
  const lines: string[] = [];
  const s = o.symbolCase ?? 'BTCUSDT'; // Binance's own spelling in its frames
  trades.forEach((t, i) => {
    const T = o.micros ? t.time * 1000 + t.micros : t.time;
    const data =
      o.stream === 'aggTrade'
        ? { e: 'aggTrade', E: T + 1, s, a: t.aggId, p: dec(t.price), q: dec(t.qty), f: t.firstId, l: t.lastId, T, m: t.buyerMaker, M: true }
        : { e: 'trade', E: T + 1, s, t: t.aggId, p: dec(t.price), q: dec(t.qty), T, m: t.buyerMaker, M: true };
    const name = `${s.toLowerCase()}@${o.stream}`;
    lines.push(JSON.stringify(o.wrapper ? { stream: name, data } : data));
    if (i % 10 === 0) {
      // Noise that must be skipped: another symbol's trade, a kline, a subscription ack.
      const eth = { ...data, s: 'ETHUSDT', p: '3000.00000000' };
      lines.push(JSON.stringify(o.wrapper ? { stream: `ethusdt@${o.stream}`, data: eth } : eth));
      const k = { e: 'kline', E: T, s, k: { t: t.time - (t.time % MIN), T: t.time - (t.time % MIN) + MIN - 1, s, i: '1m', f: 1, L: 2, o: '1.0', c: '1.0', h: '1.0', l: '1.0', v: '9.0', n: 1, x: false, q: '9.0', V: '0', Q: '0', B: '0' } };
      lines.push(JSON.stringify(o.wrapper ? { stream: `${s.toLowerCase()}@kline_1m`, data: k } : k));
      if (i === 0) lines.push('{"result":null,"id":1}');
    }
  });
  return lines;
}

// ── independent expectation ──────────────────────────────────────────────────────────────────────────

interface Row {
  openTime: number;
  open: bigint;
  high: bigint;
  low: bigint;
  close: bigint;
  volume: bigint;
  quote: bigint;
  count: number;
  takerBuy: bigint;
}

function expected(trades: GenTrade[], tfMs: number, countOf: (t: GenTrade) => number): Row[] {
  const sorted = trades; // file order = time order here
  const first = sorted[0]!.time - (sorted[0]!.time % tfMs);
  const last = sorted[sorted.length - 1]!.time - (sorted[sorted.length - 1]!.time % tfMs);
  const rows: Row[] = [];
  let prevClose = 0n;
  let i = 0;
  for (let p = first; p <= last; p += tfMs) {
    const row: Row = { openTime: p, open: prevClose, high: prevClose, low: prevClose, close: prevClose, volume: 0n, quote: 0n, count: 0, takerBuy: 0n };
    let any = false;
    for (; i < sorted.length && sorted[i]!.time < p + tfMs; i++) {
      const t = sorted[i]!;
      if (!any) {
        row.open = row.high = row.low = t.price;
        any = true;
      }
      if (t.price > row.high) row.high = t.price;
      if (t.price < row.low) row.low = t.price;
      row.close = t.price;
      row.volume += t.qty;
      row.quote += (t.price * t.qty) / E8; // each product truncated to 8 decimals (Binance's rule)
      row.count += countOf(t);
      if (!t.buyerMaker) row.takerBuy += t.qty;
    }
    prevClose = row.close;
    rows.push(row);
  }
  return rows;
}

function assertCsv(stdout: string, rows: Row[], label: string): void {
  const lines = stdout.trimEnd().split('\n');
  assert.equal(lines[0], CSV_HEADER, `${label}: header`);
  assert.equal(lines.length - 1, rows.length, `${label}: row count`);
  rows.forEach((r, k) => {
    const cols = lines[k + 1]!.split(',');
    assert.equal(cols.length, 10, `${label}: columns`);
    const want = [String(r.openTime), dec(r.open), dec(r.high), dec(r.low), dec(r.close), dec(r.volume), dec(r.quote), String(r.count), dec(r.takerBuy)];
    assert.deepEqual(cols.slice(0, 9), want, `${label}: row ${k} (${new Date(r.openTime).toISOString()})`);
    // vwap is a float ratio in the engine: allow one unit of the 8th decimal.
    const vwapWant = r.volume === 0n ? r.close : (r.quote * E8 * 2n + r.volume) / (2n * r.volume);
    const [wi, wf = ''] = cols[9]!.split('.');
    const vwapGot = BigInt(wi!) * E8 + BigInt(wf.padEnd(8, '0'));
    const diff = vwapGot - vwapWant;
    assert.ok(diff >= -1n && diff <= 1n, `${label}: row ${k} vwap ${cols[9]} vs ${dec(vwapWant)}`);
  });
}

const aggCount = (t: GenTrade) => t.lastId - t.firstId + 1;
const one = () => 1;

function args(input: string, format: DumpFormat, timeframe: CandlesArgs['timeframe'], extra: Partial<CandlesArgs> = {}): CandlesArgs {
  return { input, format, symbol: SYMBOL, timeframe, ...extra };
}

// ── (1) round trips ──────────────────────────────────────────────────────────────────────────────────

test('generated trades have the shape the round trips rely on', () => {
  assert.ok(TRADES.length >= 250 && TRADES.length <= 400, `${TRADES.length} trades`);
  assert.ok(TRADES.some((t) => t.lastId > t.firstId), 'some aggTrades cover several trade ids');
  const minutes = new Set(TRADES.map((t) => Math.floor((t.time - BASE) / MIN)));
  assert.deepEqual([...minutes], BUSY_MINUTES);
});

const expandedTrades = expandToTrades(TRADES);

const variants: { name: string; format: DumpFormat; lines: string[]; eol?: string; trades: GenTrade[]; count: (t: GenTrade) => number; symbol?: string }[] = [
  { name: 'agg-header.csv', format: 'binance-aggtrades-csv', lines: aggCsvLines(TRADES, { header: true }), trades: TRADES, count: aggCount },
  { name: 'agg-noheader-us.csv', format: 'binance-aggtrades-csv', lines: aggCsvLines(TRADES, { micros: true, lower: true }), trades: TRADES, count: aggCount },
  { name: 'agg-header.csv.gz', format: 'binance-aggtrades-csv', lines: aggCsvLines(TRADES, { header: true }), trades: TRADES, count: aggCount },
  { name: 'trades-header-crlf.csv', format: 'binance-trades-csv', lines: tradeCsvLines(expandedTrades, true), eol: '\r\n', trades: expandedTrades, count: one },
  { name: 'trades-noheader.csv', format: 'binance-trades-csv', lines: tradeCsvLines(expandedTrades, false), trades: expandedTrades, count: one },
  { name: 'ws-agg-wrapped.jsonl', format: 'binance-ws-jsonl', lines: wsLines(TRADES, { stream: 'aggTrade', wrapper: true }), trades: TRADES, count: aggCount },
  { name: 'ws-agg-raw-us.jsonl', format: 'binance-ws-jsonl', lines: wsLines(TRADES, { stream: 'aggTrade', wrapper: false, micros: true }), trades: TRADES, count: aggCount, symbol: 'btc-usdt' },
  { name: 'ws-trade-raw.jsonl', format: 'binance-ws-jsonl', lines: wsLines(expandedTrades, { stream: 'trade', wrapper: false }), trades: expandedTrades, count: one, symbol: 'btcusdt' },
  { name: 'ws-trade-wrapped.jsonl', format: 'binance-ws-jsonl', lines: wsLines(expandedTrades, { stream: 'trade', wrapper: true }), trades: expandedTrades, count: one },
];

for (const v of variants) {
  for (const tf of ['1m', '5m'] as const) {
    test(`round trip: ${v.name} ${tf}`, async () => {
      const input = write(v.name, v.lines, v.eol);
      const r = await run(args(input, v.format, tf, v.symbol ? { symbol: v.symbol } : {}));
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.badLines, 0, r.stderr);
      assert.equal(r.trades, v.trades.length);
      const rows = expected(v.trades, tf === '1m' ? MIN : 5 * MIN, v.count);
      assert.equal(r.rows, rows.length);
      assertCsv(r.stdout, rows, `${v.name} ${tf}`);
      if (tf === '1m') {
        // 00:01 .. 00:13: 13 rows, the six quiet minutes among them with volume 0 and the previous close.
        assert.equal(rows.length, 13);
        const quiet = r.stdout.split('\n').filter((l) => l.split(',')[5] === '0.00000000');
        assert.equal(quiet.length, 6);
      } else {
        assert.equal(rows.length, 3); // 00:00, 00:05 (empty), 00:10
        assert.equal(r.stdout.split('\n')[2]!.split(',')[5], '0.00000000');
      }
      assert.match(r.stderr, new RegExp(`${v.trades.length} trades used, 0 bad lines, \\d+ skipped lines, 0 late trades`));
      assert.match(r.stderr, new RegExp(`${rows.length} rows written`));
      if (v.format === 'binance-ws-jsonl') assert.doesNotMatch(r.stderr, / 0 skipped lines/, 'klines, acks and ETHUSDT are skipped');
    });
  }
}

// ── (2) bad lines ────────────────────────────────────────────────────────────────────────────────────

test('bad lines are reported by line number and never change a candle', async () => {
  const clean = aggCsvLines(TRADES, { header: true });
  const dirty = [...clean];
  // Inserted from the back so the earlier positions stay valid; line N = index + 1.
  dirty.splice(200, 0, '5999999,42000.00000000,abc,9000000,9000000,1709251277000,True,True'); // bad quantity
  dirty.splice(120, 0, `5999998,42000.00000000,0.1,9000000,9000000,${TRADES[118]!.time},maybe,True`); // bad boolean
  dirty.splice(40, 0, '5999997,42000.00000000,0.1,9000000'); // wrong column count
  const rClean = await run(args(write('clean.csv', clean), 'binance-aggtrades-csv', '1m'));
  const r = await run(args(write('dirty.csv', dirty), 'binance-aggtrades-csv', '1m'));
  assert.equal(r.exitCode, 0);
  assert.equal(r.badLines, 3);
  assert.equal(r.trades, TRADES.length);
  assert.equal(r.stdout, rClean.stdout);
  assert.match(r.stderr, /^line 41: expected 7 or 8 columns, got 4$/m);
  assert.match(r.stderr, /^line 122: buyer-was-maker "maybe" is not true\/false$/m);
  assert.match(r.stderr, /^line 203: quantity "abc" is not a decimal$/m);
  assert.match(r.stderr, /3 bad lines/);
  assertCsv(r.stdout, expected(TRADES, MIN, aggCount), 'dirty');
});

test('bad jsonl lines: malformed JSON and malformed trades are bad, other events are skipped', async () => {
  const lines = wsLines(TRADES, { stream: 'aggTrade', wrapper: true });
  const clean = await run(args(write('ws-clean.jsonl', lines), 'binance-ws-jsonl', '1m'));
  const dirty = [...lines];
  dirty.splice(30, 0, '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade"'); // truncated JSON
  dirty.splice(10, 0, '{"e":"aggTrade","E":1,"s":"BTCUSDT","a":1,"p":"1.0","q":"1.0","f":5,"l":4,"T":1,"m":true}'); // l < f
  dirty.splice(5, 0, '{"e":"aggTrade","E":1,"s":"BTCUSDT","a":5000003,"p":"12x","q":"1.0","f":1,"l":1,"T":1709251300000,"m":true}'); // bad price
  const r = await run(args(write('ws-dirty.jsonl', dirty), 'binance-ws-jsonl', '1m'));
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.badLines, 3, r.stderr);
  assert.equal(r.stdout, clean.stdout);
  assert.match(r.stderr, /^line 6: price "12x" is not a decimal > 0$/m);
  assert.match(r.stderr, /^line 12: aggTrade with invalid first\/last trade ids$/m);
  assert.match(r.stderr, /^line 33: frame is not JSON$/m);
});

test('more than 20 bad lines: the first 20 are printed, then a count', async () => {
  const lines = aggCsvLines(TRADES.slice(0, 50));
  for (let i = 0; i < 25; i++) lines.push('x,y');
  const r = await run(args(write('many-bad.csv', lines), 'binance-aggtrades-csv', '1m'));
  assert.equal(r.exitCode, 0);
  assert.equal(r.badLines, 25);
  assert.equal(r.stderr.match(/^line \d+: /gm)?.length, 20);
  assert.match(r.stderr, /^\.\.\. 5 more bad lines not shown \(25 in all\)$/m);
});

test('late, duplicate and skipped-id lines are counted and leave the candles alone', async () => {
  // Ids with room for one inserted trade after index 159 and a real jump of 4 missing ids at index 150.
  const ids = TRADES.map((t, i) => t.aggId + (i >= 150 ? 4 : 0) + (i >= 160 ? 1 : 0));
  const cleanTrades = TRADES.map((t, i) => ({ ...t, aggId: ids[i]! }));
  const dirtyTrades = [...cleanTrades];
  // Next id, but its time is in minute 00:02, which closed long before: late, dropped.
  dirtyTrades.splice(160, 0, { ...TRADES[0]!, aggId: ids[159]! + 1, price: E8, qty: 5n * E8, time: BASE + 2 * MIN + 5, buyerMaker: false });
  dirtyTrades.splice(100, 0, cleanTrades[99]!); // the previous line again: a duplicate id
  const clean = await run(args(write('ids-clean.csv', aggCsvLines(cleanTrades)), 'binance-aggtrades-csv', '1m'));
  const r = await run(args(write('ids-dirty.csv', aggCsvLines(dirtyTrades)), 'binance-aggtrades-csv', '1m'));
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.stdout, clean.stdout);
  assertCsv(r.stdout, expected(TRADES, MIN, aggCount), 'late/duplicate');
  assert.equal(r.trades, TRADES.length);
  assert.match(r.stderr, / 1 late trades, 1 out-of-order lines, 1 duplicate ids, 1 trade-id jumps \(4 ids missing\)/);
  assert.match(r.stderr, /^line 101: skipped: trade id \d+ is not above the previous id/m);
  assert.match(r.stderr, /^line 162: out of order: time \d+ is before line 161's time/m);
  assert.match(clean.stderr, / 0 late trades, 0 out-of-order lines, 0 duplicate ids, 2 trade-id jumps \(5 ids missing\)/);
});

// ── (3) --from / --to ────────────────────────────────────────────────────────────────────────────────

test('--from is inclusive, --to is exclusive, as epoch ms or ISO-8601', async () => {
  const input = write('range.csv', aggCsvLines(TRADES, { header: true }));
  // Boundaries on trade times that are not shared with a neighbour, so inclusive/exclusive is visible.
  const pick = (start: number) => {
    for (let i = start; ; i++) if (TRADES[i - 1]!.time < TRADES[i]!.time && TRADES[i]!.time < TRADES[i + 1]!.time) return i;
  };
  const a = pick(60);
  const b = pick(250);
  const from = TRADES[a]!.time;
  const to = TRADES[b]!.time;
  const want = TRADES.filter((t) => t.time >= from && t.time < to);
  assert.equal(want[0], TRADES[a]);
  assert.equal(want[want.length - 1], TRADES[b - 1]);
  const parsed = parseCandlesArgs(['--input', input, '--format', 'binance-aggtrades-csv', '--symbol', SYMBOL, '--timeframe', '1m', '--from', new Date(from).toISOString(), '--to', String(to)]);
  assert.equal(parsed.from, from);
  assert.equal(parsed.to, to);
  for (const tf of ['1m', '5m'] as const) {
    const r = await run({ ...parsed, timeframe: tf });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.trades, want.length);
    assertCsv(r.stdout, expected(want, tf === '1m' ? MIN : 5 * MIN, aggCount), `range ${tf}`);
    assert.match(r.stderr, new RegExp(`${TRADES.length - want.length} trades outside --from/--to`));
  }
  // One ms later on both ends: the boundary trade moves out of the range, the one at `to` stays out.
  const r2 = await run(args(input, 'binance-aggtrades-csv', '1m', { from: from + 1, to: to + 1 }));
  assert.equal(r2.trades, want.length);
  const expect2 = TRADES.filter((t) => t.time >= from + 1 && t.time < to + 1);
  assertCsv(r2.stdout, expected(expect2, MIN, aggCount), 'range +1ms');
});

test('no usable trade: exit code 1 and nothing on stdout', async () => {
  const input = write('range-empty.csv', aggCsvLines(TRADES));
  const r = await run(args(input, 'binance-aggtrades-csv', '1m', { from: BASE + 6 * MIN, to: BASE + 7 * MIN }));
  assert.equal(r.exitCode, 1);
  assert.equal(r.rows, 0);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /no usable BTC-USDT trade/);
  const r2 = await run(args(join(dir, 'does-not-exist.csv'), 'binance-aggtrades-csv', '1m'));
  assert.equal(r2.exitCode, 2);
  assert.match(r2.stderr, /--input: cannot read/);
});

// ── (4) argument errors ──────────────────────────────────────────────────────────────────────────────

test('parseCandlesArgs: valid flags, --help, and errors that name the flag', () => {
  const base = ['--input', 'x.csv', '--format', 'binance-trades-csv', '--symbol', 'eth-usdt', '--timeframe', '15m'];
  assert.deepEqual(parseCandlesArgs(base), { input: 'x.csv', format: 'binance-trades-csv', symbol: 'ETH-USDT', timeframe: '15m', help: false });
  assert.deepEqual(parseCandlesArgs(['candles', ...base, '--from', '2024-03-01']).from, Date.UTC(2024, 2, 1));
  assert.equal(parseCandlesArgs([...base, '--from', '2024-03-01T12:30']).from, Date.UTC(2024, 2, 1, 12, 30), 'UTC without an offset');
  assert.equal(parseCandlesArgs([...base, '--to', '2024-03-01T12:30:00+01:00']).to, Date.UTC(2024, 2, 1, 11, 30));
  assert.equal(parseCandlesArgs(['--help']).help, true);
  assert.equal(parseCandlesArgs(['-h']).help, true);
  assert.match(CANDLES_HELP, /--from T +only trades at or after T \(inclusive\)/);
  assert.match(CANDLES_HELP, /--to T +only trades before T \(exclusive\)/);
  assert.match(CANDLES_HELP, /unzip/);

  const fails = (argv: string[], field: string, detail?: RegExp) => {
    assert.throws(
      () => parseCandlesArgs(argv),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.equal(e.field, field);
        assert.ok(e.message.startsWith(`${field}: expected `), e.message);
        if (detail) assert.match(e.message, detail);
        return true;
      },
      argv.join(' '),
    );
  };
  const without = (flag: string) => {
    const i = base.indexOf(flag);
    return [...base.slice(0, i), ...base.slice(i + 2)];
  };
  fails([...without('--timeframe'), '--timeframe', '7m'], '--timeframe', /one of 1s, 1m, .*got "7m"/);
  fails(without('--timeframe'), '--timeframe', /got nothing/);
  fails(without('--input'), '--input', /got nothing/);
  fails([...without('--format'), '--format', 'nope'], '--format', /one of binance-aggtrades-csv, binance-trades-csv, binance-ws-jsonl, got "nope"/);
  fails(without('--symbol'), '--symbol');
  fails([...without('--symbol'), '--symbol', 'BTC$'], '--symbol');
  fails([...base, '--from', 'yesterday'], '--from', /epoch milliseconds or an ISO-8601 time/);
  fails([...base, '--to', '2024-13-45T99:00Z'], '--to');
  fails([...base, '--from', '2024-03-02', '--to', '2024-03-01'], '--to', /after --from/);
  fails([...base, '--bogus', '1'], '--bogus', /a known flag/);
  fails([...base, '--input'], '--input', /a value after the flag/);
  fails([...base, 'extra'], 'candles', /only flags/);
});

// ── (5) a real Binance recording against Binance's own kline ─────────────────────────────────────────

const FIXTURE = fixturePath('binance', APRIL);
const MINUTE_2004 = 1617566640000;

test('real recording: the 20:04 BTCUSDT minute equals Binance kline snapshots built from the same trades', async () => {
  const lines = fixtureLines('binance', APRIL);
  type K = { E: number; k: { t: number; f: number; L: number; o: string; h: string; l: string; c: string; v: string; q: string; n: number; V: string; x: boolean } };
  const frames = lines.map((l) => JSON.parse(l) as { stream: string; data: Record<string, unknown> });
  const snapshots = frames
    .filter((f) => f.stream === 'btcusdt@kline_1m' && (f.data as unknown as K).k.t === MINUTE_2004)
    .map((f) => f.data as unknown as K);
  assert.ok(snapshots.length >= 2);
  const last = snapshots[snapshots.length - 1]!;
  assert.equal(last.E, 1617566644092, 'the last 20:04 snapshot in the file is the one PROVENANCE.md describes');

  const aggs = frames.filter((f) => f.stream === 'btcusdt@aggTrade').map((f) => f.data as { f: number; l: number });
  for (const snap of snapshots) {
    // The minute is complete from its first trade: the snapshot's first trade id is in the recording.
    assert.ok(aggs.some((a) => a.f === snap.k.f), `trade ${snap.k.f} recorded`);
    // The snapshot covers trades up to its last id L; later aggTrades share L's timestamp, so --to cannot
    // separate them: drop them from a copy of the file instead.
    const kept = lines.filter((l, i) => frames[i]!.stream !== 'btcusdt@aggTrade' || (frames[i]!.data as { l: number }).l <= snap.k.L);
    const input = write(`fixture-upto-${snap.k.L}.jsonl`, kept);
    const r = await run(args(input, 'binance-ws-jsonl', '1m'));
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.badLines, 0);
    const row = r.stdout.split('\n').find((l) => l.startsWith(`${MINUTE_2004},`));
    assert.ok(row, r.stdout);
    const [, o, h, l, c, v, q, n, V] = row.split(',');
    const k = snap.k;
    assert.deepEqual({ o, h, l, c, v, q, n: Number(n), V }, { o: k.o, h: k.h, l: k.l, c: k.c, v: k.v, q: k.q, n: k.n, V: k.V }, `snapshot E=${snap.E}`);
  }
  // The numbers PROVENANCE.md quotes for E=1617566644092, as a cross-check of the file itself.
  assert.deepEqual(
    [last.k.v, last.k.q, last.k.n, last.k.V, last.k.o, last.k.h, last.k.l, last.k.c],
    ['1.21328700', '70371.20916593', 64, '1.08687200', '57996.66000000', '58006.12000000', '57996.65000000', '58001.38000000'],
  );
});

test('real recording: a symbol with no trades in the file exits 1', async () => {
  const r = await run(args(FIXTURE, 'binance-ws-jsonl', '1m', { symbol: 'XRP-USDT' }));
  assert.equal(r.exitCode, 1);
  assert.equal(r.stdout, '');
});

// ── engine limits and stream mixing ──────────────────────────────────────────────────────────────────

test('a jsonl file with both trade and aggTrade streams of the symbol uses the first one only', async () => {
  const agg = wsLines(TRADES, { stream: 'aggTrade', wrapper: true });
  const raw = wsLines(expandedTrades, { stream: 'trade', wrapper: true }).filter((l) => l.includes('"btcusdt@trade"'));
  const mixed = [...agg];
  mixed.splice(50, 0, ...raw.slice(0, 3));
  const r = await run(args(write('ws-mixed.jsonl', mixed), 'binance-ws-jsonl', '1m'));
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.trades, TRADES.length);
  assertCsv(r.stdout, expected(TRADES, MIN, aggCount), 'mixed streams');
  assert.match(r.stderr, /^line 51: skipped: a trade event while the file's BTC-USDT trades come from the aggTrade stream$/m);
});

test('engine limit: a quiet stretch longer than 100000 periods is reported, not filled', async () => {
  // CandleEngine restarts the series instead of filling more than MAX_EMPTY_FILL (100 000) empty periods.
  const t0 = BASE;
  const t1 = BASE + 2 * 86_400_000; // two days of 1s periods = 172 800
  const input = write('long-gap.csv', [`1,1.00000000,1.00000000,1,1,${t0},False,True`, `2,2.00000000,1.00000000,2,2,${t1},False,True`]);
  const r = await run(args(input, 'binance-aggtrades-csv', '1s'));
  assert.equal(r.exitCode, 0);
  assert.equal(r.rows, 2);
  assert.match(r.stderr, /172799 periods missing \(time jump too long to fill\)/);
  const r1m = await run(args(input, 'binance-aggtrades-csv', '1m'));
  assert.equal(r1m.rows, 2 * 1440 + 1, 'within the limit every empty period is written');
});
