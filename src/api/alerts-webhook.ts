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
import { readFileSync } from 'node:fs';
import { timingSafeEqual, createHash } from 'node:crypto';
import { BadParameterError } from '../core/errors.js';
import type { Logger } from '../telemetry/logger.js';
import type { ApiMetrics } from '../telemetry/metrics.js';
import { sendError, sendJson } from './http.js';
import { MemoryBuckets } from './rate-limit.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { TokenBucketSettings } from '../config/serve-config.js';

/** Alertmanager sends every alert of a group in one request; 1 MiB holds about a thousand alerts. */
export const MAX_ALERTS_BODY_BYTES = 1024 * 1024;
export const ALERT_STATUSES = ['firing', 'resolved'] as const;
/** Severities used by deploy/prometheus/rules; anything else is counted as `other` so the label stays bounded. */
export const ALERT_SEVERITIES = ['critical', 'warning', 'info', 'none'] as const;

export type AlertStatus = (typeof ALERT_STATUSES)[number];

/** How deep a webhook body may nest (Alertmanager's is 4 levels): deeper is a 400 before any field is read. */
export const MAX_ALERTS_BODY_DEPTH = 16;

/**
 * The shared secret POST /api/alerts requires: `CANDLESTACK_ALERTS_TOKEN`, or the first line of the file
 * `CANDLESTACK_ALERTS_TOKEN_FILE` names (a Docker/Kubernetes secret). Alertmanager sends it with
 * `http_config: { authorization: { credentials_file: ... } }` (bearer) or `basic_auth` (the password). Null when
 * neither is set: then only loopback clients are accepted.
 */
export function alertsTokenFromEnv(env: NodeJS.ProcessEnv = process.env): string | null {
  const direct = env.CANDLESTACK_ALERTS_TOKEN?.trim();
  if (direct) return direct;
  const file = env.CANDLESTACK_ALERTS_TOKEN_FILE?.trim();
  if (!file) return null;
  const token = readFileSync(file, 'utf8').split('\n')[0]!.trim();
  if (!token) throw new Error(`CANDLESTACK_ALERTS_TOKEN_FILE: ${file} holds no token on its first line`);
  return token;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** The credential of an `Authorization: Bearer T` or `Basic base64(user:T)` header; null without one. */
function presented(header: string | undefined): string | null {
  if (!header) return null;
  const space = header.indexOf(' ');
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === 'bearer') return value;
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon < 0 ? null : decoded.slice(colon + 1);
  }
  return null;
}

const isLoopback = (address: string | undefined): boolean => address !== undefined && (address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.'));

/** Depth of a parsed JSON value, counted without recursion; stops at `max + 1`. */
function depthOver(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (typeof child === 'object' && child !== null) stack.push([child, d + 1]);
  }
  return false;
}

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
  /**
   * The shared secret a request must present (bearer, or basic's password); `undefined` reads it from the
   * environment (alertsTokenFromEnv); null accepts loopback clients only.
   */
  token?: string | null;
  /** Notifications allowed per client address: a token bucket (default 5/s, burst 50); null for none. */
  rateLimit?: TokenBucketSettings | null;
  /** The rate limit's clock (default the system clock). */
  clock?: Clock;
  /** Each validated notification, after it was logged and counted (the Telegram notifier forwards it to its chats). */
  onMessage?: (message: WebhookMessage) => void;
}

export class AlertReceiver {
  private readonly limit: number;
  private readonly token: Buffer | null;
  /** The API's token buckets (src/api/rate-limit.ts), in-process: Alertmanager posts to one instance. */
  private readonly buckets: MemoryBuckets;
  private readonly bucket: TokenBucketSettings | null;

  constructor(private readonly o: AlertReceiverOptions) {
    this.limit = o.maxBodyBytes ?? MAX_ALERTS_BODY_BYTES;
    const token = o.token === undefined ? alertsTokenFromEnv() : o.token;
    this.token = token === null ? null : digest(token);
    this.bucket = o.rateLimit === undefined ? { rate: 5, burst: 50 } : o.rateLimit;
    this.buckets = new MemoryBuckets(o.clock ?? systemClock, 10_000);
    if (token === null) o.log.info('POST /api/alerts accepts loopback clients only: set CANDLESTACK_ALERTS_TOKEN (or _FILE) to receive from Alertmanager elsewhere');
  }

