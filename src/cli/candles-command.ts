/**
 * `candlestack candles`: the offline candle builder. Replays a Binance trade dump through the same
 * CandleEngine the live pipeline uses (no second aggregation) and writes the closed candles as CSV.
 *
 * The replay (engine, grace 0, late and duplicate trades, empty periods) is src/sources/dump-replay.ts,
 * shared with `candlestack import`.
 */
import { once } from 'node:events';
import { createWriteStream, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fixed8, formatFixed8, parseFixed8 } from '../core/decimal.js';
import { ConfigError } from '../core/errors.js';
import { TIMEFRAMES, isTimeframe, type Timeframe } from '../core/timeframe.js';
import type { Candle } from '../core/types.js';
import { DUMP_FORMATS, isDumpFormat, normalizeSymbol, type DumpFormat } from '../sources/binance-dumps.js';
import type { ReplaySink, ReplaySpec } from '../sources/dump-replay.js';

export interface CandlesArgs {
  input: string;
  format: DumpFormat;
  symbol: string;
  /** The timeframe (the first one when several are given). */
  timeframe: Timeframe;
  /** Several timeframes in one pass (`--timeframe 1m,5m,1h`): each to its own file in `outDir`. */
  timeframes?: readonly Timeframe[];
  /** Write `SYMBOL-TF.csv` files here instead of stdout (required with several timeframes). */
  outDir?: string;
  /** No progress bar and no summary line (diagnostics and errors still go to stderr). */
  quiet?: boolean;
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
}

