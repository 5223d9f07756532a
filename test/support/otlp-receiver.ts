/**
 * A local OTLP/HTTP receiver (a fake OpenTelemetry Collector, on 127.0.0.1 port 0) for the tests: it takes
 * what the real SDK exporters POST to /v1/traces and /v1/logs, in either encoding the OTLP/HTTP spec has
 * (application/x-protobuf or application/json, gzip or not), decodes it and keeps the spans and log records,
 * flattened with their resource attributes. The protobuf decoder below reads the wire format of
 * opentelemetry-proto's trace/logs messages field by field (only the fields the assertions use).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export type AttrValue = string | number | boolean | AttrValue[] | null;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, AttrValue>;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string };
  events: { name: string; attributes: Record<string, AttrValue> }[];
  resource: Record<string, AttrValue>;
  scope: string;
}

export interface ReceivedLog {
  timeNs: bigint;
  severityNumber: number;
  severityText: string;
  body: AttrValue;
  attributes: Record<string, AttrValue>;
  traceId: string;
  spanId: string;
  resource: Record<string, AttrValue>;
}

export const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;
export const STATUS_CODE = { UNSET: 0, OK: 1, ERROR: 2 } as const;

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly logs: ReceivedLog[] = [];
  /** Content types of the requests received (to tell which encoding the SDK used). */
  readonly contentTypes: string[] = [];
  private server: Server | null = null;
  private port = 0;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        const type = String(req.headers['content-type'] ?? '');
        const json = type.includes('json');
        this.contentTypes.push(type);
        try {
          if (req.url === '/v1/traces') this.spans.push(...(json ? spansFromJson(JSON.parse(body.toString('utf8'))) : spansFromProtobuf(body)));
          else if (req.url === '/v1/logs') this.logs.push(...(json ? logsFromJson(JSON.parse(body.toString('utf8'))) : logsFromProtobuf(body)));
          else {
            res.writeHead(404).end();
            return;
          }
        } catch (err) {
          res.writeHead(400, { 'content-type': 'text/plain' }).end(String(err));
          return;
        }
        // An empty Export*ServiceResponse: `{}` in JSON, zero bytes in protobuf.
        if (json) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** The base URL to give as OTEL_EXPORTER_OTLP_ENDPOINT / tracing.endpoint. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** The spans of one trace. */
  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((s) => s.traceId === traceId);
  }

  /** The first span named `name` (and matching `where`), or undefined. */
  find(name: string | RegExp, where: (s: ReceivedSpan) => boolean = () => true): ReceivedSpan | undefined {
    return this.spans.find((s) => (typeof name === 'string' ? s.name === name : name.test(s.name)) && where(s));
  }
}

/** The span's parent in `spans`, or undefined. */
export function parentOf(span: ReceivedSpan, spans: readonly ReceivedSpan[]): ReceivedSpan | undefined {
  return spans.find((s) => s.spanId === span.parentSpanId && s.traceId === span.traceId);
}

// ---------------------------------------------------------------------------------------------- OTLP/JSON

type J = Record<string, unknown>;
const arr = (v: unknown): J[] => (Array.isArray(v) ? (v as J[]) : []);

function jsonValue(v: J | undefined): AttrValue {
  if (!v) return null;
  if ('stringValue' in v) return v.stringValue as string;
  if ('boolValue' in v) return v.boolValue as boolean;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('arrayValue' in v) return arr((v.arrayValue as J).values).map(jsonValue);
  return null;
}

function jsonAttrs(list: unknown): Record<string, AttrValue> {
  return Object.fromEntries(arr(list).map((kv) => [kv.key as string, jsonValue(kv.value as J)]));
}

function spansFromJson(body: J): ReceivedSpan[] {
  return arr(body.resourceSpans).flatMap((rs) => {
    const resource = jsonAttrs((rs.resource as J | undefined)?.attributes);
    return arr(rs.scopeSpans).flatMap((ss) =>
      arr(ss.spans).map((s) => ({
        traceId: String(s.traceId ?? ''),
        spanId: String(s.spanId ?? ''),
        parentSpanId: String(s.parentSpanId ?? ''),
        name: String(s.name),
        kind: Number(s.kind ?? 0),
        startNs: BigInt(String(s.startTimeUnixNano ?? 0)),
        endNs: BigInt(String(s.endTimeUnixNano ?? 0)),
        attributes: jsonAttrs(s.attributes),
        status: { code: Number((s.status as J | undefined)?.code ?? 0), message: String((s.status as J | undefined)?.message ?? '') },
        events: arr(s.events).map((e) => ({ name: String(e.name), attributes: jsonAttrs(e.attributes) })),
        resource,
        scope: String((ss.scope as J | undefined)?.name ?? ''),
      })),
    );
  });
}

