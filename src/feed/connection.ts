/**
 * The one WebSocket connection manager, shared by every exchange: it knows URLs, messages and limits from
 * the adapter's plan, never an exchange's name or quirks.
 *
 * - Reconnects with capped exponential backoff and jitter; the attempt count resets once data flows.
 * - Answers server pings itself (autoPong off) so that pongs go through the outgoing rate limit together
 *   with subscribe messages and client heartbeats; pongs jump the queue.
 * - Stale detection: no frame for `staleAfterMs` on this connection -> recycle it (liveness is per
 *   connection, so one quiet symbol cannot cause a reconnect storm).
 * - Rotates the connection before the exchange's lifetime limit; `reconnect(reason)` lets the collector
 *   act on an exchange's shutdown notice.
 */
import WebSocket from 'ws';
import type { Clock, Timer } from '../core/clock.js';
import type { ClientHeartbeat, ConnectionPlan, FeedLimits } from '../exchanges/adapter.js';
import type { Logger } from '../telemetry/logger.js';
import type { FeedMetrics } from '../telemetry/metrics.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';

import type { ConnectionStatus } from '../core/health.js';

export { CONNECTION_STATUSES, type ConnectionStatus } from '../core/health.js';

export interface ConnectionOptions {
  exchange: string;
  /** Shard name, unique per exchange ("0", "1", ...). */
  connection: string;
  plan: () => ConnectionPlan;
  limits: FeedLimits;
  heartbeat?: ClientHeartbeat;
  staleAfterMs: number;
  backoff: BackoffOptions;
  clock: Clock;
  metrics: FeedMetrics;
  log: Logger;
  random?: () => number;
  onFrame: (frame: string, receivedAt: number) => void;
  /** Called when the socket opens; `downSince` is when the previous connection was lost (null the first time). */
  onOpen: (downSince: number | null, at: number) => void;
  /** A line added to the first "cannot connect" log of an outage (e.g. how to run offline). */
  unreachableHint?: string;
}

export class FeedConnection {
  status: ConnectionStatus = 'disconnected';
  lastMessageAt: number | null = null;
  connectedSince: number | null = null;
  reconnects = 0;
  lastError: string | null = null;

  private ws: WebSocket | null = null;
  private attempt = 0;
  private downSince: number | null = null;
  private everConnected = false;
  private outage = false;
  private timers: Timer[] = [];
  private reconnectTimer: Timer | null = null;
  private readonly queue: string[] = [];
  private pongs: Buffer[] = [];
  /** Send times (epoch ms) of this connection's outgoing messages in the last second: a sliding-window limit. */
  private sentAt: number[] = [];
  private drainTimer: Timer | null = null;
  private readonly m;

  constructor(private readonly o: ConnectionOptions) {
    const { exchange, connection } = o;
    this.m = {
      status: o.metrics.collectorStatus.labels(exchange, connection),
      frames: o.metrics.hot.wsMessagesReceived.counter(o.metrics.wsMessagesReceived, exchange, connection),
      lastMessage: o.metrics.lastMessageTimestamp.labels(exchange, connection),
      stale: o.metrics.staleFeeds.labels(exchange, connection),
      delayed: o.metrics.outgoingMessagesDelayed.labels(exchange),
    };
    this.m.status.set(0);
  }

  /** Frames received on this connection since start (the count behind ws_messages_received_total). */
  get framesReceived(): number {
    return this.m.frames.value;
  }

  start(): void {
    if (this.status === 'stopped' || this.ws) return;
    this.connect();
  }

