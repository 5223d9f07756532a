/**
 * Replays a Binance trade dump through the live CandleEngine: the one offline engine behind `candlestack
 * candles` (CSV on stdout) and `candlestack import` (into the store). Both read the dump with the line
 * parsers of binance-dumps.ts and get the same closed candles for a timeframe.
 *
 * Replay rules:
 * - Each timeframe runs in its own engine (one lane per timeframe) on a replay clock whose now() is the latest
 *   trade time seen; its timers are never used. A lane built for several timeframes would close the larger
 *   ones at the smallest one's rolls and treat a trade late for 1m as late for 1h too; one lane per timeframe
 *   gives every timeframe exactly what a replay of that timeframe alone gives.
 * - grace 0: a period closes as soon as a trade of a later period arrives (engine.tick right after the
 *   roll), as a dump has no network reordering to wait for. A trade for a period already closed is late:
 *   dropped (policy `drop`) and counted. Amending is not used: it would re-set the closed candle's close.
 * - Trade ids must increase, as in the live collector: an id not above the previous one is a duplicate
 *   (skipped, counted); an id jump (missing ids) is counted, not fatal.
 * - Empty periods between trades come from the engine (open = high = low = close = previous close).
 * - At the end of the input every lane's last period is closed, complete or not.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Clock, Timer } from '../core/clock.js';
import { periodStart, timeframeMs, type Timeframe } from '../core/timeframe.js';
import type { Candle, CandleEvent } from '../core/types.js';
import type { TradeStream } from '../exchanges/adapter.js';
import { CandleEngine } from '../pipeline/candle-engine.js';
import { createMetrics, createRegistry } from '../telemetry/metrics.js';
import { silentLogger } from '../telemetry/logger.js';
import { LINE_PARSERS, isCsvHeader, wsTradeStream, type DumpFormat } from './binance-dumps.js';

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
 */
export async function replayDump(spec: ReplaySpec, sink: ReplaySink, diagnostics: NodeJS.WritableStream, name: string): Promise<ReplayStats> {
  const { format, symbol } = spec;
  const from = spec.from ?? -Infinity;
  const to = spec.to ?? Infinity;
  const notes = new Notes(diagnostics);
  const s: ReplayStats = {
    accepted: 0,
    bad: 0,
    skipped: 0,
    outOfRange: 0,
    duplicates: 0,
    idJumps: 0,
    missingIds: 0,
    outOfOrder: 0,
    lines: 0,
    failure: null,
    perTimeframe: new Map(),
  };

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
    const metrics = createMetrics(createRegistry({ defaults: false }));
    const engine = new CandleEngine({ timeframes: [timeframe], graceMs: 0, latePolicy: 'drop', clock, metrics, log: silentLogger(), emit });
    const lane: Lane = { timeframe, tfMs, engine, period: -Infinity, lastOpen: -Infinity, stats };
    return lane;
  });

  const parse = LINE_PARSERS[format];
  const csv = format !== 'binance-ws-jsonl';
  let stream: TradeStream | null = null;
  let lastId = -1;
  let maxTime = -Infinity;
  let maxTimeLine = 0;
  let lineNo = 0;

  const file = createReadStream(spec.input);
  const input: Readable = spec.input.endsWith('.gz') ? pipeline(file, createGunzip(), () => {}) : file;
  const rl = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of rl) {
      lineNo++;
      if (lineNo === 1 && csv && isCsvHeader(line)) continue;
      const r = parse(lineNo === 1 ? line.replace(/^\uFEFF/, '') : line, symbol);
      if (r === null) {
        s.skipped++;
        continue;
      }
      if ('error' in r) {
        s.bad++;
        notes.note('bad lines', lineNo, r.error);
        continue;
      }
      if (!csv) {
        const kind = wsTradeStream(line);
        if (stream === null) stream = kind;
        else if (kind !== stream) {
          s.skipped++;
          notes.note('other-stream lines', lineNo, `skipped: a ${kind} event while the file's ${symbol} trades come from the ${stream} stream`);
          continue;
        }
      }
      if (lastId >= 0 && r.id <= lastId) {
        s.duplicates++;
        notes.note('duplicate ids', lineNo, `skipped: trade id ${r.id} is not above the previous id ${lastId}`);
        continue;
      }
      if (lastId >= 0 && r.id > lastId + 1) {
        s.idJumps++;
        s.missingIds += r.id - lastId - 1;
      }
      lastId = r.id;
      if (r.time < from || r.time >= to) {
        s.outOfRange++;
        continue;
      }
      if (r.time < maxTime) {
        s.outOfOrder++;
        notes.note('out-of-order lines', lineNo, `out of order: time ${r.time} is before line ${maxTimeLine}'s time ${maxTime}`);
      } else {
        maxTime = r.time;
        maxTimeLine = lineNo;
      }
      clock.advanceTo(r.time);
      // Every lane validates the same way: the first one decides whether the line is bad.
      if (!lanes[0]!.engine.onTrade(r)) {
        s.bad++;
        notes.note('bad lines', lineNo, `price ${JSON.stringify(r.price)} or quantity ${JSON.stringify(r.qty)} is not a decimal`);
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
