/**
 * Configuration: defaults <- file (--config, YAML or JSON) <- environment (CANDLESTACK_*) <- flags.
 * Everything is validated at start; the first invalid field is a ConfigError naming the field and the
 * expected form (the CLI prints it in one line and exits 2).
 *
 * CONFIG below declares every field once (schema.ts says how); defaultConfig(), the file layer, the env and
 * flag layers, the parseArgs options and the --help rows of the settings all come from it.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { LATE_POLICIES, LOG_FORMATS, LOG_LEVELS, TRADE_STREAMS, type LatePolicy, type LogFormat, type LogLevel, type TradeStream } from '../core/choices.js';
import { ConfigError } from '../core/errors.js';
import type { IndicatorsConfig } from '../core/indicator-specs.js';
import { DEFAULT_KAFKA_TOPICS, type KafkaTopicNames } from '../core/kafka-topics.js';
import { TIMEFRAMES, isTimeframe, sortTimeframes, type Timeframe } from '../core/timeframe.js';
import { EXCHANGE_IDS, adapterFor, isExchangeId, type ExchangeId } from '../exchanges/index.js';
import { resolveSymbol } from '../exchanges/symbols.js';
import type { QualitySettings } from '../quality/settings.js';
import { POSTGRES_URL_EXPECTED, isPostgresUrl, parsePostgresUrl, redactUrl } from '../store/postgres-url.js';
import { bool, duration, host, hostNames, nullable, origins, oneOf, port, splitList, stringList, url, type Parse } from './fields.js';
import { INDICATORS } from './indicators-config.js';
import { JOBS, type JobsConfig } from './jobs-config.js';
import { DECIDE, type DecideConfig } from './decide-config.js';
import { BREAKERS, QUALITY, type BreakersConfig } from './quality-config.js';
import { TELEGRAM, type TelegramConfig } from './telegram-config.js';
import { TRACING, applyOtelEnv, type TracingConfig } from './tracing-config.js';
import { LOKI, type LokiConfig } from './loki-config.js';
import { leaf, list, record, section, setting, type Setting } from './schema.js';
import { CACHE, SERVE_HTTP_FIELDS, type CacheConfig, type ServeHttpConfig } from './serve-config.js';

export interface ExchangeConfig {
  id: ExchangeId;
  symbols: string[];
  tradeStream: TradeStream;
  /** Subscribe to the exchange's klines for reconciliation. */
  klines: boolean;
  wsUrl: string;
  restUrl: string;
}

export interface Config {
  exchanges: ExchangeConfig[];
  timeframes: Timeframe[];
  candles: { graceMs: number; latePolicy: LatePolicy; tickMs: number };
  feed: { staleAfterMs: number; backoffInitialMs: number; backoffMaxMs: number };
  /** `memory` (in-process) or `kafka://host:9092[,host2:9092]`. */
  bus: string;
  /** Kafka bus settings (used when bus is kafka://). */
  kafka: { topics: KafkaTopicNames; group: string; commitIntervalMs: number };
  store: { url: string; flushMs: number };
  /** Maximum age per timeframe; a timeframe not listed is kept forever. */
  retention: Partial<Record<Timeframe, number>>;
  /** Listen address; the API's limits (serve-config.ts; optional in the type so tests can give host and port only: read them with `serveHttp`). */
  /** allowedHosts / allowedOrigins: src/api/host-policy.ts (DNS-rebinding and cross-site protection). */
  http: { host: string; port: number; allowedHosts?: string[]; allowedOrigins?: string[] } & Partial<ServeHttpConfig>;
  /** The read API's cache (serve-config.ts). */
  cache: CacheConfig;
  /** Logs: stdout, and rotating files (src/telemetry/logger.ts) kept `retentionMs` (log-retention.ts). */
  log: { level: LogLevel; format: LogFormat; file: string | null; errorFile: string | null; retentionMs: number; maxSize: string; loki: LokiConfig };
  /** Streaming indicators (src/pipeline/indicators/); the file's `indicators:` section. */
  indicators: IndicatorsConfig;
  /** Data-quality checks and score (src/quality/). */
  quality: QualitySettings;
  /** Circuit breakers around REST backfill, store writes and bus produce. */
  breakers: BreakersConfig;
  /** The scheduled jobs (src/jobs/scheduler.ts): schedule, timeout, jitter, enabled per job name. */
  jobs: JobsConfig;
  /** The decision service (src/assistant/): strategy, scoring, the llm endpoint. */
  decide: DecideConfig;
  /** The Telegram notifier (src/assistant/notifier/): token, allowed chats, default market, upstream services. */
  telegram: TelegramConfig;
  /** OpenTelemetry traces (src/telemetry/tracing.ts); the standard OTEL_* variables override the file. */
  tracing: TracingConfig;
}

