/**
 * The Telegram Bot API calls as CLIENT spans (a grammY API transformer): `POST telegram sendMessage`,
 * `POST telegram answerCallbackQuery`, ... with the HTTP semantic-convention attributes (url.template keeps
 * the token out: `/bot{token}/sendMessage`), `peer.service` telegram, and the answer's error_code as
 * `http.response.status_code` (the Bot API answers with the same code in the body and the status line).
 * A call made while an update is handled is a child of that update's span, so the reply is in the button
 * press's trace; one made outside (getMe at start) is a short trace of its own.
 *
 * getUpdates is not traced: a long poll waits up to `telegram` poll timeout seconds for nothing most of the
 * time, and every update it brings starts its own trace instead.
 */
import type { Transformer } from 'grammy';
import { ATTR_HTTP_REQUEST_METHOD, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from '@opentelemetry/semantic-conventions';
import { ATTR_URL_TEMPLATE } from '../../telemetry/semconv.js';
import { ATTR_PEER_SERVICE, markClientStatus } from '../../telemetry/http-tracing.js';
import { SpanKind, type Tracing } from '../../telemetry/tracing.js';

/** Methods that get no span. */
export const UNTRACED_BOT_METHODS: ReadonlySet<string> = new Set(['getUpdates']);

/** A transformer wrapping each Bot API call of `apiUrl` in a CLIENT span; a pass-through when tracing is off. */
export function botApiTracing(tracing: Tracing, apiUrl: string): Transformer {
  const u = new URL(apiUrl);
  const server = { [ATTR_SERVER_ADDRESS]: u.hostname, [ATTR_SERVER_PORT]: Number(u.port || (u.protocol === 'http:' ? 80 : 443)) };
  return (prev, method, payload, signal) => {
    if (!tracing.enabled || UNTRACED_BOT_METHODS.has(method)) return prev(method, payload, signal);
    const attributes = { [ATTR_HTTP_REQUEST_METHOD]: 'POST', [ATTR_URL_TEMPLATE]: `/bot{token}/${method}`, [ATTR_PEER_SERVICE]: 'telegram', ...server };
    return tracing.span(`POST telegram ${method}`, { kind: SpanKind.CLIENT, attributes }, async (span) => {
      const res = await prev(method, payload, signal); // no answer at all: the rejection marks the span failed
      markClientStatus(span, res.ok ? 200 : res.error_code);
      return res;
    });
  };
}
