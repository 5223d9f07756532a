/**
 * The Telegram notifier (seed 003): a grammY bot that answers the allowed chats and forwards alerts.
 *
 *   chat ──► Bot API (long polling, or a webhook) ──► Notifier ──► allow-list ──► command
 *                                                                  ├─ button / /decision: decision service + market data (in parallel, 4 s budget)
 *                                                                  ├─ /price: market data        ├─ /health: market health, quality, decision liveness, alerts firing
 *                                                                  └─ /subscribe, /unsubscribe   └─ every reply ──► Outbox ──► sendMessage (429 retry_after, retries)
 *   Alertmanager ──► AlertReceiver (POST /api/alerts) ──► AlertForwarder ──► Outbox ──► subscribed chats
 *
 * Updates are handled concurrently (polling is never held up by a slow service). Only chats on
 * `telegram.allowedChats` are answered; any other gets one refusal, is counted and logged without its text.
 * One update is one trace (with `tracing`): a root SERVER span `telegram <command>` per message or button press
 * (in webhook mode an INTERNAL child of the webhook POST's SERVER span), under it the CLIENT calls to the
 * market data and decision services (their traceparent continues the trace there) and to the Bot API
 * (answerCallbackQuery, the reply's sendMessage; bot-api-tracing.ts). A degraded answer (decision service
 * down) sets the update span's ERROR status. getUpdates is not traced.
 *
 * The token never reaches a log line (redact.ts). The bot starting or Telegram being unreachable never stops
 * the role: polling retries in the background, and /readyz says the bot is not connected.
 */
import { Bot, GrammyError, webhookCallback, type Context } from 'grammy';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../../core/clock.js';
import type { Service } from '../../core/service.js';
import type { Markets } from '../../api/markets.js';
import type { WebhookMessage } from '../../api/alerts-webhook.js';
import type { TelegramMarket, TelegramMode } from '../../config/telegram-config.js';
import { initializeNotifierSeries, type NotifierCommand } from '../../telemetry/catalogue/notifier.js';
import type { NotifierMetrics } from '../../telemetry/metrics.js';
import { ROOT_CONTEXT, SpanKind, Tracing, type Span } from '../../telemetry/tracing.js';
import { botApiTracing } from './bot-api-tracing.js';
import { AlertForwarder } from './alerts.js';
import {
  BUTTON_TEXT,
  decisionMessage,
  decisionUnavailableMessage,
  escapeHtml,
  fitMessage,
  healthMessage,
  helpMessage,
  marketName,
  priceMessage,
  priceUnavailableMessage,
} from './format.js';
import { Outbox } from './outbox.js';
import { errorText, type NotifierLog, type Redact } from './redact.js';
import { Subscriptions } from './subscriptions.js';
import { UpstreamError, type DecisionClient, type HealthSummary, type Market, type MarketDataClient } from './upstream.js';

/** The reply keyboard every answer carries. */
export const REPLY_KEYBOARD = {
  keyboard: [[{ text: BUTTON_TEXT }], [{ text: '/price' }, { text: '/decision' }], [{ text: '/health' }, { text: '/subscribe' }, { text: '/help' }]],
  resize_keyboard: true,
  is_persistent: true,
};

/** The Bot API updates the bot asks for. */
export const ALLOWED_UPDATES = ['message', 'callback_query'] as const;

/** The path of the webhook route (webhook mode). */
export const WEBHOOK_PATH = '/telegram/webhook';

export interface NotifierOptions {
  token: string;
  apiUrl: string;
  mode: TelegramMode;
  webhookUrl: string | null;
  webhookSecret: string | null;
  allowedChats: readonly number[];
  defaultMarket: TelegramMarket | null;
  timeframe: string;
  /** The watched markets (config), to resolve /price SYMBOL and to offer a choice. */
  markets: Markets;
  marketData: MarketDataClient;
  decisions: DecisionClient;
  /** Resolves when the decision service answers its liveness probe. */
  decisionAlive: (signal: AbortSignal) => Promise<unknown>;
  stateFile: string | null;
  clock: Clock;
  metrics: NotifierMetrics;
  log: NotifierLog;
  redact: Redact;
  /** Time the upstream calls of one answer may take, so the reply is out within 5 s (default 4 s). */
  answerBudgetMs?: number;
  /** getUpdates long-poll timeout in seconds (default 30). */
  pollTimeoutSeconds?: number;
  /** Outbox tuning (tests: short backoffs). */
  outbox?: { maxAttempts?: number; backoffMs?: number };
  /** Wait before polling again after getUpdates was refused (401, 409) or init failed (default 5 s). */
  restartDelayMs?: number;
  /** A trace per update, the Bot API calls as CLIENT spans (off when absent). */
  tracing?: Tracing;
}