export const DEFAULT_SYMBOLS = ['BTC-USDT', 'ETH-USDT'];
export const DEFAULT_TIMEFRAMES: Timeframe[] = ['1m', '5m', '15m', '1h', '4h', '1d'];
export const DEFAULT_PORT = 9001;
const DAY = 86_400_000;

/** Symbols in canonical or the exchange's native form -> canonical BASE-QUOTE. */
const symbols: Parse<string[], Pick<ExchangeConfig, 'id'>> = (v, field, exchange) => {
  const given = stringList(v, field);
  const id = exchange!.id;
  if (given.length === 0) throw new ConfigError(field, 'at least one symbol, e.g. BTC-USDT,ETH-USDT', given.join(','));
  const codec = adapterFor(id).symbols;
  const out = given.map((s) => {
    const n = resolveSymbol(codec, s);
    if (n === null) throw new ConfigError(field, `symbols as BASE-QUOTE (BTC-USDT) or ${id}'s native form (e.g. ${codec.toNative('BTC-USDT')})`, s);
    return n;
  });
  return [...new Set(out)];
};

const timeframes: Parse<Timeframe[]> = (v, field) => {
  const tfs = stringList(v, field);
  if (tfs.length === 0) throw new ConfigError(field, `at least one of ${TIMEFRAMES.join(', ')}`, tfs.join(','));
  for (const tf of tfs) if (!isTimeframe(tf)) throw new ConfigError(field, `timeframes from ${TIMEFRAMES.join(', ')}`, tf);
  return sortTimeframes(tfs as Timeframe[]);
};

const storeUrl: Parse<string> = (v, field) => {
  if (typeof v === 'string' && isPostgresUrl(v)) {
    parsePostgresUrl(v, field); // throws a ConfigError naming the field
    return v;
  }
  if (typeof v !== 'string' || !/^sqlite:.+/.test(v)) throw new ConfigError(field, `sqlite:PATH (e.g. sqlite:data/candlestack.db), sqlite::memory: or ${POSTGRES_URL_EXPECTED}`, typeof v === 'string' ? redactUrl(v) : v);
  return v;
};

/** `memory`, or `kafka://host:port[,host:port...]`. */
const busUrl: Parse<string> = (v, field) => {
  const expected = 'memory or kafka://HOST:PORT[,HOST:PORT] (e.g. kafka://127.0.0.1:9092)';
  if (v === 'memory') return v;
  if (typeof v !== 'string' || !v.startsWith('kafka://')) throw new ConfigError(field, expected, v);
  const hosts = v.slice('kafka://'.length).replace(/\/+$/, '').split(',');
  for (const h of hosts) if (!/^[A-Za-z0-9.\-]+:\d{1,5}$/.test(h) || Number(h.split(':')[1]) > 65535) throw new ConfigError(field, expected, v);
  return `kafka://${hosts.join(',')}`;
};

