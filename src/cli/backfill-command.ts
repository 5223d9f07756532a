/**
 * `candlestack backfill`: fills the store from an exchange's REST klines for a time range, with the shared
 * filler (src/jobs/rest-history.ts) the gap-sweep job uses. Resumable: each series starts after the
 * consecutive candles already stored from the range's start (with --replace, backfilled ones), so a run that
 * was interrupted continues where it stopped instead of fetching again. Progress bar on a terminal (stderr), one summary line
 * per series otherwise.
 */
import { parseArgs } from 'node:util';
import type { Clock } from '../core/clock.js';
import { ConfigError } from '../core/errors.js';
import { EXCHANGE_IDS, isExchangeId, type ExchangeId } from '../core/exchange-id.js';
import { timeframeMs, type Timeframe } from '../core/timeframe.js';
import { SETTING_OPTIONS, loadConfig, settingFlags, settingsHelp, type Config } from '../config/config.js';
import type { HistoryResult } from '../jobs/rest-history.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import { adapterFor } from '../exchanges/index.js';
import { parseTimeArg } from './candles-command.js';

export const BACKFILL_HELP = () => `Usage: candlestack backfill --exchange E --symbols S[,S] --timeframes T[,T] --from D [--to D] [--replace] [flags]

Fills the store (--store, as for 'run') with the exchange's REST klines over [--from, --to] (default --to:
now; only closed periods), as closed candles with source "backfill". Periods older than the exchange's REST
history (Kraken: its 720 most recent) are counted unreachable and not asked for.

Resumable: each series starts after the consecutive candles already stored from --from on, so running the
same command again after an interruption continues where it stopped. Candles built here from trades are
kept (counted as skipped) unless --replace is given; with --replace only backfilled candles count as done.

Options:
  --exchange E       one of ${EXCHANGE_IDS.join(', ')}; its REST URL is the configured one (--rest-url)
  --symbols S[,S]    symbols, BASE-QUOTE (BTC-USDT) or the exchange's native form
  --timeframes T[,T] timeframes the exchange serves klines for
  --from D           first period: epoch milliseconds or ISO-8601 (2024-03-01, 2024-03-01T12:30:00Z)
  --to D             last period (inclusive), same forms; default now
  --replace          overwrite candles built from trades
  -h, --help         this text

Config flags (as for run):
${settingsHelp()}

Output: a progress bar on stderr when it is a terminal; one summary line per series on stderr:
  backfill: binance BTC-USDT 1m: 1440 written, 0 skipped (built from trades), 0 unreachable, 0 not served
Exit status: 0 done, 1 a request failed or the run was interrupted (run it again to resume), 2 usage error.
`;

export interface BackfillArgs {
  config: Config;
  exchange: ExchangeId;
  symbols: string[];
  timeframes: Timeframe[];
  from: number;
  to?: number;
  replace: boolean;
}

const OWN_OPTIONS = {
  exchange: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  replace: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Parses `backfill` flags (argv after the subcommand) and loads the config; throws ConfigError naming the flag. */
export function parseBackfillArgs(argv: string[], env: NodeJS.ProcessEnv): BackfillArgs | 'help' {
  const options = { ...SETTING_OPTIONS, ...OWN_OPTIONS };
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    const message = (e as Error).message;
    const flag = /'(?:-\w, )?(-{1,2}[^\s',<]+)/.exec(message)?.[1];
    const code = (e as { code?: string }).code;
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw new ConfigError('backfill', 'only flags (see candlestack backfill --help)', /'([^']*)'/.exec(message)?.[1] ?? message, { cause: e });
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new ConfigError(flag ?? 'backfill', 'a known flag (see candlestack backfill --help)', flag ?? message, { cause: e });
    if (flag && /does not take an argument/.test(message)) throw new ConfigError(flag, 'no value', message, { cause: e });
    if (flag) throw new ConfigError(flag, 'a value after the flag', undefined, { cause: e });
    throw new ConfigError('backfill', 'valid flags', message, { cause: e });
  }
  if (values.help) return 'help';

  const exchange = values.exchange as string | undefined;
  if (exchange === undefined || !isExchangeId(exchange)) throw new ConfigError('--exchange', `one of ${EXCHANGE_IDS.join(', ')}`, exchange);
  if (values.exchanges !== undefined) throw new ConfigError('--exchanges', 'not given: backfill takes one --exchange', values.exchanges);
  for (const flag of ['symbols', 'timeframes', 'from'] as const) {
    if (values[flag] === undefined || values[flag] === '') throw new ConfigError(`--${flag}`, flag === 'from' ? 'a start time (epoch ms or ISO-8601)' : `a comma-separated list of ${flag}`, values[flag]);
  }
  const from = parseTimeArg('--from', values.from as string);
  const to = values.to === undefined ? undefined : parseTimeArg('--to', values.to as string);
  if (to !== undefined && to < from) throw new ConfigError('--to', `a time not before --from (${new Date(from).toISOString()})`, values.to);

  const config = loadConfig({ file: values.config as string | undefined, env, flags: { ...settingFlags(values), exchanges: exchange } });
  const ex = config.exchanges.find((e) => e.id === exchange)!;
  const served = adapterFor(exchange).klineTimeframes;
  const bad = config.timeframes.find((tf) => !served.includes(tf));
  if (bad !== undefined) throw new ConfigError('--timeframes', `timeframes ${exchange} serves klines for (${served.join(', ')})`, bad);
  const args: BackfillArgs = { config, exchange, symbols: ex.symbols, timeframes: config.timeframes, from, replace: values.replace === true };
  if (to !== undefined) args.to = to;
  return args;
}

