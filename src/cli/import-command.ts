/**
 * `candlestack import`: loads a Binance trade dump's candles, on every configured timeframe, into the
 * configured store. The replay is the one `candles` uses (src/sources/dump-replay.ts), so the stored candles of
 * a timeframe are exactly the rows `candles --timeframe TF` prints for the same dump.
 *
 * Candles are written with the store's upsert in bounded batches (`source: 'trades'`, closed). A period that
 * already has a stored candle is skipped and counted, unless --replace: then it is overwritten.
 */
import { ConfigError } from '../core/errors.js';
import { EXCHANGE_IDS, isExchangeId, type ExchangeId } from '../core/exchange-id.js';
import { timeframeMs, type Timeframe } from '../core/timeframe.js';
import type { Candle } from '../core/types.js';
import { loadConfig, settingFlags, type Config } from '../config/config.js';
import { DUMP_FORMATS, isDumpFormat, normalizeSymbol, type DumpFormat } from '../sources/binance-dumps.js';
import { replayDump, unreadableInput, type ReplaySink, type ReplaySpec } from '../sources/dump-replay.js';
import type { Store } from '../store/store.js';
import { DUMP_OPTIONS, parseTimeArg, strictFlags } from './candles-command.js';

export interface ImportArgs {
  input: string;
  format: DumpFormat;
  /** Canonical symbol (BTC-USDT). */
  symbol: string;
  /** The series the candles are stored under (default binance: the dump formats are Binance's). */
  exchange: ExchangeId;
  timeframes: readonly Timeframe[];
  /** Overwrite periods that already have a stored candle (default: skip them). */
  replace: boolean;
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
}

export interface ImportIo {
  /** The summary line. */
  stdout: NodeJS.WritableStream;
  /** Diagnostics ("line N: reason") and errors. */
  stderr: NodeJS.WritableStream;
}

export interface ImportTimeframeResult {
  written: number;
  skipped: number;
}

export interface ImportResult {
  exitCode: number;
  trades: number;
  badLines: number;
  perTimeframe: Record<string, ImportTimeframeResult>;
}

/** Candles buffered before a write; one upsert per timeframe in a batch, so at most this many rows each. */
export const IMPORT_BATCH = 1000;

export const IMPORT_HELP = `Usage: candlestack import --input FILE --format FORMAT --symbol SYMBOL [--exchange E] [--replace]
                          [--from T] [--to T] [--timeframes LIST] [--store URL] [--config FILE]

Builds candles from a Binance trade dump with the same replay as 'candlestack candles' (same engine, same
readers, same rows) on every configured timeframe, and writes them to the configured store (closed,
source 'trades').

Options:
  --input FILE        the dump (a .gz is gunzipped on the fly); see candlestack candles --help
  --format FORMAT     one of ${DUMP_FORMATS.join(', ')}
  --symbol SYMBOL     e.g. BTCUSDT or BTC-USDT; stored under its canonical name (BTC-USDT)
  --exchange E        the exchange the candles are stored under (default binance): one of ${EXCHANGE_IDS.join(', ')}
  --replace           overwrite periods that already have a stored candle; without it they are skipped
                      and counted
  --from T, --to T    only trades at or after / before T (epoch ms or ISO-8601), as for candles
  --timeframes LIST   as for run (default: the configured timeframes)
  --store URL         as for run (default: the configured store)
  --config FILE       as for run; CANDLESTACK_* environment variables apply too
  -h, --help          this text

The last period of each timeframe is closed at the end of the dump, complete or not (as candles prints it):
import a whole day's dump for complete daily candles.

Output: bad lines as "line N: reason" on stderr (the first 20 per kind), then one summary line on stdout:
rows written and skipped per timeframe, trades used, bad lines.
Exit status: 0 imported (even with bad lines), 1 no usable trade, unreadable mid-way or a store write failed,
2 usage error (bad or missing flag, unreadable input).
`;

