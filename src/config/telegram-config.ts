/**
 * Config section `telegram:` (the Telegram notifier, src/assistant/notifier/): the bot token (or a file holding
 * it), the Bot API base URL, the chats allowed to talk to the bot, the market the button answers for, long
 * polling or a webhook, and where the notify role finds the market-data (serve) and decision (decide) services.
 *
 * The token is a secret: an invalid one is never echoed whole in an error (its first characters at most), and
 * the notifier redacts it from every log line and error (src/assistant/notifier/redact.ts).
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../core/errors.js';
import { isTimeframe, TIMEFRAMES, type Timeframe } from '../core/timeframe.js';
import { adapterFor, EXCHANGE_IDS, isExchangeId, type ExchangeId } from '../exchanges/index.js';
import { resolveSymbol } from '../exchanges/symbols.js';
import { duration, int, nullable, oneOf, stringList, url, type Parse } from './fields.js';
import { leaf, section } from './schema.js';

export const TELEGRAM_MODES = ['polling', 'webhook'] as const;
export type TelegramMode = (typeof TELEGRAM_MODES)[number];

export interface TelegramMarket {
  exchange: ExchangeId;
  /** Canonical BASE-QUOTE. */
  symbol: string;
}

export interface TelegramConfig {
  /** The bot token from BotFather; null: no notifier (run/demo start it only with a token). */
  token: string | null;
  /** A file holding the token (a Docker or Kubernetes secret); read at start, wins over `token`. */
  tokenFile: string | null;
  /** The Bot API base URL (Telegram's, or a self-hosted Bot API server). */
  apiUrl: string;
  /** Chat ids the bot answers (users: positive, groups: negative); every other chat gets one refusal. */
  allowedChats: number[];
  /** The market "What should I do with crypto?" answers for; null: asks when several are watched. */
  defaultMarket: TelegramMarket | null;
  /** The timeframe the decision is asked for. */
  timeframe: Timeframe;
  mode: TelegramMode;
  /** Webhook mode: the public HTTPS URL Telegram posts updates to (ends with the notifier's webhook path). */
  webhookUrl: string | null;
  /** Webhook mode: the secret Telegram sends in X-Telegram-Bot-Api-Secret-Token; updates without it are refused. */
  webhookSecret: string | null;
  /** The notify role: the market-data API (a serve, run or demo instance). */
  marketDataUrl: string;
  /** The notify role: the decision service (a decide, run or demo instance). */
  decisionUrl: string;
  /** Per call to market data or the decision service. */
  timeoutMs: number;
  /** Extra attempts per call after a timeout, network error or 5xx. */
  retries: number;
  /** Where the chats subscribed to alerts are kept across restarts (JSON); null: in memory only. */
  stateFile: string | null;
}

/** Telegram's bot token form: the bot id, a colon, 30+ characters of [A-Za-z0-9_-]. */
export const TOKEN_PATTERN = /^\d{1,20}:[A-Za-z0-9_-]{30,}$/;
const TOKEN_EXPECTED = 'a bot token from BotFather (digits, ":", then 30 or more letters, digits, "_" or "-")';

/** What an error may show of a secret: short junk as is, anything longer only its first 4 characters. */
export const secretPreview = (v: unknown): unknown => (typeof v === 'string' && v.length > 8 ? `${v.slice(0, 4)}...(${v.length} characters)` : v);

export const botToken: Parse<string> = (v, field) => {
  const s = typeof v === 'string' ? v.trim() : v;
  if (typeof s !== 'string' || !TOKEN_PATTERN.test(s)) throw new ConfigError(field, TOKEN_EXPECTED, secretPreview(v));
  return s;
};

/** A readable file whose content (trimmed) is a bot token; the path is kept, the token read again at start. */
const tokenFile: Parse<string> = (v, field) => {
  if (typeof v !== 'string' || v.trim() === '') throw new ConfigError(field, 'the path of a readable file holding the bot token', v);
  readTokenFile(v, field);
  return v;
};

export function readTokenFile(path: string, field: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(field, 'the path of a readable file holding the bot token', path, { cause: err });
  }
  const token = text.trim();
  if (!TOKEN_PATTERN.test(token)) throw new ConfigError(field, `a file holding ${TOKEN_EXPECTED}`, path);
  return token;
}

/** The token the notifier uses: the file's when one is configured, else `token`; null when neither. */
export function telegramToken(t: Pick<TelegramConfig, 'token' | 'tokenFile'>): string | null {
  return t.tokenFile !== null ? readTokenFile(t.tokenFile, 'telegram.tokenFile') : t.token;
}

const CHATS_EXPECTED = 'chat ids (integers such as 123456789 or -1001234567890), comma-separated';

