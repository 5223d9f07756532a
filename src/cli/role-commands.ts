/** The scale-out roles on the command line: `candlestack collect | process | serve | decide | notify` (help, default ports). */
import type { Config } from '../config/config.js';
import type { RoleApp, RoleDeps } from '../app/collect.js';

export const ROLE_COMMANDS = ['collect', 'process', 'serve', 'decide', 'notify'] as const;
export type RoleCommand = (typeof ROLE_COMMANDS)[number];

/** Default ports (the seeds' ports): collect 8000, process 8001, serve 9001; decide 8002, notify 8003. */
export const ROLE_PORTS: Record<RoleCommand, number> = { collect: 8000, process: 8001, serve: 9001, decide: 8002, notify: 8003 };

const WHAT: Record<RoleCommand, string> = {
  collect: `Connects to the configured exchanges and publishes normalized trades, gaps and the exchange's closed
klines (on binance_kline, the seed's JSON) to Kafka. /metrics, /healthz, /readyz, /api/health on port ${ROLE_PORTS.collect}.`,
  process: `Consumes trades, klines and gaps from Kafka in a consumer group (run several: they share the
partitions), builds candles on every timeframe, reconciles and backfills them, writes them to the store and
publishes them to Kafka. Offsets are committed only after the store write. /metrics and health on port ${ROLE_PORTS.process}.`,
  serve: `Serves the stored candles (REST API), live candles from Kafka (WebSocket /ws), /metrics and health
on port ${ROLE_PORTS.serve}.`,
  decide: `The decision service: GET /api/decision?exchange=&symbol=&timeframe= answers BUY, SELL or HOLD with
its confidence, reasons and features, from the stored closed candles (the store the process role writes) and
the configured strategy (--strategy rules|random|llm). /metrics and health on port ${ROLE_PORTS.decide}.`,
  notify: `The Telegram bot: answers the chats of --telegram-allowed-chats ("What should I do with crypto?",
/price, /decision, /health, /subscribe, /unsubscribe, /help) from the market-data API (--market-data-url) and
the decision service (--decision-url), and forwards Alertmanager's webhook (POST /api/alerts) to the
subscribed chats. Needs a bot token (CANDLESTACK_TELEGRAM_TOKEN or --telegram-token-file); no store, no Kafka.
/metrics and health on port ${ROLE_PORTS.notify}.`,
};

const EXAMPLE: Record<RoleCommand, string> = {
  collect: '--bus kafka://127.0.0.1:9092 --symbols BTC-USDT,ETH-USDT',
  process: '--bus kafka://127.0.0.1:9092 --store sqlite:data/candlestack.db --kafka-group candlestack-process',
  serve: '--bus kafka://127.0.0.1:9092 --store sqlite:data/candlestack.db',
  decide: '--store postgres://candlestack@127.0.0.1:5432/candlestack --strategy rules',
  notify: '--telegram-allowed-chats 123456789 --telegram-default-market binance:BTC-USDT --market-data-url http://serve:9001 --decision-url http://decide:8002',
};

export function roleHelp(role: RoleCommand, settings: string): string {
  const usage = role === 'decide' ? '--store URL' : role === 'notify' ? '--telegram-allowed-chats ID[,ID] (a bot token in CANDLESTACK_TELEGRAM_TOKEN)' : '--bus kafka://HOST:9092[,HOST:9092]';
  return `Usage: candlestack ${role} ${usage} [flags]

${WHAT[role]}

Flags:
${settings}
  -h, --help             show this help

Example:
  candlestack ${role} ${EXAMPLE[role]}
`;
}

/** The role's root is loaded when it starts: the other commands (e.g. `candles`) do not pay for loading it. */
export async function startRole(role: RoleCommand, config: Config, deps: RoleDeps): Promise<RoleApp> {
  if (role === 'collect') return (await import('../app/collect.js')).startCollect(config, deps);
  if (role === 'process') return (await import('../app/process.js')).startProcess(config, deps);
  if (role === 'decide') return (await import('../app/decide.js')).startDecide(config, deps);
  if (role === 'notify') return (await import('../app/notify.js')).startNotify(config, deps);
  return (await import('../app/serve.js')).startServe(config, deps);
}
