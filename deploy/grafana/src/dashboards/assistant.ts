/**
 * 9. Assistant: the trading assistant of seed 003. The Telegram bot's rows (src/assistant/notifier/): is the bot
 * connected, what chats ask, how fast they get an answer, alert deliveries, errors and lost messages, refused
 * chats. The decision service's rows (decisions by action, hit ratio) sit in this same dashboard.
 */
import { above, informational, upDown, type DashboardSpec, type RowSpec } from '../builder.js';

const bot: RowSpec[] = [
  {
    title: 'Telegram bot',
    panels: [
      {
        title: 'Bot API reachable',
        description: '1 while the last call to the Telegram Bot API (getMe, getUpdates, sendMessage) got an answer, per notifier instance and mode (polling or webhook).',
        type: 'stat',
        unit: 'short',
        thresholds: upDown,
        w: 6,
        mappings: [
          { value: 0, text: 'DOWN', color: 'red' },
          { value: 1, text: 'UP', color: 'green' },
        ],
        targets: [{ expr: 'min by (instance, mode) (candlestack_notifier_bot_up)', legend: '{{instance}} {{mode}}' }],
      },
      {
        title: 'Requests by command',
        description: 'Telegram updates per second by command: the "What should I do with crypto?" button, a market picked from the list, /price, /decision, /health, /subscribe, /unsubscribe, /help.',
        unit: 'reqps',
        thresholds: informational,
        w: 9,
        targets: [{ expr: 'sum by (command) (rate(candlestack_notifier_updates_total[$__rate_interval]))', legend: '{{command}}' }],
      },
      {
        title: 'Reply time p95',
        description: 'Time from a Telegram update to its reply being sent, p95 by command. Answers are due within 5 s even when a service behind the bot is down: orange from 3 s, red from 5 s.',
        unit: 's',
        thresholds: above(3, 5),
        w: 9,
        targets: [{ expr: 'histogram_quantile(0.95, sum by (command, le) (rate(candlestack_notifier_reply_duration_seconds_bucket[$__rate_interval])))', legend: 'p95 {{command}}' }],
      },
    ],
  },
  {
    title: 'Deliveries',
    panels: [
      {
        title: 'Messages delivered',
        description: 'Messages delivered to Telegram chats per interval: replies, and forwarded alerts (one per subscribed chat).',
        unit: 'short',
        thresholds: informational,
        bars: true,
        targets: [{ expr: 'sum by (kind) (increase(candlestack_notifier_messages_sent_total[$__rate_interval]))', legend: '{{kind}}' }],
      },
      {
        title: 'Send errors and lost messages',
        description: 'Failed attempts to send by reason (rate_limited: Telegram answered 429 and its retry_after is waited; api_error; network), and messages given up after every retry (undeliverable: NotifierDeliveryFailing fires).',
        unit: 'short',
        thresholds: informational,
        bars: true,
        targets: [
          { expr: 'sum by (reason) (increase(candlestack_notifier_send_errors_total[$__rate_interval]))', legend: 'error {{reason}}' },
          { expr: 'sum by (kind) (increase(candlestack_notifier_messages_undeliverable_total[$__rate_interval]))', legend: 'undeliverable {{kind}}' },
        ],
      },
      {
        title: 'Waiting to be sent',
        description: 'Messages waiting for a retry (after a 429 retry_after or a failed attempt). Growing: Telegram is refusing or unreachable.',
        unit: 'short',
        thresholds: above(10, 100),
        targets: [{ expr: 'sum by (instance) (candlestack_notifier_pending_messages)', legend: '{{instance}}' }],
      },
    ],
  },
  {
    title: 'Alerts and access',
    panels: [
      {
        title: 'Alerts forwarded',
        description: 'Alerts forwarded to the subscribed chats by status (an alert is sent once firing and once resolved), and repeats Alertmanager sent again that the chats already had (deduplicated).',
        unit: 'short',
        thresholds: informational,
        bars: true,
        targets: [
          { expr: 'sum by (status) (increase(candlestack_notifier_alerts_forwarded_total[$__rate_interval]))', legend: '{{status}}' },
          { expr: 'sum (increase(candlestack_notifier_alerts_deduplicated_total[$__rate_interval]))', legend: 'deduplicated' },
        ],
      },
      {
        title: 'Subscribed chats',
        description: 'Chats that get alerts (/subscribe, /unsubscribe).',
        type: 'stat',
        unit: 'short',
        thresholds: informational,
        targets: [{ expr: 'max by (instance) (candlestack_notifier_subscribed_chats and on (instance) candlestack_notifier_bot_up)', legend: '{{instance}}' }],
      },
      {
        title: 'Unauthorized attempts',
        description: 'Updates from chats not on telegram.allowedChats (refused, logged without their text). More than 20 in 10 min: NotifierUnauthorizedSpike.',
        unit: 'short',
        thresholds: above(5, 20),
        bars: true,
        targets: [{ expr: 'sum by (instance) (increase(candlestack_notifier_unauthorized_total[$__rate_interval]))', legend: '{{instance}}' }],
      },
    ],
  },
  {
    title: 'Calls behind the bot',
    panels: [
      {
        title: 'Calls by service and outcome',
        description: 'Outgoing calls of the bot per second, by called service (serve: market data, decide: decisions) and outcome (HTTP status, timeout, error, circuit_open). Each call has a timeout, retries with backoff and a circuit breaker.',
        unit: 'reqps',
        thresholds: informational,
        w: 12,
        targets: [{ expr: 'sum by (target, outcome) (rate(candlestack_http_client_requests_total{target=~"serve|decide"}[$__rate_interval]))', legend: '{{target}} {{outcome}}' }],
      },
      {
        title: 'Call latency p95',
        description: 'p95 duration of one attempt to market data and the decision service. An answer is due within 5 s; one attempt times out after telegram.timeout (1.5 s by default): orange from 1 s, red from 1.5 s.',
        unit: 's',
        thresholds: above(1, 1.5),
        w: 12,
        targets: [{ expr: 'histogram_quantile(0.95, sum by (target, le) (rate(candlestack_http_client_request_duration_seconds_bucket{target=~"serve|decide"}[$__rate_interval])))', legend: 'p95 {{target}}' }],
      },
    ],
  },
];

export const assistant: DashboardSpec = {
  uid: 'candlestack-assistant',
  title: 'candlestack / Assistant',
  description: 'The trading assistant: the decision service (BUY / SELL / HOLD and how often it was right) and the Telegram bot (requests, reply time, deliveries, alerts, refused chats).',
  tags: ['assistant', 'telegram'],
  variables: [],
  rows: [...bot],
};
