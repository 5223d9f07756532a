/**
 * Configuration: defaults <- file (--config, YAML or JSON) <- environment (CANDLESTACK_*) <- flags.
 * Everything is validated at start; the first invalid field is a ConfigError naming the field and the
 * expected form (the CLI prints it in one line and exits 2).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../core/errors.js';
import { TIMEFRAMES, isTimeframe, sortTimeframes, type Timeframe } from '../core/timeframe.js';
import { EXCHANGE_IDS, adapterFor, isExchangeId, type ExchangeId } from '../exchanges/index.js';
import { resolveSymbol } from '../exchanges/symbols.js';
import { LATE_POLICIES, LOG_FORMATS, LOG_LEVELS, TRADE_STREAMS, type LatePolicy, type LogFormat, type LogLevel, type TradeStream } from '../core/choices.js';
import { parseDuration } from './duration.js';
import { indicatorsFromFile } from './indicators-config.js';
import { defaultIndicatorsConfig, type IndicatorsConfig } from '../core/indicator-specs.js';
import { applyBreakersFile, applyQualityFile, defaultBreakersConfig, defaultQualitySettings, type BreakersConfig } from './quality-config.js';
import type { QualitySettings } from '../quality/settings.js';
import { POSTGRES_URL_EXPECTED, isPostgresUrl, parsePostgresUrl, redactUrl } from '../store/postgres-url.js';
import { DEFAULT_KAFKA_TOPICS, type KafkaTopicNames } from '../core/kafka-topics.js';

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
  http: { host: string; port: number };
  log: { level: LogLevel; format: LogFormat };
  /** Streaming indicators (src/pipeline/indicators/); the file's `indicators:` section. */
  indicators: IndicatorsConfig;
  /** Data-quality checks and score (src/quality/). */
  quality: QualitySettings;
  /** Circuit breakers around REST backfill, store writes and bus produce. */
  breakers: BreakersConfig;
}

export const DEFAULT_SYMBOLS = ['BTC-USDT', 'ETH-USDT'];
export const DEFAULT_TIMEFRAMES: Timeframe[] = ['1m', '5m', '15m', '1h', '4h', '1d'];
export const DEFAULT_PORT = 9001;

export function defaultConfig(): Config {
  const binance = adapterFor('binance');
  return {
    exchanges: [
      {
        id: 'binance',
        symbols: [...DEFAULT_SYMBOLS],
        tradeStream: 'trade',
        klines: true,
        wsUrl: binance.defaultEndpoints.wsBaseUrl,
        restUrl: binance.defaultEndpoints.restBaseUrl,
      },
    ],
    timeframes: [...DEFAULT_TIMEFRAMES],
    candles: { graceMs: 2_000, latePolicy: 'drop', tickMs: 250 },
    feed: { staleAfterMs: 30_000, backoffInitialMs: 1_000, backoffMaxMs: 60_000 },
    bus: 'memory',
    kafka: { topics: { ...DEFAULT_KAFKA_TOPICS }, group: 'candlestack-process', commitIntervalMs: 1_000 },
    store: { url: 'sqlite:data/candlestack.db', flushMs: 1_000 },
    retention: { '1s': 86_400_000, '1m': 90 * 86_400_000 },
    http: { host: '127.0.0.1', port: DEFAULT_PORT },
    log: { level: 'info', format: 'auto' },
    indicators: defaultIndicatorsConfig(),
    quality: defaultQualitySettings(),
    breakers: defaultBreakersConfig(),
  };
}

/** One setting reachable from a flag and an environment variable. */
export interface Setting {
  flag: string;
  env: string;
  value: string;
  help: string;
  apply: (config: Config, raw: string, field: string) => void;
}

const list = (raw: string) => raw.split(',').map((s) => s.trim()).filter(Boolean);

