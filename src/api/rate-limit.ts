/**
 * Rate limits of the API: one token bucket per client and route group (`reads`, `metrics`, `ws` connects,
 * `writes`). The client is its API key when it sends a configured one (`Authorization: Bearer KEY`), else its
 * address (the socket's, or the left-most X-Forwarded-For entry with `http.trustProxy`). A request takes one
 * token; an empty bucket is a 429 with a JSON error body, `Retry-After` (seconds until the next token) and the
 * `RateLimit-Limit` / `-Remaining` / `-Reset` headers (every limited answer carries the last three), counted in
 * `candlestack_rate_limit_exceeded_total{route}`. An unknown bearer key is a 401. /healthz and /readyz are
 * never passed here.
 *
 * Buckets live in-process (`MemoryBuckets`, bounded) or in Redis (`RedisBuckets`: one atomic script on Redis'
 * own clock, so every serve instance draws from the same budget). While Redis is unreachable the limiter
 * counts in-process (`FallbackBuckets`): still limited, per instance.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Clock } from '../core/clock.js';
import type { RateLimitGroup, TokenBucketSettings } from '../config/serve-config.js';
import type { LimitMetrics } from '../telemetry/metrics.js';
import { sendError } from './http.js';
import type { RedisLink } from './redis-link.js';

export interface BucketDecision {
  allowed: boolean;
  /** Whole tokens left after this request. */
  remaining: number;
  /** Until the next token (0 when allowed). */
  retryAfterMs: number;
  /** Until the bucket is full again. */
  resetMs: number;
}

export interface BucketStore {
  readonly kind: string;
  take(key: string, bucket: TokenBucketSettings): Promise<BucketDecision>;
}

function decision(tokens: number, b: TokenBucketSettings, allowed: boolean): BucketDecision {
  return {
    allowed,
    remaining: Math.max(0, Math.floor(tokens)),
    retryAfterMs: allowed ? 0 : Math.ceil(((1 - tokens) / b.rate) * 1000),
    resetMs: Math.ceil(((b.burst - tokens) / b.rate) * 1000),
  };
}

/** Buckets in a Map, at most `maxKeys` (the least recently used is forgotten: it starts full again). */
export class MemoryBuckets implements BucketStore {
  readonly kind = 'memory';
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly maxKeys = 100_000,
  ) {}

  takeNow(key: string, b: TokenBucketSettings): BucketDecision {
    const now = this.clock.now();
    const s = this.buckets.get(key);
    let tokens = s ? Math.min(b.burst, s.tokens + (Math.max(0, now - s.at) / 1000) * b.rate) : b.burst;
    const allowed = tokens >= 1;
    if (allowed) tokens -= 1;
    if (s) this.buckets.delete(key);
    else if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    this.buckets.set(key, { tokens, at: now });
    return decision(tokens, b, allowed);
  }

  take(key: string, b: TokenBucketSettings): Promise<BucketDecision> {
    return Promise.resolve(this.takeNow(key, b));
  }

  get size(): number {
    return this.buckets.size;
  }
}