type Ctx = Context;

const MAX_REFUSED_REMEMBERED = 10_000;

export class Notifier implements Service {
  readonly name = 'notifier';
  readonly bot: Bot<Ctx>;
  readonly subscriptions: Subscriptions;
  readonly outbox: Outbox;
  readonly forwarder: AlertForwarder;
  private readonly allowed: ReadonlySet<number>;
  private readonly refused = new Set<number>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly budgetMs: number;
  private readonly tracing: Tracing;
  private polling: Promise<void> | null = null;
  private stopping = false;
  private connected = false;
  private lastError: string | null = null;
  private webhook: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | null = null;

  constructor(private readonly o: NotifierOptions) {
    this.allowed = new Set(o.allowedChats);
    this.budgetMs = o.answerBudgetMs ?? 4_000;
    this.tracing = o.tracing ?? Tracing.off();
    initializeNotifierSeries(o.metrics, o.mode);
    this.bot = new Bot<Ctx>(o.token, { client: { apiRoot: o.apiUrl, timeoutSeconds: (o.pollTimeoutSeconds ?? 30) + 30 } });
    const up = o.metrics.botUp.labels(o.mode);
    // Every Bot API call: an answer (even ok:false) means Telegram is reachable; a thrown error means it is not.
    this.bot.api.config.use(async (prev, method, payload, signal) => {
      try {
        const result = await prev(method, payload, signal);
        this.connected = true;
        up.set(1);
        return result;
      } catch (err) {
        if (!this.stopping) {
          this.connected = false;
          this.lastError = errorText(err, o.redact);
          up.set(0);
        }
        throw err;
      }
    });
    this.bot.api.config.use(botApiTracing(this.tracing, o.apiUrl));
    this.subscriptions = new Subscriptions(o.stateFile, o.metrics, o.log);
    this.outbox = new Outbox({ send: (chatId, text, other) => this.bot.api.sendMessage(chatId, text, other), clock: o.clock, metrics: o.metrics, log: o.log, redact: o.redact, tracing: this.tracing, ...o.outbox });
    this.forwarder = new AlertForwarder({ subscriptions: this.subscriptions, outbox: this.outbox, clock: o.clock, metrics: o.metrics, log: o.log });
    this.bot.use((ctx) => {
      const started = this.o.clock.now();
      this.track(this.traceUpdate(ctx, (span) => this.onUpdate(ctx, started, span)));
    });
    this.bot.catch((err) => o.log.error({ component: 'notifier', error: errorText(err.error, o.redact) }, 'bot middleware failed'));
  }

  /** Alertmanager notifications (the AlertReceiver's onMessage, in-process or on the notify role's own port). */
  onAlerts = (message: WebhookMessage): void => this.forwarder.onMessage(message);

  /** Why the notifier is not ready (empty when connected to the Bot API). */
  notReadyReasons = (): string[] => (this.connected ? [] : [`telegram bot API not reachable${this.lastError ? ` (${this.lastError})` : ''}`]);

