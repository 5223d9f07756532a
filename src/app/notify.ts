/**
 * Composition root of `candlestack notify`: the Telegram notifier on its own port (8003 by default), with
 * /metrics, /healthz, /readyz and /api/health from the RoleServer, Alertmanager's webhook (POST /api/alerts,
 * the same AlertReceiver the API server runs, handing each notification to the bot) and, in webhook mode,
 * Telegram's updates (POST /telegram/webhook). It calls the market-data API (telegram.marketDataUrl: a serve
 * or run instance) and the decision service (telegram.decisionUrl: a decide or run instance) over HTTP. No
 * store, no Kafka. /readyz is ready once the Bot API answered.
 */
import type { Config } from '../config/config.js';
import { ConfigError } from '../core/errors.js';
import { telegramToken } from '../config/telegram-config.js';
import { AlertReceiver } from '../api/alerts-webhook.js';
import { buildNotifier } from '../assistant/notifier/build.js';
import { WEBHOOK_PATH } from '../assistant/notifier/notifier.js';
import { buildMarkets, hostPolicy, roleFoundation, type RoleApp, type RoleDeps } from './parts.js';
import { RoleServer } from './role-server.js';

export async function startNotify(config: Config, deps: RoleDeps): Promise<RoleApp> {
  const { clock, log } = deps;
  if (telegramToken(config.telegram) === null) throw new ConfigError('telegram.token', 'a bot token for the notify role (CANDLESTACK_TELEGRAM_TOKEN, --telegram-token-file or telegram.token in the config file)', null);
  const { startedAt, lifecycle, registry, metrics, tracing } = await roleFoundation(config, deps, 'notify', { store: false, series: false });
  const b = buildNotifier(config, { clock, metrics, log, markets: buildMarkets(config), tracing }, urlsOf(config));
  if (b === null) throw new ConfigError('telegram.token', 'a bot token', null);
  const { notifier, breakers } = b;
  const alerts = new AlertReceiver({ metrics: metrics.api, log: log.child({ component: 'api' }), onMessage: notifier.onAlerts });
  const server = lifecycle.register(
    new RoleServer({
      hosts: hostPolicy(config),
      host: config.http.host,
      port: config.http.port,
      role: 'notify',
      registry,
      clock,
      metrics: metrics.api,
      health: { role: 'notify', startedAt, staleAfterMs: config.feed.staleAfterMs, bus: { kind: 'none' }, breakers: () => breakers.map((x) => x.status()), notReady: notifier.notReadyReasons },
      postRoutes: { '/api/alerts': alerts.handle, [WEBHOOK_PATH]: notifier.webhookRoute },
      tracing,
    }),
  );
  lifecycle.register(notifier);
  await lifecycle.start();
  log.info({ component: 'app', port: server.port, marketData: config.telegram.marketDataUrl, decision: config.telegram.decisionUrl }, `candlestack notify listening on http://${config.http.host}:${server.port}`);
  return { port: server.port, metrics, lifecycle, stop: () => lifecycle.stop() };
}

const urlsOf = (config: Config) => ({ marketData: config.telegram.marketDataUrl, decision: config.telegram.decisionUrl });