const chatIds: Parse<number[]> = (v, field) => {
  let items: unknown[];
  if (typeof v === 'number') items = [v];
  else if (Array.isArray(v)) items = v;
  else if (typeof v === 'string') items = stringList(v, field);
  else throw new ConfigError(field, CHATS_EXPECTED, v);
  const ids = items.map((x) => {
    const n = typeof x === 'number' ? x : typeof x === 'string' && /^-?\d{1,16}$/.test(x.trim()) ? Number(x) : Number.NaN;
    if (!Number.isSafeInteger(n) || n === 0) throw new ConfigError(field, CHATS_EXPECTED, v);
    return n;
  });
  return [...new Set(ids)];
};
chatIds.show = (v) => v.join(',');

const MARKET_EXPECTED = `EXCHANGE:SYMBOL with an exchange of ${EXCHANGE_IDS.join(', ')} (e.g. binance:BTC-USDT)`;

export const telegramMarket: Parse<TelegramMarket> = (v, field) => {
  if (typeof v !== 'string') throw new ConfigError(field, MARKET_EXPECTED, v);
  const [exchange, symbol, ...rest] = v.trim().split(':');
  if (rest.length > 0 || !isExchangeId(exchange) || !symbol) throw new ConfigError(field, MARKET_EXPECTED, v);
  const canonical = resolveSymbol(adapterFor(exchange).symbols, symbol);
  if (canonical === null) throw new ConfigError(field, MARKET_EXPECTED, v);
  return { exchange, symbol: canonical };
};
telegramMarket.show = (m) => `${m.exchange}:${m.symbol}`;

const timeframe: Parse<Timeframe> = (v, field) => {
  if (!isTimeframe(v)) throw new ConfigError(field, `one of ${TIMEFRAMES.join(', ')}`, v);
  return v;
};

/** A webhook secret: 1-256 characters of A-Z, a-z, 0-9, "_" and "-" (Telegram's rule for secret_token). */
const webhookSecret: Parse<string> = (v, field) => {
  if (typeof v !== 'string' || !/^[A-Za-z0-9_-]{1,256}$/.test(v)) throw new ConfigError(field, '1 to 256 characters of letters, digits, "_" and "-"', secretPreview(v));
  return v;
};

const jsonPath: Parse<string> = (v, field) => {
  if (typeof v !== 'string' || !/^[^\0]+\.json$/.test(v)) throw new ConfigError(field, 'the path of a .json file', v);
  return v;
};

export const DEFAULT_TELEGRAM_API_URL = 'https://api.telegram.org';

export const TELEGRAM = section<TelegramConfig>(
  {
    token: leaf(nullable(botToken), null, {
      cli: { flag: 'telegram-token', value: 'TOKEN', help: 'Telegram bot token from BotFather; starts the notifier (prefer the environment or --telegram-token-file: flags show in ps)' },
    }),
    tokenFile: leaf(nullable(tokenFile), null, { cli: { flag: 'telegram-token-file', value: 'FILE', help: 'file holding the Telegram bot token (wins over --telegram-token)' } }),
    apiUrl: leaf(url(['http:', 'https:']), DEFAULT_TELEGRAM_API_URL, { cli: { flag: 'telegram-api-url', value: 'URL', help: `Telegram Bot API base URL (default ${DEFAULT_TELEGRAM_API_URL}; a self-hosted Bot API server)` } }),
    allowedChats: leaf(chatIds, [], { cli: { flag: 'telegram-allowed-chats', value: 'LIST', help: 'chat ids the bot answers, comma-separated; every other chat is refused' } }),
    defaultMarket: leaf(nullable(telegramMarket), null, { cli: { flag: 'telegram-default-market', value: 'EXCHANGE:SYMBOL', help: 'market the "What should I do with crypto?" button answers for (e.g. binance:BTC-USDT)' } }),
    timeframe: leaf(timeframe, '1m'),
    mode: leaf(oneOf(TELEGRAM_MODES), 'polling'),
    webhookUrl: leaf(nullable(url(['https:', 'http:'])), null),
    webhookSecret: leaf(nullable(webhookSecret), null),
    marketDataUrl: leaf(url(['http:', 'https:']), 'http://127.0.0.1:9001', { cli: { flag: 'market-data-url', value: 'URL', help: 'notify role: the market-data API, a serve or run instance (default http://127.0.0.1:9001)' } }),
    decisionUrl: leaf(url(['http:', 'https:']), 'http://127.0.0.1:8002', { cli: { flag: 'decision-url', value: 'URL', help: 'notify role: the decision service, a decide or run instance (default http://127.0.0.1:8002)' } }),
    timeoutMs: leaf(duration(100, 60_000), 1_500, { file: 'timeout' }),
    retries: leaf(int(0, 5), 1),
    stateFile: leaf(nullable(jsonPath), 'data/notifier-state.json'),
  },
  {
    check: (t, given, field) => {
      if (t.mode === 'webhook' && t.webhookUrl === null) throw new ConfigError(`${field}.webhookUrl`, 'the public URL Telegram posts updates to (telegram.mode is webhook)', given.webhookUrl);
      if (t.mode === 'webhook' && t.webhookSecret === null) throw new ConfigError(`${field}.webhookSecret`, 'a secret token Telegram sends with every update (telegram.mode is webhook)', given.webhookSecret);
    },
  },
);
