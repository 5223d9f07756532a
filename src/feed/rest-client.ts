/**
 * A small JSON-over-HTTP client for exchange REST APIs: timeouts, retries with capped exponential backoff
 * and jitter on network errors and 5xx, and rate-limit discipline: on 429 or 418 every request from this
 * client waits for Retry-After (or a default) before trying again.
 */
import type { Clock } from '../core/clock.js';
import { ExchangeRequestError } from '../core/errors.js';
import type { Logger } from '../telemetry/logger.js';
import type { FeedMetrics } from '../telemetry/metrics.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import type { ExchangeId } from '../core/exchange-id.js';
import { Tracing } from '../telemetry/tracing.js';
import { tracedFetch } from '../telemetry/http-tracing.js';

const OFF = Tracing.off();

export interface RestClientOptions {
  exchange: ExchangeId;
  clock: Clock;
  metrics: FeedMetrics;
  log: Logger;
  /** Attempts per request, including the first. Default 5. */
  attempts?: number;
  timeoutMs?: number;
  backoff?: BackoffOptions;
  /** Wait when a 429/418 carries no Retry-After. Default 60 s (429) and 120 s (418). */
  defaultRetryAfterMs?: number;
  /** Longest Retry-After honoured before giving up on this request (it stays blocked for others). */
  maxWaitMs?: number;
  random?: () => number;
  /** Traces: each attempt is a CLIENT span (peer.service = the exchange). */
  tracing?: Tracing;
}

export class RestClient {
  private blockedUntil = 0;
  private blockedBy = 429;
  private readonly o: Required<Omit<RestClientOptions, 'backoff' | 'tracing'>> & { backoff: BackoffOptions; tracing: Tracing };

  constructor(options: RestClientOptions) {
    this.o = {
      attempts: 5,
      timeoutMs: 10_000,
      defaultRetryAfterMs: 60_000,
      maxWaitMs: 300_000,
      random: Math.random,
      backoff: { initialMs: 500, maxMs: 30_000 },
      tracing: OFF,
      ...options,
    };
  }

  /** When requests may resume after a rate-limit response (epoch ms; 0 when not blocked). */
  get rateLimitedUntil(): number {
    return this.blockedUntil;
  }

  async getJson(url: string): Promise<unknown> {
    const { exchange, clock, metrics, log } = this.o;
    let lastError: unknown;
    for (let attempt = 0; attempt < this.o.attempts; attempt++) {
      const wait = this.blockedUntil - clock.now();
      if (wait > 0) {
        if (wait > this.o.maxWaitMs) throw new ExchangeRequestError(`${exchange} REST is rate-limited for ${Math.ceil(wait / 1000)} s more`, this.blockedBy);
        await sleep(clock, wait);
      }
      let response: Response;
      try {
        response = await tracedFetch(this.o.tracing, url, { signal: AbortSignal.timeout(this.o.timeoutMs), headers: { accept: 'application/json' } }, { peer: exchange });
      } catch (err) {
        metrics.restRequests.labels(exchange, 'error').inc();
        lastError = err;
        log.debug({ exchange, url: redact(url), err: String(err), attempt }, 'REST request failed; retrying');
        await sleep(clock, backoffDelay(attempt, this.o.backoff, this.o.random));
        continue;
      }
      metrics.restRequests.labels(exchange, String(response.status)).inc();
      if (response.ok) return (await response.json()) as unknown;
      const body = await response.text().catch(() => '');
      if (response.status === 429 || response.status === 418) {
        const retryAfter = parseRetryAfter(response.headers.get('retry-after'), clock.now());
        const waitMs = retryAfter ?? this.o.defaultRetryAfterMs * (response.status === 418 ? 2 : 1);
        this.blockedUntil = Math.max(this.blockedUntil, clock.now() + waitMs);
        this.blockedBy = response.status;
        metrics.restRateLimited.labels(exchange, String(response.status)).inc();
        log.warn({ exchange, status: response.status, retryAfterMs: waitMs }, 'REST rate limit hit; backing off for Retry-After');
        lastError = new ExchangeRequestError(`${exchange} REST answered ${response.status}: ${body.slice(0, 200)}`, response.status);
        continue;
      }
      if (response.status >= 500) {
        lastError = new ExchangeRequestError(`${exchange} REST answered ${response.status}`, response.status);
        await sleep(clock, backoffDelay(attempt, this.o.backoff, this.o.random));
        continue;
      }
      throw new ExchangeRequestError(`${exchange} REST answered ${response.status}: ${body.slice(0, 200)}`, response.status);
    }
    throw new ExchangeRequestError(`${exchange} REST request failed after ${this.o.attempts} attempts`, undefined, { cause: lastError });
  }
}

/** Retry-After is delta-seconds or an HTTP date. Returns milliseconds to wait, or undefined. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  if (!/[a-z]/i.test(value)) return undefined; // not delta-seconds, and not an HTTP date either
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

function redact(url: string): string {
  return url.replace(/(signature|apiKey)=[^&]*/g, '$1=***');
}
