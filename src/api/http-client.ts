/**
 * The outgoing HTTP client every role uses to call another service (the notifier -> market data and decision
 * services, the decision service -> an LLM endpoint). One client per target service: each call has a timeout,
 * optional retries with exponential backoff (idempotent requests only), an optional circuit breaker, and is
 * counted by target (`candlestack_http_client_requests_total{target,outcome}`,
 * `candlestack_http_client_request_duration_seconds{target}`), so "calls from A to B" is one query.
 *
 * `outcome` is the HTTP status code, or `timeout`, `error` (network/refused) or `circuit_open`: bounded.
 * Headers (an API key) are never logged nor put into an error message.
 */
import { CandlestackError } from '../core/errors.js';
import type { CircuitBreaker } from '../core/circuit-breaker.js';
import type { ApiMetrics } from '../telemetry/metrics.js';
import { Tracing } from '../telemetry/tracing.js';
import { tracedFetch } from '../telemetry/http-tracing.js';
import { activeTraceExemplar, TracedHistogram, type TraceExemplar } from '../telemetry/exemplars.js';

const OFF = Tracing.off();

export const HTTP_CLIENT_FAILURES = ['timeout', 'error', 'circuit_open'] as const;
export type HttpClientFailure = (typeof HTTP_CLIENT_FAILURES)[number];

export interface HttpClientOptions {
  /** The called service, a bounded label value (`decide`, `serve`, `llm`, `telegram`). */
  target: string;
  /** Base URL; request paths are appended to it (`http://127.0.0.1:9002`, `https://api.openai.com/v1`). */
  baseUrl: string;
  /** Per attempt. */
  timeoutMs: number;
  metrics: Pick<ApiMetrics, 'httpClientRequests' | 'httpClientRequestDuration'>;
  /** Extra attempts after a timeout, network error or 5xx of a GET (default 0). */
  retries?: number;
  /** First backoff between attempts, doubled each time (default 100 ms). */
  backoffMs?: number;
  /** Calls refused while open; every failed attempt is a failure, a 2xx-4xx answer a success. */
  breaker?: CircuitBreaker;
  /** Sent with every request (authorization); never logged. */
  headers?: Readonly<Record<string, string>>;
  /** The caller's traces: each attempt is a CLIENT span (peer.service = target) and carries traceparent. */
  tracing?: Tracing;
}

export interface HttpResponse<T = unknown> {
  status: number;
  /** The parsed JSON body, or null when the body is empty or not JSON. */
  body: T | null;
  text: string;
}

export interface RequestOptions {
  query?: Readonly<Record<string, string | number | undefined>>;
  /** Sent as JSON. */
  body?: unknown;
  headers?: Readonly<Record<string, string>>;
  /** Overrides the client's timeout for this call. */
  timeoutMs?: number;
  /** Aborts the call (and its retries) from outside. */
  signal?: AbortSignal;
}

/** A call that got no HTTP answer: timed out, failed on the network, or was refused by the breaker. */
export class HttpClientError extends CandlestackError {
  override name = 'HttpClientError';
  readonly target: string;
  readonly failure: HttpClientFailure;
  constructor(target: string, failure: HttpClientFailure, message: string, options?: { cause?: unknown }) {
    super(`upstream_${failure}`, message, options);
    this.target = target;
    this.failure = failure;
  }
}

export class HttpClient {
  readonly target: string;
  private readonly base: string;
  private readonly duration;

  constructor(private readonly o: HttpClientOptions) {
    if (!/^https?:\/\//.test(o.baseUrl)) throw new RangeError(`baseUrl of ${o.target}: expected an http(s):// URL, got ${JSON.stringify(o.baseUrl)}`);
    this.target = o.target;
    this.base = o.baseUrl.replace(/\/+$/, '');
    this.duration = new TracedHistogram(o.metrics.httpClientRequestDuration, { target: o.target });
    for (const f of HTTP_CLIENT_FAILURES) o.metrics.httpClientRequests.labels(o.target, f).inc(0);
  }

  get(path: string, options: RequestOptions = {}): Promise<HttpResponse> {
    return this.request('GET', path, options);
  }

  post(path: string, body: unknown, options: RequestOptions = {}): Promise<HttpResponse> {
    return this.request('POST', path, { ...options, body });
  }

  /** One call with its retries. Resolves with any HTTP answer (4xx/5xx included); rejects with HttpClientError when none came. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<HttpResponse> {
    const retries = method === 'GET' ? (this.o.retries ?? 0) : 0;
    let backoff = this.o.backoffMs ?? 100;
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.attempt(method, path, options);
        if (res.status < 500 || attempt >= retries) return res;
      } catch (err) {
        if (attempt >= retries || (err instanceof HttpClientError && err.failure === 'circuit_open') || options.signal?.aborted) throw err;
      }
      await sleep(backoff, options.signal);
      backoff *= 2;
    }
  }

  private async attempt(method: string, path: string, options: RequestOptions): Promise<HttpResponse> {
    const breaker = this.o.breaker;
    if (breaker && !breaker.tryAcquire()) {
      this.count('circuit_open');
      throw new HttpClientError(this.target, 'circuit_open', `${this.target} circuit is open; next attempt after ${new Date(breaker.retryAt).toISOString()}`);
    }
    const url = this.url(path, options.query);
    const timeoutMs = options.timeoutMs ?? this.o.timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
    const headers: Record<string, string> = { accept: 'application/json', ...this.o.headers, ...options.headers };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const stop = this.duration.startTimer();
    // The CLIENT span is tracedFetch's: its trace id is read inside it, where the request is sent.
    let exemplar: TraceExemplar | undefined;
    const send: typeof fetch = (input, init) => {
      exemplar = activeTraceExemplar();
      return fetch(input, init);
    };
    try {
      const init = { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body), signal };
      const res = await tracedFetch(this.o.tracing ?? OFF, url, init, { peer: this.target, fetch: send });
      const text = await res.text();
      stop(exemplar);
      this.count(String(res.status));
      if (res.status >= 500) breaker?.failure(new Error(`HTTP ${res.status}`));
      else breaker?.success();
      return { status: res.status, body: parseJson(text), text };
    } catch (err) {
      stop(exemplar);
      const failure: HttpClientFailure = timeout.aborted ? 'timeout' : 'error';
      this.count(failure);
      const e = new HttpClientError(this.target, failure, failure === 'timeout' ? `${this.target} did not answer ${method} ${path} within ${timeoutMs} ms` : `${this.target} ${method} ${path} failed: ${errorText(err)}`, { cause: err });
      breaker?.failure(e);
      throw e;
    }
  }

  private url(path: string, query: RequestOptions['query']): string {
    const url = new URL(this.base + (path.startsWith('/') ? path : `/${path}`));
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url.toString();
  }

  private count(outcome: string): void {
    this.o.metrics.httpClientRequests.labels(this.target, outcome).inc();
  }
}

function parseJson(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function errorText(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return (err instanceof Error ? err.message : String(err)) + cause;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}
