/**
 * Logs to the OpenTelemetry collector over OTLP/HTTP: a pino destination (added to the logger's streams) that
 * turns each JSON line into an OpenTelemetry log record with the resource attributes of the role's traces
 * (service.name, service.version, service.instance.id), so Grafana goes from a span to its logs and back. The
 * record's trace and span ids come from the active span (the line was written inside it); records leave in
 * batches (BatchLogRecordProcessor), off the hot path; a full queue drops records rather than grow.
 *
 * Where: OTEL_EXPORTER_OTLP_LOGS_ENDPOINT (full URL), else `${tracing endpoint}/v1/logs`; protocol as the
 * traces'. Off when tracing has no endpoint, or OTEL_LOGS_EXPORTER=none.
 */
import { SeverityNumber, type AnyValueMap } from '@opentelemetry/api-logs';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
import { LogsExporterMetricsHelper, ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { TracingConfig } from '../config/tracing-config.js';

/** pino's numeric levels -> OpenTelemetry severity. */
const SEVERITY: Record<number, [SeverityNumber, string]> = {
  10: [SeverityNumber.TRACE, 'TRACE'],
  20: [SeverityNumber.DEBUG, 'DEBUG'],
  30: [SeverityNumber.INFO, 'INFO'],
  40: [SeverityNumber.WARN, 'WARN'],
  50: [SeverityNumber.ERROR, 'ERROR'],
  60: [SeverityNumber.FATAL, 'FATAL'],
};

/** Fields of a pino line that are the record's own parts, not attributes. */
const OWN = new Set(['level', 'time', 'msg', 'trace_id', 'span_id', 'trace_flags', 'pid', 'hostname', 'name']);

/** Where log records go, or null (off). */
export function logsUrl(t: TracingConfig, env: NodeJS.ProcessEnv): string | null {
  if (env.OTEL_LOGS_EXPORTER?.trim() === 'none' || env.OTEL_SDK_DISABLED?.trim() === 'true') return null;
  const full = env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT?.trim();
  if (full) return full;
  if (!t.endpoint) return null;
  return `${t.endpoint.replace(/\/+$/, '')}/v1/logs`;
}

export class OtlpLogSink {
  private readonly provider: LoggerProvider;
  private readonly logger;

  constructor(url: string, protocol: TracingConfig['protocol'], resourceAttributes: Readonly<Record<string, string>>, exporter?: LogRecordExporter) {
    this.provider = new LoggerProvider({
      resource: resourceFromAttributes(resourceAttributes),
      processors: [new BatchLogRecordProcessor({ exporter: exporter ?? logExporter(url, protocol), maxQueueSize: 8192, maxExportBatchSize: 512, scheduledDelayMillis: 1000 })],
    });
    this.logger = this.provider.getLogger('candlestack');
  }

  /** The pino destination: one serialized JSON line per call, in the caller's async context (its active span). */
  write(line: string): void {
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const [severityNumber, severityText] = SEVERITY[Number(o.level)] ?? [SeverityNumber.UNSPECIFIED, String(o.level)];
    const attributes: AnyValueMap = {};
    for (const [k, v] of Object.entries(o)) {
      if (OWN.has(k) || v === undefined || v === null) continue;
      attributes[k] = typeof v === 'object' ? JSON.stringify(v) : (v as string | number | boolean);
    }
    const time = typeof o.time === 'string' ? Date.parse(o.time) : typeof o.time === 'number' ? o.time : Date.now();
    this.logger.emit({ timestamp: time, severityNumber, severityText, body: typeof o.msg === 'string' ? o.msg : '', attributes });
  }

  flush(): Promise<void> {
    return this.provider.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}

function logExporter(url: string, protocol: TracingConfig['protocol']): LogRecordExporter {
  if (protocol === 'http/json') return new OTLPLogExporter({ url });
  const options = convertLegacyHttpOptions({ url }, 'LOGS', 'v1/logs', { 'Content-Type': 'application/x-protobuf' });
  return new OTLPExporterBase(createOtlpHttpExportDelegate(options, ProtobufLogsSerializer, 'otlp_http_log_exporter', LogsExporterMetricsHelper, undefined)) as unknown as LogRecordExporter;
}
