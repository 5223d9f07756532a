/**
 * A collector runs one exchange adapter: it shards the streams over connections within the exchange's
 * limits, maps every frame, checks trade-id continuity, reports gaps (reconnects, id jumps) for backfill,
 * and publishes normalized trades and klines on the bus. Exchange-agnostic: everything exchange-specific
 * comes from the adapter.
 */
import type { Clock } from '../core/clock.js';
import type { Trade } from '../core/types.js';
import type { Bus } from '../bus/bus.js';
import type { Service } from '../core/service.js';
import type { Endpoints, EventSink, ExchangeAdapter, StreamRef, Subscription } from '../exchanges/adapter.js';
import type { Logger } from '../telemetry/logger.js';
import type { HotCounter } from '../telemetry/hot.js';
import type { FeedMetrics } from '../telemetry/metrics.js';
import type { BackoffOptions } from './backoff.js';
import { FeedConnection } from './connection.js';
import type { FeedHealth } from '../core/health.js';
import type { ExchangeId } from '../core/exchange-id.js';
import { errorText, LogThrottle } from '../telemetry/log-throttle.js';

export interface CollectorOptions {
  adapter: ExchangeAdapter;
  endpoints: Endpoints;
  subscription: Subscription;
  staleAfterMs: number;
  backoff: BackoffOptions;
  /** Trades stamped further than this ahead of the local clock are rejected (bad timestamp). Default 60 s. */
  maxClockSkewMs?: number;
  /**
   * Frames longer than this (UTF-16 code units, about bytes for exchange JSON) are rejected before parsing:
   * `frame_too_large`. Default 1 MiB; the exchanges' largest frames (snapshots of 50-1000 trades) stay far below.
   */
  maxFrameLength?: number;
  bus: Bus;
  clock: Clock;
  metrics: FeedMetrics;
  log: Logger;
  unreachableHint?: string;
}

export type { FeedHealth } from '../core/health.js';

/** What one collector has counted (`Collector.status()`): the same numbers its metrics expose. */
export interface FeedStatus {
  exchange: string;
  /** Frames received per connection shard. */
  connections: { connection: string; framesReceived: number }[];
  symbols: SymbolStatus[];
  /** Frames and trades the collector could not use, by reason. */
  rejected: Record<string, number>;
}

export interface SymbolStatus {
  symbol: string;
  tradesReceived: number;
  /** Exchange time (epoch ms) of the last trade received; null before the first. */
  lastTradeAt: number | null;
  /** Trade-id jumps, whatever their cause (stream or reconnect). */
  tradeIdGaps: number;
  tradeIdsMissing: number;
}

interface GapCounters {
  readonly stream: HotCounter;
  readonly reconnect: HotCounter;
  readonly missing: HotCounter;
}

/**
 * Everything a trade of one symbol touches in the collector, in one object: continuity state and the counted
 * series themselves (flushed to prom-client from these fields at scrape, HotSeries.counted/gauged), so a trade of
 * a random one of many symbols costs one record, not three.
 */
interface SymbolState {
  lastId: number;
  lastTime: number;
  /** The connection carrying this symbol reconnected since its last trade: an id jump is expected. */
  afterReconnect: boolean;
  /** trades_received_total of the symbol. */
  trades: number;
  /** Seconds, as exposed (last_trade_timestamp_seconds); 0 before the first trade. */
  lastTradeSec: number;
  /** Created on the first trade-id gap of the symbol. */
  gaps: GapCounters | null;
}

interface Shard {
  readonly name: string;
  readonly streams: StreamRef[];
  readonly symbols: string[];
  readonly conn: FeedConnection;
  readonly sink: EventSink;
}

