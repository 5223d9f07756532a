/**
 * POST /api/alerts: the receiver of Alertmanager's webhook (payload version "4"). Today it validates, logs
 * and counts every alert, then hands the notification to `onMessage` (the Telegram notifier). The contract is in
 * ARCHITECTURE.md ("Alert notifications"); deploy/alertmanager/alertmanager.yml points every receiver here.
 *
 * Bad input never throws past this module: a body that is not JSON, not version 4 or mistyped is a 400 naming
 * the offending field (`alerts[2].status`), a body over MAX_ALERTS_BODY_BYTES a 413, a non-JSON content type
 * a 415. Alertmanager does not retry 4xx answers, so a rejected payload is logged here in full context.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BadParameterError } from '../core/errors.js';
import type { Logger } from '../telemetry/logger.js';
import type { ApiMetrics } from '../telemetry/metrics.js';
import { sendError, sendJson } from './http.js';

/** Alertmanager sends every alert of a group in one request; 1 MiB holds about a thousand alerts. */
export const MAX_ALERTS_BODY_BYTES = 1024 * 1024;
export const ALERT_STATUSES = ['firing', 'resolved'] as const;
/** Severities used by deploy/prometheus/rules; anything else is counted as `other` so the label stays bounded. */
export const ALERT_SEVERITIES = ['critical', 'warning', 'info', 'none'] as const;

export type AlertStatus = (typeof ALERT_STATUSES)[number];

