/**
 * Config of the read API at scale: the `http:` fields that protect it (trustProxy, apiKeys, rateLimits, live
 * WebSocket caps) and the `cache:` section (Redis URL or the in-process LRU, or `false`). An invalid value is a
 * ConfigError naming e.g. `http.rateLimits.reads` or `cache.maxBytes`.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../core/errors.js';
import { bool, duration, int, isObj, mapping, nullable, stringList, url, type Parse } from './fields.js';
import { leaf, record, section, type Fields } from './schema.js';

/** Route groups with a budget of their own: the read API, /metrics, WebSocket connects, POST routes. */
export const RATE_LIMIT_GROUPS = ['reads', 'metrics', 'ws', 'writes'] as const;
export type RateLimitGroup = (typeof RATE_LIMIT_GROUPS)[number];

/** A token bucket: `rate` tokens per second refill it up to `burst`; a request takes one. */
export interface TokenBucketSettings {
  rate: number;
  burst: number;
}

export interface LiveLimits {
  /** Open /ws connections per client address (or API key). */
  maxConnectionsPerClient: number;
  /** Subscriptions per /ws connection. */
  maxSubscriptions: number;
  /** A client whose unsent data passes this is disconnected (a slow reader). */
  maxBufferedBytes: number;
}

export interface ServeHttpConfig {
  /** Take the client address from X-Forwarded-For (the left-most entry) instead of the socket (behind a proxy). */
  trustProxy: boolean;
  /** API keys (`Authorization: Bearer KEY`): a keyed client gets a budget of its own instead of its address's. */
  apiKeys: string[];
  /** A file with more API keys, one per line (`#` comments); read at start. */
  apiKeysFile: string | null;
  /** Per group; null: not limited. */
  rateLimits: Record<RateLimitGroup, TokenBucketSettings | null>;
  live: LiveLimits;
  /** serve: the decision service (a decide or run instance) whose /api/decision and /api/decisions it answers with; null: those routes are 404 on serve. */
  decisionUrl: string | null;
}

export const RATE_LIMIT_DEFAULTS: Record<RateLimitGroup, TokenBucketSettings> = {
  reads: { rate: 20, burst: 100 },
  metrics: { rate: 20, burst: 100 },
  ws: { rate: 2, burst: 20 },
  writes: { rate: 10, burst: 100 },
};

const BUCKET_EXPECTED = 'a mapping { rate: REQUESTS_PER_SECOND (0.001 to 1000000), burst: INTEGER (1 to 10000000) }, or false (not limited)';

/** `{ rate, burst }`, or false / "off" for no limit. */
const bucket: Parse<TokenBucketSettings | null> = (v, field) => {
  if (v === false || v === 'off') return null;
  if (!isObj(v)) throw new ConfigError(field, BUCKET_EXPECTED, v);
  const m = mapping(v, field, ['rate', 'burst'], BUCKET_EXPECTED);
  const rate = typeof m.rate === 'number' ? m.rate : Number.NaN;
  const burst = typeof m.burst === 'number' ? m.burst : Number.NaN;
  if (!(rate >= 0.001 && rate <= 1_000_000)) throw new ConfigError(`${field}.rate`, 'requests per second from 0.001 to 1000000', m.rate);
  if (!Number.isInteger(burst) || burst < 1 || burst > 10_000_000) throw new ConfigError(`${field}.burst`, 'an integer from 1 to 10000000', m.burst);
  return { rate, burst };
};

/** API keys: printable, no spaces, 16 to 256 characters (a bearer token). */
const apiKeys: Parse<string[]> = (v, field) => {
  const keys = stringList(v, field);
  for (const k of keys) if (!/^[\x21-\x7e]{16,256}$/.test(k)) throw new ConfigError(field, 'API keys of 16 to 256 printable characters without spaces, comma-separated', k.length > 4 ? `${k.slice(0, 4)}...` : k);
  return [...new Set(keys)];
};

const filePath: Parse<string | null> = (v, field) => {
  if (v === null) return null;
  if (typeof v !== 'string' || v.trim() === '' || /[\0?!]/.test(v)) throw new ConfigError(field, 'a file path', v);
  return v;
};

const LIVE_FIELDS: Fields<LiveLimits> = {
  maxConnectionsPerClient: leaf(int(1, 100_000), 20),
  maxSubscriptions: leaf(int(1, 100_000), 200),
  maxBufferedBytes: leaf(int(1024, 1024 ** 3), 4 * 1024 * 1024),
};

