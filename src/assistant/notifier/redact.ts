/**
 * The bot token must never reach a log line or an error message: grammY puts it in every request URL
 * (`/bot<token>/sendMessage`), so a network error, a stack or a cause may carry it. Everything the notifier
 * logs goes through `redactingLog`, which replaces the token (and any other secret given) in the message, in
 * every string field, and in errors (message, stack, cause) with `[REDACTED]`.
 */
import type { Logger } from '../../telemetry/logger.js';

export const REDACTED = '[REDACTED]';

export type Redact = (text: string) => string;

/** Replaces every occurrence of each secret (and of the token's secret half, after the colon) in a text. */
export function redactor(secrets: readonly (string | null | undefined)[]): Redact {
  const parts = new Set<string>();
  for (const s of secrets) {
    if (!s) continue;
    parts.add(s);
    const colon = s.indexOf(':');
    if (colon > 0 && s.length - colon > 8) parts.add(s.slice(colon + 1));
  }
  const list = [...parts].sort((a, b) => b.length - a.length);
  if (list.length === 0) return (t) => t;
  return (text) => {
    let out = text;
    for (const p of list) if (out.includes(p)) out = out.split(p).join(REDACTED);
    return out;
  };
}

/** A plain, redacted copy of a value for a log line: errors become { name, message, code, stack, cause }. */
export function redactValue(value: unknown, redact: Redact, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
  if (value === null || typeof value !== 'object' || depth > 4) return value;
  if (value instanceof Error) {
    const e = value as Error & { code?: unknown; error_code?: unknown; description?: unknown };
    return {
      type: e.name,
      message: redact(e.message),
      ...(e.code !== undefined ? { code: e.code } : {}),
      ...(e.error_code !== undefined ? { error_code: e.error_code } : {}),
      ...(e.stack ? { stack: redact(e.stack) } : {}),
      ...(e.cause !== undefined ? { cause: redactValue(e.cause, redact, depth + 1) } : {}),
    };
  }
  if (Array.isArray(value)) return value.map((v) => redactValue(v, redact, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValue(v, redact, depth + 1)]));
}

/** What the notifier logs with. */
export interface NotifierLog {
  debug(ctx: Record<string, unknown>, msg: string): void;
  info(ctx: Record<string, unknown>, msg: string): void;
  warn(ctx: Record<string, unknown>, msg: string): void;
  error(ctx: Record<string, unknown>, msg: string): void;
}

/** `log`, with every line redacted. */
export function redactingLog(log: Logger, redact: Redact): NotifierLog {
  const wrap =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (ctx: Record<string, unknown>, msg: string): void => {
      log[level](redactValue(ctx, redact) as Record<string, unknown>, redact(msg));
    };
  return { debug: wrap('debug'), info: wrap('info'), warn: wrap('warn'), error: wrap('error') };
}

/** An error's message, redacted, for a reply or a log line. */
export function errorText(err: unknown, redact: Redact): string {
  const base = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return redact(base + cause);
}
