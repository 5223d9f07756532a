/**
 * `candlestack candles`: the offline candle builder. Replays a Binance trade dump through the same
 * CandleEngine the live pipeline uses (no second aggregation) and writes the closed candles as CSV.
 *
 * The replay (engine, grace 0, late and duplicate trades, empty periods) is src/sources/dump-replay.ts,
 * shared with `candlestack import`.
 */
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { fixed8, formatFixed8, parseFixed8 } from '../core/decimal.js';
import { ConfigError } from '../core/errors.js';
import { TIMEFRAMES, isTimeframe, type Timeframe } from '../core/timeframe.js';
import type { Candle } from '../core/types.js';
import { DUMP_FORMATS, isDumpFormat, normalizeSymbol, type DumpFormat } from '../sources/binance-dumps.js';
import { replayDump, unreadableInput, type ReplaySink, type ReplaySpec } from '../sources/dump-replay.js';

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

const FLUSH_BYTES = 64 * 1024;

export async function candlesCommand(args: CandlesArgs, io: CandlesIo): Promise<CandlesResult> {
  const { format, timeframe } = args;
  const symbol = normalizeSymbol(args.symbol) ?? args.symbol;
  const err = (text: string) => io.stderr.write(`${text}\n`);

  const unreadable = await unreadableInput(args.input);
  if (unreadable !== null) {
    err(`candles: --input: ${unreadable}`);
    return { exitCode: 2, rows: 0, trades: 0, badLines: 0 };
  }

  // ── output: closed candles of the timeframe, streamed in open_time order ──────────────────────────
  const scratch = fixed8();
  const dec8 = (text: string) => (parseFixed8(text, scratch) ? formatFixed8(scratch.int, scratch.frac) : text);
  let out = '';
  let rows = 0;
  // A closed stdout (`| head`: EPIPE) stops the replay quietly; another write error fails it.
  let outputError: (Error & { code?: string }) | null = null;
  const onOutputError = (e: Error) => {
    outputError ??= e;
  };
  io.stdout.on('error', onOutputError);
  const sink: ReplaySink = {
    candle(c: Candle) {
      if (rows++ === 0) out += `${CSV_HEADER}\n`;
      out += `${c.openTime},${dec8(c.open)},${dec8(c.high)},${dec8(c.low)},${dec8(c.close)},${c.volume},${c.quoteVolume},${c.tradeCount},${c.takerBuyVolume},${dec8(c.vwap)}\n`;
    },
    shouldFlush: () => out.length >= FLUSH_BYTES,
    async flush() {
      if (out === '' || outputError) return;
      const chunk = out;
      out = '';
      try {
        if (!io.stdout.write(chunk)) await once(io.stdout, 'drain');
      } catch (e) {
        onOutputError(e as Error);
      }
    },
    stopped: () => outputError !== null,
  };

  const spec: ReplaySpec = { input: args.input, format, symbol, timeframes: [timeframe] };
  if (args.from !== undefined) spec.from = args.from;
  if (args.to !== undefined) spec.to = args.to;
  const s = await replayDump(spec, sink, io.stderr, 'candles');
  io.stdout.off('error', onOutputError);

  const { late, trades, missingPeriods, rows: written } = s.perTimeframe.get(timeframe)!;
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
  if (missingPeriods > 0) parts.push(`${missingPeriods} periods missing (time jump too long to fill)`);
  parts.push(`${written} rows written`);
  const writeError = outputError as (Error & { code?: string }) | null; // set by the callbacks above
  const closed = writeError?.code === 'EPIPE';
  if (closed) parts.push('stopped early: stdout was closed');
  else if (writeError) err(`candles: writing stdout failed: ${writeError.message}`);
  const { failure } = s;
  if (failure) err(`candles: reading ${JSON.stringify(args.input)} failed after line ${s.lines}: ${failure.message}`);
  err(`candles: ${symbol} ${timeframe}: ${parts.join(', ')}`);
  if (!failure && !writeError && trades === 0) err(`candles: no usable ${symbol} trade found in ${JSON.stringify(args.input)}`);

  const exitCode = closed ? 0 : failure || writeError || trades === 0 ? 1 : 0;
  return { exitCode, rows: written, trades, badLines: s.bad };
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

const OPTIONS = { ...DUMP_OPTIONS, timeframe: { type: 'string' } } as const;

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
