/**
 * The live WebSocket at /ws: a client subscribes to exchange + symbol + timeframe and receives candle
 * updates, closes and corrections as they happen. Each event is serialized once for all its subscribers;
 * a client that cannot keep up (unsent data over `maxBufferedBytes`) is disconnected rather than buffered
 * forever, counted in `candlestack_websocket_dropped_total{reason="slow_reader"}`. A client (address or API
 * key) has at most `maxConnectionsPerClient` connections (one more is refused with a 429 before the
 * handshake) and a connection at most `maxSubscriptions` subscriptions (counted in `_refused_total`). An upgrade
 * from a browser page of another origin (an Origin header not the Host's and not in `http.allowedOrigins`) is
 * refused with a 403 before the handshake (`_refused_total{reason="origin"}`).
 *
 * Client -> server: {"op":"subscribe"|"unsubscribe","exchange":"binance","symbol":"BTC-USDT","timeframe":"1m"}
 *                   (exchange, symbol, timeframe may be left out: the first configured exchange, its first symbol,
 *                   1m (or the first configured timeframe without 1m); any other field, a field that is not a string, or a timeframe
 *                   the exchange does not build is answered with an error naming it, and nothing changes)
 * Server -> client: {"type":"subscribed"|"unsubscribed",...}, {"type":"candle","kind":"update"|"close"|"correction","candle":{...}},
 *                   {"type":"indicator","kind":"update"|"close"|"correction","exchange","symbol","timeframe","openTime","values":{...}},
 *                   {"type":"feature","exchange","symbol","timeframe","openTime","close","values":{...}} (each closed candle's feature vector: run/demo, and serve from candlestack_features),
 *                   {"type":"error","error":{"code","message","parameter"?}}
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket } from 'ws';
import type { Clock, Timer } from '../core/clock.js';
import { BadParameterError } from '../core/errors.js';
import type { CandleEvent, IndicatorEvent } from '../core/types.js';
import type { Logger } from '../telemetry/logger.js';
import type { ApiMetrics, LimitMetrics } from '../telemetry/metrics.js';
import type { LiveLimits } from '../config/serve-config.js';
import { refuseUpgrade } from './rate-limit.js';
import type { Markets } from './markets.js';
import { parseTimeframe } from './params.js';
import type { Service } from '../core/service.js';
import type { ExchangeId } from '../core/exchange-id.js';

const DEFAULT_LIMITS: LiveLimits = { maxConnectionsPerClient: 20, maxSubscriptions: 200, maxBufferedBytes: 4 * 1024 * 1024 };

interface Client {
  ws: WebSocket;
  keys: Set<string>;
  alive: boolean;
  /** Who it is for the connection cap (address or API key id). */
  who: string;
}

export class LiveHub implements Service {
  readonly name = 'live-ws';
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  private readonly byKey = new Map<string, Set<Client>>();
  private readonly clients = new Set<Client>();
  private readonly perClient = new Map<string, number>();
  private heartbeat: Timer | null = null;
  private readonly limits: LiveLimits;

  constructor(
    private readonly o: {
      markets: Markets;
      metrics: ApiMetrics;
      log: Logger;
      clock: Clock;
      pingEveryMs?: number;
      /** Told when a series gets its first live subscriber (true) and loses its last one (false). */
      onWatch?: (exchange: ExchangeId, symbol: string, timeframe: string, watched: boolean) => void;
      /** Connection and subscription caps, the slow-reader bound (defaults: 20, 200, 4 MiB). */
      limits?: LiveLimits;
      /** Counts refusals and drops; without it they are only logged. */
      limitMetrics?: LimitMetrics;
      /** The client a connection belongs to for the cap (default: the socket address). */
      clientOf?: (req: IncomingMessage) => string;
    },
  ) {
    this.limits = o.limits ?? DEFAULT_LIMITS;
  }