export interface WebhookAlert {
  status: AlertStatus;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

/** Alertmanager's webhook body, version 4. */
export interface WebhookMessage {
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
  status: AlertStatus;
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: WebhookAlert[];
}

export function severityLabel(severity: string | undefined): string {
  return severity !== undefined && (ALERT_SEVERITIES as readonly string[]).includes(severity) ? severity : 'other';
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringMap(value: unknown, path: string, required: boolean): Record<string, string> {
  if (value === undefined && !required) return {};
  if (!isObject(value)) throw new BadParameterError(path, 'an object of string values', value);
  for (const [k, v] of Object.entries(value)) if (typeof v !== 'string') throw new BadParameterError(`${path}.${k}`, 'a string', v);
  return value as Record<string, string>;
}

function optionalString(value: unknown, path: string): string {
  if (value === undefined) return '';
  if (typeof value !== 'string') throw new BadParameterError(path, 'a string', value);
  return value;
}

function status(value: unknown, path: string): AlertStatus {
  if (typeof value !== 'string' || !(ALERT_STATUSES as readonly string[]).includes(value)) throw new BadParameterError(path, `one of ${ALERT_STATUSES.join(', ')}`, value);
  return value as AlertStatus;
}

function time(value: unknown, path: string, required: boolean): string {
  if (value === undefined && !required) return '';
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw new BadParameterError(path, 'an RFC 3339 time', value);
  return value;
}

/** Validates a parsed body; throws BadParameterError naming the first bad field. */
export function parseWebhookMessage(body: unknown): WebhookMessage {
  if (!isObject(body)) throw new BadParameterError('body', 'a JSON object (Alertmanager webhook payload)', body);
  if (body.version !== '4') throw new BadParameterError('version', '"4" (the Alertmanager webhook payload version)', body.version);
  if (!Array.isArray(body.alerts)) throw new BadParameterError('alerts', 'an array of alerts', body.alerts);
  const truncated = body.truncatedAlerts ?? 0;
  if (typeof truncated !== 'number' || !Number.isInteger(truncated) || truncated < 0) throw new BadParameterError('truncatedAlerts', 'a non-negative integer', truncated);
  const alerts = body.alerts.map((a: unknown, i: number): WebhookAlert => {
    const p = `alerts[${i}]`;
    if (!isObject(a)) throw new BadParameterError(p, 'an alert object', a);
    return {
      status: status(a.status, `${p}.status`),
      labels: stringMap(a.labels, `${p}.labels`, true),
      annotations: stringMap(a.annotations, `${p}.annotations`, false),
      startsAt: time(a.startsAt, `${p}.startsAt`, true),
      endsAt: time(a.endsAt, `${p}.endsAt`, false),
      generatorURL: optionalString(a.generatorURL, `${p}.generatorURL`),
      fingerprint: optionalString(a.fingerprint, `${p}.fingerprint`),
    };
  });
  return {
    version: '4',
    groupKey: optionalString(body.groupKey, 'groupKey'),
    truncatedAlerts: truncated,
    status: status(body.status, 'status'),
    receiver: optionalString(body.receiver, 'receiver'),
    groupLabels: stringMap(body.groupLabels, 'groupLabels', false),
    commonLabels: stringMap(body.commonLabels, 'commonLabels', false),
    commonAnnotations: stringMap(body.commonAnnotations, 'commonAnnotations', false),
    externalURL: optionalString(body.externalURL, 'externalURL'),
    alerts,
  };
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) return reject(new BodyTooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge());
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export interface AlertReceiverOptions {
  metrics: ApiMetrics;
  log: Logger;
  maxBodyBytes?: number;
  /** Each validated notification, after it was logged and counted (the Telegram notifier forwards it to its chats). */
  onMessage?: (message: WebhookMessage) => void;
}

export class AlertReceiver {
  private readonly limit: number;
  constructor(private readonly o: AlertReceiverOptions) {
    this.limit = o.maxBodyBytes ?? MAX_ALERTS_BODY_BYTES;
  }

  /** Handles POST /api/alerts. BadParameterError propagates to the server, which answers 400. */
  handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      req.resume();
      return sendError(res, 415, 'unsupported_media_type', `expected content-type application/json (an Alertmanager webhook payload), got ${JSON.stringify(type || 'none')}`);
    }
    let raw: Buffer;
    try {
      raw = await readBody(req, this.limit);
    } catch (err) {
      if (!(err instanceof BodyTooLarge)) throw err;
      res.setHeader('connection', 'close');
      return sendError(res, 413, 'payload_too_large', `the body is larger than ${this.limit} bytes; lower max_alerts in the Alertmanager webhook_config`);
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new BadParameterError('body', 'a JSON object (Alertmanager webhook payload)', raw.toString('utf8', 0, 80));
    }
    const message = parseWebhookMessage(body);
    for (const alert of message.alerts) this.record(alert, message);
    if (message.truncatedAlerts > 0) this.o.log.warn({ receiver: message.receiver, groupKey: message.groupKey, truncatedAlerts: message.truncatedAlerts }, 'Alertmanager truncated alerts from this notification');
    try {
      this.o.onMessage?.(message);
    } catch (err) {
      this.o.log.error({ err, groupKey: message.groupKey }, 'forwarding the alerts failed');
    }
    sendJson(res, 200, { status: 'ok', received: message.alerts.length });
  };

  private record(alert: WebhookAlert, message: WebhookMessage): void {
    const severity = alert.labels.severity;
    this.o.metrics.alertsReceived.labels(alert.status, severityLabel(severity)).inc();
    const alertname = alert.labels.alertname ?? '(no alertname)';
    const ctx = {
      alertname,
      status: alert.status,
      severity: severity ?? null,
      labels: alert.labels,
      summary: alert.annotations.summary ?? null,
      startsAt: alert.startsAt,
      fingerprint: alert.fingerprint || null,
      receiver: message.receiver,
    };
    const text = `alert ${alert.status}: ${alertname}${alert.annotations.summary ? ` - ${alert.annotations.summary}` : ''}`;
    // The dead man's switch (severity none) arrives every minute by design: keep it out of the info log.
    if (severity === 'none') this.o.log.debug(ctx, text);
    else if (alert.status === 'resolved') this.o.log.info(ctx, text);
    else this.o.log.warn(ctx, text);
  }
}
