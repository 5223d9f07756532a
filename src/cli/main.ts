#!/usr/bin/env node
/**
 * The `candlestack` command line: parses flags, loads and validates config, and hands over to one
 * composition root per role. Usage errors print one line naming the flag or field, and exit 2.
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;
import { systemClock } from '../core/clock.js';
import { CandlestackError, ConfigError } from '../core/errors.js';
import type { Config } from '../config/config.js';
import type { Embedded } from '../app/embedded.js';
import { ROLE_COMMANDS, ROLE_PORTS, roleHelp, startRole, type RoleCommand } from './role-commands.js';
// Every command's modules load when that command runs: the config schema (every exchange adapter, yaml), the
// logger (pino, @opentelemetry/api), docker compose's yaml, the roots, store drivers, job registry, metrics
// catalogue. `--help`, `--version` and the offline commands start fast: see BENCHMARKS.md, "Startup".
const loadConfigModule = () => import('../config/config.js');
const loadLogger = () => import('../telemetry/logger.js');

const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const MAIN_HELP = `candlestack ${VERSION}: real-time crypto market data -> OHLCV candles -> SQLite or PostgreSQL -> API, live WebSocket, /metrics

Usage: candlestack <command> [flags]

Commands:
  run       collect live trades from exchanges, build candles, store and serve them (npm start)
  demo      the same pipeline against a simulated exchange on loopback: fully offline (npm run demo)
  candles   build candles offline from a trade dump file, CSV on stdout
  import    load a trade dump's candles (every configured timeframe) into the store
  backfill  fill the store from an exchange's REST klines over a time range (resumable)
  collect   scale-out role: exchanges -> Kafka (metrics on port 8000)
  process   scale-out role: Kafka -> candles, reconciliation, backfill -> store and Kafka (port 8001)
  serve     scale-out role: store + Kafka -> API, live WebSocket, /metrics (port 9001)
  decide    decision service: store -> GET /api/decision (BUY/SELL/HOLD with reasons), /metrics (port 8002)
  notify    the Telegram bot: decisions, prices, health, alerts to chats (port 8003; needs a bot token)
  stack     start|status|logs|restart|stop the full stack with docker compose (deploy/)
  job run   run one job (retention, gap-sweep, ...) once, e.g. from cron; --textfile-dir for node-exporter
  jobs list the jobs a running instance schedules: schedule, last run, result, next run

Flags:
  -h, --help     show help (also after a command: candlestack run --help)
  -v, --version  print the version

Examples:
  candlestack run --symbols BTC-USDT,ETH-USDT,SOL-USDT --port 9001
  candlestack demo --rate 200
  candlestack candles --input BTCUSDT-aggTrades-2024-01-01.csv --format binance-aggtrades-csv --symbol BTCUSDT --timeframe 1m
  candlestack import --input BTCUSDT-aggTrades-2024-01-01.csv --format binance-aggtrades-csv --symbol BTCUSDT
`;

const RUN_HELP = ({ DEFAULT_PORT, settingsHelp }: ConfigModule) => `Usage: candlestack run [flags]

Collects trades (and the exchange's own klines, for reconciliation) from the configured exchanges, builds
candles on every timeframe, stores them (SQLite or PostgreSQL, see --store) and serves the web dashboard
(/), the API, the live WebSocket /ws and /metrics on one port. Without flags: Binance spot, BTC-USDT and
ETH-USDT, 1m 5m 15m 1h 4h 1d, SQLite in data/, port ${DEFAULT_PORT}.

Flags:
${settingsHelp()}
  -h, --help             show this help

Precedence: defaults < --config file < CANDLESTACK_* environment < flags.
`;

const DEMO_HELP = ({ settingsHelp }: ConfigModule) => `Usage: candlestack demo [flags]

Starts one simulated exchange per --exchanges entry on loopback (default Binance; each speaks its exchange's
wire protocol: WebSocket streams, heartbeats, REST candles) and runs the same pipeline as 'run' against them:
no network needed. Prices follow one seeded random walk with bursts and quiet spells, the same on every
exchange. Takes every 'run' flag; --symbols picks simulated symbols (default
BTC-USDT,ETH-USDT,SOL-USDT,BNB-USDT,XRP-USDT), e.g.
  candlestack demo --exchanges binance,coinbase,kraken,bybit,okx
The demo store (data/demo.db) starts empty on each run unless --store is given.

Demo flags:
  --rate N     simulated trades per second over all symbols (default 50)
  --seed N     seed of the price process (default 1)
  --chaos      inject a failure every 45 s (dropped connection, dropped messages, stall) to watch recovery

Run flags:
${settingsHelp()}
  -h, --help   show this help
`;

type Role = 'run' | 'demo' | RoleCommand;
type ConfigModule = Awaited<ReturnType<typeof loadConfigModule>>;

/** How long a stop may take (flushes, the last Kafka commit, the producer's drain) before the process exits anyway. */
const STOP_DEADLINE_MS = 30_000;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(MAIN_HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === '-v' || command === '--version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (command === 'candles') {
    const { CANDLES_HELP, candlesCommand, parseCandlesArgs } = await import('./candles-command.js');
    const args = parseCandlesArgs(rest);
    if (args.help) {
      process.stdout.write(CANDLES_HELP);
      return 0;
    }
    return (await candlesCommand(args, process)).exitCode;
  }
  if (command === 'import') return importDump(rest);
  if (command === 'backfill') return backfill(rest);
  if (command === 'run' || command === 'demo') return serve(command, rest);
  if (command === 'stack') {
    const { STACK_HELP, parseStackArgs, stackCommand } = await import('./stack-command.js');
    const args = parseStackArgs(rest);
    if (args === 'help') {
      process.stdout.write(STACK_HELP);
      return 0;
    }
    return stackCommand(args);
  }
  if ((ROLE_COMMANDS as readonly string[]).includes(command)) return serve(command as RoleCommand, rest);
  if (command === 'job') return jobCommand(rest);
  if (command === 'jobs') {
    const { JOBS_HELP, jobsList, parseJobsArgs } = await import('./job-command.js');
    const args = parseJobsArgs(rest, process.env);
    if (args === 'help') {
      process.stdout.write(JOBS_HELP);
      return 0;
    }
    return jobsList(args.url, { stdout: process.stdout, stderr: process.stderr, now: () => systemClock.now() });
  }
  throw new UsageError(`unknown command ${JSON.stringify(command)}; expected run, demo, candles, import, backfill, job, jobs, collect, process, serve, decide or notify (see candlestack --help)`);
}

