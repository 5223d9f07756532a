/**
 * `candlestack candles`: the offline candle builder. Replays a Binance trade dump through the same
 * CandleEngine the live pipeline uses (no second aggregation) and writes the closed candles as CSV.
 *
 * Replay rules:
 * - The engine runs on a replay clock whose now() is the latest trade time seen; its timers are never used.
 * - grace 0: a period closes as soon as a trade of a later period arrives (engine.tick right after the
 *   roll), as a dump has no network reordering to wait for. A trade for a period already closed is late:
 *   dropped (policy `drop`) and counted. Amending is not used: it would re-set the closed candle's close.
 * - Trade ids must increase, as in the live collector: an id not above the previous one is a duplicate
 *   (skipped, counted); an id jump (missing ids) is counted, not fatal.
 * - Empty periods between trades come from the engine (open = high = low = close = previous close).
 */
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { pipeline, type Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { createGunzip } from 'node:zlib';
import type { Clock, Timer } from '../core/clock.js';
import { fixed8, formatFixed8, parseFixed8 } from '../core/decimal.js';
import { ConfigError } from '../core/errors.js';
import { TIMEFRAMES, isTimeframe, periodStart, timeframeMs, type Timeframe } from '../core/timeframe.js';
import type { Candle, CandleEvent } from '../core/types.js';
import type { TradeStream } from '../exchanges/adapter.js';
import { CandleEngine } from '../pipeline/candle-engine.js';
import { DUMP_FORMATS, LINE_PARSERS, isCsvHeader, isDumpFormat, normalizeSymbol, wsTradeStream, type DumpFormat } from '../sources/binance-dumps.js';
import { createMetrics, createRegistry } from '../telemetry/metrics.js';
import { silentLogger } from '../telemetry/logger.js';

export interface CandlesArgs {
  input: string;
  format: DumpFormat;
  symbol: string;
  timeframe: Timeframe;
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
}

export interface CandlesIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface CandlesResult {
  exitCode: number;
  rows: number;
  trades: number;
  badLines: number;
}

export const CSV_HEADER = 'open_time,open,high,low,close,volume,quote_volume,trade_count,taker_buy_volume,vwap';

export const CANDLES_HELP = `Usage: candlestack candles --input FILE --format FORMAT --symbol SYMBOL --timeframe TF [--from T] [--to T]

Builds OHLCV candles from a Binance trade dump with the same candle engine as the live pipeline and
writes them as CSV to stdout; diagnostics and a one-line summary go to stderr.

Options:
  --input FILE        the dump; read as a stream. A name ending in .gz is gunzipped on the fly.
                      data.binance.vision dumps are .zip files: unzip them first, or stream one with
                      unzip -p BTCUSDT-aggTrades-2024-03-01.zip | candlestack candles --input /dev/stdin ...
  --format FORMAT     one of:
                        binance-aggtrades-csv  agg id,price,qty,first id,last id,time,buyer-was-maker[,best-match]
                        binance-trades-csv     id,price,qty,quote qty,time,buyer-was-maker[,best-match]
                        binance-ws-jsonl       one raw WebSocket trade/aggTrade frame per line, with or without
                                               the combined-stream {"stream","data"} wrapper; other events
                                               (klines, acks) and other symbols are skipped
                      CSV header line optional; times in epoch ms or µs (values >= 1e14 are µs).
  --symbol SYMBOL     e.g. BTCUSDT or BTC-USDT (btcusdt works too). Names the CSV dumps' symbol (they hold
                      one symbol each); selects the symbol in a jsonl file.
  --timeframe TF      one of ${TIMEFRAMES.join(', ')}
  --from T            only trades at or after T (inclusive)
  --to T              only trades before T (exclusive)
                      T is epoch milliseconds or ISO-8601 (2024-03-01, 2024-03-01T12:30:00Z; UTC unless an
                      offset is given)
  -h, --help          this text

Output: a header line, then one row per period from the first trade's period to the last trade's period,
periods without trades included (open = high = low = close = previous close, volume 0):
  ${CSV_HEADER}
open_time is epoch ms (UTC period start); prices and volumes print with 8 decimals; vwap is computed in
floating point (may differ from an exact division in the last decimal).

Lines that cannot be parsed are reported as "line N: reason" (the first 20) and never change a candle.
Trades for a period that already closed (out of order in the file) are dropped and counted as late; trade
ids that do not increase are skipped as duplicates; id jumps are counted.

Exit status: 0 candles written (even with bad lines), 1 no usable trade (or the input failed mid-way),
2 usage error (bad or missing flag, unreadable input).
`;

const MAX_PRINTED = 20;
const FLUSH_BYTES = 64 * 1024;

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

export async function candlesCommand(args: CandlesArgs, io: CandlesIo): Promise<CandlesResult> {
  const { format, timeframe } = args;
  const symbol = normalizeSymbol(args.symbol) ?? args.symbol;
  const tfMs = timeframeMs(timeframe);
  const from = args.from ?? -Infinity;
  const to = args.to ?? Infinity;
  const err = (text: string) => io.stderr.write(`${text}\n`);

  try {
    const st = await stat(args.input);
    if (st.isDirectory()) throw new Error('is a directory');
  } catch (e) {
    err(`candles: --input: cannot read ${JSON.stringify(args.input)}: ${(e as Error).message}`);
    return { exitCode: 2, rows: 0, trades: 0, badLines: 0 };
  }

  const notes = new Notes(io.stderr);
  const s = {
    accepted: 0,
    bad: 0,
    skipped: 0,
    outOfRange: 0,
    duplicates: 0,
    idJumps: 0,
    missingIds: 0,
    outOfOrder: 0,
    rows: 0,
    missingPeriods: 0,
  };

  // ── output: closed candles of the timeframe, streamed in open_time order ──────────────────────────
  const scratch = fixed8();
  const dec8 = (text: string) => (parseFixed8(text, scratch) ? formatFixed8(scratch.int, scratch.frac) : text);
  let out = '';
  let lastOpen = -Infinity;
  const emit = (ev: CandleEvent) => {
    if (ev.kind !== 'close' || ev.candle.timeframe !== timeframe) return;
    const c: Candle = ev.candle;
    if (c.openTime <= lastOpen) {
      // The engine closes periods in order; a repeat would be an engine bug, never a second row.
      err(`candles: internal: period ${c.openTime} closed again after ${lastOpen}; ignored`);
      return;
    }
    if (lastOpen !== -Infinity && c.openTime > lastOpen + tfMs) s.missingPeriods += (c.openTime - lastOpen) / tfMs - 1;
    lastOpen = c.openTime;
    if (s.rows === 0) out += `${CSV_HEADER}\n`;
    out += `${c.openTime},${dec8(c.open)},${dec8(c.high)},${dec8(c.low)},${dec8(c.close)},${c.volume},${c.quoteVolume},${c.tradeCount},${c.takerBuyVolume},${dec8(c.vwap)}\n`;
    s.rows++;
  };
  // A closed stdout (`| head`: EPIPE) stops the replay quietly; another write error fails it.
  let outputError: (Error & { code?: string }) | null = null;
  const onOutputError = (e: Error) => {
    outputError ??= e;
  };
  io.stdout.on('error', onOutputError);
  const flush = async () => {
    if (out === '' || outputError) return;
    const chunk = out;
    out = '';
    try {
      if (!io.stdout.write(chunk)) await once(io.stdout, 'drain');
    } catch (e) {
      onOutputError(e as Error);
    }
  };

  const clock = new ReplayClock();
  const metrics = createMetrics(createRegistry({ defaults: false }));
  const engine = new CandleEngine({ timeframes: [timeframe], graceMs: 0, latePolicy: 'drop', clock, metrics, log: silentLogger(), emit });

  // ── input ─────────────────────────────────────────────────────────────────────────────────────────
  const parse = LINE_PARSERS[format];
  const csv = format !== 'binance-ws-jsonl';
  let stream: TradeStream | null = null;
  let lastId = -1;
  let maxTime = -Infinity;
  let maxTimeLine = 0;
  let period = -Infinity;
  let lineNo = 0;
  let failure: Error | null = null;

  const file = createReadStream(args.input);
  const input: Readable = args.input.endsWith('.gz') ? pipeline(file, createGunzip(), () => {}) : file;
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
      if (!engine.onTrade(r)) {
        s.bad++;
        notes.note('bad lines', lineNo, `price ${JSON.stringify(r.price)} or quantity ${JSON.stringify(r.qty)} is not a decimal`);
        continue;
      }
      s.accepted++;
      const p = periodStart(r.time, tfMs);
      if (p > period) {
        // grace 0: the period before this trade's one is complete; close it now, not at the next roll.
        period = p;
        engine.tick(clock.now());
      }
      if (out.length >= FLUSH_BYTES) await flush();
      if (outputError) break;
    }
  } catch (e) {
    failure = e as Error;
  } finally {
    rl.close();
    input.destroy();
    file.destroy();
  }
  if (!outputError) {
    engine.closeAll(clock.now());
    await flush();
  }
  io.stdout.off('error', onOutputError);
  notes.finish();

  // The engine runs this one timeframe only: its late trades are this timeframe's.
  const { lateTrades } = engine.status();
  const late = lateTrades.dropped + lateTrades.amended + lateTrades.too_old;
  const trades = s.accepted - late;

  const parts = [
    `${trades} trades used`,
    `${s.bad} bad lines`,
    `${s.skipped} skipped lines`,
    `${late} late trades`,
    `${s.outOfOrder} out-of-order lines`,
    `${s.duplicates} duplicate ids`,
    `${s.idJumps} trade-id jumps (${s.missingIds} ids missing)`,
  ];
  if (args.from !== undefined || args.to !== undefined) parts.push(`${s.outOfRange} trades outside --from/--to`);
  if (s.missingPeriods > 0) parts.push(`${s.missingPeriods} periods missing (time jump too long to fill)`);
  parts.push(`${s.rows} rows written`);
  const writeError = outputError as (Error & { code?: string }) | null; // set by the callbacks above
  const closed = writeError?.code === 'EPIPE';
  if (closed) parts.push('stopped early: stdout was closed');
  else if (writeError) err(`candles: writing stdout failed: ${writeError.message}`);
  if (failure) err(`candles: reading ${JSON.stringify(args.input)} failed after line ${lineNo}: ${failure.message}`);
  err(`candles: ${symbol} ${timeframe}: ${parts.join(', ')}`);
  if (!failure && !writeError && trades === 0) err(`candles: no usable ${symbol} trade found in ${JSON.stringify(args.input)}`);

  const exitCode = closed ? 0 : failure || writeError || trades === 0 ? 1 : 0;
  return { exitCode, rows: s.rows, trades, badLines: s.bad };
}

