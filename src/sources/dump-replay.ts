/**
 * Replays a Binance trade dump through the live CandleEngine: the one offline engine behind `candlestack
 * candles` (CSV on stdout or files) and `candlestack import` (into the store). Both get the same closed
 * candles for a timeframe.
 *
 * Two readers, one result:
 * - CSV dumps: the byte scanner (csv-scanner.ts; lines it is not sure of go through the line parsers of
 *   binance-dumps.ts) and one engine for every timeframe (`replayCsv`).
 * - jsonl recordings (and CSV with `reader: 'lines'`): readline, the line parsers, one engine per timeframe
 *   (`replayLines`). It is also the reference the fast reader is tested against
 *   (test/dump-reader-differential.test.ts: same candles, counts and diagnostics).
 *
 * Replay rules:
 * - The engines run on a replay clock whose now() is the latest trade time seen; its timers are never used.
 *   Every timeframe gets exactly what a replay of that timeframe alone gives (see `replayCsv` for why one
 *   engine for all of them does).
 * - grace 0: a period closes as soon as a trade of a later period arrives (engine.tick right after the
 *   roll), as a dump has no network reordering to wait for. A trade for a period already closed is late:
 *   dropped (policy `drop`) and counted. Amending is not used: it would re-set the closed candle's close.
 * - Trade ids must increase, as in the live collector: an id not above the previous one is a duplicate
 *   (skipped, counted); an id jump (missing ids) is counted, not fatal.
 * - Empty periods between trades come from the engine (open = high = low = close = previous close).
 * - At the end of the input every timeframe's last period is closed, complete or not.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Clock, Timer } from '../core/clock.js';
import { periodStart, timeframeMs, type Timeframe } from '../core/timeframe.js';
import type { Candle, CandleEvent, Trade } from '../core/types.js';
import type { TradeStream } from '../exchanges/adapter.js';
import { CandleEngine } from '../pipeline/candle-engine.js';
import { silentLogger } from '../telemetry/logger.js';
import { LINE_PARSERS, isCsvHeader, wsTradeStream, type DumpFormat, type LineParser } from './binance-dumps.js';
import { CsvScanner } from './csv-scanner.js';
import type { Fixed8 } from '../core/decimal.js';

export interface ReplaySpec {
  input: string;
  format: DumpFormat;
  /** Canonical symbol (BTC-USDT). */
  symbol: string;
  timeframes: readonly Timeframe[];
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
  /** `lines`: read a CSV dump line by line like a jsonl one (the reference for the fast reader). Default `fast`. */
  reader?: 'fast' | 'lines';
  /** Called after each chunk of the fast reader: input bytes read so far (of the file, compressed or not). */
  progress?: (bytesRead: number, stats: ReplayStats) => void;
}

/** Where the closed candles go. `flush` runs between lines when `shouldFlush` says so, and once at the end. */
export interface ReplaySink {
  /** One closed candle; per timeframe in open_time order, each period once. */
  candle(c: Candle): void;
  shouldFlush(): boolean;
  flush(): Promise<void>;
  /** True once the sink cannot take more (stdout closed, store failed): the replay stops reading. */
  stopped(): boolean;
}

export interface ReplayTimeframeStats {
  /** Closed candles handed to the sink. */
  rows: number;
  /** Trades dropped as late by this timeframe's engine. */
  late: number;
  /** Trades used by this timeframe (accepted minus its late ones). */
  trades: number;
  /** Periods the engine did not fill (a time jump longer than its limit). */
  missingPeriods: number;
}

export interface ReplayStats {
  accepted: number;
  bad: number;
  skipped: number;
  outOfRange: number;
  duplicates: number;
  idJumps: number;
  missingIds: number;
  outOfOrder: number;
  /** Lines read. */
  lines: number;
  /** Reading the input failed mid-way (after `lines` lines). */
  failure: Error | null;
  perTimeframe: Map<Timeframe, ReplayTimeframeStats>;
}

const MAX_PRINTED = 20;

/** A clock for replays: now() is the latest event time fed to it. Timers are not supported (never fire). */
class ReplayClock implements Clock {
  private t = 0;
  advanceTo(time: number): void {
    if (time > this.t) this.t = time;
  }
  now(): number {
    return this.t;
  }
  setTimeout(): Timer {
    return { cancel() {} };
  }
  setInterval(): Timer {
    return { cancel() {} };
  }
}

/** Prints "line N: reason" diagnostics up to a cap per kind, then how many more there were. */
class Notes {
  private readonly counts = new Map<string, number>();
  constructor(private readonly out: NodeJS.WritableStream) {}
  note(kind: string, lineNo: number, reason: string): void {
    const n = (this.counts.get(kind) ?? 0) + 1;
    this.counts.set(kind, n);
    if (n <= MAX_PRINTED) this.out.write(`line ${lineNo}: ${reason}\n`);
  }
  finish(): void {
    for (const [kind, n] of this.counts) {
      if (n > MAX_PRINTED) this.out.write(`... ${n - MAX_PRINTED} more ${kind} not shown (${n} in all)\n`);
    }
  }
}