export class Collector implements Service {
  /** `collector:<exchange>` in the lifecycle's logs. */
  readonly name: string;
  readonly exchange: ExchangeId;
  private readonly shards: Shard[] = [];
  private readonly symbols = new Map<string, SymbolState>();
  private readonly rejected = new Map<string, HotCounter>();
  private readonly rejectLog: LogThrottle;
  private readonly maxSkew: number;
  private readonly maxFrame: number;
  /** Symbols whose process was down until the given time (a restart): their first connection's open is a `startup` gap from it. */
  private readonly resumedAt = new Map<string, number>();

  constructor(private readonly o: CollectorOptions) {
    this.exchange = o.adapter.id;
    this.name = `collector:${o.adapter.id}`;
    this.maxSkew = o.maxClockSkewMs ?? 60_000;
    this.maxFrame = o.maxFrameLength ?? DEFAULT_MAX_FRAME_LENGTH;
    this.rejectLog = new LogThrottle(() => o.clock.now(), 1_000);
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

  /**
   * The process was down, and its startup gap for `symbol` reaches `until` (the restore): the time from then to
   * the first connection's open is a gap too — the first candle after it is joined part way and must be
   * backfilled, not kept as built from the trades seen.
   */
  resumeFrom(symbol: string, until: number): void {
    this.resumedAt.set(symbol, until);
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
    this.mapFrame(frame, receivedAt, s.sink);
  }

  /**
   * The one entry of every frame: a size bound before parsing, then the mapper. Whatever is thrown on the way
   * (the mapper, or a bus subscriber behind the sink) becomes a counted `mapper_exception` reject: no frame
   * ends the process (issue 19).
   */
  private mapFrame(frame: string, receivedAt: number, sink: EventSink): void {
    if (frame.length > this.maxFrame) {
      this.rejectCounter('frame_too_large').inc();
      this.logReject('frame_too_large', `frame of ${frame.length} characters, over the bound of ${this.maxFrame}`, frame);
      return;
    }
    try {
      this.o.adapter.mapper.map(frame, receivedAt, sink);
    } catch (err) {
      this.rejectCounter('mapper_exception').inc();
      this.logReject('mapper_exception', errorText(err), frame);
    }
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
        tradeIdGaps: s.symbols.reduce((n, sym) => n + gapCount(this.symbols.get(sym)), 0),
        lastError: s.conn.lastError,
      };
    });
  }

  /** What this collector has counted: frames per connection, trades, last trade, gaps per symbol, rejects. */
  status(): FeedStatus {
    const symbols: SymbolStatus[] = [];
    for (const [symbol, s] of this.symbols) {
      symbols.push({
        symbol,
        tradesReceived: s.trades,
        lastTradeAt: s.lastTradeSec === 0 ? null : Math.round(s.lastTradeSec * 1000),
        tradeIdGaps: gapCount(s),
        tradeIdsMissing: s.gaps?.missing.value ?? 0,
      });
    }
    const rejected: Record<string, number> = {};
    for (const [reason, c] of this.rejected) rejected[reason] = c.value;
    return { exchange: this.exchange, connections: this.shards.map((s) => ({ connection: s.name, framesReceived: s.conn.framesReceived })), symbols, rejected };
  }

  private createShard(name: string, streams: StreamRef[]): Shard {
    const { adapter, endpoints, metrics, log } = this.o;
    const symbols = [...new Set(streams.map((s) => s.symbol))];
    const sink: EventSink = {
      trade: (t) => this.onTrade(t),
      kline: (k) => {
        metrics.klinesReceived.labels(this.exchange, k.timeframe).inc();
        this.o.bus.publish('kline', k);
      },
      reject: (reason, detail, frame) => {
        this.rejectCounter(reason).inc();
        this.logReject(reason, detail, frame);
      },
      reconnect: (reason) => conn.reconnect(reason),
    };
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
      onFrame: (frame, receivedAt) => this.mapFrame(frame, receivedAt, sink),
      onOpen: (downSince, at) => {
        if (downSince === null) {
          for (const symbol of symbols) {
            const from = this.resumedAt.get(symbol);
            if (from === undefined) continue;
            this.resumedAt.delete(symbol);
            this.o.bus.publish('gap', { type: 'gap', exchange: this.exchange, symbol, from, to: at, cause: 'startup' });
          }
          return;
        }
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
      this.rejectCounter('future_timestamp').inc();
      this.logReject('future_timestamp', `trade time ${t.time} is ahead of the local clock ${t.receivedAt}`, '');
      return;
    }
    if (this.o.adapter.sequentialTradeIds && s.lastId >= 0) {
      if (t.id <= s.lastId) {
        this.rejectCounter('duplicate_trade').inc();
        return;
      }
      if (t.id > s.lastId + 1) this.onIdGap(t, s);
    }
    s.lastId = t.id;
    s.afterReconnect = false;
    if (t.time > s.lastTime) s.lastTime = t.time;
    s.trades += 1;
    s.lastTradeSec = t.time / 1000;
    this.o.bus.publish('trade', t);
  }

  private onIdGap(t: Trade, s: SymbolState): void {
    const missing = t.id - s.lastId - 1;
    const afterReconnect = s.afterReconnect;
    const cause = afterReconnect ? 'reconnect' : 'stream';
    const gaps = (s.gaps ??= this.gapCounters(t.symbol));
    gaps[cause].inc();
    gaps.missing.inc(missing);
    const log = this.o.log;
    const ctx = { exchange: this.exchange, symbol: t.symbol, lastId: s.lastId, id: t.id, missing, cause };
    if (cause === 'stream') log.warn(ctx, 'trade id gap: messages were dropped; the affected candles will be backfilled');
    else log.info(ctx, 'trade id gap across reconnect; the affected candles will be backfilled');
    this.o.bus.publish('gap', { type: 'gap', exchange: this.exchange, symbol: t.symbol, from: s.lastTime, to: t.time, cause: afterReconnect ? 'reconnect' : 'trade_id', missing });
  }

  private state(symbol: string): SymbolState {
    let s = this.symbols.get(symbol);
    if (!s) {
      const m = this.o.metrics;
      const st: SymbolState = { lastId: -1, lastTime: 0, afterReconnect: false, trades: 0, lastTradeSec: 0, gaps: null };
      m.hot.tradesReceived.counted(m.tradesReceived, () => st.trades, this.exchange, symbol);
      m.hot.lastTradeTimestamp.gauged(m.lastTradeTimestamp, () => st.lastTradeSec, this.exchange, symbol);
      this.symbols.set(symbol, (s = st));
    }
    return s;
  }

  private gapCounters(symbol: string): GapCounters {
    const m = this.o.metrics;
    return {
      stream: m.hot.tradeIdGaps.counter(m.tradeIdGaps, this.exchange, symbol, 'stream'),
      reconnect: m.hot.tradeIdGaps.counter(m.tradeIdGaps, this.exchange, symbol, 'reconnect'),
      missing: m.hot.tradeIdsMissing.counter(m.tradeIdsMissing, this.exchange, symbol),
    };
  }

  /** The counter of rejects for `reason`, one per reason (a Map lookup, as the label child cache was). */
  private rejectCounter(reason: string): HotCounter {
    let c = this.rejected.get(reason);
    if (!c) this.rejected.set(reason, (c = this.o.metrics.hot.messagesRejected.counter(this.o.metrics.messagesRejected, this.exchange, reason)));
    return c;
  }

  /** Logs a rejected frame at most once per second per reason, with the number not logged since; the counter has them all. */
  private logReject(reason: string, detail: string, frame: string): void {
    const suppressed = this.rejectLog.take(reason);
    if (suppressed < 0) return;
    this.o.log.warn({ exchange: this.exchange, reason, detail, frame: frame.slice(0, 300), suppressed }, 'frame rejected');
  }
}

const DEFAULT_MAX_FRAME_LENGTH = 1024 * 1024;

function gapCount(s: SymbolState | undefined): number {
  return s?.gaps ? s.gaps.stream.value + s.gaps.reconnect.value : 0;
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