export const SETTINGS: readonly Setting[] = [
  {
    flag: 'exchanges',
    env: 'CANDLESTACK_EXCHANGES',
    value: 'LIST',
    help: `exchanges to collect from (${EXCHANGE_IDS.join(', ')})`,
    apply: (c, raw, field) => {
      const ids = list(raw);
      if (ids.length === 0) throw new ConfigError(field, `a comma-separated list of ${EXCHANGE_IDS.join(', ')}`, raw);
      const template = c.exchanges[0]!;
      c.exchanges = ids.map((id) => {
        if (!isExchangeId(id)) throw new ConfigError(field, `a comma-separated list of ${EXCHANGE_IDS.join(', ')}`, raw);
        const existing = c.exchanges.find((e) => e.id === id);
        const a = adapterFor(id);
        return existing ?? { ...template, id, wsUrl: a.defaultEndpoints.wsBaseUrl, restUrl: a.defaultEndpoints.restBaseUrl };
      });
    },
  },
  {
    flag: 'symbols',
    env: 'CANDLESTACK_SYMBOLS',
    value: 'LIST',
    help: `symbols to watch on every exchange (default ${DEFAULT_SYMBOLS.join(',')})`,
    apply: (c, raw, field) => {
      for (const e of c.exchanges) e.symbols = validateSymbols(list(raw), field, e.id);
    },
  },
  {
    flag: 'timeframes',
    env: 'CANDLESTACK_TIMEFRAMES',
    value: 'LIST',
    help: `candle timeframes (default ${DEFAULT_TIMEFRAMES.join(',')}; any of ${TIMEFRAMES.join(',')})`,
    apply: (c, raw, field) => (c.timeframes = validateTimeframes(list(raw), field)),
  },
  {
    flag: 'trade-stream',
    env: 'CANDLESTACK_TRADE_STREAM',
    value: 'NAME',
    help: 'trade stream: trade or aggTrade (default trade)',
    apply: (c, raw, field) => {
      const v = oneOf(raw, TRADE_STREAMS, field);
      for (const e of c.exchanges) e.tradeStream = v;
    },
  },
  {
    flag: 'ws-url',
    env: 'CANDLESTACK_WS_URL',
    value: 'URL',
    help: "exchange WebSocket base URL (default the exchange's own)",
    apply: (c, raw, field) => {
      for (const e of c.exchanges) e.wsUrl = url(raw, field, ['ws:', 'wss:']);
    },
  },
  {
    flag: 'rest-url',
    env: 'CANDLESTACK_REST_URL',
    value: 'URL',
    help: "exchange REST base URL (default the exchange's own)",
    apply: (c, raw, field) => {
      for (const e of c.exchanges) e.restUrl = url(raw, field, ['http:', 'https:']);
    },
  },
  {
    flag: 'grace',
    env: 'CANDLESTACK_GRACE',
    value: 'DURATION',
    help: 'wait after a period ends before closing its candle (default 2s)',
    apply: (c, raw, field) => (c.candles.graceMs = duration(raw, field, 0, 3_600_000)),
  },
  {
    flag: 'late-policy',
    env: 'CANDLESTACK_LATE_POLICY',
    value: 'POLICY',
    help: 'late trades: drop, or amend the closed candle and publish a correction (default drop)',
    apply: (c, raw, field) => (c.candles.latePolicy = oneOf(raw, LATE_POLICIES, field)),
  },
  {
    flag: 'stale-after',
    env: 'CANDLESTACK_STALE_AFTER',
    value: 'DURATION',
    help: 'reconnect a connection that received nothing for this long (default 30s)',
    apply: (c, raw, field) => (c.feed.staleAfterMs = duration(raw, field, 1_000, 3_600_000)),
  },
  {
    flag: 'store',
    env: 'CANDLESTACK_STORE',
    value: 'URL',
    help: 'candle store: sqlite:PATH, sqlite::memory: or postgres://USER@HOST:PORT/DB[?schema=NAME&pool_size=N] (default sqlite:data/candlestack.db)',
    apply: (c, raw, field) => (c.store.url = storeUrl(raw, field)),
  },
  {
    flag: 'bus',
    env: 'CANDLESTACK_BUS',
    value: 'URL',
    help: 'bus between roles: memory (in-process, run/demo) or kafka://HOST:PORT[,HOST:PORT] (collect/process/serve)',
    apply: (c, raw, field) => (c.bus = busUrl(raw, field)),
  },
  {
    flag: 'kafka-group',
    env: 'CANDLESTACK_KAFKA_GROUP',
    value: 'NAME',
    help: 'Kafka consumer group of the process role (default candlestack-process)',
    apply: (c, raw, field) => (c.kafka.group = kafkaName(raw, field)),
  },
  {
    flag: 'host',
    env: 'CANDLESTACK_HOST',
    value: 'ADDRESS',
    help: 'HTTP listen address (default 127.0.0.1; 0.0.0.0 to expose)',
    apply: (c, raw, field) => (c.http.host = host(raw, field)),
  },
  {
    flag: 'port',
    env: 'CANDLESTACK_PORT',
    value: 'PORT',
    help: `HTTP port for the API, /ws and /metrics (default ${DEFAULT_PORT}; 0 picks a free one)`,
    apply: (c, raw, field) => (c.http.port = port(raw, field)),
  },
  {
    flag: 'log-level',
    env: 'CANDLESTACK_LOG_LEVEL',
    value: 'LEVEL',
    help: `log level: ${LOG_LEVELS.join(', ')} (default info)`,
    apply: (c, raw, field) => (c.log.level = oneOf(raw, LOG_LEVELS, field)),
  },
  {
    flag: 'log-format',
    env: 'CANDLESTACK_LOG_FORMAT',
    value: 'FORMAT',
    help: 'json, pretty, or auto (pretty on a terminal; default auto)',
    apply: (c, raw, field) => (c.log.format = oneOf(raw, LOG_FORMATS, field)),
  },
];

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
  if (file) applyFile(config, readConfigFile(file));
  for (const s of SETTINGS) {
    const raw = sources.env[s.env];
    if (raw !== undefined && raw !== '') s.apply(config, raw, s.env);
  }
  for (const s of SETTINGS) {
    const raw = sources.flags[s.flag];
    if (raw !== undefined) s.apply(config, raw, `--${s.flag}`);
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

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function fields(v: unknown, field: string, allowed: readonly string[]): Obj {
  if (!isObj(v)) throw new ConfigError(field, `a mapping with keys ${allowed.join(', ')}`, v);
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) throw new ConfigError(`${field ? `${field}.` : ''}${k}`, `no such field (known: ${allowed.join(', ')})`, v[k]);
  }
  return v;
}