  /** Webhook mode: the POST route Telegram calls (the secret token header is checked by grammY: 401 without it). */
  webhookRoute = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!this.webhook) {
      res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'webhook_disabled', message: 'telegram.mode is not webhook' } }));
      return;
    }
    await this.webhook(req, res);
  };

  start = async (): Promise<void> => {
    if (this.o.mode === 'webhook') {
      this.webhook = webhookCallback(this.bot, 'http', { secretToken: this.o.webhookSecret ?? undefined, onTimeout: 'return' });
      this.polling = this.setWebhookLoop();
    } else this.polling = this.pollLoop();
    this.o.log.info({ component: 'notifier', mode: this.o.mode, apiUrl: this.o.apiUrl, allowedChats: this.allowed.size, subscribedChats: this.subscriptions.list().length }, `Telegram notifier started (${this.o.mode})`);
  };

  stop = async (): Promise<void> => {
    this.stopping = true;
    if (this.bot.isRunning()) await withTimeout(this.bot.stop().catch(() => {}), 3_000);
    await withTimeout(this.polling ?? Promise.resolve(), 3_000);
    await withTimeout(Promise.allSettled([...this.inFlight]), 5_000);
    this.outbox.stop();
  };

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Long polling, started again after a refusal (another instance polling: 409; a revoked token: 401) or a failed getMe. */
  private async pollLoop(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.bot.start({ timeout: this.o.pollTimeoutSeconds ?? 30, allowed_updates: [...ALLOWED_UPDATES], onStart: (me) => this.o.log.info({ component: 'notifier', bot: me.username }, `Telegram bot @${me.username} polling for updates`) });
      } catch (err) {
        if (this.stopping) return;
        const status = err instanceof GrammyError ? err.error_code : null;
        const hint = status === 401 ? ' (the token was refused: check telegram.token)' : status === 409 ? ' (another instance polls with this token, or a webhook is set)' : '';
        this.o.log.error({ component: 'notifier', status, error: errorText(err, this.o.redact) }, `Telegram polling stopped${hint}; starting again`);
      }
      if (!this.stopping) await sleep(this.o.restartDelayMs ?? 5_000, this.o.clock);
    }
  }

  /** Webhook mode: getMe and setWebhook (with the secret token), retried until they succeed. */
  private async setWebhookLoop(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.bot.init();
        await this.bot.api.setWebhook(this.o.webhookUrl!, { secret_token: this.o.webhookSecret ?? undefined, allowed_updates: [...ALLOWED_UPDATES] });
        this.o.log.info({ component: 'notifier', bot: this.bot.botInfo.username, webhookUrl: this.o.webhookUrl }, `Telegram bot @${this.bot.botInfo.username} receives updates by webhook`);
        return;
      } catch (err) {
        this.o.log.error({ component: 'notifier', error: errorText(err, this.o.redact) }, 'cannot set the Telegram webhook; retrying');
      }
      await sleep(this.o.restartDelayMs ?? 5_000, this.o.clock);
    }
  }

  /**
   * The update's span: the root of a new trace when polled (a SERVER span: the bot serving a user's request),
   * an INTERNAL child of the webhook request's SERVER span in webhook mode. Renamed to its command once known.
   */
  private traceUpdate(ctx: Ctx, fn: (span: Span) => Promise<void>): Promise<void> {
    const polled = this.o.mode !== 'webhook';
    const type = ctx.callbackQuery ? 'callback_query' : ctx.message ? 'message' : 'other';
    const attributes: Record<string, string | number> = { [ATTR_UPDATE_TYPE]: type, [ATTR_UPDATE_ID]: ctx.update.update_id };
    if (ctx.chat?.id !== undefined) attributes[ATTR_CHAT_ID] = ctx.chat.id;
    return this.tracing.span(`telegram ${type}`, { kind: polled ? SpanKind.SERVER : SpanKind.INTERNAL, attributes, ...(polled ? { parent: ROOT_CONTEXT } : {}) }, fn);
  }

  private async onUpdate(ctx: Ctx, started: number, span: Span): Promise<void> {
    const chatId = ctx.chat?.id;
    if (chatId === undefined) return;
    const kind = ctx.callbackQuery ? 'callback_query' : 'message';
    if (!this.allowed.has(chatId)) {
      span.setAttribute(ATTR_REFUSED, true);
      return this.refuse(ctx, chatId, kind);
    }
    let command: NotifierCommand = 'other';
    const named = (c: NotifierCommand) => {
      command = c;
      span.setAttribute(ATTR_COMMAND, c);
      span.updateName(`telegram ${c}`);
    };
    try {
      if (ctx.callbackQuery) {
        named('market');
        await ctx.answerCallbackQuery().catch((err: unknown) => this.o.log.warn({ component: 'notifier', chatId, error: errorText(err, this.o.redact) }, 'answerCallbackQuery failed'));
        const text = await this.onChoice(ctx.callbackQuery.data ?? '');
        return await this.reply(chatId, command, text, started);
      }
      const text = ctx.message?.text;
      if (text === undefined) return await this.reply(chatId, command, escapeHtml('Send a command (/help) or press the button.'), started);
      const parsed = parseCommand(text);
      named(parsed.command);
      await this.reply(chatId, command, await this.answer(chatId, parsed), started);
    } catch (err) {
      this.tracing.failActive(err);
      this.o.log.error({ component: 'notifier', chatId, command, error: errorText(err, this.o.redact) }, 'answering an update failed');
      await this.reply(chatId, command, escapeHtml('Something went wrong answering that; try again.'), started);
    }
  }

  private async refuse(ctx: Ctx, chatId: number, kind: string): Promise<void> {
    this.o.metrics.unauthorized.inc();
    // The chat and who wrote, never what was written.
    this.o.log.warn({ component: 'notifier', chatId, fromId: ctx.from?.id ?? null, chatType: ctx.chat?.type ?? null, update: kind }, `update from chat ${chatId} refused: not on telegram.allowedChats`);
    if (this.refused.has(chatId)) return;
    if (this.refused.size >= MAX_REFUSED_REMEMBERED) this.refused.clear();
    this.refused.add(chatId);
    if (ctx.callbackQuery) await ctx.answerCallbackQuery().catch(() => {});
    await this.outbox.deliver({ chatId, kind: 'reply', text: fitMessage([escapeHtml('Sorry, this bot only answers the chats it was set up for.'), escapeHtml(`(Chat id ${chatId} is not on its allow-list: its owner can add it to telegram.allowedChats.)`)]) });
  }

  private async reply(chatId: number, command: NotifierCommand, text: string | { text: string; extra: Record<string, unknown> }, started: number): Promise<void> {
    this.o.metrics.updates.labels(command).inc();
    const { text: body, extra } = typeof text === 'string' ? { text, extra: { reply_markup: REPLY_KEYBOARD } } : text;
    const delivered = await this.outbox.deliver({ chatId, kind: 'reply', text: body, extra });
    if (delivered) this.o.metrics.replyDuration.labels(command).observe((this.o.clock.now() - started) / 1000);
  }

  private async answer(chatId: number, c: ParsedCommand): Promise<string | { text: string; extra: Record<string, unknown> }> {
    switch (c.command) {
      case 'start':
      case 'help':
        return helpMessage(this.marketList(), this.o.defaultMarket);
      case 'subscribe':
        return escapeHtml(this.subscriptions.add(chatId) ? 'Subscribed: alerts (firing and resolved) will be sent to this chat. /unsubscribe to stop.' : 'This chat is already subscribed to alerts. /unsubscribe to stop.');
      case 'unsubscribe':
        return escapeHtml(this.subscriptions.remove(chatId) ? 'Unsubscribed: no more alerts in this chat.' : 'This chat was not subscribed to alerts. /subscribe to get them.');
      case 'health':
        return this.health();
      case 'button':
      case 'decision':
      case 'price': {
        const wanted = c.command === 'price' ? 'price' : 'decision';
        const m = this.pickMarket(c.args);
        if (m === 'ask') return this.askMarket(wanted);
        if (typeof m === 'string') return m;
        return wanted === 'price' ? this.price(m) : this.decision(m);
      }
      default:
        return escapeHtml(`I do not know ${c.text.length > 40 ? 'that' : `"${c.text}"`}. Press the button or see /help.`);
    }
  }

  /** A market picked from the inline keyboard: `d:binance:BTC-USDT` (decision) or `p:...` (price). */
  private async onChoice(data: string): Promise<string> {
    const [what, exchange, symbol] = data.split(':');
    const m = exchange && symbol ? this.resolve(`${exchange}:${symbol}`) : null;
    if (!m || typeof m === 'string') return escapeHtml('That market is no longer watched; see /help.');
    return what === 'p' ? this.price(m) : this.decision(m);
  }

  private marketList(): Market[] {
    return this.o.markets.list.flatMap((m) => m.symbols.map((symbol) => ({ exchange: m.exchange, symbol })));
  }

  /** The market named by `args`, the default one, `ask` when the user should choose, or an error text. */
  private pickMarket(args: string): Market | 'ask' | string {
    if (args !== '') return this.resolve(args);
    if (this.o.defaultMarket) return this.o.defaultMarket;
    const all = this.marketList();
    return all.length === 1 ? all[0]! : 'ask';
  }

  /** `BTC-USDT`, `btcusdt`, `okx:ETH-USDT`: the default market's exchange first, then the others in order. */
  private resolve(arg: string): Market | string {
    const [a, b] = arg.trim().split(/[:\s]+/);
    const explicit = b !== undefined ? a : undefined;
    const symbol = b ?? a ?? '';
    const order = [...this.o.markets.list].sort((x, y) => Number(y.exchange === this.o.defaultMarket?.exchange) - Number(x.exchange === this.o.defaultMarket?.exchange));
    for (const market of order) {
      if (explicit !== undefined && market.exchange !== explicit.toLowerCase()) continue;
      try {
        const r = this.o.markets.resolve(market.exchange, symbol);
        return { exchange: r.exchange, symbol: r.symbol };
      } catch {
        // not on this exchange
      }
    }
    return escapeHtml(`Unknown market "${arg.slice(0, 40)}". Watched: ${this.marketList().map((m) => `${m.exchange}:${m.symbol}`).join(', ')}.`);
  }

  private askMarket(what: 'price' | 'decision'): { text: string; extra: Record<string, unknown> } {
    const buttons = this.marketList().map((m) => ({ text: `${m.symbol} (${m.exchange})`, callback_data: `${what === 'price' ? 'p' : 'd'}:${m.exchange}:${m.symbol}`.slice(0, 64) }));
    const rows: (typeof buttons)[] = [];
    for (let i = 0; i < buttons.length && rows.length < 20; i += 2) rows.push(buttons.slice(i, i + 2));
    return { text: escapeHtml(`Which market? (set telegram.defaultMarket to skip this question)`), extra: { reply_markup: { inline_keyboard: rows } } };
  }

  private async decision(m: Market): Promise<string> {
    const signal = AbortSignal.timeout(this.budgetMs);
    const [d, p] = await Promise.allSettled([this.o.decisions.decision(m, this.o.timeframe, signal), this.o.marketData.price(m, this.o.timeframe, signal)]);
    const now = this.o.clock.now();
    if (d.status === 'fulfilled') return decisionMessage(d.value, now);
    const err = d.reason;
    if (err instanceof UpstreamError && (err.status === 400 || err.status === 404)) return escapeHtml(`No decision for ${marketName(m)}: ${err.message}`);
    this.tracing.failActive(err); // answered (with the market data), but the trace shows the decision failed
    this.o.log.warn({ component: 'notifier', market: `${m.exchange}:${m.symbol}`, error: errorText(err, this.o.redact) }, 'decision unavailable');
    return decisionUnavailableMessage(m, reason(err), p.status === 'fulfilled' ? p.value : null, p.status === 'rejected' ? reason(p.reason) : null, now);
  }

  private async price(m: Market): Promise<string> {
    try {
      return priceMessage(await this.o.marketData.price(m, this.o.timeframe, AbortSignal.timeout(this.budgetMs)), this.o.clock.now());
    } catch (err) {
      this.tracing.failActive(err);
      return priceUnavailableMessage(m, reason(err));
    }
  }

  private async health(): Promise<string> {
    const signal = AbortSignal.timeout(this.budgetMs);
    const [report, quality, alive] = await Promise.allSettled([this.o.marketData.health(signal), this.o.marketData.quality(signal), this.o.decisionAlive(signal)]);
    const summary: HealthSummary = {
      report: report.status === 'fulfilled' ? report.value : null,
      reportError: report.status === 'rejected' ? reason(report.reason) : null,
      quality: quality.status === 'fulfilled' ? quality.value : null,
      qualityError: quality.status === 'rejected' ? (quality.reason instanceof UpstreamError && quality.reason.status === 503 ? 'not monitored by this market-data instance' : reason(quality.reason)) : null,
      decisionUp: alive.status === 'fulfilled',
      decisionError: alive.status === 'rejected' ? reason(alive.reason) : null,
    };
    return healthMessage(summary, this.forwarder.firing(), this.o.clock.now());
  }
}

