/**
 * Builds the Notifier from the config, for the notify role and for run/demo: the token (from
 * telegram.tokenFile or telegram.token; no token, no notifier), the redaction of the token and webhook secret
 * from every log line, one HttpClient per service behind the bot (timeout, retries with backoff, a circuit
 * breaker: `notifier_serve`, `notifier_decide`), and the bot itself.
 */
import type { Clock } from '../../core/clock.js';
import type { CircuitBreaker } from '../../core/circuit-breaker.js';
import type { Config } from '../../config/config.js';
import { telegramToken } from '../../config/telegram-config.js';
import { HttpClient } from '../../api/http-client.js';
import type { Markets } from '../../api/markets.js';
import type { WebhookMessage } from '../../api/alerts-webhook.js';
import { service, type Service } from '../../core/service.js';
import { instrumentedBreaker } from '../../telemetry/breaker-metrics.js';
import type { Logger } from '../../telemetry/logger.js';
import type { Metrics } from '../../telemetry/metrics.js';
import type { Tracing } from '../../telemetry/tracing.js';
import { Notifier, type NotifierOptions } from './notifier.js';
import { redactingLog, redactor } from './redact.js';
import { DecisionClient, isAlive, MarketDataClient } from './upstream.js';

export interface BuiltNotifier {
  notifier: Notifier;
  breakers: CircuitBreaker[];
}

/** What the notifier is built from; `tracing` makes each call to serve and decide a CLIENT span whose context travels in traceparent. */
export interface NotifierDeps {
  clock: Clock;
  metrics: Metrics;
  log: Logger;
  markets: Markets;
  tracing?: Tracing;
}

export interface NotifierUrls {
  marketData: string;
  decision: string;
}

/** The notifier of this config, or null when no token is configured. Throws ConfigError for an unreadable token file. */
export function buildNotifier(config: Config, deps: NotifierDeps, urls: NotifierUrls, tuning: Partial<NotifierOptions> = {}): BuiltNotifier | null {
  const t = config.telegram;
  const token = telegramToken(t);
  if (token === null) return null;
  const redact = redactor([token, t.webhookSecret]);
  const log = redactingLog(deps.log.child({ component: 'notifier' }), redact);
  const breakerLog = deps.log.child({ component: 'breaker' });
  const client = (target: string, baseUrl: string) => {
    const breaker = instrumentedBreaker(`notifier_${target}`, config.breakers.defaults, { clock: deps.clock, metrics: deps.metrics.breakers, log: breakerLog });
    return { breaker, http: new HttpClient({ target, baseUrl, timeoutMs: t.timeoutMs, retries: t.retries, backoffMs: 100, breaker, metrics: deps.metrics.api, ...(deps.tracing ? { tracing: deps.tracing } : {}) }) };
  };
  const serve = client('serve', urls.marketData);
  const decide = client('decide', urls.decision);
  const notifier = new Notifier({
    token,
    apiUrl: t.apiUrl,
    mode: t.mode,
    webhookUrl: t.webhookUrl,
    webhookSecret: t.webhookSecret,
    allowedChats: t.allowedChats,
    defaultMarket: t.defaultMarket,
    timeframe: t.timeframe,
    markets: deps.markets,
    marketData: new MarketDataClient(serve.http, () => deps.clock.now()),
    decisions: new DecisionClient(decide.http),
    decisionAlive: (signal) => isAlive(decide.http, signal),
    stateFile: t.stateFile,
    clock: deps.clock,
    metrics: deps.metrics.notifier,
    log,
    redact,
    ...(deps.tracing ? { tracing: deps.tracing } : {}),
    ...tuning,
  });
  if (t.allowedChats.length === 0) log.warn({ component: 'notifier' }, 'telegram.allowedChats is empty: the bot refuses every chat (each refusal names the chat id to add)');
  return { notifier, breakers: [serve.breaker, decide.breaker] };
}

/** The loopback URL of a server listening on `host:port` (a wildcard address is reached on 127.0.0.1). */
export function loopbackUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}

/**
 * run/demo: the notifier in-process, started when a bot token is configured (null otherwise). It is built
 * when its service starts, after the API server (registered before it) is listening: the bot calls that
 * API over loopback HTTP for market data and decisions, the same flow and code as the split roles.
 * `onAlerts` is what the API server's POST /api/alerts hands each notification to.
 */
export function embeddedNotifier(config: Config, deps: NotifierDeps, api: () => { host: string; port: number }): { service: Service; onAlerts: (m: WebhookMessage) => void } | null {
  if (telegramToken(config.telegram) === null) return null;
  let built: BuiltNotifier | null = null;
  return {
    onAlerts: (m) => built?.notifier.onAlerts(m),
    service: service(
      'notifier',
      async () => {
        const { host, port } = api();
        const url = loopbackUrl(host, port);
        built = buildNotifier(config, deps, { marketData: url, decision: url });
        await built?.notifier.start();
      },
      async () => {
        await built?.notifier.stop();
      },
    ),
  };
}