function applyFile(c: Config, raw: unknown): void {
  if (raw === null || raw === undefined) return;
  const top = fields(raw, '', ['exchanges', 'timeframes', 'candles', 'feed', 'bus', 'store', 'retention', 'http', 'log', 'indicators', 'quality', 'breakers', 'kafka']);
  if (top.exchanges !== undefined) {
    if (!Array.isArray(top.exchanges) || top.exchanges.length === 0) throw new ConfigError('exchanges', 'a non-empty list of exchanges', top.exchanges);
    c.exchanges = top.exchanges.map((e, i) => exchangeFromFile(e, `exchanges[${i}]`));
  }
  if (top.timeframes !== undefined) c.timeframes = validateTimeframes(stringList(top.timeframes, 'timeframes'), 'timeframes');
  if (top.candles !== undefined) {
    const o = fields(top.candles, 'candles', ['grace', 'latePolicy', 'tick']);
    if (o.grace !== undefined) c.candles.graceMs = duration(o.grace, 'candles.grace', 0, 3_600_000);
    if (o.latePolicy !== undefined) c.candles.latePolicy = oneOf(o.latePolicy, LATE_POLICIES, 'candles.latePolicy');
    if (o.tick !== undefined) c.candles.tickMs = duration(o.tick, 'candles.tick', 10, 10_000);
  }
  if (top.feed !== undefined) {
    const o = fields(top.feed, 'feed', ['staleAfter', 'backoffInitial', 'backoffMax']);
    if (o.staleAfter !== undefined) c.feed.staleAfterMs = duration(o.staleAfter, 'feed.staleAfter', 1_000, 3_600_000);
    if (o.backoffInitial !== undefined) c.feed.backoffInitialMs = duration(o.backoffInitial, 'feed.backoffInitial', 10, 600_000);
    if (o.backoffMax !== undefined) c.feed.backoffMaxMs = duration(o.backoffMax, 'feed.backoffMax', 100, 3_600_000);
    if (c.feed.backoffMaxMs < c.feed.backoffInitialMs) throw new ConfigError('feed.backoffMax', `a duration not below feed.backoffInitial`, o.backoffMax);
  }
  if (top.bus !== undefined) c.bus = busUrl(top.bus, 'bus');
  if (top.kafka !== undefined) {
    const o = fields(top.kafka, 'kafka', ['topics', 'group', 'commitInterval']);
    if (o.group !== undefined) c.kafka.group = kafkaName(o.group, 'kafka.group');
    if (o.commitInterval !== undefined) c.kafka.commitIntervalMs = duration(o.commitInterval, 'kafka.commitInterval', 0, 60_000);
    if (o.topics !== undefined) {
      const t = fields(o.topics, 'kafka.topics', Object.keys(DEFAULT_KAFKA_TOPICS));
      for (const [k, v] of Object.entries(t)) c.kafka.topics[k as keyof KafkaTopicNames] = kafkaName(v, `kafka.topics.${k}`);
    }
  }
  if (top.store !== undefined) {
    const o = typeof top.store === 'string' ? { url: top.store } : fields(top.store, 'store', ['url', 'flushInterval']);
    if (o.url !== undefined) c.store.url = storeUrl(o.url, 'store.url');
    if (o.flushInterval !== undefined) c.store.flushMs = duration(o.flushInterval, 'store.flushInterval', 10, 60_000);
  }
  if (top.retention !== undefined) {
    const o = fields(top.retention, 'retention', TIMEFRAMES);
    c.retention = {};
    for (const [tf, v] of Object.entries(o)) {
      if (v === 'forever' || v === null) continue;
      c.retention[tf as Timeframe] = duration(v, `retention.${tf}`, 60_000, 100 * 365 * 86_400_000);
    }
  }
  if (top.http !== undefined) {
    const o = fields(top.http, 'http', ['host', 'port']);
    if (o.host !== undefined) c.http.host = host(o.host, 'http.host');
    if (o.port !== undefined) c.http.port = port(o.port, 'http.port');
  }
  if (top.log !== undefined) {
    const o = fields(top.log, 'log', ['level', 'format']);
    if (o.level !== undefined) c.log.level = oneOf(o.level, LOG_LEVELS, 'log.level');
    if (o.format !== undefined) c.log.format = oneOf(o.format, LOG_FORMATS, 'log.format');
  }
  if (top.indicators !== undefined) c.indicators = indicatorsFromFile(top.indicators, 'indicators');
  if (top.quality !== undefined) applyQualityFile(c.quality, top.quality);
  if (top.breakers !== undefined) applyBreakersFile(c.breakers, top.breakers);
}

