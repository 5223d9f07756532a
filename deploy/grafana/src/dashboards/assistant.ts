/**
 * 9. Assistant: the trading assistant of seed 003. The Telegram bot's rows (src/assistant/notifier/): is the bot
 * connected, what chats ask, how fast they get an answer, alert deliveries, errors and lost messages, refused
 * chats. Above them, the decision service's rows (decisions by action, hit ratio, features, llm fallbacks), and the SLA
 * of the services behind the bot (shared with the Services dashboard: ../sla.ts).
 */
import { above, below, informational, upDown, vars, type DashboardSpec, type RowSpec } from '../builder.js';
import { callPanels, slaPanels } from '../sla.js';

/** The jobs of the all-in-one / serve role (market data), the decision service and the notifier. */
const BEHIND_THE_BOT = { jobs: 'job=~"candlestack|candlestack-decide|candlestack-notify"', exemplars: true };

/** The decision service (src/assistant/): what it advises, how often it was right, its features and llm fallbacks. */
const decisions: RowSpec[] = [
  {
    title: 'Decision service',
    panels: [
      {
        title: 'Decisions by action',
        description: 'Answers of GET /api/decision per interval by action and by the strategy that answered (an llm answer replaced by the rules fallback counts as rules).',
        unit: 'short',
        thresholds: informational,
        bars: true,
        w: 8,
        targets: [{ expr: 'sum by (strategy, action) (increase(candlestack_decisions_total[$__rate_interval]))', legend: '{{strategy}} {{action}}' }],
      },
      {
        title: 'Hit ratio (last 24 h)',
        description: 'Share of the decisions scored over the last 24 h that were right at each horizon (BUY: the price rose more than decide.hitThreshold, SELL: fell more, HOLD: moved less). A three-way guess sits near 33%; below 35% over 6 h: DecisionHitRatioCollapse.',
        unit: 'percentunit',
        thresholds: below(0.35, 0.5),
        w: 8,
        targets: [{ expr: 'max by (strategy, horizon) (candlestack_decision_hit_ratio)', legend: '{{strategy}} {{horizon}}' }],
      },
      {
        title: 'Decisions scored',
        description: 'Recorded decisions scored per interval, by result at their horizon: hit, miss, or no_data (no price an hour after the horizon).',
        unit: 'short',
        thresholds: informational,
        bars: true,
        w: 8,
        targets: [{ expr: 'sum by (horizon, result) (increase(candlestack_decision_outcomes_total[$__rate_interval]))', legend: '{{horizon}} {{result}}' }],
      },
      {
        title: 'Feature vectors per second',
        description: 'Feature vectors computed (one per closed candle of every series), by timeframe: what the decisions read.',
        unit: 'ops',
        thresholds: informational,
        w: 8,
        targets: [{ expr: 'sum by (timeframe) (rate(candlestack_features_calculated_total{timeframe=~"$timeframe"}[$__rate_interval]))', legend: '{{timeframe}}' }],
      },
      {
        title: 'Feature calculation p95',
        description: 'Time to compute one feature vector (per closed candle, O(1)), p95.',
        unit: 's',
        thresholds: above(0.001, 0.005),
        w: 8,
        targets: [{ expr: 'histogram_quantile(0.95, sum by (le) (rate(candlestack_feature_calculation_duration_seconds_bucket[$__rate_interval])))', legend: 'p95' }],
      },
      {
        title: 'llm fallbacks to rules',
        description: 'llm strategy answers replaced by the rules strategy, by reason: timeout, error (network), circuit_open (the decide_llm breaker), status (non-2xx), unparsable.',
        unit: 'short',
        thresholds: informational,
        bars: true,
        w: 8,
        targets: [{ expr: 'sum by (reason) (increase(candlestack_decision_llm_fallbacks_total[$__rate_interval]))', legend: '{{reason}}' }],
      },
    ],
  },
  {
    // The services the bot's answer goes through; every service: the Services dashboard.
    title: 'SLA of the services behind the bot',
    panels: [...slaPanels(BEHIND_THE_BOT), ...callPanels(BEHIND_THE_BOT)],
  },
];

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
  variables: [{ ...vars.timeframe(), query: 'label_values(candlestack_features_calculated_total, timeframe)' }],
  rows: [...decisions, ...bot],
};