/** Refill, take one token, store, expire when it would be full again; on Redis' clock (TIME), atomically. */
const TAKE_TOKEN = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(s[1])
local at = tonumber(s[2])
if tokens == nil or at == nil then tokens = burst; at = now end
tokens = math.min(burst, tokens + math.max(0, now - at) / 1000 * rate)
local allowed = 0
if tokens >= 1 then tokens = tokens - 1; allowed = 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
`;

/** Buckets in Redis, shared by every instance using the same Redis. */
export class RedisBuckets implements BucketStore {
  readonly kind = 'redis';
  private readonly prefix: string;
  constructor(
    private readonly link: RedisLink,
    prefix?: string,
  ) {
    this.prefix = prefix ?? `${link.keyPrefix}rl:`;
  }

  async take(key: string, b: TokenBucketSettings): Promise<BucketDecision> {
    const reply = (await this.link.run('rate_limit', (c) => c.eval(TAKE_TOKEN, { keys: [this.prefix + key], arguments: [String(b.rate), String(b.burst)] }))) as [number, string];
    return decision(Number(reply[1]), b, reply[0] === 1);
  }
}

/** Redis while it answers, the in-process buckets while it does not. */
export class FallbackBuckets implements BucketStore {
  readonly kind = 'redis';
  constructor(
    private readonly primary: BucketStore,
    private readonly fallback: MemoryBuckets,
  ) {}

  async take(key: string, b: TokenBucketSettings): Promise<BucketDecision> {
    try {
      return await this.primary.take(key, b);
    } catch {
      return this.fallback.takeNow(key, b);
    }
  }
}

export interface RateLimiterOptions {
  limits: Record<RateLimitGroup, TokenBucketSettings | null>;
  apiKeys: readonly string[];
  trustProxy: boolean;
  buckets: BucketStore;
  metrics: LimitMetrics;
}

/** Who a request is: a configured API key, an address, or a bearer key nobody configured. */
export type ClientIdentity = { kind: 'key' | 'address'; id: string } | { kind: 'bad_key' };

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Tells who sent a request: a configured API key, else the address (X-Forwarded-For only with trustProxy). */
export class ClientIdentifier {
  /** sha256(key) -> a short id (the hash's first 16 hex digits): keys are never kept or sent to Redis in clear. */
  private readonly keys: ReadonlyMap<string, string>;

  constructor(private readonly o: { apiKeys: readonly string[]; trustProxy: boolean }) {
    this.keys = new Map(o.apiKeys.map((k) => [sha(k), sha(k).slice(0, 16)]));
  }

  /** The client address: the socket's, or with trustProxy the first X-Forwarded-For entry. */
  address(req: IncomingMessage): string {
    let addr: string | undefined;
    if (this.o.trustProxy) {
      const xff = req.headers['x-forwarded-for'];
      const first = (Array.isArray(xff) ? xff[0] : xff)?.split(',')[0]?.trim();
      if (first) addr = first;
    }
    addr ??= req.socket.remoteAddress ?? 'unknown';
    return addr.startsWith('::ffff:') ? addr.slice(7) : addr;
  }

  identify(req: IncomingMessage): ClientIdentity {
    const auth = req.headers.authorization;
    if (auth !== undefined && this.keys.size > 0) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      const id = m ? this.keys.get(sha(m[1]!)) : undefined;
      return id ? { kind: 'key', id } : { kind: 'bad_key' };
    }
    return { kind: 'address', id: this.address(req) };
  }

  /** One string per client (`k:ID` or `a:ADDRESS`; an unknown key counts as its address). */
  clientOf = (req: IncomingMessage): string => {
    const who = this.identify(req);
    return who.kind === 'key' ? `k:${who.id}` : `a:${this.address(req)}`;
  };
}

export class RateLimiter {
  private readonly exceeded = new Map<string, { inc(): void }>();
  readonly clients: ClientIdentifier;

  constructor(private readonly o: RateLimiterOptions) {
    this.clients = new ClientIdentifier(o);
  }

  identify(req: IncomingMessage): ClientIdentity {
    return this.clients.identify(req);
  }

  /** Whether `group` is limited at all. */
  limits(group: RateLimitGroup): boolean {
    return this.o.limits[group] !== null;
  }

  /**
   * Takes one token of `group` for the request's client. Null: no limit applies. Otherwise the decision and
   * the headers to send; `status` is 401 for an unknown key, 429 when over the limit, 0 when allowed.
   */
  async check(req: IncomingMessage, group: RateLimitGroup, route: string): Promise<{ status: 0 | 401 | 429; headers: Record<string, string>; message: string }> {
    const bucket = this.o.limits[group];
    const who = this.identify(req);
    if (who.kind === 'bad_key') return { status: 401, headers: { 'www-authenticate': 'Bearer' }, message: 'unknown API key in Authorization: Bearer; send a configured key or none' };
    if (!bucket) return { status: 0, headers: {}, message: '' };
    const d = await this.o.buckets.take(`${group}:${who.kind === 'key' ? 'k' : 'a'}:${who.id}`, bucket);
    const headers: Record<string, string> = {
      'ratelimit-limit': String(bucket.burst),
      'ratelimit-remaining': String(d.remaining),
      'ratelimit-reset': String(Math.ceil(d.resetMs / 1000)),
      'ratelimit-policy': `${bucket.burst};w=${Math.max(1, Math.round(bucket.burst / bucket.rate))}`,
    };
    if (d.allowed) return { status: 0, headers, message: '' };
    headers['retry-after'] = String(Math.max(1, Math.ceil(d.retryAfterMs / 1000)));
    this.counter(route).inc();
    return { status: 429, headers, message: `rate limit of ${bucket.rate} requests/s (burst ${bucket.burst}) exceeded for ${group}; retry after ${headers['retry-after']} s` };
  }

  /** For HTTP routes: true to go ahead (the RateLimit-* headers are set); false when a 401 or 429 was sent. */
  async admit(req: IncomingMessage, res: ServerResponse, group: RateLimitGroup, route: string): Promise<boolean> {
    const r = await this.check(req, group, route);
    for (const [k, v] of Object.entries(r.headers)) res.setHeader(k, v);
    if (r.status === 0) return true;
    sendError(res, r.status, r.status === 429 ? 'rate_limited' : 'unauthorized', r.message);
    return false;
  }

  /** For an upgrade (/ws): true to accept it; false when the 401 or 429 was written to the socket and it was closed. */
  async admitUpgrade(req: IncomingMessage, socket: Duplex, group: RateLimitGroup, route: string): Promise<boolean> {
    const r = await this.check(req, group, route);
    if (r.status === 0) return true;
    refuseUpgrade(socket, r.status, r.status === 429 ? 'rate_limited' : 'unauthorized', r.message, r.headers);
    return false;
  }

  private counter(route: string): { inc(): void } {
    let c = this.exceeded.get(route);
    if (!c) this.exceeded.set(route, (c = this.o.metrics.rateLimitExceeded.labels(route)));
    return c;
  }
}

/** Answers an upgrade request with an HTTP error and a JSON body, then closes the socket. */
export function refuseUpgrade(socket: Duplex, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ error: { code, message } });
  const reason = status === 429 ? 'Too Many Requests' : status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : status === 503 ? 'Service Unavailable' : 'Error';
  const head = [`HTTP/1.1 ${status} ${reason}`, 'Content-Type: application/json; charset=utf-8', 'X-Content-Type-Options: nosniff', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}
