/**
 * Logs straight to Loki's push API (`log.loki.url`): a pino destination (added to the logger's streams like
 * the OTLP sink) that queues each JSON line as it is and pushes the queue in batches:
 *
 *   POST {url}/loki/api/v1/push   Content-Type: application/json
 *   {"streams":[{"stream":{"service_name":"candlestack-serve",...,"level":"info"},"values":[["<unix ns>","<line>"]]}]}
 *
 * - Labels: the resource attributes of the role's traces (service.name -> `service_name`, service.namespace,
 *   service.instance.id, service.version, OTEL_RESOURCE_ATTRIBUTES ...) and the line's `level`; one stream
 *   per level. The line is kept whole, `trace_id` and `span_id` included, so Grafana goes from a log line to
 *   its trace (a derived field on trace_id) and back.
 * - Off the hot path: `write` only appends to an array (the level read from the line's first field, no JSON
 *   parse); a batch leaves every `flushMs` or at `maxBatch` lines, from a timer.
 * - Failures are counted, never thrown: a batch Loki refused for a reason retrying cannot fix (4xx but 429)
 *   is dropped; one that got no answer, a 5xx or a 429 goes back to the head of the queue and is sent again
 *   with the next batch. The queue holds `capacity` lines at most: past it the oldest are dropped, counted.
 *   The first failure after a success is reported once on stderr (the log cannot report its own failure).
 *   The counts are metrics once the role has its registry (`countInto`, from roleFoundation): pushes sent and
 *   failed, lines sent, lines dropped by reason (catalogue/logs.ts).
 * - `shutdown()` (the role's last step, after the lifecycle stopped) pushes what is queued.
 */
import type { DestinationStream } from 'pino';
import { HotCounter } from './hot.js';
import type { LogMetrics } from './metrics.js';

export interface LokiSinkOptions {
  /** The full push URL (lokiPushUrl of the config). */
  url: string;
  /** Resource attributes, made labels (dots to underscores). */
  resourceAttributes: Readonly<Record<string, string>>;
  /** X-Scope-OrgID. */
  tenant?: string | null;
  /** Longest wait before a queued line leaves (default 1 s). */
  flushMs?: number;
  /** Lines per push (default 1,000). */
  maxBatch?: number;
  /** Lines queued at most (default 20,000). */
  capacity?: number;
  /** Per push (default 10 s). */
  timeoutMs?: number;
  /** The request's fetch (default the global one). */
  fetch?: typeof fetch;
  /** Where the one-line failure notice goes (default stderr). */
  warn?: (message: string) => void;
}

/** What the sink did, for tests and the shutdown summary. */
export interface LokiSinkStats {
  /** Lines Loki accepted. */
  sentLines: number;
  /** Push requests that failed (no answer, or an HTTP error). */
  failedPushes: number;
  /** Lines given up on: refused by Loki (4xx) or pushed out of a full queue. */
  droppedLines: number;
}

const PINO_LEVELS: Record<string, string> = { '10': 'trace', '20': 'debug', '30': 'info', '40': 'warn', '50': 'error', '60': 'fatal' };

type Entry = [level: string, ns: string, line: string];
type PushOutcome = 'sent' | 'dropped' | 'retry';

type DropReason = 'refused' | 'queue_full' | 'shutdown';

export class LokiLogSink implements DestinationStream {
  private readonly pushesSent = new HotCounter();
  private readonly pushesFailed = new HotCounter();
  private readonly linesSent = new HotCounter();
  private readonly dropped: Record<DropReason, HotCounter> = { refused: new HotCounter(), queue_full: new HotCounter(), shutdown: new HotCounter() };
  private queue: Entry[] = [];
  private readonly labels: Record<string, string>;
  private readonly headers: Record<string, string>;
  private readonly url: string;
  private readonly flushMs: number;
  private readonly maxBatch: number;
  private readonly capacity: number;
  private readonly timeoutMs: number;
  private readonly doFetch: typeof fetch;
  private readonly warn: (message: string) => void;
  private timer: NodeJS.Timeout | null = null;
  private sending: Promise<void> | null = null;
  private lastNs = 0n;
  private failing = false;
  private closed = false;

  constructor(o: LokiSinkOptions) {
    const u = new URL(o.url);
    this.headers = { 'content-type': 'application/json' };
    if (u.username || u.password) {
      // fetch refuses credentials in a URL: they travel as basic auth.
      this.headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
      u.username = '';
      u.password = '';
    }
    if (o.tenant) this.headers['x-scope-orgid'] = o.tenant;
    this.url = u.href;
    this.labels = lokiLabels(o.resourceAttributes);
    this.flushMs = o.flushMs ?? 1_000;
    this.maxBatch = o.maxBatch ?? 1_000;
    this.capacity = o.capacity ?? 20_000;
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.doFetch = o.fetch ?? fetch;
    this.warn = o.warn ?? ((m) => process.stderr.write(`${m}\n`));
  }

