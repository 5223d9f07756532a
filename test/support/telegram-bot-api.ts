/**
 * A local Telegram Bot API server for tests (a fake, the real wire format): bots call
 * `POST {apiRoot}/bot{token}/{method}` with JSON (or form fields, or a query string), and get
 * `{"ok":true,"result":...}` or `{"ok":false,"error_code":N,"description":"..."}`, with
 * `"parameters":{"retry_after":N}` on a 429. Implemented: getMe, getUpdates (long poll with `offset`, `limit`,
 * `timeout`; updates below `offset` are confirmed and dropped), sendMessage (text within 4,096 characters;
 * parse_mode HTML checked: known tags, balanced, entities valid, as Telegram's "can't parse entities"),
 * answerCallbackQuery, deleteWebhook, setWebhook (then updates are POSTed to the webhook with
 * X-Telegram-Bot-Api-Secret-Token), close. A wrong token is a 401, an unknown method a 404.
 *
 * The test plays the users: `message(chatId, text)` and `press(chatId, data)` queue updates (delivered to the
 * poller, or to the webhook); `sent` holds every sendMessage; `rateLimit` and `fail` inject 429s and errors.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SentMessage {
  chatId: number;
  messageId: number;
  text: string;
  parseMode: string | undefined;
  replyMarkup: any;
  at: number;
}

interface Waiter {
  offset: number;
  limit: number;
  resolve: (updates: unknown[]) => void;
  timer: NodeJS.Timeout;
}

const BOT_USER = { id: 7000000001, is_bot: true, first_name: 'candlestack test bot', username: 'candlestack_test_bot', can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false };

/** Parse mode HTML as Telegram accepts it (the tags the notifier may use); null when valid, else the error. */
export function htmlError(text: string): string | null {
  const allowed = new Set(['b', 'strong', 'i', 'em', 'u', 'ins', 's', 'strike', 'del', 'code', 'pre', 'a', 'tg-spoiler', 'blockquote']);
  const stack: string[] = [];
  const re = /<(\/?)([a-z-]+)(\s[^>]*)?>|&([^;\s]*);?|[<>]/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m[0] === '<' || m[0] === '>') return `Bad Request: can't parse entities: unexpected "${m[0]}" at byte offset ${m.index}`;
    if (m[0].startsWith('&')) {
      if (!m[0].endsWith(';') || !/^(amp|lt|gt|quot|#\d+|#x[0-9a-f]+)$/i.test(m[4] ?? '')) return `Bad Request: can't parse entities: unsupported entity at byte offset ${m.index}`;
      continue;
    }
    const [, close, tag] = m;
    if (!allowed.has(tag!)) return `Bad Request: can't parse entities: unsupported start tag "${tag}" at byte offset ${m.index}`;
    if (close) {
      if (stack.pop() !== tag) return `Bad Request: can't parse entities: can't find end tag corresponding to start tag at byte offset ${m.index}`;
    } else stack.push(tag!);
  }
  return stack.length ? `Bad Request: can't parse entities: can't find end of the entity starting at byte offset 0` : null;
}

export class TelegramBotApiServer {
  readonly sent: SentMessage[] = [];
  /** Every method call, in order. */
  readonly calls: { method: string; at: number; params: Record<string, any> }[] = [];
  readonly callbackAnswers: string[] = [];
  webhook: { url: string; secret: string | undefined } | null = null;
  private readonly server: Server;
  private port = 0;
  private updates: { update_id: number; [k: string]: unknown }[] = [];
  private nextUpdateId = 100;
  private nextMessageId = 1;
  private waiters: Waiter[] = [];
  private readonly injected = new Map<string, { kind: 'rate_limit' | 'error' | 'hang'; count: number; retryAfter?: number; status?: number }[]>();
  private readonly listeners = new Set<() => void>();

