/**
 * Process faults: `candlestack run` as a child process against the simulated Binance on loopback, on a SQLite
 * file, killed with SIGKILL at seeded random moments and started again, at least FAULT_KILLS times (default 3;
 * `npm run faults:long` 10), and more while the next minute boundary is far: the last run has to pass a 1m close
 * anyway, so that wait is spent killing (most runs kill 5-10 times in the same wall time). After
 * a last run that is stopped gracefully: no duplicate candle, no candle of an ended period left open, no
 * missing period, every candle built from trades or repaired by backfill, and every closed one equal to the
 * simulator's own kline of its period; `PRAGMA integrity_check` is ok.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { timeframeMs, type Timeframe } from '../../src/core/timeframe.js';
import { SimulatedBinance } from '../../src/demo/simulated-binance/server.js';
import { sleep } from '../support/harness.js';
import { simKlines, wrongCandles } from './sim-truth.js';
import { mulberry32 } from '../../src/core/random.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const KILLS = Number(process.env.FAULT_KILLS ?? 3);
/** Past KILLS, another kill cycle starts only while the next minute boundary is further away than this. */
const FILL_UNTIL_BOUNDARY_MS = 15_000;
/** A fill cycle kills at the latest this long before the boundary, so that the last run connects before it (else it waits for the next minute). */
const FILL_MARGIN_MS = 8_000;
const SEED = Number(process.env.FAULT_SEED ?? 19);
const SYMBOLS = ['BTC-USDT', 'ETH-USDT'];
const TIMEFRAMES: Timeframe[] = ['1s', '1m'];
/** The default grace: under load a trade can reach the process a second after its period ended. */
const GRACE_MS = 2_000;

interface Row {
  symbol: string;
  timeframe: Timeframe;
  openTime: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  tradeCount: number;
  closed: boolean;
  source: string;
}

