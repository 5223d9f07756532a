/** The scale-out roles on the command line: `candlestack collect | process | serve | notify` (help, default ports). */
import type { Config } from '../config/config.js';
import { startCollect, type RoleApp, type RoleDeps } from '../app/collect.js';
import { startProcess } from '../app/process.js';
import { startServe } from '../app/serve.js';
import { startNotify } from '../app/notify.js';

export const ROLE_COMMANDS = ['collect', 'process', 'serve', 'notify'] as const;
export type RoleCommand = (typeof ROLE_COMMANDS)[number];

/** Default ports (the seeds' ports): collect 8000, process 8001, serve 9001; notify 8003. */
export const ROLE_PORTS: Record<RoleCommand, number> = { collect: 8000, process: 8001, serve: 9001, notify: 8003 };

const WHAT: Record<RoleCommand, string> = {
  collect: `Connects to the configured exchanges and publishes normalized trades, gaps and the exchange's closed
klines (on binance_kline, the seed's JSON) to Kafka. /metrics, /healthz, /readyz, /api/health on port ${ROLE_PORTS.collect}.`,
  process: `Consumes trades, klines and gaps from Kafka in a consumer group (run several: they share the
partitions), builds candles on every timeframe, reconciles and backfills them, writes them to the store and
publishes them to Kafka. Offsets are committed only after the store write. /metrics and health on port ${ROLE_PORTS.process}.`,
  serve: `Serves the stored candles (REST API), live candles from Kafka (WebSocket /ws), /metrics and health
on port ${ROLE_PORTS.serve}.`,
  notify: `The Telegram bot: answers the chats of --telegram-allowed-chats ("What should I do with crypto?",
/price, /decision, /health, /subscribe, /unsubscribe, /help) from the market-data API (--market-data-url) and
the decision service (--decision-url), and forwards Alertmanager's webhook (POST /api/alerts) to the
subscribed chats. Needs a bot token (CANDLESTACK_TELEGRAM_TOKEN or --telegram-token-file); no store, no Kafka.
/metrics and health on port ${ROLE_PORTS.notify}.`,
};

export function roleHelp(role: RoleCommand, settings: string): string {
  if (role === 'notify') {
    return `Usage: CANDLESTACK_TELEGRAM_TOKEN=... candlestack notify --telegram-allowed-chats ID[,ID] [flags]

${WHAT[role]}

Flags:
${settings}
  -h, --help             show this help

Example:
  CANDLESTACK_TELEGRAM_TOKEN=123456:ABC... candlestack notify --telegram-allowed-chats 123456789 --telegram-default-market binance:BTC-USDT --market-data-url http://serve:9001 --decision-url http://decide:8002
`;
  }
  return `Usage: candlestack ${role} --bus kafka://HOST:9092[,HOST:9092] [flags]

${WHAT[role]}

Flags:
${settings}
  -h, --help             show this help

Example:
  candlestack ${role} --bus kafka://127.0.0.1:9092${role === 'collect' ? ' --symbols BTC-USDT,ETH-USDT' : role === 'process' ? ' --store sqlite:data/candlestack.db --kafka-group candlestack-process' : ' --store sqlite:data/candlestack.db'}
`;
}

export function startRole(role: RoleCommand, config: Config, deps: RoleDeps): Promise<RoleApp> {
  if (role === 'collect') return startCollect(config, deps);
  if (role === 'process') return startProcess(config, deps);
  if (role === 'notify') return startNotify(config, deps);
  return startServe(config, deps);
}