  constructor(readonly token: string) {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** The apiRoot a bot is pointed at (`telegram.apiUrl`). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.resolve([]);
    }
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A user writes `text` in chat `chatId` (a private chat: the user id is the chat id unless given). */
  message(chatId: number, text: string, fromId = chatId): number {
    const entities = text.startsWith('/') ? [{ offset: 0, length: text.split(/\s/)[0]!.length, type: 'bot_command' }] : undefined;
    const message = { message_id: this.nextMessageId++, from: { id: fromId, is_bot: false, first_name: 'Test', username: `user${fromId}` }, chat: chatId > 0 ? { id: chatId, type: 'private', first_name: 'Test' } : { id: chatId, type: 'group', title: 'Test group' }, date: Math.floor(Date.now() / 1000), text, ...(entities ? { entities } : {}) };
    return this.push({ message });
  }

  /** A user presses an inline button with `data` under the bot's last message to that chat. */
  press(chatId: number, data: string, fromId = chatId): number {
    const last = [...this.sent].reverse().find((m) => m.chatId === chatId);
    const message = { message_id: last?.messageId ?? this.nextMessageId++, from: BOT_USER, chat: { id: chatId, type: chatId > 0 ? 'private' : 'group' }, date: Math.floor(Date.now() / 1000), text: last?.text ?? '' };
    return this.push({ callback_query: { id: String(Date.now()) + String(this.nextUpdateId), from: { id: fromId, is_bot: false, first_name: 'Test' }, message, chat_instance: `ci${chatId}`, data } });
  }

  /** The next `count` calls of `method` are answered 429 with `retry_after` seconds. */
  rateLimit(method: string, count: number, retryAfter: number): void {
    this.inject(method, { kind: 'rate_limit', count, retryAfter });
  }

  /** The next `count` calls of `method` fail: an HTTP `status` answer, or the connection is dropped (`status` 0). */
  fail(method: string, count: number, status: number): void {
    this.inject(method, { kind: 'error', count, status });
  }

  /** Messages sent to a chat. */
  sentTo(chatId: number): SentMessage[] {
    return this.sent.filter((m) => m.chatId === chatId);
  }

