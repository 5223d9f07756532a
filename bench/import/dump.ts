/**
 * The offline-import benchmark's input: a seeded synthetic Binance aggTrades CSV (the columns of
 * data.binance.vision's dumps: agg id, price, qty, first id, last id, time in ms, buyer-was-maker,
 * best-match), written once and reused while its size and seed match. 2,000,000 rows are ~137 MB.
 *
 *   node dist/bench/import/dump.js [--rows N] [--out FILE] [--gz]
 */
import { createWriteStream, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createReadStream } from 'node:fs';
import { createGzip } from 'node:zlib';
import { parseArgs } from 'node:util';
import { mulberry32 } from '../../src/core/random.js';

export const DEFAULT_ROWS = 2_000_000;
const SEED = 18;

/** Writes `rows` aggTrades rows to `path` (no header, like the older dumps). Deterministic for a seed. */
export async function writeDump(path: string, rows: number, seed = SEED): Promise<void> {
  const rnd = mulberry32(seed);
  const out = createWriteStream(path);
  let price = 43_000;
  let id = 3_000_000_000;
  let tradeId = 3_500_000_000;
  // About a day and a quarter of trading (mean gap ~55 ms, like a busy BTCUSDT day): bursts of trades in the
  // same millisecond, and now and then a quiet stretch of up to 40 s (empty seconds).
  let time = Date.UTC(2024, 2, 1);
  let chunk = '';
  for (let n = 0; n < rows; n++) {
    const r = rnd();
    time += r < 0.4 ? 0 : r < 0.999 ? Math.floor(rnd() * 150) : Math.floor(rnd() * 40_000);
    price = Math.max(1, price * (1 + (rnd() - 0.5) * 0.0004));
    const qty = 0.00001 + (rnd() < 0.9 ? rnd() * 0.2 : rnd() * 5); // never 0: the engine refuses a zero quantity
    const count = rnd() < 0.7 ? 1 : 1 + Math.floor(rnd() * 6);
    const first = tradeId;
    tradeId += count;
    chunk += `${id++},${price.toFixed(2)}000000,${qty.toFixed(5)}000,${first},${first + count - 1},${time},${rnd() < 0.5 ? 'True' : 'False'},True\n`;
    if (chunk.length > 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

/** The bench file (and its .gz): generated into the temp directory once per row count and seed. */
export async function benchDump(rows = DEFAULT_ROWS, dir = tmpdir()): Promise<{ csv: string; gz: string; bytes: number }> {
  const csv = join(dir, `candlestack-bench-aggtrades-v3-${rows}-s${SEED}.csv`);
  const gz = `${csv}.gz`;
  const stamp = `${csv}.done`;
  if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== String(statSync(csv, { throwIfNoEntry: false })?.size)) {
    await writeDump(csv, rows);
    await pipeline(createReadStream(csv), createGzip({ level: 6 }), createWriteStream(gz));
    writeFileSync(stamp, String(statSync(csv).size));
  }
  return { csv, gz, bytes: statSync(csv).size };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { rows: { type: 'string' }, out: { type: 'string' } } });
  const rows = values.rows === undefined ? DEFAULT_ROWS : Number(values.rows);
  if (values.out) await writeDump(values.out, rows);
  else console.log(JSON.stringify(await benchDump(rows)));
}