function exchangeFromFile(v: unknown, field: string): ExchangeConfig {
  const o = fields(v, field, ['id', 'symbols', 'tradeStream', 'klines', 'wsUrl', 'restUrl']);
  if (!isExchangeId(o.id)) throw new ConfigError(`${field}.id`, `one of ${EXCHANGE_IDS.join(', ')}`, o.id);
  const a = adapterFor(o.id);
  if (o.klines !== undefined && typeof o.klines !== 'boolean') throw new ConfigError(`${field}.klines`, 'true or false', o.klines);
  return {
    id: o.id,
    symbols: o.symbols === undefined ? [...DEFAULT_SYMBOLS] : validateSymbols(stringList(o.symbols, `${field}.symbols`), `${field}.symbols`, o.id),
    tradeStream: o.tradeStream === undefined ? 'trade' : oneOf(o.tradeStream, TRADE_STREAMS, `${field}.tradeStream`),
    klines: o.klines ?? true,
    wsUrl: o.wsUrl === undefined ? a.defaultEndpoints.wsBaseUrl : url(o.wsUrl, `${field}.wsUrl`, ['ws:', 'wss:']),
    restUrl: o.restUrl === undefined ? a.defaultEndpoints.restBaseUrl : url(o.restUrl, `${field}.restUrl`, ['http:', 'https:']),
  };
}

function stringList(v: unknown, field: string): string[] {
  if (typeof v === 'string') return list(v);
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new ConfigError(field, 'a list of strings', v);
  return v as string[];
}

