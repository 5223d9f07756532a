/**
 * Config section `log.loki:` — log lines pushed straight to Loki's push API (src/telemetry/loki-logs.ts), for a
 * deployment with a Loki but no OpenTelemetry collector in front of it. Off without a URL.
 *
 *   log:
 *     loki:
 *       url: http://loki:3100          # or CANDLESTACK_LOKI_URL / --loki-url; /loki/api/v1/push is appended
 *       tenant: candlestack            # X-Scope-OrgID of a multi-tenant Loki (optional)
 *       flushInterval: 1s              # a batch leaves at least this often (and at 1,000 lines)
 */
import { duration, nullable, url, type Parse } from './fields.js';
import { leaf, section } from './schema.js';
import { ConfigError } from '../core/errors.js';

export interface LokiConfig {
  /** Loki's base URL (`http://loki:3100`) or the full push URL; null: off. */
  url: string | null;
  /** X-Scope-OrgID sent with every push (multi-tenant Loki); null: none. */
  tenant: string | null;
  flushMs: number;
}

/** The push endpoint of Loki's HTTP API. */
export const LOKI_PUSH_PATH = '/loki/api/v1/push';

const tenant: Parse<string> = (v, field) => {
  if (typeof v !== 'string' || !/^[A-Za-z0-9!._*'()-]{1,150}$/.test(v)) throw new ConfigError(field, 'a Loki tenant id of letters, digits and !-_.*\'()', v);
  return v;
};

export const LOKI = section<LokiConfig>({
  url: leaf(nullable(url(['http:', 'https:'])), null, { cli: { flag: 'loki-url', value: 'URL', help: "push the log lines to Loki's push API at URL (http://loki:3100) instead of the OTLP collector" } }),
  tenant: leaf(nullable(tenant), null),
  flushMs: leaf(duration(50, 60_000), 1_000, { file: 'flushInterval' }),
});

/** The push URL of `config` (`/loki/api/v1/push` appended to a base URL), or null when off. */
export function lokiPushUrl(config: LokiConfig): string | null {
  if (!config.url) return null;
  return config.url.endsWith(LOKI_PUSH_PATH) ? config.url : `${config.url}${LOKI_PUSH_PATH}`;
}
