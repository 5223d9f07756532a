/**
 * Every message the bot sends goes through the Outbox: one at a time, in order, retried until delivered or
 * given up on, and counted either way (`candlestack_notifier_messages_sent_total`, `_send_errors_total{reason}`,
 * `_messages_undeliverable_total`, `_pending_messages`).
 *
 * - Telegram's 429 carries `parameters.retry_after` (seconds): nothing is sent to Telegram until it has passed
 *   (it applies to the bot, not one chat), then the same message is sent again.
 * - No answer (network, timeout) or a 5xx: retried with exponential backoff.
 * - Another 4xx (400 bad request, 403 blocked by the user): retrying cannot help; given up at once.
 * - After `maxAttempts` failed attempts (429s included), the message is undeliverable: logged at error with
 *   the chat and the last error (never the text), and counted. Nothing is dropped silently, also not when the
 *   queue is full (the oldest alert is then given up, counted and logged).
 */
import type { Clock, Timer } from '../../core/clock.js';
import type { NotifierMessageKind, NotifierSendError } from '../../telemetry/catalogue/notifier.js';
import type { NotifierMetrics } from '../../telemetry/metrics.js';
import { ROOT_CONTEXT, Tracing, type Context } from '../../telemetry/tracing.js';
import { errorText, type NotifierLog, type Redact } from './redact.js';

export interface OutgoingMessage {
  chatId: number;
  /** Telegram HTML, within 4,096 characters (format.ts). */
  text: string;
  kind: NotifierMessageKind;
  /** reply_markup and other sendMessage options. */
  extra?: Record<string, unknown>;
}

/** sendMessage of the Bot API (grammY's `api.sendMessage`). */
export type SendMessage = (chatId: number, text: string, other: Record<string, unknown>) => Promise<unknown>;

export interface OutboxOptions {
  send: SendMessage;
  clock: Clock;
  metrics: NotifierMetrics;
  log: NotifierLog;
  redact: Redact;
  /** Attempts per message, the first included (default 6). */
  maxAttempts?: number;
  /** First backoff after a network error or 5xx, doubled per attempt (default 1 s). */
  backoffMs?: number;
  /** Longest retry_after honoured as given; a larger one is capped (default 1 h). */
  maxRetryAfterMs?: number;
  /** Messages waiting at most (default 1,000). */
  capacity?: number;
  /** Each send runs in the trace of the one who queued the message (the update replied to, the alert POST). */
  tracing?: Tracing;
}

interface Entry {
  msg: OutgoingMessage;
  attempts: number;
  notBefore: number;
  done: (delivered: boolean) => void;
  /** The trace the message belongs to (null: none, sent as a trace of its own). */
  trace: Context | null;
}

/** What a failed attempt was, from grammY's GrammyError (an API answer) or HttpError (no answer). */
export function classifySendError(err: unknown): { reason: NotifierSendError; retryAfterMs: number | null; retryable: boolean; status: number | null } {
  const e = err as { error_code?: unknown; parameters?: { retry_after?: unknown } } | null;
  const status = typeof e?.error_code === 'number' ? e.error_code : null;
  if (status === null) return { reason: 'network', retryAfterMs: null, retryable: true, status };
  if (status === 429) {
    const after = e?.parameters?.retry_after;
    return { reason: 'rate_limited', retryAfterMs: typeof after === 'number' && after >= 0 ? after * 1000 : 1000, retryable: true, status };
  }
  return { reason: 'api_error', retryAfterMs: null, retryable: status >= 500, status };
}

export class Outbox {
  private readonly queue: Entry[] = [];
  private pausedUntil = 0;
  private running = false;
  private timer: Timer | null = null;
  private stopped = false;
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly capacity: number;
  private readonly tracing: Tracing;

