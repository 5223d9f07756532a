/**
 * A collector runs one exchange adapter: it shards the streams over connections within the exchange's
 * limits, maps every frame, checks trade-id continuity, reports gaps (reconnects, id jumps) for backfill,
 * and publishes normalized trades and klines on the bus. Exchange-agnostic: everything exchange-specific
 * comes from the adapter.
 */
import type { Clock } from '../core/clock.js';
import type { Trade } from '../core/types.js';
import type { Bus } from '../bus/bus.js';
import type { Endpoints, EventSink, ExchangeAdapter, StreamRef, Subscription } from '../exchanges/adapter.js';
import type { Logger } from '../telemetry/logger.js';
import type { FeedMetrics } from '../telemetry/metrics.js';
import type { BackoffOptions } from './backoff.js';
import { FeedConnection, type ConnectionStatus } from './connection.js';

export interface CollectorOptions {
  adapter: ExchangeAdapter;
  endpoints: Endpoints;
  subscription: Subscription;
  staleAfterMs: number;
  backoff: BackoffOptions;
  /** Trades stamped further than this ahead of the local clock are rejected (bad timestamp). Default 60 s. */
  maxClockSkewMs?: number;
  bus: Bus;
  clock: Clock;
  metrics: FeedMetrics;
  log: Logger;
  unreachableHint?: string;
}

export interface FeedHealth {
  exchange: string;
  connection: string;
  status: ConnectionStatus;
  symbols: string[];
  streams: number;
  lastMessageAt: number | null;
  lastMessageAgeMs: number | null;
  connectedSince: number | null;
  reconnects: number;
  tradeIdGaps: number;
  lastError: string | null;
}

interface SymbolState {
  lastId: number;
  lastTime: number;
  gaps: number;
  /** The connection carrying this symbol reconnected since its last trade: an id jump is expected. */
  afterReconnect: boolean;
  readonly trades: { inc(): void };
  readonly lastTrade: { set(v: number): void };
}

interface Shard {
  readonly name: string;
  readonly streams: StreamRef[];
  readonly symbols: string[];
  readonly conn: FeedConnection;
  readonly sink: EventSink;
}

export class Collector {
  readonly exchange: string;
  private readonly shards: Shard[] = [];
  private readonly symbols = new Map<string, SymbolState>();
  private readonly lastRejectLog = new Map<string, number>();
  private readonly maxSkew: number;

  constructor(private readonly o: CollectorOptions) {
    this.exchange = o.adapter.id;
    this.maxSkew = o.maxClockSkewMs ?? 60_000;
    for (const symbol of o.subscription.symbols) this.state(symbol);
    const groups = shardStreams(o.adapter.streams(o.subscription), o.adapter.limits.maxStreamsPerConnection);
    groups.forEach((streams, i) => this.shards.push(this.createShard(String(i), streams)));
  }