test(`candlestack run killed with SIGKILL (at least ${KILLS} times): no duplicates, nothing left open, every candle equal to the exchange's`, { timeout: 120_000 + KILLS * 15_000 }, async (t) => {
  const random = mulberry32(SEED);
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-kill-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, 'candles.db');
  const sim = new SimulatedBinance({ seed: SEED, tradesPerSecond: 40, symbols: SYMBOLS });
  const { wsBaseUrl, restBaseUrl } = await sim.start();
  t.after(() => sim.stop());
  let child: ChildProcess | null = null;
  t.after(() => void child?.kill('SIGKILL'));
  /** Starts a run; `connected` resolves when it logged its feed connection. */
  const start = (): { child: ChildProcess; connected: Promise<void> } => {
    const c = spawn(process.execPath, [MAIN, 'run', '--exchanges', 'binance', '--symbols', SYMBOLS.join(','), '--ws-url', wsBaseUrl, '--rest-url', restBaseUrl, '--timeframes', TIMEFRAMES.join(','), '--grace', `${GRACE_MS / 1000}s`, '--stale-after', '5s', '--store', `sqlite:${db}`, '--port', '0', '--log-level', process.env.FAULT_LOG_DIR ? 'debug' : 'info', '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // FAULT_LOG_DIR=DIR keeps each run's log (debug level) as DIR/run-N.log
    if (process.env.FAULT_LOG_DIR) c.stdout!.pipe(createWriteStream(join(process.env.FAULT_LOG_DIR, `run-${killedAt.length}.log`)));
    let seen = '';
    const connected = new Promise<void>((resolve) => {
      const onData = (d: Buffer) => {
        seen = (seen + d.toString()).slice(-2_000);
        if (seen.includes('"msg":"connected"')) {
          c.stdout!.off('data', onData);
          resolve();
        }
      };
      c.stdout!.on('data', onData);
    });
    let stderr = '';
    c.stderr!.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-4_000)));
    c.on('exit', (code, signal) => {
      if (code !== 0 && signal !== 'SIGKILL' && code !== null) t.diagnostic(`run exited ${code}: ${stderr}`);
    });
    return { child: c, connected };
  };
  const exited = (c: ChildProcess) => new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve())));

  const firstStart = Date.now();
  const killedAt: number[] = [];
  /** [kill, the next run's feed connection]: the times no process saw trades. */
  const down: [number, number][] = [];
  const toBoundary = () => Math.ceil((Date.now() + 1) / 60_000) * 60_000 - Date.now();
  for (let i = 0; i < KILLS || toBoundary() > FILL_UNTIL_BOUNDARY_MS; i++) {
    // a fill cycle (past KILLS) keeps its kill and down time before the boundary
    const bound = (ms: number) => (i < KILLS ? ms : Math.max(0, Math.min(ms, toBoundary() - FILL_MARGIN_MS)));
    const run = start();
    child = run.child;
    // a moment anywhere in the first 4 s after the feed connected (seeded); start-up itself takes seconds on a busy machine
    await run.connected;
    if (i > 0) down[i - 1]![1] = Date.now();
    await sleep(bound(Math.floor(random() * 4_000)));
    killedAt.push(Date.now());
    down.push([Date.now(), Number.POSITIVE_INFINITY]);
    child.kill('SIGKILL');
    await exited(child);
    await sleep(bound(Math.floor(random() * 1_500))); // down for a while: a startup gap to backfill
  }
  // A last run long enough to backfill what the kills lost and to close a 1m period, then a graceful stop.
  const last = start();
  child = last.child;
  await last.connected;
  down[down.length - 1]![1] = Date.now();
  // The first minute boundary after the last kill: every 1m period with down time before it is closed and
  // repaired by then. (When this run connected after it, the 1m candle it joined part way is still forming at
  // the stop and not judged; the fill cycles' restarts join 1m candles part way before the boundary.)
  const nextMinute = Math.ceil((killedAt.at(-1)! + 1) / 60_000) * 60_000;
  // past the 1m close and its repair: grace + the backfiller's settle and check + a flush (and 8 s after connecting: the 1s repairs)
  await sleep(Math.max(8_000, nextMinute + GRACE_MS + 7_000 - Date.now()));
  const stoppedAt = Date.now();
  child.kill('SIGTERM');
  await exited(child);
  assert.equal(child.exitCode, 0, 'the last run stopped gracefully');

  const sqlite = new Database(db, { readonly: true });
  t.after(() => sqlite.close());
  const integrity = sqlite.pragma('integrity_check', { simple: true });
  assert.equal(integrity, 'ok', 'PRAGMA integrity_check');
  const duplicates = sqlite.prepare('SELECT exchange, symbol, timeframe, open_time, count(*) AS n FROM candles GROUP BY exchange, symbol, timeframe, open_time HAVING n > 1').all();
  assert.deepEqual(duplicates, [], 'no duplicate candles');
  const repairs = sqlite.prepare('SELECT symbol, timeframe, first_open AS first, last_open AS last FROM pending_repairs').all() as { symbol: string; timeframe: Timeframe; first: number; last: number }[];
  const repairsLeft = repairs.length;
  const rows = (sqlite.prepare('SELECT symbol, timeframe, open_time AS openTime, open, high, low, close, volume, trade_count AS tradeCount, closed, source FROM candles ORDER BY symbol, timeframe, open_time').all() as (Omit<Row, 'closed'> & { closed: number })[]).map((r) => ({ ...r, closed: r.closed === 1 }));

  let compared = 0;
  let backfilled = 0;
  let fromTrades = 0;
  const wrong: string[] = [];
  /** Wrong candles of periods that overlap no down time (built from trades the process saw and stored throughout). */
  let wrongWhileUp = 0;
  const leftOpen: string[] = [];
  const missing: string[] = [];
  for (const symbol of SYMBOLS) {
    for (const tf of TIMEFRAMES) {
      const ms = timeframeMs(tf);
      const series = rows.filter((r) => r.symbol === symbol && r.timeframe === tf);
      assert.ok(series.length > 0, `${symbol} ${tf} has candles`);
      // ended (and past its grace) well before the graceful stop: must be closed
      for (const r of series) if (!r.closed && r.openTime + ms + GRACE_MS + 1_000 < stoppedAt) leftOpen.push(`${symbol} ${tf} ${new Date(r.openTime).toISOString()}`);
      const first = series[0]!.openTime;
      const lastClosed = series.filter((r) => r.closed).at(-1)?.openTime ?? first;
      const opens = new Set(series.map((r) => r.openTime));
      for (let p = first; p <= lastClosed; p += ms) if (!opens.has(p)) missing.push(`${symbol} ${tf} ${new Date(p).toISOString()}`);
      for (const r of series) assert.ok(r.source === 'trades' || r.source === 'backfill', `${symbol} ${tf} ${r.openTime}: source ${r.source}`);
      // The very first period was joined part way (the first run saw only its tail): the exchange's kline of
      // it has trades from before, so it is compared only when it was backfilled.
      const judged = series.filter((r) => r.closed && (r.openTime > first || r.source === 'backfill'));
      const truth = await simKlines(restBaseUrl, symbol.replace('-', ''), tf, first, lastClosed + ms);
      // a period still in its grace (or not yet flushed) at a kill lost trades held in memory too
      const overlapsDown = (r: Row) => down.some(([from, to]) => r.openTime < to && r.openTime + ms + GRACE_MS + 1_000 > from);
      wrong.push(...wrongCandles(`${symbol} ${tf}`, judged, truth));
      wrongWhileUp += wrongCandles(`${symbol} ${tf}`, judged.filter((r) => !overlapsDown(r)), truth).length;
      compared += judged.length;
      backfilled += judged.filter((r) => r.source === 'backfill').length;
      fromTrades += judged.filter((r) => r.source === 'trades').length;
    }
  }
  t.diagnostic(`faults.process kill -9 x${killedAt.length} (at least ${KILLS}, seed ${SEED}) over ${((stoppedAt - firstStart) / 1000).toFixed(0)} s: ${rows.length} candles stored, ${compared} closed compared with the exchange's klines (${fromTrades} from trades, ${backfilled} repaired by backfill): ${wrong.length} wrong (${wrongWhileUp} of periods without down time), ${leftOpen.length} ended left open, ${missing.length} missing, ${duplicates.length} duplicates, integrity_check ${integrity}; ${repairsLeft} pending repairs left stored at the stop`);
  if (repairsLeft > 0) t.diagnostic(`faults.process pending repairs at the stop (${new Date(stoppedAt).toISOString().slice(11, 23)}): ${repairs.map((r) => `${r.symbol} ${r.timeframe} ${new Date(r.first).toISOString().slice(11, 19)}..${new Date(r.last).toISOString().slice(11, 19)}`).join('; ')}`);
  if (wrong.length + leftOpen.length + missing.length > 0) t.diagnostic(`faults.process kills at ${killedAt.map((k) => new Date(k).toISOString().slice(11, 23)).join(', ')}; ${[...wrong, ...leftOpen, ...missing].slice(0, 20).join('; ')}`);
  assert.deepEqual(leftOpen, [], 'no candle of an ended period left open');
  assert.deepEqual(missing, [], 'no period missing');
  assert.equal(wrongWhileUp, 0, 'every closed candle of a period the process saw throughout equals the exchange\'s kline');
  assert.ok(killedAt.length >= KILLS, `${killedAt.length} kills`);
  // The periods with down time (the candle forming at a kill, the one joined part way after a restart) were
  // repaired from the exchange's klines, even when the next kill came before the repair ran: pending repairs
  // are stored (pending_repairs) and re-queued by the next start.
  await t.test('every closed candle of a period with down time was repaired to the exchange\'s kline', () => {
    assert.deepEqual(wrong, []);
  });
});
