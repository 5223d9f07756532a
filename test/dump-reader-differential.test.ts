/**
 * Differential test of the fast CSV dump reader (src/sources/csv-scanner.ts + replayCsv, one engine for every
 * timeframe) against the line reader it replaced (readline + the line parsers, one engine per timeframe:
 * `reader: 'lines'`): the same candles, the same counts, the same diagnostics, on
 * - the recorded Binance aggTrades (test/fixtures/binance/*.jsonl) written as aggTrades and trades CSV, with
 *   and without header, LF and CRLF, ms and µs;
 * - 100,000 seeded random rows mixing plain rows with edge cases: exponent notation, leading zeros, more than 8
 *   fraction digits, CRLF, lone CR, blank lines, a BOM and a header on line 1, no trailing newline, µs
 *   timestamps, letter case of the booleans, missing and extra columns, bad numbers, ids that repeat or
 *   jump, trades out of order and late, non-ASCII text, integers too long to be safe;
 * and, for the scanner alone, a text cut into chunks at every position.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { fixed8, parseFixed8 } from '../src/core/decimal.js';
import { TIMEFRAMES, type Timeframe } from '../src/core/timeframe.js';
import type { Candle } from '../src/core/types.js';
import { LINE_PARSERS, type DumpFormat } from '../src/sources/binance-dumps.js';
import { CsvScanner } from '../src/sources/csv-scanner.js';
import { replayDump, type ReplaySink, type ReplayStats } from '../src/sources/dump-replay.js';
import { mulberry32 } from '../src/core/random.js';
import { fixtureFiles, fixtureLines } from './support/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'candlestack-reader-diff-'));
after(() => rmSync(dir, { recursive: true, force: true }));

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    cb();
  }
}

interface Outcome {
  candles: Record<string, Candle[]>;
  stats: Omit<ReplayStats, 'perTimeframe' | 'failure'> & { perTimeframe: Record<string, unknown>; failure: string | null };
  diagnostics: string;
}

async function replay(input: string, format: DumpFormat, timeframes: readonly Timeframe[], reader: 'fast' | 'lines', range: { from?: number; to?: number } = {}): Promise<Outcome> {
  const candles: Record<string, Candle[]> = {};
  let pending = 0;
  const sink: ReplaySink = {
    candle(c) {
      (candles[c.timeframe] ??= []).push(c);
      pending++;
    },
    shouldFlush: () => pending > 100,
    async flush() {
      pending = 0;
    },
    stopped: () => false,
  };
  const diagnostics = new Capture();
  const s = await replayDump({ input, format, symbol: 'BTC-USDT', timeframes, reader, ...range }, sink, diagnostics, 'candles');
  const { perTimeframe, failure, ...rest } = s;
  return { candles, stats: { ...rest, perTimeframe: Object.fromEntries(perTimeframe), failure: failure?.message ?? null }, diagnostics: diagnostics.text };
}

/** Fast reader with all timeframes at once, and with each alone, against the line reader per timeframe. */
async function assertSame(input: string, format: DumpFormat, timeframes: readonly Timeframe[], range: { from?: number; to?: number } = {}): Promise<Outcome> {
  const reference = await replay(input, format, timeframes, 'lines', range);
  const fast = await replay(input, format, timeframes, 'fast', range);
  assert.deepEqual(fast.stats, reference.stats, `${input} ${timeframes.join(',')}: counts`);
  assert.equal(fast.diagnostics, reference.diagnostics, `${input}: diagnostics`);
  for (const tf of timeframes) assert.deepEqual(fast.candles[tf] ?? [], reference.candles[tf] ?? [], `${input} ${tf}: candles`);
  for (const tf of timeframes.slice(0, 3)) {
    const alone = await replay(input, format, [tf], 'fast', range);
    assert.deepEqual(alone.candles[tf] ?? [], reference.candles[tf] ?? [], `${input} ${tf} alone: candles`);
  }
  return reference;
}

// ── recorded fixtures ────────────────────────────────────────────────────────────────────────────────

interface Row {
  id: number;
  price: string;
  qty: string;
  first: number;
  last: number;
  time: number;
  maker: boolean;
}

/** The recorded aggTrades per symbol, most traded first. */
function recordedRows(): Row[][] {
  const bySymbol = new Map<string, Row[]>();
  for (const file of fixtureFiles('binance', '.jsonl')) {
    for (const line of fixtureLines('binance', file)) {
      const frame = JSON.parse(line) as { data?: Record<string, unknown> } & Record<string, unknown>;
      const d = (frame.data ?? frame) as { e?: string; s: string; a: number; p: string; q: string; f: number; l: number; T: number; m: boolean };
      if (d.e !== 'aggTrade') continue;
      let rows = bySymbol.get(`${file} ${d.s}`);
      if (!rows) bySymbol.set(`${file} ${d.s}`, (rows = []));
      rows.push({ id: d.a, price: d.p, qty: d.q, first: d.f, last: d.l, time: d.T, maker: d.m });
    }
  }
  return [...bySymbol.values()].sort((a, b) => b.length - a.length);
}