export interface BackfillIo {
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

export interface SeriesOutcome extends HistoryResult {
  symbol: string;
  timeframe: Timeframe;
  /** The period the series resumed after (its latest stored candle in the range), if any. */
  resumedAfter?: number;
}

/** Runs the fill; returns the exit code and what each series did. */
export async function backfillCommand(args: BackfillArgs, io: BackfillIo, deps: { clock: Clock; log?: Logger; signal?: AbortSignal; store?: Store }): Promise<{ exitCode: number; series: SeriesOutcome[] }> {
  const { config, exchange, clock } = { ...args, clock: deps.clock };
  // The parts load here, not with the module: a usage error (parseBackfillArgs) must not pay for Kafka, pg and OpenTelemetry.
  const [{ pino }, { createLogger }, { buildBackfillSources, roleTelemetry }, { RestHistory }, { openStore }] = await Promise.all([
    import('pino'),
    import('../telemetry/logger.js'),
    import('../app/parts.js'),
    import('../jobs/rest-history.js'),
    import('../store/open.js'),
  ]);
  const log = deps.log ?? createLogger({ level: config.log.level, format: 'json', base: { command: 'backfill' } }, pino.destination(2));
  const { metrics } = roleTelemetry('backfill', 'backfill');
  const store = deps.store ?? (await openStore(config.store.url, () => clock.now(), { metrics: metrics.store, log }));
  const sources = buildBackfillSources(config, { clock, metrics, log });
  const history = new RestHistory({ sources, store });
  const tty = io.stderr.isTTY === true;
  const out: SeriesOutcome[] = [];
  let exitCode = 0;
  try {
    const now = clock.now();
    const to = args.to ?? now;
    // Plan every series first (resume points, periods left), so the bar shows the whole run.
    const plans: { symbol: string; timeframe: Timeframe; from: number; resumedAfter?: number; periods: number }[] = [];
    for (const symbol of args.symbols) {
      for (const timeframe of args.timeframes) {
        const resumed = await resumeAfter(store, { exchange, symbol, timeframe }, args.from, to, args.replace);
        const from = resumed !== undefined ? resumed + timeframeMs(timeframe) : args.from;
        const plan = history.plan({ exchange, timeframe, from, to }, now);
        plans.push({ symbol, timeframe, from, ...(resumed !== undefined ? { resumedAfter: resumed } : {}), periods: plan.first <= plan.last ? (plan.last - plan.first) / timeframeMs(timeframe) + 1 : 0 });
      }
    }
    const total = plans.reduce((n, p) => n + p.periods, 0);
    let doneBefore = 0;
    for (const p of plans) {
      if (deps.signal?.aborted) break;
      const label = `${exchange} ${p.symbol} ${p.timeframe}`;
      try {
        const r = await history.fill(
          {
            exchange,
            symbol: p.symbol,
            timeframe: p.timeframe,
            from: p.from,
            to,
            replace: args.replace,
            ...(deps.signal ? { signal: deps.signal } : {}),
            onProgress: tty ? (done) => bar(io.stderr, doneBefore + done, total, label) : undefined,
          },
          now,
        );
        out.push({ symbol: p.symbol, timeframe: p.timeframe, ...(p.resumedAfter !== undefined ? { resumedAfter: p.resumedAfter } : {}), ...r });
        if (tty) io.stderr.write('\r\x1b[K');
        io.stderr.write(`${summaryLine(exchange, out[out.length - 1]!)}\n`);
      } catch (err) {
        if (tty) io.stderr.write('\r\x1b[K');
        io.stderr.write(`backfill: ${label}: failed: ${(err as Error).message}; what was written stays, run the command again to resume\n`);
        exitCode = 1;
      }
      doneBefore += p.periods;
    }
    if (deps.signal?.aborted) {
      io.stderr.write('backfill: interrupted; run the command again to resume\n');
      exitCode = 1;
    }
  } finally {
    if (!deps.store) await store.close();
  }
  return { exitCode, series: out };
}

function summaryLine(exchange: ExchangeId, s: SeriesOutcome): string {
  const parts = [`${s.written} written`, `${s.skippedTrades} skipped (built from trades)`, `${s.unreachable} unreachable`, `${s.missing} not served`];
  if (s.resumedAfter !== undefined) parts.push(`resumed after ${new Date(s.resumedAfter).toISOString()}`);
  return `backfill: ${exchange} ${s.symbol} ${s.timeframe}: ${parts.join(', ')}`;
}

function bar(stderr: BackfillIo['stderr'], done: number, total: number, label: string): void {
  const width = 30;
  const filled = total === 0 ? width : Math.round((done / total) * width);
  const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
  stderr.write(`\r\x1b[Kbackfill [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(pct).padStart(3)}% ${done}/${total} periods  ${label}`);
}

/**
 * Where a series resumes: after the run of consecutive stored candles that starts at the range's first
 * period (with `replace`, of backfilled ones only: candles built from trades are still to be replaced).
 * A run that was interrupted wrote such a prefix, chunk by chunk; candles stored for other reasons (live
 * ones after the range's start, earlier gap repairs) do not hide the periods before them.
 */
async function resumeAfter(store: Store, s: { exchange: ExchangeId; symbol: string; timeframe: Timeframe }, from: number, to: number, replace: boolean): Promise<number | undefined> {
  const ms = timeframeMs(s.timeframe);
  const page = 1000;
  let expected = from - (from % ms);
  let last: number | undefined;
  while (expected <= to) {
    const rows = await store.query({ ...s, from: expected, to, limit: page });
    for (const c of rows) {
      if (c.openTime !== expected || (replace && c.source !== 'backfill')) return last;
      last = expected;
      expected += ms;
    }
    if (rows.length < page) return last;
  }
  return last;
}
