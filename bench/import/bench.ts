/**
 * Bench 8: the offline import, whole processes on the same seeded 2,000,000-row aggTrades CSV, as a user runs
 * them (start-up, reading the raw text, parsing, aggregating, writing the bars), median of `rounds` runs with
 * the commands alternating:
 *   floor        bench/import/floor.ts: cut lines and fields, Number() on price, qty, time (no candles)
 *   candlestack  candlestack candles --timeframe 1m (stdout to a file)
 *   ccxt         bench/import/ccxt-script.ts: load ccxt, split the file, buildOHLCVC 1m
 *   tardis-dev   bench/import/tardis-script.ts: readline, compute(computeTradeBars 1m)
 *   13 tf        candlestack candles --timeframe <all 13> --out-dir DIR
 *   .gz          candlestack candles --timeframe 1m on the gzipped file, and `gzip -dc` of it alone
 * Wall time is the target's measure; CPU time (user + sys) and peak RSS come from GNU time when it is installed.
 *
 *   node dist/bench/import/bench.js [--rounds 3] [--rows 2000000]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TIMEFRAMES } from '../../src/core/timeframe.js';
import { DEFAULT_ROWS, benchDump } from './dump.js';

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const CLI = here('../../src/cli/main.js');
const GNU_TIME = '/usr/bin/time';

export interface Measured {
  wallS: number;
  cpuS: number | null;
  rssMB: number | null;
}

/** Runs one command to completion (stdout to `out`), timing it. Throws on a non-zero exit. */
function measure(cmd: string, args: string[], out: string): Measured {
  const fd = openSync(out, 'w');
  const timed = existsSync(GNU_TIME);
  const start = process.hrtime.bigint();
  const r = timed
    ? spawnSync(GNU_TIME, ['-f', '@@ %U %S %M', cmd, ...args], { stdio: ['ignore', fd, 'pipe'], maxBuffer: 1 << 24 })
    : spawnSync(cmd, args, { stdio: ['ignore', fd, 'pipe'], maxBuffer: 1 << 24 });
  const wallS = Number(process.hrtime.bigint() - start) / 1e9;
  closeSync(fd);
  const stderr = r.stderr.toString();
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${stderr.slice(-500)}`);
  const m = /@@ ([\d.]+) ([\d.]+) (\d+)\s*$/.exec(stderr);
  return { wallS, cpuS: m ? Number(m[1]) + Number(m[2]) : null, rssMB: m ? Number(m[3]) / 1024 : null };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export type ImportCase = 'floor' | 'candlestack' | 'ccxt' | 'tardis' | 'all13' | 'gz' | 'gunzip';

export interface ImportBench {
  rows: number;
  bytes: number;
  rounds: number;
  /** Median per case. */
  results: Record<ImportCase, Measured>;
  /** The 1m CSV of `--out-dir` equals the 1m CSV on stdout, and the .gz run's equals the plain one's. */
  sameOutput: boolean;
}

export async function benchImport(rounds = 3, rows = DEFAULT_ROWS): Promise<ImportBench> {
  const dump = await benchDump(rows);
  const work = mkdtempSync(join(tmpdir(), 'candlestack-import-bench-'));
  try {
    const candles = (input: string, ...more: string[]) => [CLI, 'candles', '--input', input, '--format', 'binance-aggtrades-csv', '--symbol', 'BTCUSDT', ...more];
    const node = process.execPath;
    const cases: Record<ImportCase, () => Measured> = {
      floor: () => measure(node, [here('./floor.js'), dump.csv], join(work, 'floor.txt')),
      candlestack: () => measure(node, candles(dump.csv, '--timeframe', '1m'), join(work, 'candlestack-1m.csv')),
      ccxt: () => measure(node, [here('./ccxt-script.js'), dump.csv, '1m'], join(work, 'ccxt-1m.csv')),
      tardis: () => measure(node, [here('./tardis-script.js'), dump.csv, '60000'], join(work, 'tardis-1m.csv')),
      all13: () => measure(node, candles(dump.csv, '--timeframe', TIMEFRAMES.join(','), '--out-dir', work), join(work, 'all13.txt')),
      gz: () => measure(node, candles(dump.gz, '--timeframe', '1m'), join(work, 'candlestack-gz-1m.csv')),
      gunzip: () => measure('gzip', ['-dc', dump.gz], '/dev/null'),
    };
    const samples = Object.fromEntries(Object.keys(cases).map((k) => [k, [] as Measured[]])) as Record<ImportCase, Measured[]>;
    for (let round = 0; round < rounds; round++) {
      for (const [name, run] of Object.entries(cases) as [ImportCase, () => Measured][]) samples[name].push(run());
    }
    const pick = (xs: Measured[]): Measured => {
      const cpu = xs.map((x) => x.cpuS).filter((x): x is number => x !== null);
      const rss = xs.map((x) => x.rssMB).filter((x): x is number => x !== null);
      return { wallS: median(xs.map((x) => x.wallS)), cpuS: cpu.length ? median(cpu) : null, rssMB: rss.length ? Math.max(...rss) : null };
    };
    const results = Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, pick(xs)])) as Record<ImportCase, Measured>;
    const plain = readFileSync(join(work, 'candlestack-1m.csv'));
    const sameOutput = plain.length > 0 && plain.equals(readFileSync(join(work, 'BTCUSDT-1m.csv'))) && plain.equals(readFileSync(join(work, 'candlestack-gz-1m.csv')));
    return { rows, bytes: dump.bytes, rounds, results, sameOutput };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, rows: { type: 'string' } } });
  const r = await benchImport(Number(values.rounds), values.rows === undefined ? DEFAULT_ROWS : Number(values.rows));
  const f = (m: Measured) => `${m.wallS.toFixed(2)} s wall, ${m.cpuS?.toFixed(2) ?? '?'} s CPU, ${m.rssMB?.toFixed(0) ?? '?'} MB peak RSS`;
  for (const [k, m] of Object.entries(r.results)) console.log(`${k.padEnd(12)} ${f(m)}`);
  const x = r.results;
  console.log(`1 timeframe / floor: ${(x.candlestack.wallS / x.floor.wallS).toFixed(2)} (target <= 1.3); ccxt / candlestack ${(x.ccxt.wallS / x.candlestack.wallS).toFixed(2)}, tardis-dev / candlestack ${(x.tardis.wallS / x.candlestack.wallS).toFixed(2)} (target >= 2.5)`);
  console.log(`13 timeframes / floor: ${(x.all13.wallS / x.floor.wallS).toFixed(2)} (target <= 1.6); (.gz - gunzip alone) / plain: ${((x.gz.wallS - x.gunzip.wallS) / x.candlestack.wallS).toFixed(2)} (target <= 1.3); same output: ${r.sameOutput}`);
  console.log(JSON.stringify(r));
}