  async stop(): Promise<void> {
    this.status = 'stopped';
    this.clearTimers();
    this.reconnectTimer?.cancel();
    this.m.status.set(0);
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.terminate();
      });
    }
  }

  /** Drops the current socket and connects again at once (counted under `reason`). */
  reconnect(reason: string): void {
    if (this.status === 'stopped') return;
    this.o.log.info({ exchange: this.o.exchange, connection: this.o.connection, reason }, 'reconnecting');
    this.drop(reason);
    this.schedule(0);
  }

  private connect(): void {
    const { url, subscribeMessages } = this.o.plan();
    this.status = 'connecting';
    // maxPayload: ws would buffer up to 100 MiB per message; no exchange frame is near 8 MiB (the collector rejects
    // frames over its own, smaller bound before parsing).
    const ws = new WebSocket(url, { autoPong: false, perMessageDeflate: false, handshakeTimeout: 10_000, maxPayload: 8 * 1024 * 1024 });
    this.ws = ws;
    ws.on('open', () => {
      if (this.ws !== ws) return;
      const now = this.o.clock.now();
      this.status = 'connected';
      this.connectedSince = now;
      this.lastMessageAt = now;
      this.m.status.set(1);
      if (this.outage) this.o.log.info({ exchange: this.o.exchange, connection: this.o.connection, url: shortUrl(url) }, 'connected again');
      else this.o.log.info({ exchange: this.o.exchange, connection: this.o.connection, url: shortUrl(url) }, 'connected');
      this.outage = false;
      this.startTimers();
      for (const m of subscribeMessages) this.send(m);
      const downSince = this.everConnected ? this.downSince ?? now : null;
      this.everConnected = true;
      this.downSince = null;
      this.o.onOpen(downSince, now);
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (this.ws !== ws) return;
      const now = this.o.clock.now();
      this.lastMessageAt = now;
      this.attempt = 0;
      this.m.frames.inc();
      this.o.onFrame(isBinary ? data.toString('utf8') : data.toString(), now);
    });
    ws.on('ping', (payload: Buffer) => {
      if (this.ws !== ws) return;
      this.pongs.push(payload);
      this.drain();
      if (this.pongs.length > 0) this.m.delayed.inc();
    });
    ws.on('unexpected-response', (_req, res) => {
      if (this.ws !== ws) return;
      this.failed(`HTTP ${res.statusCode} on WebSocket upgrade`);
    });
    ws.on('error', (err: Error) => {
      if (this.ws !== ws) return;
      this.failed(err.message || String(err));
    });
    ws.on('close', (code: number, reason: Buffer) => {
      if (this.ws !== ws) return;
      this.failed(`closed by server (code ${code}${reason.length ? `: ${reason.toString()}` : ''})`, 'closed');
    });
  }

  private failed(error: string, reason = 'error'): void {
    const wasConnected = this.status === 'connected';
    this.lastError = error;
    const log = this.o.log;
    const ctx = { exchange: this.o.exchange, connection: this.o.connection, error };
    if (!this.outage) {
      this.outage = true;
      if (wasConnected) log.warn(ctx, 'connection lost; reconnecting with backoff');
      else log.error(ctx, `cannot connect to ${this.o.exchange} (${error}); retrying with backoff${this.o.unreachableHint ? `. ${this.o.unreachableHint}` : ''}`);
    } else {
      log.debug(ctx, 'connection attempt failed');
    }
    this.o.metrics.collectorErrors.labels(this.o.exchange, wasConnected ? 'socket' : 'connect').inc();
    this.drop(reason);
    this.schedule(backoffDelay(this.attempt++, this.o.backoff, this.o.random));
  }

  private drop(reason: string): void {
    const ws = this.ws;
    this.ws = null;
    this.clearTimers();
    this.queue.length = 0;
    this.pongs = [];
    this.sentAt = [];
    if (this.status === 'connected') {
      this.downSince ??= this.lastMessageAt ?? this.o.clock.now();
      this.reconnects++;
      this.o.metrics.websocketReconnections.labels(this.o.exchange, reason).inc();
    }
    if (this.status !== 'stopped') this.status = 'disconnected';
    this.connectedSince = null;
    this.m.status.set(0);
    if (ws) {
      ws.removeAllListeners('message');
      ws.on('error', () => undefined);
      ws.terminate();
    }
  }

  private schedule(delayMs: number): void {
    this.reconnectTimer?.cancel();
    this.reconnectTimer = this.o.clock.setTimeout(() => {
      this.reconnectTimer = null;
      if (this.status !== 'stopped' && !this.ws) this.connect();
    }, delayMs);
  }

  private startTimers(): void {
    const { clock, staleAfterMs, limits, heartbeat } = this.o;
    const every = Math.min(5_000, Math.max(50, Math.floor(staleAfterMs / 5)));
    this.timers.push(
      clock.setInterval(() => {
        if (this.status !== 'connected' || this.lastMessageAt === null) return;
        if (clock.now() - this.lastMessageAt > staleAfterMs) {
          this.m.stale.inc();
          this.o.log.warn({ exchange: this.o.exchange, connection: this.o.connection, staleAfterMs }, 'no data; connection is stale');
          this.reconnect('stale');
        }
      }, every),
    );
    this.timers.push(clock.setTimeout(() => this.reconnect('lifetime'), limits.maxConnectionLifetimeMs));
    if (heartbeat) this.timers.push(clock.setInterval(() => this.send(heartbeat.message), heartbeat.intervalMs));
    this.m.lastMessage.set(clock.now() / 1000);
  }

  private clearTimers(): void {
    for (const t of this.timers) t.cancel();
    this.timers = [];
    this.drainTimer?.cancel();
    this.drainTimer = null;
  }

  /** Queues a text message behind the per-connection outgoing rate limit. */
  send(message: string): void {
    this.queue.push(message);
    this.drain();
    // FIFO: anything still queued includes this message, which is therefore held back.
    if (this.queue.length > 0 && this.ws?.readyState === WebSocket.OPEN) this.m.delayed.inc();
  }

  private drain(): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const now = this.o.clock.now();
    const rate = Math.max(1, Math.floor(this.o.limits.maxOutgoingPerSecond));
    // At most `rate` messages in any 1 s window (a token bucket of `rate` would allow up to 2x in a second).
    while (this.sentAt.length > 0 && this.sentAt[0]! <= now - 1000) this.sentAt.shift();
    while (this.sentAt.length < rate && (this.pongs.length > 0 || this.queue.length > 0)) {
      this.sentAt.push(now);
      const pong = this.pongs.shift();
      if (pong !== undefined) ws.pong(pong);
      else ws.send(this.queue.shift()!);
    }
    if ((this.pongs.length > 0 || this.queue.length > 0) && !this.drainTimer) {
      const wait = Math.max(1, this.sentAt[0]! + 1000 - now + 1);
      this.drainTimer = this.o.clock.setTimeout(() => {
        this.drainTimer = null;
        this.drain();
      }, wait);
    }
  }

  /** Records liveness for metrics at most once per call site cadence (called by the collector's health tick). */
  publishLiveness(): void {
    if (this.lastMessageAt !== null) this.m.lastMessage.set(this.lastMessageAt / 1000);
  }
}

function shortUrl(url: string): string {
  return url.length > 120 ? `${url.slice(0, 117)}...` : url;
}