  start(): void {
    for (const s of this.shards) s.conn.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.conn.stop()));
  }

  /** Forces every connection to reconnect (tests, operator action). */
  reconnectAll(reason: string): void {
    for (const s of this.shards) s.conn.reconnect(reason);
  }

  /**
   * Handles one raw frame as if shard `shard` had received it: the exact path of a live frame (mapping,
   * validation, id continuity, metrics, bus). Used for replay and benchmarks.
   */
  handleFrame(frame: string, receivedAt: number, shard = 0): void {
    const s = this.shards[shard];
    if (!s) throw new RangeError(`no connection shard ${shard}`);
    this.o.adapter.mapper.map(frame, receivedAt, s.sink);
  }

  health(now: number = this.o.clock.now()): FeedHealth[] {
    return this.shards.map((s) => {
      s.conn.publishLiveness();
      return {
        exchange: this.exchange,
        connection: s.name,
        status: s.conn.status,
        symbols: s.symbols,
        streams: s.streams.length,
        lastMessageAt: s.conn.lastMessageAt,
        lastMessageAgeMs: s.conn.lastMessageAt === null ? null : now - s.conn.lastMessageAt,
        connectedSince: s.conn.connectedSince,
        reconnects: s.conn.reconnects,
        tradeIdGaps: s.symbols.reduce((n, sym) => n + (this.symbols.get(sym)?.gaps ?? 0), 0),
        lastError: s.conn.lastError,
      };
    });
  }

  private createShard(name: string, streams: StreamRef[]): Shard {
    const { adapter, endpoints, metrics, log } = this.o;
    const symbols = [...new Set(streams.map((s) => s.symbol))];
    const rejected = new Map<string, { inc(): void }>();
    const sink: EventSink = {
      trade: (t) => this.onTrade(t),
      kline: (k) => {
        metrics.klinesReceived.labels(this.exchange, k.timeframe).inc();
        this.o.bus.publish('kline', k);
      },
      reject: (reason, detail, frame) => {
        let c = rejected.get(reason);
        if (!c) rejected.set(reason, (c = metrics.messagesRejected.labels(this.exchange, reason)));
        c.inc();
        this.logReject(reason, detail, frame);
      },
      reconnect: (reason) => conn.reconnect(reason),
    };
    const mapper = adapter.mapper;
    const conn = new FeedConnection({
      exchange: this.exchange,
      connection: name,
      plan: () => adapter.connection(streams, endpoints),
      limits: adapter.limits,
      heartbeat: adapter.clientHeartbeat,
      staleAfterMs: this.o.staleAfterMs,
      backoff: this.o.backoff,
      clock: this.o.clock,
      metrics,
      log,
      unreachableHint: this.o.unreachableHint,
      onFrame: (frame, receivedAt) => mapper.map(frame, receivedAt, sink),
      onOpen: (downSince, at) => {
        if (downSince === null) return;
        for (const symbol of symbols) {
          const st = this.state(symbol);
          st.afterReconnect = true;
          const from = st.lastTime > 0 ? Math.min(st.lastTime, downSince) : downSince;
          this.o.bus.publish('gap', { type: 'gap', exchange: this.exchange, symbol, from, to: at, cause: 'reconnect' });
        }
      },
    });
    return { name, streams, symbols, conn, sink };
  }

  private onTrade(t: Trade): void {
    const s = this.state(t.symbol);
    if (t.time > t.receivedAt + this.maxSkew) {
      this.o.metrics.messagesRejected.labels(this.exchange, 'future_timestamp').inc();
      this.logReject('future_timestamp', `trade time ${t.time} is ahead of the local clock ${t.receivedAt}`, '');
      return;
    }
    if (this.o.adapter.sequentialTradeIds && s.lastId >= 0) {
      if (t.id <= s.lastId) {
        this.o.metrics.messagesRejected.labels(this.exchange, 'duplicate_trade').inc();
        return;
      }
      if (t.id > s.lastId + 1) this.onIdGap(t, s);
    }
    s.lastId = t.id;
    s.afterReconnect = false;
    if (t.time > s.lastTime) s.lastTime = t.time;
    s.trades.inc();
    s.lastTrade.set(t.time / 1000);
    this.o.bus.publish('trade', t);
  }

  private onIdGap(t: Trade, s: SymbolState): void {
    const missing = t.id - s.lastId - 1;
    const afterReconnect = s.afterReconnect;
    const cause = afterReconnect ? 'reconnect' : 'stream';
    s.gaps++;
    this.o.metrics.tradeIdGaps.labels(this.exchange, t.symbol, cause).inc();
    this.o.metrics.tradeIdsMissing.labels(this.exchange, t.symbol).inc(missing);
    const log = this.o.log;
    const ctx = { exchange: this.exchange, symbol: t.symbol, lastId: s.lastId, id: t.id, missing, cause };
    if (cause === 'stream') log.warn(ctx, 'trade id gap: messages were dropped; the affected candles will be backfilled');
    else log.info(ctx, 'trade id gap across reconnect; the affected candles will be backfilled');
    this.o.bus.publish('gap', { type: 'gap', exchange: this.exchange, symbol: t.symbol, from: s.lastTime, to: t.time, cause: afterReconnect ? 'reconnect' : 'trade_id', missing });
  }

  private state(symbol: string): SymbolState {
    let s = this.symbols.get(symbol);
    if (!s) {
      s = {
        lastId: -1,
        lastTime: 0,
        gaps: 0,
        afterReconnect: false,
        trades: this.o.metrics.hot.tradesReceived.counter(this.o.metrics.tradesReceived, this.exchange, symbol),
        lastTrade: this.o.metrics.hot.lastTradeTimestamp.gauge(this.o.metrics.lastTradeTimestamp, this.exchange, symbol),
      };
      this.symbols.set(symbol, s);
    }
    return s;
  }

  /** Logs a rejected frame at most once per second per reason; the counter has them all. */
  private logReject(reason: string, detail: string, frame: string): void {
    const now = this.o.clock.now();
    if (now - (this.lastRejectLog.get(reason) ?? 0) < 1000) return;
    this.lastRejectLog.set(reason, now);
    this.o.log.warn({ exchange: this.exchange, reason, detail, frame: frame.slice(0, 300) }, 'frame rejected');
  }
}

/**
 * Packs streams into connections: all streams of a symbol in one stream group stay on one connection, each
 * connection under `max` streams and carrying one group only.
 */
export function shardStreams(streams: readonly StreamRef[], max: number): StreamRef[][] {
  const byGroupSymbol = new Map<string, StreamRef[]>();
  for (const s of streams) {
    const key = `${s.group ?? ''}\u0000${s.symbol}`;
    const list = byGroupSymbol.get(key);
    if (list) list.push(s);
    else byGroupSymbol.set(key, [s]);
  }
  const ordered = [...byGroupSymbol.values()].sort((a, b) => ((a[0]!.group ?? '') < (b[0]!.group ?? '') ? -1 : (a[0]!.group ?? '') > (b[0]!.group ?? '') ? 1 : 0));
  const shards: StreamRef[][] = [];
  let current: StreamRef[] = [];
  for (const list of ordered) {
    if (list.length > max) throw new RangeError(`one symbol needs ${list.length} streams, more than ${max} per connection`);
    if (current.length > 0 && (current.length + list.length > max || current[0]!.group !== list[0]!.group)) {
      shards.push(current);
      current = [];
    }
    current.push(...list);
  }
  if (current.length > 0) shards.push(current);
  return shards;
}
