/**
 * Store write throughput: candle rows/s upserted in CandleWriter-sized batches (5,000 rows) into SQLite (a
 * file, WAL, as `run` uses it) and into PostgreSQL (the local server, a scratch schema dropped afterwards),
 * on the same candles. Three phases: new rows (insert), the same keys again with new values (update), and
 * the live pattern of forming candles rewritten every flush until they close (forming). Prints both stores
 * and the ratio; asserts nothing.
 *
 *   node dist/bench/store-write.js [rows]        (CANDLESTACK_BENCH_PG_URL overrides the server URL)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Candle } from '../src/core/types.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { PostgresStore } from '../src/store/postgres.js';
import type { Store } from '../src/store/store.js';
import { createMetrics, createRegistry } from '../src/telemetry/metrics.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { mulberry32 } from './workload.js';

const BATCH = 5_000;
const PG_URL = process.env.CANDLESTACK_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** `rows` 1m candles over 100 symbols with realistic 8-decimal strings; `variant` changes the values, not the keys. */
function candles(rows: number, variant: number): Candle[] {
  const rnd = mulberry32(7 + variant);
  const t0 = Date.UTC(2024, 0, 1);
  const out: Candle[] = new Array(rows);
  for (let i = 0; i < rows; i++) {
    const p = 10 + rnd() * 50_000;
    const d = (x: number) => x.toFixed(8);
    out[i] = {
      exchange: 'binance',
      symbol: `S${String(i % 100).padStart(3, '0')}USDT`,
      timeframe: '1m',
      openTime: t0 + Math.floor(i / 100) * 60_000,
      open: d(p),
      high: d(p * 1.001),
      low: d(p * 0.999),
      close: d(p * (1 + (rnd() - 0.5) / 1000)),
      volume: d(rnd() * 100),
      quoteVolume: d(rnd() * 100 * p),
      takerBuyVolume: d(rnd() * 50),
      tradeCount: Math.floor(rnd() * 5_000),
      vwap: d(p),
      closed: variant > 0,
      source: 'trades',
      revision: 0,
    };
  }
  return out;
}

async function rowsPerSecond(store: Store, data: Candle[]): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < data.length; i += BATCH) await store.upsert(data.slice(i, i + BATCH));
  return data.length / (Number(process.hrtime.bigint() - start) / 1e9);
}

/**
 * The live pattern: every flush rewrites the forming candle of each of 500 series (one batch of 500), 10
 * times per period, the last write closing it; 40 periods.
 */
async function formingRowsPerSecond(store: Store): Promise<number> {
  const series = 500;
  const t0 = Date.UTC(2025, 0, 1);
  let written = 0;
  const start = process.hrtime.bigint();
  for (let period = 0; period < 40; period++) {
    for (let k = 1; k <= 10; k++) {
      const batch: Candle[] = new Array(series);
      for (let s = 0; s < series; s++) {
        const p = (1000 + s + k / 100).toFixed(8);
        batch[s] = { exchange: 'binance', symbol: `F${s}USDT`, timeframe: '1m', openTime: t0 + period * 60_000, open: p, high: p, low: p, close: p, volume: (k * 1.5).toFixed(8), quoteVolume: (k * 1500).toFixed(8), takerBuyVolume: (k * 0.5).toFixed(8), tradeCount: k * 7, vwap: p, closed: k === 10, source: 'trades', revision: 0 };
      }
      await store.upsert(batch);
      written += series;
    }
  }
  return written / (Number(process.hrtime.bigint() - start) / 1e9);
}

interface Rates {
  insert: number;
  update: number;
  forming: number;
}

async function measure(store: Store, rows: number): Promise<Rates> {
  const insert = await rowsPerSecond(store, candles(rows, 0));
  const update = await rowsPerSecond(store, candles(rows, 1));
  const forming = await formingRowsPerSecond(store);
  return { insert, update, forming };
}

export async function benchStoreWrite(rows = 200_000): Promise<{ sqlite: Rates; postgres: Rates }> {
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-bench-store-'));
  const sqlite = new SqliteStore(join(dir, 'bench.db'));
  let sqliteRates;
  try {
    sqliteRates = await measure(sqlite, rows);
  } finally {
    await sqlite.close();
    rmSync(dir, { recursive: true, force: true });
  }

  const schema = `candlestack_bench_${process.pid}`;
  const url = new URL(PG_URL);
  url.searchParams.set('schema', schema);
  const postgres = await PostgresStore.open({ url: url.toString(), now: Date.now, metrics: createMetrics(createRegistry({ defaults: false })).store, log: silentLogger() });
  let pgRates;
  try {
    pgRates = await measure(postgres, rows);
  } finally {
    await postgres.close();
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
  return { sqlite: sqliteRates, postgres: pgRates };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = Number(process.argv[2] ?? 200_000);
  console.log(`machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}; ${fmt(rows)} candle rows in batches of ${fmt(BATCH)}`);
  const r = await benchStoreWrite(rows);
  for (const phase of ['insert', 'update', 'forming'] as const) {
    console.log(`${phase.padEnd(7)}  SQLite ${fmt(r.sqlite[phase]).padStart(9)} rows/s   PostgreSQL ${fmt(r.postgres[phase]).padStart(9)} rows/s   PostgreSQL/SQLite ${(r.postgres[phase] / r.sqlite[phase]).toFixed(2)}`);
  }
}