// ── arguments ─────────────────────────────────────────────────────────────────────────────────────

const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;
const TIME_FORM = 'epoch milliseconds or an ISO-8601 time (e.g. 2024-03-01T12:30:00Z)';

/** Epoch ms or ISO-8601 (UTC unless the text has an offset). */
export function parseTimeArg(flag: string, text: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (Number.isSafeInteger(n)) return n;
  } else {
    const m = ISO.exec(text);
    if (m) {
      const dateOnly = !/[T ]/i.test(text);
      const iso = dateOnly || m[1] !== undefined ? text : `${text}Z`;
      const t = Date.parse(iso.replace(' ', 'T'));
      if (Number.isFinite(t)) return t;
    }
  }
  throw new ConfigError(flag, TIME_FORM, text);
}

const OPTIONS = {
  input: { type: 'string' },
  format: { type: 'string' },
  symbol: { type: 'string' },
  timeframe: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const FLAGS = Object.keys(OPTIONS).map((k) => `--${k}`);

function strictParse(args: string[]) {
  try {
    return parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (e) {
    const message = (e as Error).message;
    const flag = /'(?:-\w, )?(-{1,2}[^\s',<]+)/.exec(message)?.[1];
    const code = (e as { code?: string }).code;
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      throw new ConfigError('candles', `only flags (${FLAGS.join(', ')})`, /'([^']*)'/.exec(message)?.[1] ?? message, { cause: e });
    }
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      throw new ConfigError(flag ?? 'candles', `a known flag: ${FLAGS.join(', ')}`, flag ?? message, { cause: e });
    }
    if (flag && /does not take an argument/.test(message)) throw new ConfigError(flag, 'no value', message, { cause: e });
    if (flag) throw new ConfigError(flag, 'a value after the flag', undefined, { cause: e });
    throw new ConfigError('candles', 'valid flags', message, { cause: e });
  }
}