  start(): void {
    this.heartbeat = this.o.clock.setInterval(() => {
      for (const c of this.clients) {
        if (!c.alive) {
          this.o.limitMetrics?.websocketDropped.labels('no_pong').inc();
          c.ws.terminate();
          continue;
        }
        c.alive = false;
        c.ws.ping();
      }
    }, this.o.pingEveryMs ?? 30_000);
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const who = this.o.clientOf?.(req) ?? req.socket.remoteAddress ?? 'unknown';
    const open = this.perClient.get(who) ?? 0;
    if (open >= this.limits.maxConnectionsPerClient) {
      this.o.limitMetrics?.websocketRefused.labels('connection_cap').inc();
      return refuseUpgrade(socket, 429, 'too_many_connections', `at most ${this.limits.maxConnectionsPerClient} live connections per client; close one first`, { 'retry-after': '5' });
    }
    this.perClient.set(who, open + 1); // counted before the handshake finishes, so a burst of connects cannot pass the cap
    let accepted = false;
    socket.once('close', () => {
      if (!accepted) this.release(who);
    });
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      accepted = true;
      this.accept(ws, req, who);
    });
  }

  /** Refuses an upgrade before the handshake (the API server's Origin check), counted in `_refused_total{reason}`. */
  refuse(socket: Duplex, reason: string, status: number, code: string, message: string): void {
    this.o.limitMetrics?.websocketRefused.labels(reason).inc();
    refuseUpgrade(socket, status, code, message);
  }

  /** Open connections per client (for tests and health). */
  connectionsOf(who: string): number {
    return this.perClient.get(who) ?? 0;
  }

  onCandle = (e: CandleEvent): void => {
    const c = e.candle;
    const subs = this.byKey.get(key(c.exchange, c.symbol, c.timeframe));
    if (!subs || subs.size === 0) return;
    const text = JSON.stringify({ type: 'candle', kind: e.kind, candle: c });
    for (const client of subs) this.send(client, text, 'candle');
  };

  /** Indicator values go to the clients subscribed to the same exchange/symbol/timeframe as the candles. */
  onIndicator = (e: IndicatorEvent): void => {
    const subs = this.byKey.get(key(e.exchange, e.symbol, e.timeframe));
    if (!subs || subs.size === 0) return;
    const text = JSON.stringify({ type: 'indicator', kind: e.kind, exchange: e.exchange, symbol: e.symbol, timeframe: e.timeframe, openTime: e.openTime, values: e.values });
    for (const client of subs) this.send(client, text, 'indicator');
  };

  /** A closed candle's feature vector goes to the clients subscribed to its series. */
  onFeature = (v: { exchange: ExchangeId; symbol: string; timeframe: string; openTime: number; close: number; values: Readonly<Record<string, number | null>> }): void => {
    const subs = this.byKey.get(key(v.exchange, v.symbol, v.timeframe));
    if (!subs || subs.size === 0) return;
    const text = JSON.stringify({ type: 'feature', exchange: v.exchange, symbol: v.symbol, timeframe: v.timeframe, openTime: v.openTime, close: v.close, values: v.values });
    for (const client of subs) this.send(client, text, 'feature');
  };

  async stop(): Promise<void> {
    this.heartbeat?.cancel();
    for (const c of this.clients) c.ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private accept(ws: WebSocket, req: IncomingMessage, who: string): void {
    const client: Client = { ws, keys: new Set(), alive: true, who };
    this.clients.add(client);
    this.o.metrics.websocketClients.set(this.clients.size);
    ws.on('pong', () => (client.alive = true));
    ws.on('message', (data, isBinary) => this.receive(client, isBinary ? '' : data.toString()));
    ws.on('close', () => this.remove(client));
    ws.on('error', () => this.remove(client));
    // Optional subscription in the URL: /ws?exchange=&symbol=&timeframe=
    const params = new URL(req.url ?? '/ws', 'http://localhost').searchParams;
    if (params.has('symbol')) this.subscribe(client, { exchange: params.get('exchange'), symbol: params.get('symbol'), timeframe: params.get('timeframe') });
  }

  /** A client message; nothing it holds may end the process (an exception is logged and answered). */
  private receive(client: Client, text: string): void {
    try {
      this.onMessage(client, text);
    } catch (err) {
      this.o.log.error({ err }, 'live message handling failed');
      this.error(client, 'internal_error', 'the message could not be handled; see the server log');
    }
  }

  private onMessage(client: Client, text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return this.error(client, 'bad_message', 'messages must be JSON objects like {"op":"subscribe","exchange":"binance","symbol":"BTC-USDT","timeframe":"1m"}');
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return this.error(client, 'bad_message', 'messages must be JSON objects');
    const m = msg as Record<string, unknown>;
    if (m.op !== 'subscribe' && m.op !== 'unsubscribe') return this.error(client, 'bad_parameter', 'op: expected "subscribe" or "unsubscribe"', 'op');
    // a mistyped field must not quietly become the default market: unknown and non-string fields are errors
    for (const k of Object.keys(m)) {
      if (!MESSAGE_FIELDS.has(k)) return this.error(client, 'bad_parameter', `unknown field ${JSON.stringify(k.slice(0, 64))}; a message has only ${[...MESSAGE_FIELDS].join(', ')}`, k.slice(0, 64));
      if (k !== 'op' && typeof m[k] !== 'string') return this.error(client, 'bad_parameter', `${k}: expected a string`, k);
    }
    const fields = { exchange: str(m.exchange), symbol: str(m.symbol), timeframe: str(m.timeframe) };
    return m.op === 'subscribe' ? this.subscribe(client, fields) : this.unsubscribe(client, fields);
  }

  /** The series a message names, defaulted; an unknown exchange or symbol, or a timeframe not configured for the exchange, is a BadParameterError. */
  private series(f: { exchange: string | null; symbol: string | null; timeframe: string | null }): { exchange: ExchangeId; symbol: string; timeframe: string } {
    const { exchange, symbol, market } = this.o.markets.resolve(f.exchange, f.symbol);
    const timeframe = parseTimeframe(f.timeframe, market.timeframes.includes('1m') ? '1m' : (market.timeframes[0] ?? '1m'));
    if (!market.timeframes.includes(timeframe)) throw new BadParameterError('timeframe', `one of the configured timeframes ${market.timeframes.join(', ')}`, f.timeframe);
    return { exchange, symbol, timeframe };
  }

  private subscribe(client: Client, f: { exchange: string | null; symbol: string | null; timeframe: string | null }): void {
    try {
      const { exchange, symbol, timeframe } = this.series(f);
      const k = key(exchange, symbol, timeframe);
      if (!client.keys.has(k) && client.keys.size >= this.limits.maxSubscriptions) {
        this.o.limitMetrics?.websocketRefused.labels('subscription_cap').inc();
        throw new BadParameterError('op', `at most ${this.limits.maxSubscriptions} subscriptions per connection`, 'subscribe');
      }
      client.keys.add(k);
      let set = this.byKey.get(k);
      if (!set) this.byKey.set(k, (set = new Set()));
      const before = set.size;
      set.add(client);
      if (before === 0 && set.size === 1) this.o.onWatch?.(exchange, symbol, timeframe, true);
      this.send(client, JSON.stringify({ type: 'subscribed', exchange, symbol, timeframe }), 'control');
    } catch (err) {
      if (err instanceof BadParameterError) return this.error(client, err.code, err.message, err.parameter);
      throw err;
    }
  }

  private unsubscribe(client: Client, f: { exchange: string | null; symbol: string | null; timeframe: string | null }): void {
    try {
      const { exchange, symbol, timeframe } = this.series(f);
      const k = key(exchange, symbol, timeframe);
      client.keys.delete(k);
      this.leave(k, client);
      this.send(client, JSON.stringify({ type: 'unsubscribed', exchange, symbol, timeframe }), 'control');
    } catch (err) {
      if (err instanceof BadParameterError) return this.error(client, err.code, err.message, err.parameter);
      throw err;
    }
  }

  private error(client: Client, code: string, message: string, parameter?: string): void {
    this.send(client, JSON.stringify({ type: 'error', error: parameter ? { code, message, parameter } : { code, message } }), 'error');
  }

  private send(client: Client, text: string, type: string): void {
    if (client.ws.readyState !== WebSocket.OPEN) return;
    if (client.ws.bufferedAmount > this.limits.maxBufferedBytes) {
      this.o.log.warn({ subscriptions: client.keys.size, bufferedBytes: client.ws.bufferedAmount }, 'live client too slow; disconnecting');
      this.o.limitMetrics?.websocketDropped.labels('slow_reader').inc();
      client.ws.terminate();
      this.remove(client);
      return;
    }
    client.ws.send(text);
    this.o.metrics.websocketMessagesSent.labels(type).inc();
  }

  private release(who: string): void {
    const n = (this.perClient.get(who) ?? 1) - 1;
    if (n <= 0) this.perClient.delete(who);
    else this.perClient.set(who, n);
  }

  private remove(client: Client): void {
    if (!this.clients.delete(client)) return;
    this.release(client.who);
    for (const k of client.keys) this.leave(k, client);
    this.o.metrics.websocketClients.set(this.clients.size);
  }

  private leave(k: string, client: Client): void {
    const set = this.byKey.get(k);
    if (!set?.delete(client) || set.size > 0) return;
    const [exchange, symbol, timeframe] = k.split('\u0000') as [ExchangeId, string, string];
    this.o.onWatch?.(exchange, symbol, timeframe, false);
  }
}

/** The fields a client message may carry. */
const MESSAGE_FIELDS: ReadonlySet<string> = new Set(['op', 'exchange', 'symbol', 'timeframe']);

function key(exchange: ExchangeId, symbol: string, tf: string): string {
  return `${exchange}\u0000${symbol}\u0000${tf}`;
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}