/**
 * The checks both readers make on every line and trade, counted in the stats and noted: the line parser's
 * verdict, ids strictly increasing (a repeat is dropped, a jump counted), the time range, time order (an
 * out-of-order trade is counted and noted, then taken: the engine decides whether it is late).
 */
class DumpChecks {
  private lastId = -1;
  private maxTime = -Infinity;
  private maxTimeLine = 0;
  constructor(
    private readonly s: ReplayStats,
    private readonly notes: Notes,
    private readonly parse: LineParser,
    private readonly symbol: string,
    private readonly from: number,
    private readonly to: number,
  ) {}

  /** The trade on a line, or null when the line is the CSV header, not a trade (skipped) or bad. */
  parseLine(line: string, lineNo: number, csv: boolean): Trade | null {
    if (lineNo === 1 && csv && isCsvHeader(line)) return null;
    const r = this.parse(lineNo === 1 ? line.replace(/^\uFEFF/, '') : line, this.symbol);
    if (r === null) {
      this.s.skipped++;
      return null;
    }
    if ('error' in r) {
      this.badLine(lineNo, r.error);
      return null;
    }
    return r;
  }

  /** Whether a trade goes on to the engine: not a repeated id, inside the range. */
  admit(r: Trade, lineNo: number): boolean {
    const { s, lastId } = this;
    const id = r.id;
    if (lastId >= 0 && id <= lastId) {
      s.duplicates++;
      this.notes.note('duplicate ids', lineNo, `skipped: trade id ${id} is not above the previous id ${lastId}`);
      return false;
    }
    if (lastId >= 0 && id > lastId + 1) {
      s.idJumps++;
      s.missingIds += id - lastId - 1;
    }
    this.lastId = id;
    const time = r.time;
    if (time < this.from || time >= this.to) {
      s.outOfRange++;
      return false;
    }
    if (time < this.maxTime) {
      s.outOfOrder++;
      this.notes.note('out-of-order lines', lineNo, `out of order: time ${time} is before line ${this.maxTimeLine}'s time ${this.maxTime}`);
    } else {
      this.maxTime = time;
      this.maxTimeLine = lineNo;
    }
    return true;
  }

  /** The engine refused the trade's price or quantity. */
  notDecimal(r: Trade, lineNo: number): void {
    this.badLine(lineNo, `price ${JSON.stringify(r.price)} or quantity ${JSON.stringify(r.qty)} is not a decimal`);
  }

  private badLine(lineNo: number, reason: string): void {
    this.s.bad++;
    this.notes.note('bad lines', lineNo, reason);
  }
}

/** Why the input cannot be read at all (missing, a directory, no permission), or null when it can. */
export async function unreadableInput(path: string): Promise<string | null> {
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw new Error('is a directory');
    return null;
  } catch (e) {
    return `cannot read ${JSON.stringify(path)}: ${(e as Error).message}`;
  }
}

interface Lane {
  readonly timeframe: Timeframe;
  readonly tfMs: number;
  readonly engine: CandleEngine;
  period: number;
  lastOpen: number;
  readonly stats: ReplayTimeframeStats;
}

/**
 * Replays the dump into `sink`; diagnostics ("line N: reason", capped) go to `diagnostics`, prefixed by
 * `name` for internal errors. Never throws for bad input: bad lines are counted, a read failure is returned.
 *
 * CSV dumps are read by the fast reader (`replayCsv`); jsonl recordings, and CSV when `spec.reader` is
 * `lines`, line by line with readline and the line parsers (`replayLines`, the reference the fast reader is
 * tested against: test/dump-reader-differential.test.ts).
 */
export function replayDump(spec: ReplaySpec, sink: ReplaySink, diagnostics: NodeJS.WritableStream, name: string): Promise<ReplayStats> {
  return spec.format === 'binance-ws-jsonl' || spec.reader === 'lines' ? replayLines(spec, sink, diagnostics, name) : replayCsv(spec, sink, diagnostics, name);
}

function newStats(): ReplayStats {
  return { accepted: 0, bad: 0, skipped: 0, outOfRange: 0, duplicates: 0, idJumps: 0, missingIds: 0, outOfOrder: 0, lines: 0, failure: null, perTimeframe: new Map() };
}