export interface CandlesIo {
  stdout: NodeJS.WritableStream;
  /** A terminal (`isTTY`) gets a progress bar. */
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface CandlesResult {
  exitCode: number;
  rows: number;
  trades: number;
  badLines: number;
}

export const CSV_HEADER = 'open_time,open,high,low,close,volume,quote_volume,trade_count,taker_buy_volume,vwap';

export const CANDLES_HELP = `Usage: candlestack candles --input FILE --format FORMAT --symbol SYMBOL --timeframe TF[,TF...] [--out-dir DIR]
                           [--from T] [--to T] [--quiet]

Builds OHLCV candles from a Binance trade dump with the same candle engine as the live pipeline and
writes them as CSV to stdout (or one file per timeframe with --out-dir); diagnostics and a one-line
summary go to stderr, with a progress bar while it reads when stderr is a terminal.

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
  --timeframe TF      one of ${TIMEFRAMES.join(', ')}, or several separated by commas
                      (all built in one pass over the file; needs --out-dir)
  --out-dir DIR       write DIR/SYMBOL-TF.csv per timeframe (e.g. BTCUSDT-1m.csv) instead of stdout
  --from T            only trades at or after T (inclusive)
  --to T              only trades before T (exclusive)
                      T is epoch milliseconds or ISO-8601 (2024-03-01, 2024-03-01T12:30:00Z; UTC unless an
                      offset is given)
  --quiet             no progress bar and no summary line (bad lines and errors are still reported)
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

const FLUSH_BYTES = 64 * 1024;

/** One timeframe's CSV output: rows buffered as text, written in chunks. */
interface Output {
  readonly timeframe: Timeframe;
  readonly stream: NodeJS.WritableStream;
  /** Where it goes, for the summary (`stdout` or the file path). */
  readonly name: string;
  text: string;
  rows: number;
}

export async function candlesCommand(args: CandlesArgs, io: CandlesIo): Promise<CandlesResult> {
  const { format } = args;
  const timeframes = [...new Set(args.timeframes ?? [args.timeframe])];
  const symbol = normalizeSymbol(args.symbol) ?? args.symbol;
  const err = (text: string) => io.stderr.write(`${text}\n`);

  // The replay (engine, logger) loads here, not with the module: `candles --help` starts without it.
  const { replayDump, unreadableInput } = await import('../sources/dump-replay.js');
  const unreadable = await unreadableInput(args.input);
  if (unreadable !== null) {
    err(`candles: --input: ${unreadable}`);
    return { exitCode: 2, rows: 0, trades: 0, badLines: 0 };
  }

  // ── output: closed candles per timeframe, streamed in open_time order ─────────────────────────────
  const scratch = fixed8();
  // Consecutive fields are often the same string (an empty period: open = high = low = close = vwap).
  let lastIn = '';
  let lastOut = '';
  const dec8 = (text: string) => {
    if (text !== lastIn) {
      lastIn = text;
      lastOut = parseFixed8(text, scratch) ? formatFixed8(scratch.int, scratch.frac) : text;
    }
    return lastOut;
  };
  const native = symbol.replace('-', '');
  const outputs = new Map<Timeframe, Output>();
  for (const timeframe of timeframes) {
    if (args.outDir === undefined) {
      outputs.set(timeframe, { timeframe, stream: io.stdout, name: 'stdout', text: '', rows: 0 });
    } else {
      const path = join(args.outDir, `${native}-${timeframe}.csv`);
      outputs.set(timeframe, { timeframe, stream: createWriteStream(path), name: path, text: '', rows: 0 });
    }
  }
  const streams = [...new Set([...outputs.values()].map((o) => o.stream))];
  let buffered = 0;
  // A closed stdout (`| head`: EPIPE) stops the replay quietly; another write error fails it.
  let outputError: (Error & { code?: string }) | null = null;
  const onOutputError = (e: Error) => {
    outputError ??= e;
  };
  for (const stream of streams) stream.on('error', onOutputError);
  const sink: ReplaySink = {
    candle(c: Candle) {
      const o = outputs.get(c.timeframe)!;
      const row = `${c.openTime},${dec8(c.open)},${dec8(c.high)},${dec8(c.low)},${dec8(c.close)},${c.volume},${c.quoteVolume},${c.tradeCount},${c.takerBuyVolume},${dec8(c.vwap)}\n`;
      o.text += o.rows++ === 0 ? `${CSV_HEADER}\n${row}` : row;
      buffered += row.length;
    },
    shouldFlush: () => buffered >= FLUSH_BYTES,
    flush: () => flushOutputs(false),
    stopped: () => outputError !== null,
  };
  /** Writes the outputs holding a chunk's worth of rows (all of them when `all`): few, large writes per file. */
  const flushOutputs = async (all: boolean) => {
    buffered = 0;
    for (const o of outputs.values()) {
      if (!all && o.text.length < FLUSH_BYTES) {
        buffered += o.text.length;
        continue;
      }
      if (o.text === '' || outputError) continue;
      const chunk = o.text;
      o.text = '';
      try {
        if (!o.stream.write(chunk)) await once(o.stream, 'drain');
      } catch (e) {
        onOutputError(e as Error);
      }
    }
  };

  const spec: ReplaySpec = { input: args.input, format, symbol, timeframes };
  if (args.from !== undefined) spec.from = args.from;
  if (args.to !== undefined) spec.to = args.to;
  const progress = io.stderr.isTTY === true && args.quiet !== true ? new ProgressBar(io.stderr, statSync(args.input).size) : null;
  if (progress) spec.progress = (bytes, stats) => progress.update(bytes, stats.accepted);
  const s = await replayDump(spec, sink, io.stderr, 'candles');
  if (!sink.stopped()) await flushOutputs(true);
  progress?.clear();
  for (const stream of streams) {
    if (stream === io.stdout) continue;
    stream.end();
    if (!outputError) await Promise.race([once(stream, 'finish'), once(stream, 'error')]).catch(() => {});
  }
  for (const stream of streams) stream.off('error', onOutputError);

  const writeError = outputError as (Error & { code?: string }) | null; // set by the callbacks above
  const closed = writeError?.code === 'EPIPE';
  if (writeError && !closed) err(`candles: writing ${args.outDir === undefined ? 'stdout' : `to ${JSON.stringify(args.outDir)}`} failed: ${writeError.message}`);
  const { failure } = s;
  if (failure) err(`candles: reading ${JSON.stringify(args.input)} failed after line ${s.lines}: ${failure.message}`);
  let trades = 0;
  let written = 0;
  for (const timeframe of timeframes) {
    const t = s.perTimeframe.get(timeframe)!;
    trades = Math.max(trades, t.trades);
    written += t.rows;
    const parts = [
      `${t.trades} trades used`,
      `${s.bad} bad lines`,
      `${s.skipped} skipped lines`,
      `${t.late} late trades`,
      `${s.outOfOrder} out-of-order lines`,
      `${s.duplicates} duplicate ids`,
      `${s.idJumps} trade-id jumps (${s.missingIds} ids missing)`,
    ];
    if (args.from !== undefined || args.to !== undefined) parts.push(`${s.outOfRange} trades outside --from/--to`);
    if (t.missingPeriods > 0) parts.push(`${t.missingPeriods} periods missing (time jump too long to fill)`);
    parts.push(`${t.rows} rows written${args.outDir === undefined ? '' : ` to ${outputs.get(timeframe)!.name}`}`);
    if (closed) parts.push('stopped early: stdout was closed');
    if (args.quiet !== true) err(`candles: ${symbol} ${timeframe}: ${parts.join(', ')}`);
  }
  if (!failure && !writeError && trades === 0) err(`candles: no usable ${symbol} trade found in ${JSON.stringify(args.input)}`);

  const exitCode = closed ? 0 : failure || writeError || trades === 0 ? 1 : 0;
  return { exitCode, rows: written, trades, badLines: s.bad };
}

/**
 * The progress bar on a terminal: bytes read of the input file (compressed bytes for a .gz), trades/s and
 * the time left, redrawn at most 5 times a second on one line; cleared before the summary.
 */
class ProgressBar {
  private readonly started = Date.now();
  private drawn = 0;
  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly total: number,
  ) {}

  update(bytes: number, trades: number): void {
    const now = Date.now();
    if (now - this.drawn < 200) return;
    this.drawn = now;
    const seconds = Math.max(0.001, (now - this.started) / 1000);
    const done = this.total > 0 ? Math.min(1, bytes / this.total) : 0;
    const width = 24;
    const filled = Math.round(done * width);
    const eta = done > 0 ? Math.max(0, (seconds * (1 - done)) / done) : NaN;
    const mb = (n: number) => (n / 1e6).toFixed(1);
    const rate = trades / seconds;
    const rateText = rate >= 1e6 ? `${(rate / 1e6).toFixed(2)} M` : `${Math.round(rate / 1e3)} k`;
    this.out.write(
      `\r\x1b[Kcandles: [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(done * 100).toFixed(0).padStart(3)} % ${mb(bytes)}/${mb(this.total)} MB, ${rateText} trades/s, ETA ${Number.isNaN(eta) ? '?' : `${Math.ceil(eta)} s`}`,
    );
  }

  clear(): void {
    if (this.drawn > 0) this.out.write('\r\x1b[K');
  }
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

/** The flags every trade-dump command takes (`candles`, `import`). */
export const DUMP_OPTIONS = {
  input: { type: 'string' },
  format: { type: 'string' },
  symbol: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const OPTIONS = { ...DUMP_OPTIONS, timeframe: { type: 'string' }, 'out-dir': { type: 'string' }, quiet: { type: 'boolean' } } as const;

type FlagOptions = Record<string, { type: 'string' | 'boolean'; short?: string }>;

/**
 * parseArgs in strict mode, its errors turned into a ConfigError naming the flag (exit 2): shared by the
 * offline commands (`candles`, `import`).
 */
export function strictFlags<O extends FlagOptions>(command: string, options: O, args: string[]) {
  const flags = Object.keys(options).map((k) => `--${k}`);
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    const message = (e as Error).message;
    const flag = /'(?:-\w, )?(-{1,2}[^\s',<]+)/.exec(message)?.[1];
    const code = (e as { code?: string }).code;
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      throw new ConfigError(command, `only flags (${flags.join(', ')})`, /'([^']*)'/.exec(message)?.[1] ?? message, { cause: e });
    }
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      throw new ConfigError(flag ?? command, `a known flag: ${flags.join(', ')}`, flag ?? message, { cause: e });
    }
    if (flag && /does not take an argument/.test(message)) throw new ConfigError(flag, 'no value', message, { cause: e });
    if (flag) throw new ConfigError(flag, 'a value after the flag', undefined, { cause: e });
    throw new ConfigError(command, 'valid flags', message, { cause: e });
  }
}

/**
 * Parses the `candles` flags (argv after the subcommand; a leading `candles` is tolerated). Throws
 * ConfigError naming the flag for an unknown, missing or invalid one. With --help the other flags are not
 * checked (and hold placeholders).
 */
export function parseCandlesArgs(argv: string[]): CandlesArgs & { help: boolean } {
  const list = argv[0] === 'candles' ? argv.slice(1) : argv;
  const values = strictFlags('candles', OPTIONS, list);
  if (values.help) return { input: '', format: 'binance-aggtrades-csv', symbol: '', timeframe: '1m', help: true };

  const input = values.input;
  if (input === undefined || input === '') throw new ConfigError('--input', 'a file path (a .gz is gunzipped)', input);
  const format = values.format;
  if (!isDumpFormat(format)) throw new ConfigError('--format', `one of ${DUMP_FORMATS.join(', ')}`, format);
  const symbol = values.symbol === undefined ? null : normalizeSymbol(values.symbol);
  if (symbol === null) throw new ConfigError('--symbol', 'a symbol such as BTCUSDT or BTC-USDT', values.symbol);
  const given = values.timeframe === undefined ? [undefined] : values.timeframe.split(',');
  const timeframes: Timeframe[] = [];
  for (const tf of given) {
    if (!isTimeframe(tf)) throw new ConfigError('--timeframe', `one of ${TIMEFRAMES.join(', ')}, or several separated by commas`, tf ?? values.timeframe);
    if (!timeframes.includes(tf)) timeframes.push(tf);
  }
  const timeframe = timeframes[0]!;
  const outDir = values['out-dir'];
  if (outDir !== undefined) {
    const st = statSync(outDir, { throwIfNoEntry: false });
    if (!st?.isDirectory()) throw new ConfigError('--out-dir', 'an existing directory', outDir);
  } else if (timeframes.length > 1) {
    throw new ConfigError('--out-dir', `a directory for the ${timeframes.length} timeframes' files (one CSV per timeframe)`, undefined);
  }
  const from = values.from === undefined ? undefined : parseTimeArg('--from', values.from);
  const to = values.to === undefined ? undefined : parseTimeArg('--to', values.to);
  if (from !== undefined && to !== undefined && to <= from) throw new ConfigError('--to', `a time after --from (${new Date(from).toISOString()})`, values.to);

  const args: CandlesArgs & { help: boolean } = { input, format, symbol, timeframe, help: false };
  if (timeframes.length > 1) args.timeframes = timeframes;
  if (outDir !== undefined) args.outDir = outDir;
  if (values.quiet === true) args.quiet = true;
  if (from !== undefined) args.from = from;
  if (to !== undefined) args.to = to;
  return args;
}
