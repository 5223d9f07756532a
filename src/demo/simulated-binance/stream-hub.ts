/**
 * The WebSocket side of the simulated exchange: Binance's market-stream protocol on `/ws/<stream>` (raw) and
 * `/stream?streams=a/b/c` (combined, wrapped as {"stream":..,"data":..}), live SUBSCRIBE / UNSUBSCRIBE /
 * LIST_SUBSCRIPTIONS / SET_PROPERTY / GET_PROPERTY, and Binance's limits: at most 1024 streams per connection, at
 * most 5 incoming messages (text, ping or pong frames) per second, a ping every pingIntervalMs and a disconnect when
 * no matching pong came back within pongTimeoutMs.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { isTimeframe } from '../../core/timeframe.js';
import type { Timeframe } from '../../core/timeframe.js';

export const MAX_STREAMS_PER_CONNECTION = 1024;
export const MAX_INCOMING_PER_SECOND = 5;
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

export type ParsedStream =
  | { readonly kind: 'trade' | 'aggTrade'; readonly symbol: string }
  | { readonly kind: 'kline'; readonly symbol: string; readonly interval: Timeframe };

/** `btcusdt@trade`, `btcusdt@aggTrade`, `btcusdt@kline_1m`; null for anything else (Binance sends it no data). */
export function parseStreamName(name: string): ParsedStream | null {
  const m = /^([a-z0-9]+)@(trade|aggTrade|kline_(\w+))$/.exec(name);
  if (!m) return null;
  const symbol = (m[1] ?? '').toUpperCase();
  if (m[2] === 'trade' || m[2] === 'aggTrade') return { kind: m[2], symbol };
  return isTimeframe(m[3]) ? { kind: 'kline', symbol, interval: m[3] } : null;
}

interface Session {
  readonly ws: WebSocket;
  readonly streams: Set<string>;
  combined: boolean;
  readonly incoming: number[];
  lastPingAt: number;
  pendingPing: { payload: string; at: number } | null;
}

export interface StreamHubOptions {
  pingIntervalMs: number;
  pongTimeoutMs: number;
  /** Clock for liveness and rate limits (monotonic ms). */
  clock: () => number;
}

type RequestId = number | string | null;

export class StreamHub {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sessions = new Set<Session>();
  private pausedUntil = -Infinity;
  framesSent = 0;
  /** When true, upgrades are refused with HTTP 503. */
  refusing = false;

  constructor(private readonly opts: StreamHubOptions) {}

  get connections(): number {
    return this.sessions.size;
  }