  /** Whether the request may post: the shared secret when one is configured, else a loopback client. */
  private authorized(req: IncomingMessage): boolean {
    if (this.token === null) return isLoopback(req.socket.remoteAddress);
    const given = presented(req.headers.authorization);
    return given !== null && timingSafeEqual(digest(given), this.token);
  }

  /** One token of the client address's bucket; false when it is empty. */
  private admitted(req: IncomingMessage): boolean {
    if (this.bucket === null) return true;
    return this.buckets.takeNow(`alerts:${req.socket.remoteAddress ?? 'unknown'}`, this.bucket).allowed;
  }

  /**
   * Handles POST /api/alerts. BadParameterError propagates to the server, which answers 400. Refusals (401, 415,
   * 413, 429) close the connection without reading the body.
   */
  handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!this.authorized(req)) {
      res.setHeader('connection', 'close');
      res.setHeader('www-authenticate', 'Bearer realm="candlestack", Basic realm="candlestack"');
      return sendError(res, 401, 'unauthorized', this.token === null ? 'POST /api/alerts accepts loopback clients only until CANDLESTACK_ALERTS_TOKEN is configured' : 'a valid shared secret is required (Authorization: Bearer, or basic auth with it as the password)');
    }
    if (!this.admitted(req)) {
      res.setHeader('connection', 'close');
      res.setHeader('retry-after', String(Math.ceil(1 / (this.bucket?.rate ?? 1))));
      return sendError(res, 429, 'rate_limited', 'too many notifications from this address; retry later');
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      // Not drained: a large body is not read just to be refused; the connection closes after the answer.
      res.setHeader('connection', 'close');
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
    if (depthOver(body, MAX_ALERTS_BODY_DEPTH)) throw new BadParameterError('body', `JSON nested at most ${MAX_ALERTS_BODY_DEPTH} levels deep (an Alertmanager webhook payload)`, 'a deeper value');
    const message = parseWebhookMessage(body);
    for (const alert of message.alerts) this.count(alert);
    this.logNotification(message);
    if (message.truncatedAlerts > 0) this.o.log.warn({ receiver: message.receiver, groupKey: message.groupKey, truncatedAlerts: message.truncatedAlerts }, 'Alertmanager truncated alerts from this notification');
    try {
      this.o.onMessage?.(message);
    } catch (err) {
      this.o.log.error({ err, groupKey: message.groupKey }, 'forwarding the alerts failed');
    }
    sendJson(res, 200, { status: 'ok', received: message.alerts.length });
  };

  private count(alert: WebhookAlert): void {
    this.o.metrics.alertsReceived.labels(alert.status, severityLabel(alert.labels.severity)).inc();
  }

  /**
   * One log line per notification (issue 19: one line per alert let one client write ~40 MB/s): the first 20
   * alerts summarised, at warn when one fires with a severity other than none, debug when all are the dead
   * man's switch (severity none, every minute by design), info otherwise.
   */
  private logNotification(message: WebhookMessage): void {
    const alerts = message.alerts;
    const shown = alerts.slice(0, 20).map((a) => ({
      alertname: a.labels.alertname ?? '(no alertname)',
      status: a.status,
      severity: a.labels.severity ?? null,
      labels: a.labels,
      summary: a.annotations.summary?.slice(0, 200) ?? null,
      startsAt: a.startsAt,
      fingerprint: a.fingerprint || null,
    }));
    const firing = alerts.filter((a) => a.status === 'firing').length;
    // The first alert's fields at the top level (as when each alert had its own line), every shown one in `alerts`.
    const ctx = { ...shown[0], receiver: message.receiver, groupKey: message.groupKey.slice(0, 200), firing, resolved: alerts.length - firing, alerts: shown, more: Math.max(0, alerts.length - shown.length) };
    const names = [...new Set(shown.map((a) => a.alertname))].join(', ');
    const text = alerts.length === 1 ? `alert ${alerts[0]!.status}: ${shown[0]!.alertname}${shown[0]!.summary ? ` - ${shown[0]!.summary}` : ''}` : `Alertmanager notification: ${firing} firing, ${alerts.length - firing} resolved (${names})`;
    if (alerts.every((a) => a.labels.severity === 'none')) this.o.log.debug(ctx, text);
    else if (alerts.some((a) => a.status === 'firing' && a.labels.severity !== 'none')) this.o.log.warn(ctx, text);
    else this.o.log.info(ctx, text);
  }
}