/** Attributes of the update span (candlestack's own namespace: no semantic convention covers a chat bot). */
export const ATTR_UPDATE_TYPE = 'candlestack.telegram.update_type';
export const ATTR_UPDATE_ID = 'candlestack.telegram.update_id';
export const ATTR_CHAT_ID = 'candlestack.telegram.chat_id';
export const ATTR_COMMAND = 'candlestack.notifier.command';
export const ATTR_REFUSED = 'candlestack.notifier.refused';

const reason = (err: unknown): string => (err instanceof UpstreamError ? err.message : 'unexpected error');

export interface ParsedCommand {
  command: NotifierCommand;
  args: string;
  text: string;
}

const COMMANDS: Readonly<Record<string, NotifierCommand>> = { start: 'start', help: 'help', price: 'price', decision: 'decision', health: 'health', subscribe: 'subscribe', unsubscribe: 'unsubscribe' };

/** The button's text, or `/command[@bot] args`. */
export function parseCommand(raw: string): ParsedCommand {
  const text = raw.trim();
  if (text.toLowerCase() === BUTTON_TEXT.toLowerCase()) return { command: 'button', args: '', text };
  const m = /^\/([A-Za-z_]+)(?:@\w+)?(?:\s+([\s\S]*))?$/.exec(text);
  const command = m ? COMMANDS[m[1]!.toLowerCase()] : undefined;
  return { command: command ?? 'other', args: (m?.[2] ?? '').trim(), text };
}

function sleep(ms: number, clock: Clock): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    void p.finally(() => {
      clearTimeout(t);
      resolve();
    });
  });
}