async function importDump(argv: string[]): Promise<number> {
  const { IMPORT_HELP, importCommand, parseImportArgs } = await import('./import-command.js');
  const { openStore } = await import('../store/open.js');
  const { createMetrics, createRegistry } = await import('../telemetry/metrics.js');
  const { createLogger } = await loadLogger();
  const parsed = parseImportArgs(argv, process.env);
  if (parsed.help) {
    process.stdout.write(IMPORT_HELP);
    return 0;
  }
  const { args, config } = parsed;
  const log = createLogger({ level: config.log.level, format: config.log.format, base: { role: 'import' } });
  const metrics = createMetrics(createRegistry({ defaults: false }));
  const store = await openStore(config.store.url, () => systemClock.now(), { metrics: metrics.store, log: log.child({ component: 'store' }) });
  try {
    return (await importCommand(args, store, process)).exitCode;
  } finally {
    await store.close();
  }
}

async function serve(role: Role, argv: string[]): Promise<number> {
  const configModule = await loadConfigModule();
  const { DEFAULT_PORT, SETTING_OPTIONS, loadConfig, settingFlags, settingsHelp } = configModule;
  const options: ParseArgsOptionsConfig = { ...SETTING_OPTIONS, help: { type: 'boolean', short: 'h' } };
  if (role === 'demo') Object.assign(options, { rate: { type: 'string' }, seed: { type: 'string' }, chaos: { type: 'boolean' } });
  const { values } = parseFlags(role, argv, options);
  if (values.help) {
    process.stdout.write(role === 'run' ? RUN_HELP(configModule) : role === 'demo' ? DEMO_HELP(configModule) : roleHelp(role, settingsHelp()));
    return 0;
  }
  const flags = settingFlags(values);
  const config: Config = loadConfig({ file: values.config as string | undefined, env: process.env, flags });
  const clock = systemClock;
  // Telemetry first: the role's traces and the logs that share their resource (service.name, instance id).
  const [{ Tracing }, { OtlpLogSink, logsUrl }, { startLogRetention }, { createLogger }, { LokiLogSink }, { lokiPushUrl }] = await Promise.all([import('../telemetry/tracing.js'), import('../telemetry/otlp-logs.js'), import('../telemetry/log-retention.js'), loadLogger(), import('../telemetry/loki-logs.js'), import('../config/loki-config.js')]);
  const tracing = Tracing.fromConfig(config.tracing, { role, version: VERSION });
  // Log lines leave to Loki's push API when log.loki.url is set, else to the collector over OTLP (when it is).
  const lokiUrl = lokiPushUrl(config.log.loki);
  const lokiLogs = lokiUrl ? new LokiLogSink({ url: lokiUrl, tenant: config.log.loki.tenant, flushMs: config.log.loki.flushMs, resourceAttributes: tracing.resourceAttributes }) : null;
  const logsTo = lokiLogs ? null : logsUrl(config.tracing, process.env);
  const otlpLogs = logsTo ? new OtlpLogSink(logsTo, config.tracing.protocol, tracing.resourceAttributes) : null;
  const log = createLogger({ level: config.log.level, format: config.log.format, base: { role }, files: config.log, extra: [...(otlpLogs ? [otlpLogs] : []), ...(lokiLogs ? [lokiLogs] : [])] });
  const stopRetention = startLogRetention([config.log.file, config.log.errorFile].filter((p): p is string => p !== null), config.log.retentionMs, clock);
  const flushTelemetry = async () => {
    stopRetention();
    await tracing.shutdown().catch(() => undefined);
    await otlpLogs?.shutdown().catch(() => undefined);
    await lokiLogs?.shutdown();
    log.flush?.();
  };

  let app: Pick<Embedded, 'port' | 'stop' | 'lifecycle'>;
  if (role !== 'run' && role !== 'demo') {
    const portGiven = flags.port !== undefined || process.env.CANDLESTACK_PORT !== undefined || config.http.port !== DEFAULT_PORT;
    if (!portGiven) config.http.port = ROLE_PORTS[role];
    app = await startRole(role, config, { clock, log, version: VERSION, tracing, lokiLogs, unreachableHint: 'No network here? Try the offline demo: npm run demo' });
  } else if (role === 'demo') {
    const rate = positiveNumber(values.rate as string | undefined, '--rate', 50, 100_000);
    const seed = positiveNumber(values.seed as string | undefined, '--seed', 1, 2 ** 31);
    const symbolsGiven = flags.symbols !== undefined || process.env.CANDLESTACK_SYMBOLS !== undefined;
    const storeGiven = flags.store !== undefined || process.env.CANDLESTACK_STORE !== undefined;
    const { startDemo } = await import('../demo/demo.js');
    app = await startDemo(config, { rate, seed, chaos: values.chaos === true, symbolsGiven, storeGiven }, { clock, log, version: VERSION, tracing, lokiLogs });
    log.info({ component: 'demo' }, `demo ready: http://${config.http.host}:${app.port}/api/candles?symbol=BTC-USDT&timeframe=1m  ·  /api/health  ·  /metrics`);
  } else {
    const { startEmbedded } = await import('../app/embedded.js');
    app = await startEmbedded(config, { clock, log, version: VERSION, role, tracing, lokiLogs, unreachableHint: 'No network here? Try the offline demo: npm run demo' });
  }

  // One lifecycle: SIGTERM/SIGINT or a fatal error stops the services in reverse start order, once.
  const reason = await app.lifecycle.untilStopRequested();
  // A stop that hangs (a store that never answers the last flush) must still end the process.
  const deadline = setTimeout(() => {
    log.error({ component: 'app', afterMs: STOP_DEADLINE_MS }, 'shutdown did not finish in time; exiting');
    log.flush?.();
    void Promise.race([lokiLogs?.shutdown(), new Promise((r) => setTimeout(r, 2_000))]).finally(() => process.exit(1));
  }, STOP_DEADLINE_MS);
  deadline.unref();
  await app.stop();
  clearTimeout(deadline);
  await flushTelemetry(); // the lifecycle flushed the spans last; the exporters close, the log files flush
  return reason === 'fatal' ? 1 : 0;
}

