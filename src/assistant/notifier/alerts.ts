/**
 * Alertmanager's notifications, forwarded to the subscribed chats. Alertmanager already groups alerts (one
 * webhook call per group); the forwarder turns each call into one message per chat listing the group's new
 * firing alerts and the resolved ones, and deduplicates: an alert (by fingerprint) is sent once when it starts
 * firing and once when it resolves. Alertmanager's repeats of a group (repeat_interval, a second Alertmanager
 * of an HA pair, a retried delivery) send nothing new until `repeatMs` has passed, then a reminder. The dead
 * man's switch (severity none) is never forwarded. The alerts firing now are kept for /health.
 */
import type { Clock } from '../../core/clock.js';
import type { WebhookAlert, WebhookMessage } from '../../api/alerts-webhook.js';
import type { NotifierMetrics } from '../../telemetry/metrics.js';
import { alertsMessage, type AlertLine, type FiringAlert } from './format.js';
import type { Outbox } from './outbox.js';
import type { NotifierLog } from './redact.js';
import type { Subscriptions } from './subscriptions.js';

/** Labels that tell two alerts of one name apart, shown after the name. */
const DETAIL_LABELS = ['exchange', 'symbol', 'timeframe', 'connection', 'component', 'task', 'topic', 'instance'];

interface Seen {
  status: 'firing' | 'resolved';
  sentAt: number;
  firing: FiringAlert | null;
}

export interface AlertForwarderOptions {
  subscriptions: Subscriptions;
  outbox: Outbox;
  clock: Clock;
  metrics: NotifierMetrics;
  log: NotifierLog;
  /** A firing alert Alertmanager repeats is sent again after this long (default 4 h, Alertmanager's repeat_interval). */
  repeatMs?: number;
}

/** An alert's identity: Alertmanager's fingerprint, or its sorted labels when a sender leaves it out. */
export const alertKey = (a: WebhookAlert): string => a.fingerprint || JSON.stringify(Object.entries(a.labels).sort(([x], [y]) => (x < y ? -1 : 1)));

export class AlertForwarder {
  private readonly seen = new Map<string, Seen>();
  private readonly repeatMs: number;

  constructor(private readonly o: AlertForwarderOptions) {
    this.repeatMs = o.repeatMs ?? 4 * 3_600_000;
  }

  /** The alerts firing now, most severe first (for /health). */
  firing(): FiringAlert[] {
    const rank = (s: string) => ['critical', 'warning', 'info'].indexOf(s) + 1 || 9;
    return [...this.seen.values()].flatMap((s) => (s.firing ? [s.firing] : [])).sort((a, b) => rank(a.severity) - rank(b.severity) || a.startsAt - b.startsAt);
  }

  /** One validated webhook call (AlertReceiver's onMessage): forwards what is new; resolves when queued. */
  onMessage = (message: WebhookMessage): void => {
    const now = this.o.clock.now();
    this.prune(now);
    const lines: AlertLine[] = [];
    for (const a of message.alerts) {
      const severity = a.labels.severity ?? 'none';
      if (severity === 'none' || a.labels.alertname === 'Watchdog') continue;
      const key = alertKey(a);
      const before = this.seen.get(key);
      const firing: FiringAlert | null = a.status === 'firing' ? { alertname: a.labels.alertname ?? '(no alertname)', severity, summary: a.annotations.summary ?? '', startsAt: Date.parse(a.startsAt) || now } : null;
      const repeat = before !== undefined && before.status === a.status && (a.status === 'resolved' || now - before.sentAt < this.repeatMs);
      if (repeat) {
        before.firing = firing;
        this.o.metrics.alertsDeduplicated.inc();
        continue;
      }
      this.seen.set(key, { status: a.status, sentAt: now, firing });
      this.o.metrics.alertsForwarded.labels(a.status).inc();
      lines.push({
        status: a.status,
        alertname: a.labels.alertname ?? '(no alertname)',
        severity,
        summary: a.annotations.summary ?? '',
        detail: DETAIL_LABELS.filter((l) => a.labels[l] !== undefined && !(l in message.groupLabels && l !== 'instance')).map((l) => `${l}=${a.labels[l]}`).join(' '),
      });
    }
    if (lines.length === 0) return;
    const chats = this.o.subscriptions.list();
    const group = Object.entries(message.groupLabels).filter(([k]) => k !== 'alertname' || lines.length > 1).map(([k, v]) => `${k}=${v}`).join(' ');
    const text = alertsMessage(group, lines);
    if (chats.length === 0) {
      this.o.log.info({ component: 'notifier', groupKey: message.groupKey, alerts: lines.length }, 'alerts received, but no chat is subscribed (/subscribe)');
      return;
    }
    for (const chatId of chats) void this.o.outbox.deliver({ chatId, text, kind: 'alert' });
  };

  /** Resolved alerts are remembered for one repeat period (to drop Alertmanager's repeats of the resolution). */
  private prune(now: number): void {
    for (const [k, s] of this.seen) if (s.status === 'resolved' && now - s.sentAt > this.repeatMs) this.seen.delete(k);
  }
}