export async function importCommand(args: ImportArgs, store: Store, io: ImportIo): Promise<ImportResult> {
  const err = (text: string) => io.stderr.write(`${text}\n`);
  const perTimeframe: Record<string, ImportTimeframeResult> = Object.fromEntries(args.timeframes.map((tf) => [tf, { written: 0, skipped: 0 }]));
  const unreadable = await unreadableInput(args.input);
  if (unreadable !== null) {
    err(`import: --input: ${unreadable}`);
    return { exitCode: 2, trades: 0, badLines: 0, perTimeframe };
  }

  const { exchange, symbol } = args;
  const pending = new Map<Timeframe, Candle[]>();
  let buffered = 0;
  let storeError: Error | null = null;

  const writeSeries = async (timeframe: Timeframe, candles: Candle[]) => {
    let rows = candles;
    if (!args.replace) {
      const from = candles[0]!.openTime;
      const to = candles[candles.length - 1]!.openTime;
      const stored = await store.query({ exchange, symbol, timeframe, from, to, limit: (to - from) / timeframeMs(timeframe) + 1 });
      if (stored.length > 0) {
        const have = new Set(stored.map((c) => c.openTime));
        rows = candles.filter((c) => !have.has(c.openTime));
      }
    }
    if (rows.length > 0) await store.upsert(rows);
    const counts = perTimeframe[timeframe]!;
    counts.written += rows.length;
    counts.skipped += candles.length - rows.length;
  };

  const sink: ReplaySink = {
    candle(c) {
      const row: Candle = c.exchange === exchange ? c : { ...c, exchange };
      let list = pending.get(c.timeframe);
      if (list === undefined) pending.set(c.timeframe, (list = []));
      list.push(row);
      buffered++;
    },
    shouldFlush: () => buffered >= IMPORT_BATCH,
    async flush() {
      if (storeError) return;
      const batch = [...pending];
      pending.clear();
      buffered = 0;
      try {
        for (const [timeframe, candles] of batch) if (candles.length > 0) await writeSeries(timeframe, candles);
      } catch (e) {
        storeError = e as Error;
      }
    },
    stopped: () => storeError !== null,
  };

  const spec: ReplaySpec = { input: args.input, format: args.format, symbol, timeframes: args.timeframes };
  if (args.from !== undefined) spec.from = args.from;
  if (args.to !== undefined) spec.to = args.to;
  const s = await replayDump(spec, sink, io.stderr, 'import');

  // Every timeframe sees the same trades; late ones differ per timeframe (a trade late for 1m may fit 1h).
  const trades = Math.max(0, ...[...s.perTimeframe.values()].map((t) => t.trades));
  const series = args.timeframes.map((tf) => `${tf} ${perTimeframe[tf]!.written} written ${perTimeframe[tf]!.skipped} skipped`);
  const parts = [series.join(', '), `${trades} trades used`, `${s.bad} bad lines`, `${s.skipped} skipped lines`, `${s.duplicates} duplicate ids`];
  const late = args.timeframes.filter((tf) => s.perTimeframe.get(tf)!.late > 0).map((tf) => `${tf} ${s.perTimeframe.get(tf)!.late}`);
  if (late.length > 0) parts.push(`late trades ${late.join(' ')}`);
  if (args.from !== undefined || args.to !== undefined) parts.push(`${s.outOfRange} trades outside --from/--to`);
  if (!args.replace && args.timeframes.some((tf) => perTimeframe[tf]!.skipped > 0)) parts.push('stored periods kept (--replace overwrites them)');

  const failed = storeError as Error | null; // set by the sink's flush
  if (failed) err(`import: writing to the ${store.kind} store failed: ${failed.message}; rows written before it stay (a rerun skips them)`);
  if (s.failure) err(`import: reading ${JSON.stringify(args.input)} failed after line ${s.lines}: ${s.failure.message}`);
  io.stdout.write(`import: ${exchange} ${symbol} -> ${store.kind}: ${parts.join(', ')}\n`);
  if (!failed && !s.failure && trades === 0) err(`import: no usable ${symbol} trade found in ${JSON.stringify(args.input)}`);
  const exitCode = failed || s.failure || trades === 0 ? 1 : 0;
  return { exitCode, trades, badLines: s.bad, perTimeframe };
}

// ── arguments ─────────────────────────────────────────────────────────────────────────────────────

const OPTIONS = {
  ...DUMP_OPTIONS,
  exchange: { type: 'string' },
  replace: { type: 'boolean' },
  timeframes: { type: 'string' },
  store: { type: 'string' },
  config: { type: 'string' },
} as const;

/**
 * Parses the `import` flags (argv after the subcommand) and loads the config they and the environment name.
 * Throws ConfigError naming the flag or field. With --help nothing else is checked.
 */
export function parseImportArgs(argv: string[], env: NodeJS.ProcessEnv): { help: true } | { help: false; args: ImportArgs; config: Config } {
  const values = strictFlags('import', OPTIONS, argv);
  if (values.help) return { help: true };
  const input = values.input;
  if (input === undefined || input === '') throw new ConfigError('--input', 'a file path (a .gz is gunzipped)', input);
  const format = values.format;
  if (!isDumpFormat(format)) throw new ConfigError('--format', `one of ${DUMP_FORMATS.join(', ')}`, format);
  const symbol = values.symbol === undefined ? null : normalizeSymbol(values.symbol);
  if (symbol === null) throw new ConfigError('--symbol', 'a symbol such as BTCUSDT or BTC-USDT', values.symbol);
  const exchange = values.exchange ?? 'binance';
  if (!isExchangeId(exchange)) throw new ConfigError('--exchange', `one of ${EXCHANGE_IDS.join(', ')}`, exchange);
  const from = values.from === undefined ? undefined : parseTimeArg('--from', values.from);
  const to = values.to === undefined ? undefined : parseTimeArg('--to', values.to);
  if (from !== undefined && to !== undefined && to <= from) throw new ConfigError('--to', `a time after --from (${new Date(from).toISOString()})`, values.to);

  // The run settings import reads (the store and the timeframes), with --config and the environment as for run.
  const flags = settingFlags({ store: values.store, timeframes: values.timeframes });
  const config = loadConfig({ file: values.config, env, flags });
  const args: ImportArgs = { input, format, symbol, exchange, timeframes: config.timeframes, replace: values.replace === true };
  if (from !== undefined) args.from = from;
  if (to !== undefined) args.to = to;
  return { help: false, args, config };
}