  /** Resolves with the first message sent (from now on, or already sent after index `from`) matching `pred`. */
  waitForMessage(pred: (m: SentMessage) => boolean, timeoutMs = 10_000, from = 0): Promise<SentMessage> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.sent.slice(from).find(pred);
        if (!found) return false;
        this.listeners.delete(check);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(`no matching message within ${timeoutMs} ms; sent: ${JSON.stringify(this.sent.slice(from).map((m) => [m.chatId, m.text.slice(0, 80)]))}`));
      }, timeoutMs);
      if (!check()) this.listeners.add(check);
    });
  }

  private inject(method: string, e: { kind: 'rate_limit' | 'error' | 'hang'; count: number; retryAfter?: number; status?: number }): void {
    const list = this.injected.get(method) ?? [];
    list.push(e);
    this.injected.set(method, list);
  }

  private push(body: Record<string, unknown>): number {
    const update = { update_id: this.nextUpdateId++, ...body };
    if (this.webhook) {
      void fetch(this.webhook.url, { method: 'POST', headers: { 'content-type': 'application/json', ...(this.webhook.secret ? { 'x-telegram-bot-api-secret-token': this.webhook.secret } : {}) }, body: JSON.stringify(update) }).catch(() => {});
      return update.update_id;
    }
    this.updates.push(update);
    this.wake();
    return update.update_id;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) {
      const ready = this.pending(w.offset, w.limit);
      if (ready.length === 0) {
        this.waiters.push(w);
        continue;
      }
      clearTimeout(w.timer);
      w.resolve(ready);
    }
  }

  private pending(offset: number, limit: number): unknown[] {
    this.updates = this.updates.filter((u) => u.update_id >= offset);
    return this.updates.slice(0, limit);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
    if (!m) return send(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    const [, token, method] = m;
    let params: Record<string, any>;
    try {
      params = { ...Object.fromEntries(url.searchParams), ...(await readParams(req)) };
    } catch {
      return send(res, 400, { ok: false, error_code: 400, description: 'Bad Request: invalid request body' });
    }
    if (token !== this.token) return send(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
    this.calls.push({ method: method!, at: Date.now(), params });
    const inj = this.injected.get(method!)?.[0];
    if (inj) {
      if (--inj.count <= 0) this.injected.get(method!)!.shift();
      if (inj.kind === 'rate_limit') return send(res, 429, { ok: false, error_code: 429, description: `Too Many Requests: retry after ${inj.retryAfter}`, parameters: { retry_after: inj.retryAfter } });
      if (inj.status === 0) return void req.socket.destroy();
      return send(res, inj.status!, { ok: false, error_code: inj.status, description: inj.status! >= 500 ? 'Internal Server Error' : 'Bad Request' });
    }
    switch (method) {
      case 'getMe':
        return send(res, 200, { ok: true, result: BOT_USER });
      case 'deleteWebhook':
        this.webhook = null;
        return send(res, 200, { ok: true, result: true, description: 'Webhook is already deleted' });
      case 'setWebhook':
        if (typeof params.url !== 'string' || !/^https?:\/\//.test(params.url)) return send(res, 400, { ok: false, error_code: 400, description: 'Bad Request: bad webhook: An HTTPS URL must be provided for webhook' });
        this.webhook = { url: params.url, secret: params.secret_token };
        return send(res, 200, { ok: true, result: true, description: 'Webhook was set' });
      case 'getUpdates':
        return this.getUpdates(params, res);
      case 'sendMessage':
        return this.sendMessage(params, res);
      case 'answerCallbackQuery':
        this.callbackAnswers.push(String(params.callback_query_id));
        return send(res, 200, { ok: true, result: true });
      case 'close':
      case 'logOut':
        return send(res, 200, { ok: true, result: true });
      default:
        return send(res, 404, { ok: false, error_code: 404, description: 'Not Found: method not found' });
    }
  }

  private getUpdates(params: Record<string, any>, res: ServerResponse): void {
    if (this.webhook) return send(res, 409, { ok: false, error_code: 409, description: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first" });
    const offset = Number(params.offset ?? 0);
    const limit = Math.min(100, Math.max(1, Number(params.limit ?? 100)));
    const timeout = Math.min(50, Math.max(0, Number(params.timeout ?? 0)));
    const ready = this.pending(offset, limit);
    if (ready.length > 0 || timeout === 0) return send(res, 200, { ok: true, result: ready });
    const waiter: Waiter = {
      offset,
      limit,
      resolve: (updates) => send(res, 200, { ok: true, result: updates }),
      timer: setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        send(res, 200, { ok: true, result: [] });
      }, timeout * 1000),
    };
    this.waiters.push(waiter);
    res.on('close', () => {
      clearTimeout(waiter.timer);
      this.waiters = this.waiters.filter((w) => w !== waiter);
    });
  }

  private sendMessage(params: Record<string, any>, res: ServerResponse): void {
    const chatId = Number(params.chat_id);
    const text = params.text;
    if (!Number.isSafeInteger(chatId)) return send(res, 400, { ok: false, error_code: 400, description: 'Bad Request: chat not found' });
    if (typeof text !== 'string' || text.trim() === '') return send(res, 400, { ok: false, error_code: 400, description: 'Bad Request: message text is empty' });
    if (text.length > 4096) return send(res, 400, { ok: false, error_code: 400, description: 'Bad Request: message is too long' });
    if (params.parse_mode === 'HTML') {
      const err = htmlError(text);
      if (err) return send(res, 400, { ok: false, error_code: 400, description: err });
    }
    const replyMarkup = typeof params.reply_markup === 'string' ? JSON.parse(params.reply_markup) : params.reply_markup;
    const messageId = this.nextMessageId++;
    this.sent.push({ chatId, messageId, text, parseMode: params.parse_mode, replyMarkup, at: Date.now() });
    for (const l of [...this.listeners]) l();
    send(res, 200, { ok: true, result: { message_id: messageId, from: BOT_USER, chat: { id: chatId, type: chatId > 0 ? 'private' : 'group' }, date: Math.floor(Date.now() / 1000), text: text.replace(/<[^>]+>/g, '') } });
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readParams(req: IncomingMessage): Promise<Record<string, any>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks).toString('utf8');
  if (raw === '') return {};
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
  if (type === 'application/json') return JSON.parse(raw) as Record<string, any>;
  if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(raw));
  throw new Error(`unsupported content type ${type}`);
}