function logsFromJson(body: J): ReceivedLog[] {
  return arr(body.resourceLogs).flatMap((rl) => {
    const resource = jsonAttrs((rl.resource as J | undefined)?.attributes);
    return arr(rl.scopeLogs).flatMap((sl) =>
      arr(sl.logRecords).map((r) => ({
        timeNs: BigInt(String(r.timeUnixNano ?? 0)),
        severityNumber: Number(r.severityNumber ?? 0),
        severityText: String(r.severityText ?? ''),
        body: jsonValue(r.body as J),
        attributes: jsonAttrs(r.attributes),
        traceId: String(r.traceId ?? ''),
        spanId: String(r.spanId ?? ''),
        resource,
      })),
    );
  });
}

// ------------------------------------------------------------------------------------------ OTLP/protobuf

/** One message's fields: field number -> values in order (varint/fixed as bigint, length-delimited as Buffer). */
type Fields = Map<number, (bigint | Buffer)[]>;

function readVarint(buf: Buffer, pos: { i: number }): bigint {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (pos.i >= buf.length) throw new Error('truncated varint');
    const b = buf[pos.i++]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return result;
    shift += 7n;
  }
}

function fields(buf: Buffer): Fields {
  const out: Fields = new Map();
  const pos = { i: 0 };
  while (pos.i < buf.length) {
    const tag = Number(readVarint(buf, pos));
    const no = tag >>> 3;
    const wire = tag & 7;
    let v: bigint | Buffer;
    if (wire === 0) v = readVarint(buf, pos);
    else if (wire === 1) {
      v = buf.readBigUInt64LE(pos.i);
      pos.i += 8;
    } else if (wire === 2) {
      const len = Number(readVarint(buf, pos));
      v = buf.subarray(pos.i, pos.i + len);
      pos.i += len;
    } else if (wire === 5) {
      v = BigInt(buf.readUInt32LE(pos.i));
      pos.i += 4;
    } else throw new Error(`unsupported wire type ${wire}`);
    const list = out.get(no);
    if (list) list.push(v);
    else out.set(no, [v]);
  }
  return out;
}

const msgs = (f: Fields, no: number): Fields[] => (f.get(no) ?? []).map((b) => fields(b as Buffer));
const bytesOf = (f: Fields, no: number): Buffer => (f.get(no)?.[0] as Buffer | undefined) ?? Buffer.alloc(0);
const str = (f: Fields, no: number): string => bytesOf(f, no).toString('utf8');
const int = (f: Fields, no: number): bigint => (f.get(no)?.[0] as bigint | undefined) ?? 0n;

function pbValue(f: Fields | undefined): AttrValue {
  if (!f) return null;
  if (f.has(1)) return str(f, 1);
  if (f.has(2)) return int(f, 2) !== 0n;
  if (f.has(3)) return Number(BigInt.asIntN(64, int(f, 3)));
  if (f.has(4)) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(int(f, 4));
    return b.readDoubleLE(0);
  }
  if (f.has(5)) return msgs(msgs(f, 5)[0]!, 1).map(pbValue);
  return null;
}

function pbAttrs(list: Fields[]): Record<string, AttrValue> {
  return Object.fromEntries(list.map((kv) => [str(kv, 1), pbValue(msgs(kv, 2)[0])]));
}

function spansFromProtobuf(body: Buffer): ReceivedSpan[] {
  return msgs(fields(body), 1).flatMap((rs) => {
    const resource = pbAttrs(msgs(msgs(rs, 1)[0] ?? new Map(), 1));
    return msgs(rs, 2).flatMap((ss) => {
      const scope = str(msgs(ss, 1)[0] ?? new Map(), 1);
      return msgs(ss, 2).map((s) => {
        const status = msgs(s, 15)[0] ?? new Map();
        return {
          traceId: bytesOf(s, 1).toString('hex'),
          spanId: bytesOf(s, 2).toString('hex'),
          parentSpanId: bytesOf(s, 4).toString('hex'),
          name: str(s, 5),
          kind: Number(int(s, 6)),
          startNs: int(s, 7),
          endNs: int(s, 8),
          attributes: pbAttrs(msgs(s, 9)),
          status: { code: Number(int(status, 3)), message: str(status, 2) },
          events: msgs(s, 11).map((e) => ({ name: str(e, 2), attributes: pbAttrs(msgs(e, 3)) })),
          resource,
          scope,
        };
      });
    });
  });
}

function logsFromProtobuf(body: Buffer): ReceivedLog[] {
  return msgs(fields(body), 1).flatMap((rl) => {
    const resource = pbAttrs(msgs(msgs(rl, 1)[0] ?? new Map(), 1));
    return msgs(rl, 2).flatMap((sl) =>
      msgs(sl, 2).map((r) => ({
        timeNs: int(r, 1),
        severityNumber: Number(int(r, 2)),
        severityText: str(r, 3),
        body: pbValue(msgs(r, 5)[0]),
        attributes: pbAttrs(msgs(r, 6)),
        traceId: bytesOf(r, 9).toString('hex'),
        spanId: bytesOf(r, 10).toString('hex'),
        resource,
      })),
    );
  });
}