const cap = (b: boolean) => (b ? 'True' : 'False');

test('recorded aggTrades, as aggTrades and trades CSV in every line form: the fast reader gives the line reader\'s candles', async () => {
  const symbols = recordedRows();
  assert.ok(symbols.reduce((n, rows) => n + rows.length, 0) >= 100, 'recorded aggTrades');
  for (const [k, rows] of symbols.entries()) await recorded(rows, k);
});

async function recorded(rows: Row[], k: number): Promise<void> {
  const agg = (r: Row, us = false) => `${r.id},${r.price},${r.qty},${r.first},${r.last},${us ? r.time * 1000 + 123 : r.time},${cap(r.maker)},True`;
  const plain = (r: Row) => `${r.id},${r.price},${r.qty},0.1,${r.time},${cap(r.maker).toLowerCase()}`;
  const variants: [string, DumpFormat, string][] = [
    ['agg.csv', 'binance-aggtrades-csv', rows.map((r) => agg(r)).join('\n') + '\n'],
    ['agg-header-crlf.csv', 'binance-aggtrades-csv', ['agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker', ...rows.map((r) => agg(r))].join('\r\n') + '\r\n'],
    ['agg-us-nofinal.csv', 'binance-aggtrades-csv', rows.map((r) => agg(r, true)).join('\n')],
    ['trades-header.csv', 'binance-trades-csv', ['id,price,qty,quote_qty,time,is_buyer_maker', ...rows.map(plain)].join('\n') + '\n'],
  ];
  for (const [name, format, text] of variants) {
    const path = join(dir, `${k}-${name}`);
    writeFileSync(path, text);
    const ref = await assertSame(path, format, ['1s', '1m', '5m', '1h']);
    assert.ok((ref.candles['1m'] ?? []).length > 0);
    writeFileSync(`${path}.gz`, gzipSync(text));
    await assertSame(`${path}.gz`, format, ['1m']);
  }
}

// ── 100,000 seeded random rows with edge cases ───────────────────────────────────────────────────────

function randomDump(seed: number, rows: number, layout: 'agg' | 'plain'): string {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  let id = 1_000;
  let tradeId = 50_000;
  let time = Date.UTC(2024, 2, 1, 23, 40);
  let cents = 4_200_000;
  const out: string[] = [];
  const eols = ['\n', '\n', '\n', '\n', '\n', '\n', '\r\n', '\r'];
  if (rnd() < 2) out.push(pick(['\uFEFFagg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker,is_best_match', 'a,b,c,d,e,f,g', '']), pick(eols));
  for (let n = 0; n < rows; n++) {
    const r = rnd();
    time += r < 0.3 ? 0 : r < 0.95 ? Math.floor(rnd() * 900) : Math.floor(rnd() * 200_000);
    cents = Math.max(1, cents + Math.floor(rnd() * 41) - 20);
    let price = `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}000000`;
    let qty = `${Math.floor(rnd() * 3)}.${String(Math.floor(rnd() * 1e8)).padStart(8, '0')}`;
    const count = rnd() < 0.7 ? 1 : 1 + Math.floor(rnd() * 5);
    let idText = String(id);
    let first = String(tradeId);
    let last = String(tradeId + count - 1);
    let t = time;
    let timeText = String(t);
    let maker = rnd() < 0.5 ? 'True' : 'False';
    let tail = layout === 'agg' ? (rnd() < 0.5 ? ',True' : '') : rnd() < 0.5 ? ',True' : '';
    const e = rnd();
    if (e < 0.02) price = `${(cents / 100).toExponential()}`; // 4.2e+4
    else if (e < 0.03) qty = `${(Number(qty) || 1e-7).toExponential(3)}`; // 1.234e-1, 1e-7
    else if (e < 0.04) price = `000${price}`;
    else if (e < 0.05) idText = `00${idText}`;
    else if (e < 0.06) price = `${price}4567`; // 12 fraction digits: rounds at the 9th
    else if (e < 0.07) qty = `.${qty.split('.')[1]}`;
    else if (e < 0.075) qty = `${qty.split('.')[0]}.`;
    else if (e < 0.09) timeText = String(t * 1000 + Math.floor(rnd() * 1000)); // µs
    else if (e < 0.1) maker = pick(['true', 'FALSE', 'tRuE', 'false']);
    else if (e < 0.105) maker = pick(['maybe', 'T', 'truex', '']);
    else if (e < 0.11) tail = ',True,extra';
    else if (e < 0.115) price = pick(['', '-1.5', '1.2.3', 'abc', '1e', 'NaN', 'Infinity', '0x10', ' 42000.1']);
    else if (e < 0.12) qty = pick(['', '-0.1', '1,5', 'e5', '١٢']);
    else if (e < 0.125) idText = pick(['', '-3', '12a', '99999999999999999', '9007199254740993', '1.0']);
    else if (e < 0.13) timeText = pick(['', '17092512e5', '-1', '12345678901234567']);
    else if (e < 0.135) [first, last] = [last, first]; // last before first when count > 1
    else if (e < 0.14) id -= 1 + Math.floor(rnd() * 3); // repeated id
    else if (e < 0.145) id += 1 + Math.floor(rnd() * 50); // id jump
    else if (e < 0.155) timeText = String(t - Math.floor(rnd() * 300_000)); // out of order, sometimes late
    else if (e < 0.16) out.push(pick(['', ' ', 'garbage', 'é,ü,ß', '1,2,3,4,5,6,7,8,9']), pick(eols));
    else if (e < 0.162) price = `${price}é`;
    else if (e < 0.165) out.push(pick(eols)); // an empty line
    else if (e < 0.166) first = '00000000000000000000012';
    const fields = layout === 'agg' ? [idText, price, qty, first, last, timeText, maker] : [idText, price, qty, pick(['0.1', '', 'x']), timeText, maker];
    out.push(fields.join(',') + tail, pick(eols));
    id++;
    tradeId += count;
  }
  if (rnd() < 2) out.pop(); // no trailing line end
  return out.join('');
}