/** Symbols in canonical or the exchange's native form -> canonical BASE-QUOTE. */
function validateSymbols(symbols: string[], field: string, exchange: ExchangeId): string[] {
  if (symbols.length === 0) throw new ConfigError(field, 'at least one symbol, e.g. BTC-USDT,ETH-USDT', symbols.join(','));
  const codec = adapterFor(exchange).symbols;
  const out = symbols.map((s) => {
    const n = resolveSymbol(codec, s);
    if (n === null) throw new ConfigError(field, `symbols as BASE-QUOTE (BTC-USDT) or ${exchange}'s native form (e.g. ${codec.toNative('BTC-USDT')})`, s);
    return n;
  });
  return [...new Set(out)];
}

function validateTimeframes(tfs: string[], field: string): Timeframe[] {
  if (tfs.length === 0) throw new ConfigError(field, `at least one of ${TIMEFRAMES.join(', ')}`, tfs.join(','));
  for (const tf of tfs) if (!isTimeframe(tf)) throw new ConfigError(field, `timeframes from ${TIMEFRAMES.join(', ')}`, tf);
  return sortTimeframes(tfs as Timeframe[]);
}

function oneOf<T extends string>(v: unknown, choices: readonly T[], field: string): T {
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) throw new ConfigError(field, `one of ${choices.join(', ')}`, v);
  return v as T;
}

function duration(v: unknown, field: string, min: number, max: number): number {
  const ms = parseDuration(v);
  if (ms === undefined || ms < min || ms > max) {
    throw new ConfigError(field, `a duration like 500ms, 2s, 5m, 1h, 30d (or milliseconds) between ${min}ms and ${max}ms`, v);
  }
  return ms;
}

function port(v: unknown, field: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(field, 'a port number from 0 to 65535', v);
  return n;
}

function host(v: unknown, field: string): string {
  if (typeof v !== 'string' || !/^[A-Za-z0-9.:\-[\]]+$/.test(v)) throw new ConfigError(field, 'a host name or IP address such as 127.0.0.1 or 0.0.0.0', v);
  return v;
}

function url(v: unknown, field: string, protocols: string[]): string {
  try {
    if (typeof v !== 'string') throw new TypeError();
    const u = new URL(v);
    if (!protocols.includes(u.protocol)) throw new TypeError();
    return v.replace(/\/+$/, '');
  } catch {
    throw new ConfigError(field, `a ${protocols.map((p) => p.slice(0, -1)).join(' or ')} URL`, v);
  }
}

function storeUrl(v: unknown, field: string): string {
  if (typeof v === 'string' && isPostgresUrl(v)) {
    parsePostgresUrl(v, field); // throws a ConfigError naming the field
    return v;
  }
  if (typeof v !== 'string' || !/^sqlite:.+/.test(v)) throw new ConfigError(field, `sqlite:PATH (e.g. sqlite:data/candlestack.db), sqlite::memory: or ${POSTGRES_URL_EXPECTED}`, typeof v === 'string' ? redactUrl(v) : v);
  return v;
}

/** `memory`, or `kafka://host:port[,host:port...]`. */
function busUrl(v: unknown, field: string): string {
  const expected = 'memory or kafka://HOST:PORT[,HOST:PORT] (e.g. kafka://127.0.0.1:9092)';
  if (v === 'memory') return v;
  if (typeof v !== 'string' || !v.startsWith('kafka://')) throw new ConfigError(field, expected, v);
  const hosts = v.slice('kafka://'.length).replace(/\/+$/, '').split(',');
  for (const h of hosts) if (!/^[A-Za-z0-9.\-]+:\d{1,5}$/.test(h) || Number(h.split(':')[1]) > 65535) throw new ConfigError(field, expected, v);
  return `kafka://${hosts.join(',')}`;
}

/** The broker list of a kafka:// bus URL. */
export function kafkaBrokers(bus: string): string[] {
  return bus.slice('kafka://'.length).split(',');
}

function kafkaName(v: unknown, field: string): string {
  if (typeof v !== 'string' || !/^[A-Za-z0-9._-]{1,249}$/.test(v)) throw new ConfigError(field, 'a Kafka name of letters, digits, ".", "_" and "-"', v);
  return v;
}