  /** Subscribed stream names across connections (for the server to know which kline pushes are needed). */
  *subscribedStreams(): Iterable<string> {
    for (const s of this.sessions) yield* s.streams;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://localhost');
    let streams: string[];
    let combined: boolean;
    if (url.pathname === '/stream' || url.pathname === '/stream/') {
      combined = true;
      streams = (url.searchParams.get('streams') ?? '').split('/');
    } else if (url.pathname === '/ws' || url.pathname.startsWith('/ws/')) {
      combined = false;
      streams = url.pathname.slice('/ws'.length).split('/');
    } else {
      return rejectUpgrade(socket, 404, 'Not Found');
    }
    streams = streams.filter((s) => s.length > 0);
    if (this.refusing) return rejectUpgrade(socket, 503, 'Service Unavailable');
    if (streams.length > MAX_STREAMS_PER_CONNECTION) return rejectUpgrade(socket, 400, 'Bad Request');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws, streams, combined));
  }

  /** Sends one event to every connection subscribed to `stream` (unless streams are paused). */
  publish(stream: string, data: object): void {
    if (this.paused()) return;
    let raw: string | undefined;
    let wrapped: string | undefined;
    for (const s of this.sessions) {
      if (!s.streams.has(stream)) continue;
      raw ??= JSON.stringify(data);
      if (s.combined) this.send(s, (wrapped ??= `{"stream":${JSON.stringify(stream)},"data":${raw}}`));
      else this.send(s, raw);
    }
  }

  /** Sends a connection-level event (not tied to a stream) unwrapped on every connection. */
  broadcast(data: object): void {
    const text = JSON.stringify(data);
    for (const s of this.sessions) this.send(s, text);
  }

  /** Keeps sockets open but sends nothing (no data, no pings) for ms. */
  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.opts.clock() + ms);
  }

  paused(): boolean {
    return this.opts.clock() < this.pausedUntil;
  }

  /** Terminates every socket abruptly (no close frame). */
  dropAll(): void {
    for (const s of this.sessions) s.ws.terminate();
  }

  /** Pings due connections and terminates those whose pong is overdue; call often (every ~250 ms). */
  housekeeping(): void {
    if (this.paused()) return;
    const now = this.opts.clock();
    for (const s of this.sessions) {
      if (s.pendingPing && now - s.pendingPing.at >= this.opts.pongTimeoutMs) {
        s.ws.terminate();
        continue;
      }
      if (now - s.lastPingAt >= this.opts.pingIntervalMs) {
        s.lastPingAt = now;
        const payload = String(Date.now());
        s.pendingPing ??= { payload, at: now };
        s.ws.ping(s.pendingPing.payload);
        this.framesSent++;
      }
    }
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private attach(ws: WebSocket, streams: string[], combined: boolean): void {
    const session: Session = {
      ws,
      streams: new Set(streams),
      combined,
      incoming: [],
      lastPingAt: this.opts.clock(),
      pendingPing: null,
    };
    this.sessions.add(session);
    ws.on('close', () => this.sessions.delete(session));
    ws.on('error', () => ws.terminate());
    ws.on('ping', () => this.countIncoming(session));
    ws.on('pong', (data) => {
      if (!this.countIncoming(session)) return;
      if (session.pendingPing && data.toString() === session.pendingPing.payload) session.pendingPing = null;
    });
    ws.on('message', (data, isBinary) => {
      if (!this.countIncoming(session)) return;
      this.handleRequest(session, isBinary ? '' : data.toString());
    });
  }

  /** Records one incoming message; disconnects (and returns false) past 5 per second. */
  private countIncoming(s: Session): boolean {
    const now = this.opts.clock();
    s.incoming.push(now);
    while (s.incoming.length > 0 && (s.incoming[0] ?? now) <= now - 1000) s.incoming.shift();
    if (s.incoming.length <= MAX_INCOMING_PER_SECOND) return true;
    this.disconnect(s, 1008, 'Too many messages');
    return false;
  }

  private disconnect(s: Session, code: number, reason: string): void {
    this.sessions.delete(s);
    s.ws.close(code, reason);
    setTimeout(() => s.ws.terminate(), 500).unref();
  }

  private handleRequest(s: Session, text: string): void {
    let req: unknown;
    try {
      req = JSON.parse(text);
    } catch {
      return this.send(s, JSON.stringify({ code: 3, msg: 'Invalid JSON: expected value at line 1 column 1' }));
    }
    if (typeof req !== 'object' || req === null || Array.isArray(req)) {
      return this.send(s, JSON.stringify({ code: 3, msg: 'Invalid JSON: expected value at line 1 column 1' }));
    }
    const { method, params, id } = req as { method?: unknown; params?: unknown; id?: unknown };
    if (!isRequestId(id)) {
      return this.send(s, JSON.stringify({ code: 2, msg: 'Invalid request: request ID must be an unsigned integer' }));
    }
    const reply = (result: unknown): void => this.send(s, JSON.stringify({ result, id }));
    const list = Array.isArray(params) ? params : [];
    switch (method) {
      case 'SUBSCRIBE': {
        const names = list.filter((p): p is string => typeof p === 'string');
        const total = new Set([...s.streams, ...names]).size;
        if (total > MAX_STREAMS_PER_CONNECTION) return this.disconnect(s, 1008, 'Too many streams');
        for (const n of names) s.streams.add(n);
        return reply(null);
      }
      case 'UNSUBSCRIBE':
        for (const n of list) if (typeof n === 'string') s.streams.delete(n);
        return reply(null);
      case 'LIST_SUBSCRIPTIONS':
        return reply([...s.streams]);
      case 'SET_PROPERTY':
        if (list[0] !== 'combined') return this.send(s, JSON.stringify({ code: 0, msg: 'Unknown property', id }));
        if (typeof list[1] !== 'boolean') return this.send(s, JSON.stringify({ code: 1, msg: 'Invalid value type: expected Boolean' }));
        s.combined = list[1];
        return reply(null);
      case 'GET_PROPERTY':
        if (list[0] !== 'combined') return this.send(s, JSON.stringify({ code: 0, msg: 'Unknown property', id }));
        return reply(s.combined);
      default:
        return this.send(
          s,
          JSON.stringify({
            code: 2,
            msg: `Invalid request: unknown variant ${JSON.stringify(String(method))}, expected one of \`SUBSCRIBE\`, \`UNSUBSCRIBE\`, \`LIST_SUBSCRIPTIONS\`, \`SET_PROPERTY\`, \`GET_PROPERTY\` at line 1 column 28`,
          }),
        );
    }
  }

  private send(s: Session, text: string): void {
    if (s.ws.readyState !== s.ws.OPEN) return;
    // A consumer that stopped reading is dropped rather than buffered forever.
    if (s.ws.bufferedAmount > MAX_BUFFERED_BYTES) return s.ws.terminate();
    s.ws.send(text);
    this.framesSent++;
  }
}

function isRequestId(id: unknown): id is RequestId {
  if (id === null) return true;
  if (typeof id === 'number') return Number.isInteger(id);
  return typeof id === 'string' && /^[A-Za-z0-9-]{1,36}$/.test(id);
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  const body = JSON.stringify({ code: -1, msg: text });
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