/** A log file path (a directory is created when missing). */
const logPath: Parse<string> = (v, field) => {
  if (typeof v !== 'string' || v.trim() === '' || /[<>:"|?*\u0000]/.test(v) || v.endsWith('/')) throw new ConfigError(field, 'a file path such as logs/app.log', v);
  return v.trim();
};

/** A file size for rotation: a number with k, m or g (binary units: 1k = 1,024 bytes; parseLogSize). */
const logSize: Parse<string> = (v, field) => {
  const s = typeof v === 'number' ? `${v}m` : v;
  if (typeof s !== 'string' || !/^\d+(\.\d+)?[kmg]$/i.test(s.trim())) throw new ConfigError(field, 'a size like 512k, 100m or 1g', v);
  return s.trim().toLowerCase();
};

const kafkaName: Parse<string> = (v, field) => {
  if (typeof v !== 'string' || !/^[A-Za-z0-9._-]{1,249}$/.test(v)) throw new ConfigError(field, 'a Kafka name of letters, digits, ".", "_" and "-"', v);
  return v;
};

/** A maximum age, or `forever` / null: kept forever. */
const retentionAge: Parse<number | undefined> = (v, field) => (v === 'forever' || v === null ? undefined : duration(60_000, 100 * 365 * DAY)(v, field));
const RETENTION_DEFAULTS: Partial<Record<Timeframe, number>> = { '1s': DAY, '1m': 90 * DAY };

const EXCHANGE = section<ExchangeConfig>({
  /** The default config collects from Binance; an exchange listed in the file must name its id. */
  id: leaf(oneOf(EXCHANGE_IDS), 'binance', { required: true }),
  symbols: leaf(symbols, DEFAULT_SYMBOLS, { cli: { flag: 'symbols', value: 'LIST', help: 'symbols to watch on every exchange (default {default})' } }),
  tradeStream: leaf(oneOf(TRADE_STREAMS), 'trade', { cli: { flag: 'trade-stream', value: 'NAME', help: `trade stream: ${TRADE_STREAMS.join(' or ')} (default {default})` } }),
  klines: leaf(bool, true),
  wsUrl: leaf(url(['ws:', 'wss:']), (e: ExchangeConfig) => adapterFor(e.id).defaultEndpoints.wsBaseUrl, { cli: { flag: 'ws-url', value: 'URL', help: "exchange WebSocket base URL (default the exchange's own)" } }),
  restUrl: leaf(url(['http:', 'https:']), (e: ExchangeConfig) => adapterFor(e.id).defaultEndpoints.restBaseUrl, { cli: { flag: 'rest-url', value: 'URL', help: "exchange REST base URL (default the exchange's own)" } }),
});

/** `--exchanges a,b`: the listed exchanges, each keeping its settings if already configured, else the first's (with its own URLs). */
const exchangesSetting = setting<ExchangeConfig[]>({
  flag: 'exchanges',
  value: 'LIST',
  help: `exchanges to collect from (${EXCHANGE_IDS.join(', ')})`,
  apply: (current, raw, name) => {
    const ids = splitList(raw);
    const expected = `a comma-separated list of ${EXCHANGE_IDS.join(', ')}`;
    if (ids.length === 0) throw new ConfigError(name, expected, raw);
    const template = current[0]!;
    return ids.map((id) => {
      if (!isExchangeId(id)) throw new ConfigError(name, expected, raw);
      const own = EXCHANGE.init(undefined, { id });
      return current.find((e) => e.id === id) ?? { ...template, id, wsUrl: own.wsUrl, restUrl: own.restUrl };
    });
  },
});

/** The whole config; the file's top-level keys are these, in this order. */
const CONFIG = section<Config>({
  exchanges: list(EXCHANGE, { init: () => [EXCHANGE.init(undefined)], expected: 'a non-empty list of exchanges', settings: [exchangesSetting] }),
  timeframes: leaf(timeframes, DEFAULT_TIMEFRAMES, { cli: { flag: 'timeframes', value: 'LIST', help: `candle timeframes (default {default}; any of ${TIMEFRAMES.join(',')})` } }),
  candles: section({
    graceMs: leaf(duration(0, 3_600_000), 2_000, { file: 'grace', cli: { flag: 'grace', value: 'DURATION', help: 'wait after a period ends before closing its candle (default {default})' } }),
    latePolicy: leaf(oneOf(LATE_POLICIES), 'drop', { cli: { flag: 'late-policy', value: 'POLICY', help: 'late trades: drop, or amend the closed candle and publish a correction (default {default})' } }),
    tickMs: leaf(duration(10, 10_000), 250, { file: 'tick' }),
  }),
  feed: section<Config['feed']>(
    {
      staleAfterMs: leaf(duration(1_000, 3_600_000), 30_000, { file: 'staleAfter', cli: { flag: 'stale-after', value: 'DURATION', help: 'reconnect a connection that received nothing for this long (default {default})' } }),
      backoffInitialMs: leaf(duration(10, 600_000), 1_000, { file: 'backoffInitial' }),
      backoffMaxMs: leaf(duration(100, 3_600_000), 60_000, { file: 'backoffMax' }),
    },
    {
      check: (f, given, field) => {
        if (f.backoffMaxMs < f.backoffInitialMs) throw new ConfigError(`${field}.backoffMax`, `a duration not below ${field}.backoffInitial`, given.backoffMax);
      },
    },
  ),
  bus: leaf(busUrl, 'memory', { cli: { flag: 'bus', value: 'URL', help: 'bus between roles: memory (in-process, run/demo) or kafka://HOST:PORT[,HOST:PORT] (collect/process/serve)' } }),
  store: section(
    {
      url: leaf(storeUrl, 'sqlite:data/candlestack.db', {
        cli: { flag: 'store', value: 'URL', help: 'candle store: sqlite:PATH, sqlite::memory: or postgres://USER@HOST:PORT/DB[?schema=NAME&pool_size=N] (default {default})' },
      }),
      flushMs: leaf(duration(10, 60_000), 1_000, { file: 'flushInterval' }),
    },
    { shorthand: (raw) => (typeof raw === 'string' ? { url: raw } : undefined) },
  ),
  retention: record(TIMEFRAMES, (tf) => leaf(retentionAge, RETENTION_DEFAULTS[tf]), { replace: true }),
  http: section<Config['http']>({
    host: leaf(host, '127.0.0.1', { cli: { flag: 'host', value: 'ADDRESS', help: 'HTTP listen address (default {default}; 0.0.0.0 to expose)' } }),
    port: leaf(port, DEFAULT_PORT, { cli: { flag: 'port', value: 'PORT', help: 'HTTP port for the API, /ws and /metrics (default {default}; 0 picks a free one)' } }),
    allowedHosts: leaf(hostNames, [], { cli: { flag: 'allowed-hosts', value: 'LIST', help: 'Host names answered besides localhost, IP addresses and the --host address (DNS-rebinding protection): serve,.example.com or * for any; /healthz, /readyz, /metrics answer any Host' } }),
    allowedOrigins: leaf(origins, [], { cli: { flag: 'allowed-origins', value: 'LIST', help: 'browser Origins a /ws connection or a POST may come from besides the same origin: https://dash.example.com or * for any' } }),
    ...SERVE_HTTP_FIELDS,
  }),
  log: section({
    level: leaf(oneOf(LOG_LEVELS), 'info', { cli: { flag: 'log-level', value: 'LEVEL', help: `log level: ${LOG_LEVELS.join(', ')} (default {default})` } }),
    format: leaf(oneOf(LOG_FORMATS), 'auto', { cli: { flag: 'log-format', value: 'FORMAT', help: 'json, pretty, or auto (pretty on a terminal; default {default})' } }),
    file: leaf(nullable(logPath), null, { cli: { flag: 'log-file', value: 'PATH', help: 'also write every log line to PATH, one file per UTC day (logs/app.log -> logs/app.2026-12-03.1.log), rotated on --log-max-size too' } }),
    errorFile: leaf(nullable(logPath), null, { cli: { flag: 'log-error-file', value: 'PATH', help: 'write the error and fatal lines to PATH too, rotated the same way' } }),
    retentionMs: leaf(duration(DAY, 3650 * DAY), 30 * DAY, { file: 'retention', cli: { flag: 'log-retention', value: 'DURATION', help: 'delete log files older than this (default {default})' } }),
    maxSize: leaf(logSize, '100m'),
    loki: LOKI,
  }),
  indicators: INDICATORS,
  quality: QUALITY,
  breakers: BREAKERS,
  jobs: JOBS,
  decide: DECIDE,
  telegram: TELEGRAM,
  kafka: section({
    topics: record(Object.keys(DEFAULT_KAFKA_TOPICS) as (keyof KafkaTopicNames)[], (topic) => leaf(kafkaName, DEFAULT_KAFKA_TOPICS[topic])),
    group: leaf(kafkaName, 'candlestack-process', { cli: { flag: 'kafka-group', value: 'NAME', help: 'Kafka consumer group of the process role (default {default})' } }),
    commitIntervalMs: leaf(duration(0, 60_000), 1_000, { file: 'commitInterval' }),
  }),
  tracing: TRACING,
  cache: CACHE,
});

export function defaultConfig(): Config {
  return CONFIG.init(undefined);
}

/** Every setting reachable from a flag and an environment variable, in the order they apply. */
export const SETTINGS: readonly Setting<Config>[] = CONFIG.settings;

/** Every declared leaf of the file (for tests and docs). */
export const configLeaves = () => CONFIG.leaves('', [], defaultConfig(), undefined);

/** The parseArgs options of --config and the settings. */
export const SETTING_OPTIONS: Record<string, { type: 'string' }> = Object.fromEntries(['config', ...SETTINGS.map((s) => s.flag)].map((f) => [f, { type: 'string' as const }]));

/** The settings' values from parseArgs, by flag name. */
export function settingFlags(values: Record<string, unknown>): Record<string, string | undefined> {
  return Object.fromEntries(SETTINGS.map((s) => [s.flag, values[s.flag] as string | undefined]));
}

/** The --help rows of --config and the settings, aligned. */
export function settingsHelp(): string {
  const rows = [['--config FILE', 'YAML or JSON config file (env CANDLESTACK_CONFIG); flags and env override it'], ...SETTINGS.map((s) => [`--${s.flag} ${s.value}`, `${s.help} (env ${s.env})`])];
  const width = Math.max(...rows.map(([a]) => a!.length)) + 2;
  return rows.map(([a, b]) => `  ${a!.padEnd(width)}${b}`).join('\n');
}

export interface ConfigSources {
  /** Path given with --config. */
  file?: string;
  env: NodeJS.ProcessEnv;
  /** Flag name (without --) to raw value. */
  flags: Record<string, string | undefined>;
}

export function loadConfig(sources: ConfigSources): Config {
  const config = defaultConfig();
  const file = sources.file ?? sources.env.CANDLESTACK_CONFIG;
  if (file) {
    const raw = readConfigFile(file);
    if (raw !== null && raw !== undefined) CONFIG.read(raw, '', config, undefined);
  }
  for (const s of SETTINGS) {
    const raw = sources.env[s.env];
    if (raw !== undefined && raw !== '') s.apply(config, raw, s.env, undefined);
  }
  applyOtelEnv(config.tracing, sources.env);
  for (const s of SETTINGS) {
    const raw = sources.flags[s.flag];
    if (raw !== undefined) s.apply(config, raw, `--${s.flag}`, undefined);
  }
  return config;
}

function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('--config', 'a readable YAML or JSON file', path, { cause: err });
  }
  try {
    return path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError('--config', `valid ${path.endsWith('.json') ? 'JSON' : 'YAML'} (${(err as Error).message.split('\n')[0]})`, path, { cause: err });
  }
}

/** The broker list of a kafka:// bus URL. */
export function kafkaBrokers(bus: string): string[] {
  return bus.slice('kafka://'.length).split(',');
}
