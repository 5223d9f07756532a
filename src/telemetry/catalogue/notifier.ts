/** Notifier slice: the Telegram bot (src/assistant/notifier/): updates, replies, alert deliveries, refusals. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** What a message sent to Telegram is: an answer to a chat, or a forwarded Alertmanager notification. */
export const NOTIFIER_MESSAGE_KINDS = ['reply', 'alert'] as const;
export type NotifierMessageKind = (typeof NOTIFIER_MESSAGE_KINDS)[number];
/** Why one attempt to send failed: Telegram's 429, another Bot API error, or no answer (network, timeout). */
export const NOTIFIER_SEND_ERRORS = ['rate_limited', 'api_error', 'network'] as const;
export type NotifierSendError = (typeof NOTIFIER_SEND_ERRORS)[number];
/** The commands a chat can give (`button` is the "What should I do with crypto?" key, `other` anything else). */
export const NOTIFIER_COMMANDS = ['button', 'market', 'price', 'decision', 'health', 'subscribe', 'unsubscribe', 'help', 'start', 'other'] as const;
export type NotifierCommand = (typeof NOTIFIER_COMMANDS)[number];

export function notifierMetrics(registry: Registry) {
  const r = [registry];
  return {
    updates: new Counter({
      name: 'candlestack_notifier_updates_total',
      help: 'Telegram updates received by the notifier, by command (button, market, price, decision, health, subscribe, unsubscribe, help, start, other).',
      labelNames: ['command'] as const,
      registers: r,
    }),
    unauthorized: new Counter({
      name: 'candlestack_notifier_unauthorized_total',
      help: 'Telegram updates from chats not on telegram.allowedChats (refused once per chat, never answered).',
      registers: r,
    }),
    replyDuration: new Histogram({
      name: 'candlestack_notifier_reply_duration_seconds',
      help: 'Time from a Telegram update to the reply being sent, by command.',
      labelNames: ['command'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10],
      registers: r,
    }),
    messagesSent: new Counter({
      name: 'candlestack_notifier_messages_sent_total',
      help: 'Messages delivered to Telegram chats, by kind (reply, alert).',
      labelNames: ['kind'] as const,
      registers: r,
    }),
    sendErrors: new Counter({
      name: 'candlestack_notifier_send_errors_total',
      help: 'Failed attempts to send a message to Telegram, by kind and reason (rate_limited, api_error, network); the message is retried.',
      labelNames: ['kind', 'reason'] as const,
      registers: r,
    }),
    undeliverable: new Counter({
      name: 'candlestack_notifier_messages_undeliverable_total',
      help: 'Messages given up on after every retry (logged with the chat and the last error), by kind.',
      labelNames: ['kind'] as const,
      registers: r,
    }),
    pending: new Gauge({
      name: 'candlestack_notifier_pending_messages',
      help: 'Messages waiting to be sent or retried (a 429 retry_after, a failed attempt).',
      registers: r,
    }),
    alertsForwarded: new Counter({
      name: 'candlestack_notifier_alerts_forwarded_total',
      help: 'Alerts forwarded to subscribed chats, by status (firing, resolved); one alert to N chats counts once.',
      labelNames: ['status'] as const,
      registers: r,
    }),
    alertsDeduplicated: new Counter({
      name: 'candlestack_notifier_alerts_deduplicated_total',
      help: 'Alerts not forwarded because the chats already have them in that status (Alertmanager repeats, HA pairs).',
      registers: r,
    }),
    subscribedChats: new Gauge({
      name: 'candlestack_notifier_subscribed_chats',
      help: 'Chats subscribed to alerts (/subscribe).',
      registers: r,
    }),
    botUp: new Gauge({
      name: 'candlestack_notifier_bot_up',
      help: '1 while the last call to the Telegram Bot API (getMe, getUpdates, sendMessage) got an answer, 0 after a failure; mode is polling or webhook. Only roles that run the notifier have it.',
      labelNames: ['mode'] as const,
      registers: r,
    }),
  };
}

export type NotifierMetrics = ReturnType<typeof notifierMetrics>;

/** The notifier's series at 0 (increase() sees the first refusal, error or lost message). */
export function initializeNotifierSeries(m: NotifierMetrics, mode: string): void {
  m.unauthorized.inc(0);
  m.alertsDeduplicated.inc(0);
  m.pending.set(0);
  m.subscribedChats.set(0);
  m.botUp.labels(mode).set(0);
  for (const command of NOTIFIER_COMMANDS) m.updates.labels(command).inc(0);
  for (const kind of NOTIFIER_MESSAGE_KINDS) {
    m.messagesSent.labels(kind).inc(0);
    m.undeliverable.labels(kind).inc(0);
    for (const reason of NOTIFIER_SEND_ERRORS) m.sendErrors.labels(kind, reason).inc(0);
  }
  for (const status of ['firing', 'resolved']) m.alertsForwarded.labels(status).inc(0);
}
