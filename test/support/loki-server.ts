/**
 * A local Loki for tests (a fake, the real wire format of its push API): `POST /loki/api/v1/push` with
 * `Content-Type: application/json` (gzip or not) and the body
 * `{"streams":[{"stream":{"label":"value"},"values":[["<unix epoch ns>","<line>"(,{structured metadata})]]}]}`,
 * answered 204 No Content like Loki. What Loki would refuse is a 400 with its reason as text: a label name
 * outside [a-zA-Z_][a-zA-Z0-9_]*, a non-string label value, a timestamp that is not a decimal string, a line
 * that is not a string; protobuf bodies (Loki's other encoding) get 415 here, the sink sends JSON.
 *
 * `entries` holds every accepted line with its stream's labels; `requests` counts the pushes; `fail(n, status)`
 * answers the next n pushes with `status` (0: the connection is dropped).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface LokiEntry {
  labels: Record<string, string>;
  ns: bigint;
  line: string;
}

export const LOKI_PUSH_PATH = '/loki/api/v1/push';

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class FakeLoki {
  readonly entries: LokiEntry[] = [];
  /** Push requests received (accepted or not), with their headers. */
  readonly requests: { status: number; headers: IncomingMessage['headers'] }[] = [];
  private server: Server | null = null;
  private port = 0;
  private failures: { count: number; status: number }[] = [];

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** The base URL (`log.loki.url`). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** The next `count` pushes are answered with `status` (0: the connection is dropped without an answer). */
  fail(count: number, status: number): void {
    this.failures.push({ count, status });
  }

  /** The accepted lines, parsed as JSON (pino's lines). */
  lines(): Record<string, unknown>[] {
    return this.entries.map((e) => JSON.parse(e.line) as Record<string, unknown>);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const answer = (status: number, text = '') => {
      this.requests.push({ status, headers: req.headers });
      res.writeHead(status, text ? { 'content-type': 'text/plain; charset=utf-8' } : {}).end(text);
    };
    if (req.method !== 'POST' || req.url !== LOKI_PUSH_PATH) return answer(404, '404 page not found');
    const injected = this.failures[0];
    if (injected) {
      if (--injected.count <= 0) this.failures.shift();
      if (injected.status === 0) {
        this.requests.push({ status: 0, headers: req.headers });
        return void req.socket.destroy();
      }
      return answer(injected.status, injected.status === 429 ? 'Ingestion rate limit exceeded' : 'injected failure');
    }
    const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (type !== 'application/json') return answer(415, `unsupported content type ${type} (this fake speaks JSON only)`);
    let body: unknown;
    try {
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      body = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      return answer(400, `loghttp.PushRequest.Streams: ${String(err)}`);
    }
    const problem = validate(body);
    if (problem) return answer(400, problem);
    for (const s of (body as { streams: { stream: Record<string, string>; values: [string, string][] }[] }).streams) {
      for (const [ns, line] of s.values) this.entries.push({ labels: s.stream, ns: BigInt(ns), line });
    }
    answer(204);
  }
}

/** Why Loki would refuse `body`, or null. */
function validate(body: unknown): string | null {
  const streams = (body as { streams?: unknown } | null)?.streams;
  if (!Array.isArray(streams)) return 'error at least one stream is required: "streams" must be an array';
  for (const s of streams) {
    const labels = (s as { stream?: unknown }).stream;
    if (typeof labels !== 'object' || labels === null || Array.isArray(labels) || Object.keys(labels).length === 0) return 'error parsing labels: "stream" must be a non-empty object';
    for (const [k, v] of Object.entries(labels)) {
      if (!LABEL_NAME.test(k)) return `error parsing labels: invalid label name ${JSON.stringify(k)}`;
      if (typeof v !== 'string') return `error parsing labels: the value of ${k} is not a string`;
    }
    const values = (s as { values?: unknown }).values;
    if (!Array.isArray(values)) return '"values" must be an array';
    for (const v of values) {
      if (!Array.isArray(v) || v.length < 2 || v.length > 3) return 'each value must be [timestamp, line] or [timestamp, line, metadata]';
      if (typeof v[0] !== 'string' || !/^\d+$/.test(v[0])) return `timestamp ${JSON.stringify(v[0])}: expected a string of unix epoch nanoseconds`;
      if (typeof v[1] !== 'string') return 'the log line must be a string';
    }
  }
  return null;
}