  constructor(private readonly o: OutboxOptions) {
    this.maxAttempts = o.maxAttempts ?? 6;
    this.backoffMs = o.backoffMs ?? 1_000;
    this.maxRetryAfterMs = o.maxRetryAfterMs ?? 3_600_000;
    this.capacity = o.capacity ?? 1_000;
    this.tracing = o.tracing ?? Tracing.off();
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Queues a message; resolves true once delivered, false once given up on. Replies go before waiting alerts. */
  deliver(msg: OutgoingMessage): Promise<boolean> {
    if (this.stopped) return Promise.resolve(this.giveUp({ msg, attempts: 0, notBefore: 0, done: () => {}, trace: null }, 'the notifier is stopping'));
    return new Promise((done) => {
      const entry: Entry = { msg, attempts: 0, notBefore: 0, done, trace: this.tracing.activeParent() };
      if (msg.kind === 'reply') {
        const firstAlert = this.queue.findIndex((e) => e.msg.kind === 'alert' && e.attempts === 0);
        this.queue.splice(firstAlert < 0 ? this.queue.length : firstAlert, 0, entry);
      } else this.queue.push(entry);
      if (this.queue.length > this.capacity) {
        const i = this.queue.findIndex((e) => e.msg.kind === 'alert');
        const [dropped] = this.queue.splice(i < 0 ? 0 : i, 1);
        if (dropped) dropped.done(this.giveUp(dropped, `the outbox is full (${this.capacity} messages waiting)`));
      }
      this.gauge();
      this.kick();
    });
  }

  /** Gives up what is still waiting (counted and logged as undeliverable). */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    for (const e of this.queue.splice(0)) e.done(this.giveUp(e, 'the notifier stopped before it could be sent'));
    this.gauge();
  }

  private kick(): void {
    if (this.running || this.stopped || this.queue.length === 0) return;
    const now = this.o.clock.now();
    const head = this.queue[0]!;
    const wait = Math.max(this.pausedUntil, head.notBefore) - now;
    if (wait > 0) {
      if (!this.timer) this.timer = this.o.clock.setTimeout(() => ((this.timer = null), this.kick()), wait);
      return;
    }
    this.running = true;
    void this.sendHead().finally(() => {
      this.running = false;
      this.kick();
    });
  }

  private async sendHead(): Promise<void> {
    const e = this.queue[0]!;
    e.attempts++;
    try {
      // Sends run one after another from timers and the previous send's continuation: each in its own message's trace.
      await this.tracing.with(e.trace ?? ROOT_CONTEXT, () => this.o.send(e.msg.chatId, e.msg.text, { parse_mode: 'HTML', link_preview_options: { is_disabled: true }, ...e.msg.extra }));
      this.remove(e);
      this.o.metrics.messagesSent.labels(e.msg.kind).inc();
      e.done(true);
    } catch (err) {
      if (this.stopped) return;
      const c = classifySendError(err);
      this.o.metrics.sendErrors.labels(e.msg.kind, c.reason).inc();
      const why = errorText(err, this.o.redact);
      if (!c.retryable || e.attempts >= this.maxAttempts) {
        this.remove(e);
        e.done(this.giveUp(e, why, c.status));
        return;
      }
      const now = this.o.clock.now();
      if (c.retryAfterMs !== null) {
        const wait = Math.min(c.retryAfterMs, this.maxRetryAfterMs);
        this.pausedUntil = now + wait;
        this.o.log.warn({ component: 'notifier', chatId: e.msg.chatId, kind: e.msg.kind, retryAfterMs: wait, attempt: e.attempts }, `Telegram rate limit (429): sending again in ${Math.ceil(wait / 1000)} s`);
      } else {
        e.notBefore = now + this.backoffMs * 2 ** (e.attempts - 1);
        this.o.log.warn({ component: 'notifier', chatId: e.msg.chatId, kind: e.msg.kind, attempt: e.attempts, status: c.status, error: why }, `sending to Telegram failed (${c.reason}); retrying`);
      }
    }
  }

  private remove(e: Entry): void {
    const i = this.queue.indexOf(e);
    if (i >= 0) this.queue.splice(i, 1);
    this.gauge();
  }

  private giveUp(e: Entry, why: string, status: number | null = null): false {
    this.o.metrics.undeliverable.labels(e.msg.kind).inc();
    this.o.log.error({ component: 'notifier', chatId: e.msg.chatId, kind: e.msg.kind, attempts: e.attempts, status, error: why }, `message to chat ${e.msg.chatId} undeliverable: ${why}`);
    return false;
  }

  private gauge(): void {
    this.o.metrics.pending.set(this.queue.length);
  }
}