test('100,000 seeded random rows with edge cases: same candles, counts and diagnostics for 13 timeframes at once and alone', async () => {
  const path = join(dir, 'random-agg.csv');
  writeFileSync(path, randomDump(18, 100_000, 'agg'));
  const ref = await assertSame(path, 'binance-aggtrades-csv', TIMEFRAMES);
  // The edge cases are there: each kind of outcome occurs.
  const s = ref.stats;
  assert.ok(s.accepted > 80_000 && s.bad > 1000 && s.skipped > 100 && s.duplicates > 100 && s.idJumps > 100 && s.outOfOrder > 100, JSON.stringify(s));
  assert.ok((ref.stats.perTimeframe['1m'] as { late: number }).late > 100, 'late trades for 1m');
  await assertSame(path, 'binance-aggtrades-csv', ['1m', '1h'], { from: Date.UTC(2024, 2, 2), to: Date.UTC(2024, 2, 3, 12) });
});

test('random trades-CSV rows with edge cases: same candles, counts and diagnostics', async () => {
  const path = join(dir, 'random-trades.csv');
  writeFileSync(path, randomDump(19, 30_000, 'plain'));
  await assertSame(path, 'binance-trades-csv', ['1s', '1m', '15m', '1d']);
});

test('the scanner gives readline\'s lines and the line parser\'s trades wherever the chunks are cut', async () => {
  const text = randomDump(7, 60, 'agg') + '\r\n1,2,3,4,4,5,true\r';
  const bytes = Buffer.from(text, 'utf8');
  // Reference: readline's line splitting and the line parser.
  const { createInterface } = await import('node:readline');
  const { Readable } = await import('node:stream');
  const expected: string[] = [];
  let n = 0;
  for await (const line of createInterface({ input: Readable.from([bytes]), crlfDelay: Infinity })) {
    n++;
    const r = n === 1 ? null : LINE_PARSERS['binance-aggtrades-csv'](line, 'BTC-USDT');
    expected.push(r !== null && !('error' in r) ? `${n} trade ${JSON.stringify(r)}` : `${n} line ${JSON.stringify(line)}`);
  }
  const scanned = (cuts: number[]): string[] => {
    const got: string[] = [];
    const scanner = new CsvScanner('aggtrades', 'BTC-USDT', {
      trade: (t, price, qty, lineNo) => {
        const exact = fixed8();
        assert.ok(parseFixed8(t.price, exact) && exact.int === price.int && exact.frac === price.frac, `line ${lineNo}: price`);
        assert.ok(parseFixed8(t.qty, exact) && exact.int === qty.int && exact.frac === qty.frac, `line ${lineNo}: qty`);
        got.push(`${lineNo} trade ${JSON.stringify({ ...t })}`);
      },
      line: (line, lineNo) => {
        const r = lineNo === 1 ? null : LINE_PARSERS['binance-aggtrades-csv'](line, 'BTC-USDT');
        got.push(r !== null && !('error' in r) ? `${lineNo} trade ${JSON.stringify(r)}` : `${lineNo} line ${JSON.stringify(line)}`);
      },
    });
    let at = 0;
    for (const c of [...cuts, bytes.length]) {
      scanner.push(bytes.subarray(at, c));
      at = c;
    }
    scanner.end();
    return got;
  };
  assert.deepEqual(scanned([]), expected, 'one chunk');
  for (let cut = 0; cut <= bytes.length; cut++) assert.deepEqual(scanned([cut]), expected, `cut at byte ${cut}`);
  const rnd = mulberry32(3);
  for (let k = 0; k < 200; k++) {
    const cuts = Array.from({ length: 1 + Math.floor(rnd() * 20) }, () => Math.floor(rnd() * bytes.length)).sort((a, b) => a - b);
    assert.deepEqual(scanned(cuts), expected, `cuts ${cuts.join(',')}`);
  }
});