/** Spread into the `http:` section of config.ts. */
export const SERVE_HTTP_FIELDS: Fields<Partial<ServeHttpConfig>> = {
  trustProxy: leaf(bool, false),
  apiKeys: leaf(apiKeys, [], { cli: { flag: 'api-keys', value: 'LIST', help: 'API keys clients send as Authorization: Bearer KEY; each keyed client gets a rate budget of its own (prefer the environment to the flag)' } }),
  apiKeysFile: leaf(filePath, null, { cli: { flag: 'api-keys-file', value: 'FILE', help: 'a file of API keys, one per line' } }),
  rateLimits: record(RATE_LIMIT_GROUPS, (g) => leaf(bucket, RATE_LIMIT_DEFAULTS[g])),
  live: section(LIVE_FIELDS),
  decisionUrl: leaf(nullable(url(['http:', 'https:'])), null, { cli: { flag: 'decision-service', value: 'URL', help: 'serve: answer /api/decision and /api/decisions (the dashboard\'s assistant panel) from this decide or run instance, e.g. http://decide:8002' } }),
};

/** The `http:` limits with the defaults for what a hand-built config left out. */
export function serveHttp(http: Partial<ServeHttpConfig>): ServeHttpConfig {
  return {
    trustProxy: http.trustProxy ?? false,
    apiKeys: http.apiKeys ?? [],
    apiKeysFile: http.apiKeysFile ?? null,
    rateLimits: http.rateLimits ?? { ...RATE_LIMIT_DEFAULTS },
    live: http.live ?? { maxConnectionsPerClient: 20, maxSubscriptions: 200, maxBufferedBytes: 4 * 1024 * 1024 },
    decisionUrl: http.decisionUrl ?? null,
  };
}

/** The configured keys plus the file's; a missing or bad file is a ConfigError naming http.apiKeysFile. */
export function resolveApiKeys(http: Pick<ServeHttpConfig, 'apiKeys' | 'apiKeysFile'>): string[] {
  if (http.apiKeysFile === null) return http.apiKeys;
  let text: string;
  try {
    text = readFileSync(http.apiKeysFile, 'utf8');
  } catch (err) {
    throw new ConfigError('http.apiKeysFile', 'a readable file of API keys, one per line', http.apiKeysFile, { cause: err });
  }
  const fromFile = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  return [...new Set([...http.apiKeys, ...apiKeys(fromFile, 'http.apiKeysFile')])];
}

export interface CacheConfig {
  /** false: no cache (`cache: false`). */
  enabled: boolean;
  /** redis://HOST:PORT[/DB]: shared by every serve instance; null: an in-process LRU. */
  url: string | null;
  /** Bound of the in-process LRU (bodies' bytes). */
  maxBytes: number;
  /** How long an entry lives (a safety net: invalidation is by event). */
  ttlMs: number;
  /** A range is cached only once its last period closed this long ago, and not within this long of a correction in it (the store's writer lags the bus). */
  settleMs: number;
  /** A cache operation slower than this counts as failed (the request goes to the store). */
  timeoutMs: number;
  /** Prefix of every Redis key (cache entries, their index, rate-limit buckets): deployments sharing one Redis use different ones. */
  keyPrefix: string;
}

const redisUrl: Parse<string | null> = (v, field) => {
  if (v === null) return null;
  const expected = 'redis://[USER:PASSWORD@]HOST:PORT[/DB] or rediss://...';
  if (typeof v !== 'string' || !/^rediss?:\/\/[^\s]+$/.test(v)) throw new ConfigError(field, expected, v);
  try {
    new URL(v);
  } catch {
    throw new ConfigError(field, expected, v);
  }
  return v;
};

const keyPrefix: Parse<string> = (v, field) => {
  if (typeof v !== 'string' || !/^[A-Za-z0-9_.:-]{1,64}$/.test(v)) throw new ConfigError(field, 'a Redis key prefix of 1 to 64 letters, digits, _ . : -', v);
  return v;
};

export const CACHE = section<CacheConfig>(
  {
    enabled: leaf(bool, true),
    url: leaf(redisUrl, null, { cli: { flag: 'cache', value: 'URL', help: 'Redis cache for the read API, shared by serve instances (redis://HOST:PORT); without it an in-process LRU' } }),
    maxBytes: leaf(int(1024, 64 * 1024 ** 3), 64 * 1024 * 1024),
    ttlMs: leaf(duration(1_000, 30 * 86_400_000), 3_600_000, { file: 'ttl' }),
    settleMs: leaf(duration(0, 3_600_000), 10_000, { file: 'settle' }),
    timeoutMs: leaf(duration(1, 60_000), 100, { file: 'timeout' }),
    keyPrefix: leaf(keyPrefix, 'candlestack:'),
  },
  {
    shorthand: (raw) => (raw === false ? { enabled: false } : typeof raw === 'string' ? { url: raw } : undefined),
    expected: (keys) => `false, a redis:// URL, or a mapping with keys ${keys.join(', ')}`,
  },
);

/** Redacts the password of a redis:// URL for logs. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
