/**
 * Config section `tracing:` (OpenTelemetry traces, src/telemetry/tracing.ts), and the standard OTEL_*
 * environment variables that override it (applied after the file, as the OpenTelemetry spec has them win):
 *
 *   OTEL_EXPORTER_OTLP_ENDPOINT (base URL, /v1/traces appended) · OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (full URL)
 *   OTEL_EXPORTER_OTLP_PROTOCOL / _TRACES_PROTOCOL (http/protobuf, http/json) · OTEL_SERVICE_NAME
 *   OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG · OTEL_RESOURCE_ATTRIBUTES (k=v,k=v)
 *   OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none: no tracing.
 *
 * No endpoint: tracing is off (no SDK is built, spans cost a branch).
 */
import { ConfigError } from '../core/errors.js';
import { isObj, nullable, num, oneOf, url, type Parse } from './fields.js';
import { leaf, section } from './schema.js';

export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/** The OpenTelemetry spec's OTEL_TRACES_SAMPLER values (default parentbased_always_on). */
export const TRACE_SAMPLERS = ['parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio', 'always_on', 'always_off', 'traceidratio'] as const;
export type TraceSampler = (typeof TRACE_SAMPLERS)[number];

export interface TracingConfig {
  /** The collector's OTLP/HTTP base URL (`http://otel-collector:4318`); null: tracing off. */
  endpoint: string | null;
  /** A full traces URL, used as is (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); null: `${endpoint}/v1/traces`. */
  tracesEndpoint: string | null;
  protocol: OtlpProtocol;
  sampler: TraceSampler;
  /** The ratio of the traceidratio samplers, 0..1. */
  samplerArg: number;
  /** Overrides `candlestack-<role>` as service.name. */
  serviceName: string | null;
  /** Extra resource attributes (deployment.environment.name, ...). */
  resourceAttributes: Record<string, string>;
}

const httpUrl = url(['http:', 'https:']);

const attributes: Parse<Record<string, string>> = (v, field) => {
  if (typeof v === 'string') return parseResourceAttributes(v, field);
  if (!isObj(v)) throw new ConfigError(field, 'a mapping of attribute names to strings, or k=v,k=v', v);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string' && typeof x !== 'number' && typeof x !== 'boolean') throw new ConfigError(`${field}.${k}`, 'a string', x);
    out[k] = String(x);
  }
  return out;
};

const serviceName: Parse<string> = (v, field) => {
  if (typeof v !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._\-/]*$/.test(v.trim())) throw new ConfigError(field, 'a service name of letters, digits, ".", "_", "-" and "/"', v);
  return v.trim();
};

export const TRACING = section<TracingConfig>({
  endpoint: leaf(nullable(httpUrl), null),
  tracesEndpoint: leaf(nullable(httpUrl), null),
  protocol: leaf(oneOf(OTLP_PROTOCOLS), 'http/protobuf'),
  sampler: leaf(oneOf(TRACE_SAMPLERS), 'parentbased_always_on'),
  samplerArg: leaf(num(0, 1), 1),
  serviceName: leaf(nullable(serviceName), null),
  resourceAttributes: leaf(attributes, {}),
});

/** `k=v,k2=v2` (values percent-decoded), as OTEL_RESOURCE_ATTRIBUTES has it. */
export function parseResourceAttributes(raw: string, field: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ConfigError(field, 'comma-separated key=value pairs (service.namespace=prod,deployment.environment.name=eu)', raw);
    try {
      out[pair.slice(0, eq).trim()] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch (err) {
      throw new ConfigError(field, 'percent-encoded values', raw, { cause: err });
    }
  }
  return out;
}

/** Applies the standard OTEL_* variables over `tracing` (file < OTEL_* env). Invalid values name the variable. */
export function applyOtelEnv(tracing: TracingConfig, env: NodeJS.ProcessEnv): void {
  const get = (name: string) => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const endpoint = get('OTEL_EXPORTER_OTLP_ENDPOINT');
  if (endpoint !== undefined) tracing.endpoint = httpUrl(endpoint, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  const traces = get('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  if (traces !== undefined) tracing.tracesEndpoint = httpUrl(traces, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  for (const name of ['OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL']) {
    const p = get(name);
    if (p === undefined) continue;
    if (p === 'grpc') throw new ConfigError(name, 'http/protobuf or http/json (candlestack exports OTLP over HTTP; the collector listens on 4318)', p);
    tracing.protocol = oneOf(OTLP_PROTOCOLS)(p, name);
  }
  const sampler = get('OTEL_TRACES_SAMPLER');
  if (sampler !== undefined) tracing.sampler = oneOf(TRACE_SAMPLERS)(sampler, 'OTEL_TRACES_SAMPLER');
  const arg = get('OTEL_TRACES_SAMPLER_ARG');
  if (arg !== undefined) tracing.samplerArg = num(0, 1)(arg, 'OTEL_TRACES_SAMPLER_ARG');
  const name = get('OTEL_SERVICE_NAME');
  if (name !== undefined) tracing.serviceName = serviceName(name, 'OTEL_SERVICE_NAME');
  const attrs = get('OTEL_RESOURCE_ATTRIBUTES');
  if (attrs !== undefined) tracing.resourceAttributes = { ...tracing.resourceAttributes, ...parseResourceAttributes(attrs, 'OTEL_RESOURCE_ATTRIBUTES') };
  if (get('OTEL_SDK_DISABLED') === 'true' || get('OTEL_TRACES_EXPORTER') === 'none') {
    tracing.endpoint = null;
    tracing.tracesEndpoint = null;
  }
}

/** Where spans go, or null when tracing is off. */
export function tracesUrl(t: TracingConfig): string | null {
  if (t.tracesEndpoint) return t.tracesEndpoint;
  if (!t.endpoint) return null;
  return `${t.endpoint.replace(/\/+$/, '')}/v1/traces`;
}