  /** What the sink did so far: the numbers its metrics expose. */
  get stats(): LokiSinkStats {
    return { sentLines: this.linesSent.value, failedPushes: this.pushesFailed.value, droppedLines: this.dropped.refused.value + this.dropped.queue_full.value + this.dropped.shutdown.value };
  }

  /** Exposes the counts (from the process's start) as the role's metrics (catalogue/logs.ts). */
  countInto(m: LogMetrics): void {
    m.hot.lokiPushes.adopt(m.lokiPushes, this.pushesSent, 'sent');
    m.hot.lokiPushes.adopt(m.lokiPushes, this.pushesFailed, 'failed');
    m.hot.lokiLinesSent.adopt(m.lokiLinesSent, this.linesSent);
    for (const reason of Object.keys(this.dropped) as DropReason[]) m.hot.lokiLinesDropped.adopt(m.lokiLinesDropped, this.dropped[reason], reason);
    // Every series exists from the start, at 0 until it counts, so increase() sees the first failure (initial-series.ts).
    for (const outcome of ['sent', 'failed']) m.lokiPushes.labels(outcome).inc(0);
    for (const reason of Object.keys(this.dropped)) m.lokiLinesDropped.labels(reason).inc(0);
  }

  /** The pino destination: one serialized line (with its newline) per call. */
  write(chunk: string): void {
    if (this.closed) return;
    const line = chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk;
    const m = /^\{"level":(\d+)/.exec(line);
    this.queue.push([PINO_LEVELS[m?.[1] ?? ''] ?? 'info', this.nextNs(), line]);
    if (this.queue.length > this.capacity) this.dropped.queue_full.inc(this.queue.splice(0, this.queue.length - this.capacity).length);
    if (this.queue.length >= this.maxBatch) this.schedule(0);
    else if (this.timer === null) this.schedule(this.flushMs);
  }

  /** Pushes everything queued now (batch after batch); resolves when done or given up on. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.sending;
    while (this.queue.length > 0) {
      if ((await this.pushOnce()) === 'retry') return; // Loki is failing: the lines stay queued
    }
  }

  /** Pushes what is queued, then takes no more lines; what cannot be sent is counted as dropped. */
  async shutdown(): Promise<void> {
    await this.sending;
    await this.flush();
    this.closed = true;
    this.dropped.shutdown.inc(this.queue.length);
    this.queue = [];
  }

  /** Strictly increasing nanosecond timestamps (ms clock, ns tiebreak), so lines of one stream keep their order. */
  private nextNs(): string {
    let ns = BigInt(Date.now()) * 1_000_000n;
    if (ns <= this.lastNs) ns = this.lastNs + 1n;
    this.lastNs = ns;
    return ns.toString();
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.pushOnce().then(() => {
        if (this.queue.length > 0 && this.timer === null && !this.closed) this.schedule(this.failing ? Math.max(this.flushMs, 1_000) : this.queue.length >= this.maxBatch ? 0 : this.flushMs);
      });
    }, ms);
    this.timer.unref();
  }

  /** One push of the queue's head (at most maxBatch lines); one at a time. */
  private async pushOnce(): Promise<PushOutcome> {
    if (this.sending) await this.sending;
    if (this.queue.length === 0) return 'sent';
    const batch = this.queue.splice(0, this.maxBatch);
    const p = this.send(batch);
    this.sending = p.then(() => undefined).finally(() => (this.sending = null));
    return p;
  }

  private async send(batch: Entry[]): Promise<PushOutcome> {
    const byLevel = new Map<string, [string, string][]>();
    for (const [level, ns, line] of batch) {
      let values = byLevel.get(level);
      if (!values) byLevel.set(level, (values = []));
      values.push([ns, line]);
    }
    const body = JSON.stringify({ streams: [...byLevel].map(([level, values]) => ({ stream: { ...this.labels, level }, values })) });
    let status: number | null = null;
    try {
      const res = await this.doFetch(this.url, { method: 'POST', headers: this.headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch {
      status = null;
    }
    if (status !== null && status >= 200 && status < 300) {
      this.pushesSent.inc();
      this.linesSent.inc(batch.length);
      this.failing = false;
      return 'sent';
    }
    this.pushesFailed.inc();
    const retry = status === null || status === 429 || status >= 500;
    if (!this.failing) this.warn(`candlestack: pushing ${batch.length} log lines to Loki failed (${status === null ? 'no answer' : `HTTP ${status}`}); ${retry ? 'retrying' : 'dropped'}`);
    this.failing = true;
    if (!retry) {
      this.dropped.refused.inc(batch.length);
      return 'dropped';
    }
    this.queue = batch.concat(this.queue);
    if (this.queue.length > this.capacity) this.dropped.queue_full.inc(this.queue.splice(0, this.queue.length - this.capacity).length);
    return 'retry';
  }
}

/** Resource attributes as Loki label names: `service.name` -> `service_name` (Loki's own OTLP mapping). */
export function lokiLabels(attributes: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(attributes)) {
    let name = k.replace(/[^A-Za-z0-9_]/g, '_');
    if (/^[0-9]/.test(name)) name = `_${name}`;
    out[name] = v;
  }
  return out;
}