/** The input as a stream of bytes: the file, gunzipped on the fly when its name ends in .gz. */
function openInput(path: string, highWaterMark?: number): { file: ReturnType<typeof createReadStream>; input: Readable } {
  const file = highWaterMark === undefined ? createReadStream(path) : createReadStream(path, { highWaterMark });
  const input: Readable = path.endsWith('.gz') ? pipeline(file, createGunzip(highWaterMark === undefined ? {} : { chunkSize: highWaterMark }), () => {}) : file;
  return { file, input };
}

/** The line-by-line replay: readline, the line parsers of binance-dumps.ts, one engine per timeframe. */
async function replayLines(spec: ReplaySpec, sink: ReplaySink, diagnostics: NodeJS.WritableStream, name: string): Promise<ReplayStats> {
  const { format, symbol } = spec;
  const from = spec.from ?? -Infinity;
  const to = spec.to ?? Infinity;
  const notes = new Notes(diagnostics);
  const s = newStats();

  const clock = new ReplayClock();
  const lanes: Lane[] = [...new Set(spec.timeframes)].map((timeframe) => {
    const tfMs = timeframeMs(timeframe);
    const stats: ReplayTimeframeStats = { rows: 0, late: 0, trades: 0, missingPeriods: 0 };
    s.perTimeframe.set(timeframe, stats);
    // emit runs only once trades arrive, after `lane` below is assigned.
    const emit = (ev: CandleEvent) => {
      if (ev.kind !== 'close' || ev.candle.timeframe !== timeframe) return;
      const c = ev.candle;
      if (c.openTime <= lane.lastOpen) {
        // The engine closes periods in order; a repeat would be an engine bug, never a second row.
        diagnostics.write(`${name}: internal: ${timeframe} period ${c.openTime} closed again after ${lane.lastOpen}; ignored\n`);
        return;
      }
      if (lane.lastOpen !== -Infinity && c.openTime > lane.lastOpen + tfMs) stats.missingPeriods += (c.openTime - lane.lastOpen) / tfMs - 1;
      lane.lastOpen = c.openTime;
      stats.rows++;
      sink.candle(c);
    };
    const engine = new CandleEngine({ timeframes: [timeframe], graceMs: 0, latePolicy: 'drop', clock, log: silentLogger(), emit });
    const lane: Lane = { timeframe, tfMs, engine, period: -Infinity, lastOpen: -Infinity, stats };
    return lane;
  });

  const csv = format !== 'binance-ws-jsonl';
  const checks = new DumpChecks(s, notes, LINE_PARSERS[format], symbol, from, to);
  let stream: TradeStream | null = null;
  let lineNo = 0;

  const { file, input } = openInput(spec.input);
  const rl = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of rl) {
      lineNo++;
      const r = checks.parseLine(line, lineNo, csv);
      if (r === null) continue;
      if (!csv) {
        const kind = wsTradeStream(line);
        if (stream === null) stream = kind;
        else if (kind !== stream) {
          s.skipped++;
          notes.note('other-stream lines', lineNo, `skipped: a ${kind} event while the file's ${symbol} trades come from the ${stream} stream`);
          continue;
        }
      }
      if (!checks.admit(r, lineNo)) continue;
      clock.advanceTo(r.time);
      // Every lane validates the same way: the first one decides whether the line is bad.
      if (!lanes[0]!.engine.onTrade(r)) {
        checks.notDecimal(r, lineNo);
        continue;
      }
      for (let i = 1; i < lanes.length; i++) lanes[i]!.engine.onTrade(r);
      s.accepted++;
      for (const lane of lanes) {
        const p = periodStart(r.time, lane.tfMs);
        if (p > lane.period) {
          // grace 0: the period before this trade's one is complete; close it now, not at the next roll.
          lane.period = p;
          lane.engine.tick(clock.now());
        }
      }
      if (sink.shouldFlush()) await sink.flush();
      if (sink.stopped()) break;
    }
  } catch (e) {
    s.failure = e as Error;
  } finally {
    rl.close();
    input.destroy();
    file.destroy();
  }
  if (!sink.stopped()) {
    for (const lane of lanes) lane.engine.closeAll(clock.now());
    await sink.flush();
  }
  notes.finish();
  s.lines = lineNo;

  for (const lane of lanes) {
    // Each engine runs one timeframe only: its late trades are this timeframe's.
    const { lateTrades } = lane.engine.status();
    lane.stats.late = lateTrades.dropped + lateTrades.amended + lateTrades.too_old;
    lane.stats.trades = s.accepted - lane.stats.late;
  }
  return s;
}

/** Chunk size of the fast reader (and of gunzip's output feeding it). */
const CHUNK_BYTES = 1 << 16;