async function backfill(argv: string[]): Promise<number> {
  const { BACKFILL_HELP, backfillCommand, parseBackfillArgs } = await import('./backfill-command.js');
  const args = parseBackfillArgs(argv, process.env);
  if (args === 'help') {
    process.stdout.write(BACKFILL_HELP());
    return 0;
  }
  // SIGINT/SIGTERM: the chunk in flight is written, then the run stops (a second run resumes).
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return (await backfillCommand(args, process, { clock: systemClock, signal: stop.signal })).exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** `job run NAME`: exits the process itself once the textfile is written (a timed-out or stopped run may still hold timers). */
async function jobCommand(argv: string[]): Promise<number> {
  const { JOB_HELP, jobRun, parseJobArgs } = await import('./job-command.js');
  const { buildJobs } = await import('../jobs/registry.js');
  const { openStore } = await import('../store/open.js');
  const { createLogger } = await loadLogger();
  const parsed = parseJobArgs(argv, process.env);
  if (parsed === 'help') {
    process.stdout.write(JOB_HELP());
    return 0;
  }
  const { args, config } = parsed;
  const log = createLogger({ level: config.log.level, format: config.log.format, base: { role: 'job' } });
  const outcome = await jobRun(args, {
    config,
    buildJobs,
    openStore: (c, d) => openStore(c.store.url, () => d.clock.now(), { metrics: d.metrics.store, log: d.log.child({ component: 'store' }) }),
    clock: systemClock,
    log,
    signals: process,
  });
  log.flush?.();
  process.exit(outcome.exitCode);
}

function parseFlags(role: string, argv: string[], options: ParseArgsOptionsConfig) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  } catch (err) {
    // node:util messages can run over several lines; keep the first sentence.
    const message = (err as Error).message.split('\n')[0]!.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(`${message} (see candlestack ${role} --help)`);
  }
}

function positiveNumber(raw: string | undefined, flag: string, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || n <= 0 || n > max) throw new ConfigError(flag, `a number above 0 and at most ${max}`, raw);
  return n;
}

class UsageError extends CandlestackError {
  override name = 'UsageError';
  constructor(message: string) {
    super('usage', message);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError || err instanceof UsageError || (err instanceof CandlestackError && (err.name === 'JobUsageError' || err.name === 'StackError'))) {
      process.stderr.write(`candlestack: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`candlestack: ${err instanceof Error ? err.message : String(err)}\n`);
    if (process.env.CANDLESTACK_DEBUG) console.error(err);
    process.exitCode = 1;
  },
);
