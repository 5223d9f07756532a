/**
 * The one Redis connection of a serve instance, shared by the read cache and the rate limiter, behind the
 * `cache` circuit breaker. Every operation either answers within `timeoutMs` or fails fast: commands are not
 * queued while disconnected (`disableOfflineQueue`), a slow one is abandoned at the timeout, and while the
 * breaker is open no command is sent at all. Callers treat a failure as "no cache" (the store answers, the
 * limiter counts in-process), never as an error for the client. node-redis reconnects by itself.
 */
import { createClient, type RedisClientType } from 'redis';
import type { Clock } from '../core/clock.js';
import { CandlestackError } from '../core/errors.js';
import type { CircuitBreaker } from '../core/circuit-breaker.js';
import type { Service } from '../core/service.js';
import type { Logger } from '../telemetry/logger.js';
import type { CacheMetrics } from '../telemetry/metrics.js';
import { redactRedisUrl } from '../config/serve-config.js';

/** The operations the link times and counts (`operation` label of the cache metrics). */
export type RedisOperation = 'get' | 'set' | 'invalidate' | 'rate_limit' | 'info';

/** Redis is not reachable, too slow, or the breaker is open. */
export class CacheUnavailableError extends CandlestackError {
  override name = 'CacheUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('cache_unavailable', message, options);
  }
}

export interface RedisLinkOptions {
  url: string;
  /** Prefix of every key this instance writes (`cache.keyPrefix`, default `candlestack:`). */
  keyPrefix?: string;
  timeoutMs: number;
  breaker: CircuitBreaker;
  clock: Clock;
  metrics: CacheMetrics;
  log: Logger;
}

export class RedisLink implements Service {
  readonly name = 'redis';
  readonly client: RedisClientType;
  private lastErrorLog = 0;

  constructor(private readonly o: RedisLinkOptions) {
    this.client = createClient({
      url: o.url,
      disableOfflineQueue: true,
      socket: { connectTimeout: Math.max(1_000, o.timeoutMs * 10), reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 6), 2_000) },
    }) as RedisClientType;
    this.client.on('error', (err: Error) => this.logError(err));
  }

  /** Waits up to a second for the first connection, then goes on connecting in the background: serve starts (and answers from the store) while Redis is down. */
  async start(): Promise<void> {
    const connected = this.client.connect().then(
      () => this.o.log.info({ url: redactRedisUrl(this.o.url) }, 'cache connected to Redis'),
      (err: unknown) => this.logError(err),
    );
    let timer: { cancel(): void } | undefined;
    await Promise.race([connected, new Promise<void>((resolve) => (timer = this.o.clock.setTimeout(resolve, 1_000)))]);
    timer?.cancel();
  }

  async stop(): Promise<void> {
    try {
      if (this.client.isOpen) await this.client.close();
    } catch {
      this.client.destroy();
    }
  }

  get keyPrefix(): string {
    return this.o.keyPrefix ?? 'candlestack:';
  }

  get breaker(): CircuitBreaker {
    return this.o.breaker;
  }

  /** Runs one operation through the breaker, with the timeout, its latency and errors counted. */
  async run<T>(operation: RedisOperation, fn: (client: RedisClientType) => Promise<T>): Promise<T> {
    const breaker = this.o.breaker;
    if (!breaker.tryAcquire()) throw new CacheUnavailableError(`cache circuit is open; Redis is not asked until ${new Date(breaker.retryAt).toISOString()}`);
    // The cache's own get/set/invalidate are timed by ReadCache (for every backend); the rest here.
    const stop = operation === 'rate_limit' || operation === 'info' ? this.o.metrics.cacheOperationDuration.startTimer({ operation }) : () => 0;
    try {
      if (!this.client.isReady) throw new CacheUnavailableError('Redis is not connected');
      const result = await withTimeout(fn(this.client), this.o.timeoutMs, this.o.clock, operation);
      breaker.success();
      return result;
    } catch (err) {
      breaker.failure(err);
      this.o.metrics.cacheErrors.labels(operation).inc();
      throw err instanceof CacheUnavailableError ? err : new CacheUnavailableError(`Redis ${operation} failed: ${(err as Error).message}`, { cause: err });
    } finally {
      stop();
    }
  }

  private logError(err: unknown): void {
    const now = this.o.clock.now();
    if (now - this.lastErrorLog < 10_000) return; // a dead Redis reports every reconnect attempt
    this.lastErrorLog = now;
    this.o.log.warn({ err, url: redactRedisUrl(this.o.url) }, 'Redis unreachable; the read API answers from the store');
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, clock: Clock, operation: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(() => reject(new CacheUnavailableError(`Redis ${operation} took longer than ${ms} ms`)), ms);
    p.then(
      (v) => (timer.cancel(), resolve(v)),
      (e: unknown) => (timer.cancel(), reject(e)),
    );
  });
}