/**
 * The fast replay of a CSV dump: the CsvScanner reads the bytes (lines it is not sure about go through the
 * line parser, as in `replayLines`), and one engine holds every timeframe. That engine gives each timeframe
 * exactly the closes an engine of that timeframe alone gives: its frames are independent state machines
 * (a trade late for 1m still goes into the open 1h candle), and a tick closes a frame only once the replay
 * clock (the latest accepted trade time) has passed its period's end, so ticking at every roll of any
 * timeframe closes nothing early; the replay ticks whenever the clock crosses the next boundary of any
 * timeframe, i.e. at least whenever `replayLines` ticks one of its engines.
 */
async function replayCsv(spec: ReplaySpec, sink: ReplaySink, diagnostics: NodeJS.WritableStream, name: string): Promise<ReplayStats> {
  const { format, symbol } = spec;
  const from = spec.from ?? -Infinity;
  const to = spec.to ?? Infinity;
  const notes = new Notes(diagnostics);
  const s = newStats();
  const clock = new ReplayClock();
  const timeframes = [...new Set(spec.timeframes)];
  const lanes = new Map<Timeframe, { tfMs: number; lastOpen: number; stats: ReplayTimeframeStats }>();
  for (const timeframe of timeframes) {
    const stats: ReplayTimeframeStats = { rows: 0, late: 0, trades: 0, missingPeriods: 0 };
    s.perTimeframe.set(timeframe, stats);
    lanes.set(timeframe, { tfMs: timeframeMs(timeframe), lastOpen: -Infinity, stats });
  }
  const emit = (ev: CandleEvent) => {
    if (ev.kind !== 'close') return;
    const c = ev.candle;
    const lane = lanes.get(c.timeframe)!;
    if (c.openTime <= lane.lastOpen) {
      diagnostics.write(`${name}: internal: ${c.timeframe} period ${c.openTime} closed again after ${lane.lastOpen}; ignored\n`);
      return;
    }
    if (lane.lastOpen !== -Infinity && c.openTime > lane.lastOpen + lane.tfMs) lane.stats.missingPeriods += (c.openTime - lane.lastOpen) / lane.tfMs - 1;
    lane.lastOpen = c.openTime;
    lane.stats.rows++;
    sink.candle(c);
  };
  // No metrics: nobody scrapes an offline replay, and a prom-client label child costs a hash per close. No
  // updates: only closed candles are written, and a forming candle's snapshot at every tick would cost more.
  const engine = new CandleEngine({ timeframes, graceMs: 0, latePolicy: 'drop', updates: false, clock, log: silentLogger(), emit });
  const tfMs = timeframes.map(timeframeMs);
  /** The next period boundary of any timeframe after the clock: a trade at or after it rolls a period. */
  let nextRoll = -Infinity;

  const checks = new DumpChecks(s, notes, LINE_PARSERS[format], symbol, from, to);

  /** A trade from either reader: the checks of `replayLines`, then the engine. */
  const take = (r: Trade, lineNo: number, price: Fixed8 | null): void => {
    if (!checks.admit(r, lineNo)) return;
    const time = r.time;
    clock.advanceTo(time);
    if (price !== null ? !engine.onParsedTrade(r, price, scannedQty!) : !engine.onTrade(r)) {
      checks.notDecimal(r, lineNo);
      return;
    }
    s.accepted++;
    if (time >= nextRoll) {
      // grace 0: the periods before this trade's ones are complete; close them now, not at the next roll.
      const now = clock.now();
      engine.tick(now);
      nextRoll = Infinity;
      for (const ms of tfMs) nextRoll = Math.min(nextRoll, periodStart(now, ms) + ms);
    }
  };
  let scannedQty: Fixed8 | null = null;
  const scanner = new CsvScanner(format === 'binance-trades-csv' ? 'trades' : 'aggtrades', symbol, {
    trade(t, price, qty, lineNo) {
      scannedQty = qty;
      take(t, lineNo, price);
    },
    line(line, lineNo) {
      const r = checks.parseLine(line, lineNo, true);
      if (r !== null) take(r, lineNo, null);
    },
  });

  const { file, input } = openInput(spec.input, CHUNK_BYTES);
  let ended = false;
  try {
    for await (const chunk of input) {
      scanner.push(chunk as Buffer);
      spec.progress?.(file.bytesRead, s);
      if (sink.shouldFlush()) await sink.flush();
      if (sink.stopped()) break;
    }
    ended = !sink.stopped();
  } catch (e) {
    s.failure = e as Error;
  } finally {
    input.destroy();
    file.destroy();
  }
  if (ended) scanner.end();
  if (!sink.stopped()) {
    engine.closeAll(clock.now());
    await sink.flush();
  }
  notes.finish();
  s.lines = scanner.lineNo;
  for (const [timeframe, lane] of lanes) {
    lane.stats.late = engine.lateTradesOf(timeframe);
    lane.stats.trades = s.accepted - lane.stats.late;
  }
  return s;
}