/**
 * Parses the `candles` flags (argv after the subcommand; a leading `candles` is tolerated). Throws
 * ConfigError naming the flag for an unknown, missing or invalid one. With --help the other flags are not
 * checked (and hold placeholders).
 */
export function parseCandlesArgs(argv: string[]): CandlesArgs & { help: boolean } {
  const list = argv[0] === 'candles' ? argv.slice(1) : argv;
  const values = strictParse(list);
  if (values.help) return { input: '', format: 'binance-aggtrades-csv', symbol: '', timeframe: '1m', help: true };

  const input = values.input;
  if (input === undefined || input === '') throw new ConfigError('--input', 'a file path (a .gz is gunzipped)', input);
  const format = values.format;
  if (!isDumpFormat(format)) throw new ConfigError('--format', `one of ${DUMP_FORMATS.join(', ')}`, format);
  const symbol = values.symbol === undefined ? null : normalizeSymbol(values.symbol);
  if (symbol === null) throw new ConfigError('--symbol', 'a symbol such as BTCUSDT or BTC-USDT', values.symbol);
  const timeframe = values.timeframe;
  if (!isTimeframe(timeframe)) throw new ConfigError('--timeframe', `one of ${TIMEFRAMES.join(', ')}`, timeframe);
  const from = values.from === undefined ? undefined : parseTimeArg('--from', values.from);
  const to = values.to === undefined ? undefined : parseTimeArg('--to', values.to);
  if (from !== undefined && to !== undefined && to <= from) throw new ConfigError('--to', `a time after --from (${new Date(from).toISOString()})`, values.to);

  const args: CandlesArgs & { help: boolean } = { input, format, symbol, timeframe, help: false };
  if (from !== undefined) args.from = from;
  if (to !== undefined) args.to = to;
  return args;
}
