/**
 * What the notifier tests share: a bot token for the local Bot API server (test/support/telegram-bot-api.ts),
 * a logger whose every line is kept (to prove the token and message texts never reach it), Alertmanager
 * webhook bodies, and a metric reader.
 */
import { Writable } from 'node:stream';
import type { Registry } from 'prom-client';
import { createLogger, type Logger } from '../../src/telemetry/logger.js';

/** A token of Telegram's form; its secret half must never appear in a log line. */
export const TOKEN = '123456789:AAtestTokenForTheLocalBotApiServer_-42';
export const TOKEN_SECRET = TOKEN.split(':')[1]!;

export function capturedLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { log: createLogger({ level: 'debug', format: 'json' }, stream), lines };
}

/** The value of one series on a registry (0 when absent). */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const data = await m.get();
  const want = Object.entries(labels);
  return data.values.filter((v) => (v as { metricName?: string }).metricName === undefined || (v as { metricName?: string }).metricName === name).filter((v) => want.every(([k, x]) => String(v.labels[k]) === x)).reduce((s, v) => s + v.value, 0);
}

/** Alertmanager's webhook body (version 4) for one group of alerts. */
export function webhookBody(status: 'firing' | 'resolved', alerts: { alertname: string; severity: string; status?: 'firing' | 'resolved'; fingerprint: string; labels?: Record<string, string>; summary?: string }[]) {
  return {
    version: '4',
    groupKey: `{}:{alertname="${alerts[0]?.alertname}"}`,
    truncatedAlerts: 0,
    status,
    receiver: 'warning',
    groupLabels: { alertname: alerts[0]?.alertname ?? '' },
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts: alerts.map((a) => ({
      status: a.status ?? status,
      labels: { alertname: a.alertname, severity: a.severity, ...a.labels },
      annotations: { summary: a.summary ?? `${a.alertname} summary`, description: 'd', runbook: 'r' },
      startsAt: '2026-12-03T11:50:00Z',
      endsAt: (a.status ?? status) === 'resolved' ? '2026-12-03T11:59:00Z' : '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus:9090/graph',
      fingerprint: a.fingerprint,
    })),
  };
}

export async function postAlerts(baseUrl: string, body: unknown): Promise<Response> {
  return fetch(`${baseUrl}/api/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}
