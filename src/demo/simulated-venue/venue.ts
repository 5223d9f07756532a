/**
 * A simulated exchange on loopback for everything that is not Binance (Binance has its own, fuller simulator):
 * one seeded price process (the same one SimulatedBinance uses, so venues started with the same seed and
 * symbols trade along the same price path), the venue's own klines from every trade, a WebSocket server with
 * per-connection topic subscriptions, and the failure controls tests need. Everything exchange-specific —
 * paths, subscribe messages, heartbeats, frame layouts, REST candles — is a VenueProtocol
 * (coinbase.ts, kraken.ts, bybit.ts, okx.ts next to this file).
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import type { Side } from '../../core/types.js';
import { splitCanonical } from '../../core/symbols.js';
import { KlineBook } from '../simulated-binance/kline-book.js';
import type { KlineBar } from '../simulated-binance/kline-book.js';
import { MarketGenerator } from '../simulated-binance/price-process.js';
import type { TradeDraft } from '../simulated-binance/price-process.js';
import { systemClock, type Clock, type Timer } from '../../core/clock.js';

/** One trade on the venue. `symbol` is canonical (BTC-USDT); `side` is the taker's. */
export interface VenueTrade {
  readonly symbol: string;
  readonly id: number;
  readonly price: string;
  readonly qty: string;
  readonly time: number;
  readonly side: Side;
}

/** What a protocol can read from the venue. */
export interface VenueContext {
  /** Exchange clock, epoch ms. */
  now(): number;
  readonly symbols: readonly string[];
  /** The klines of a canonical symbol, periods closed up to now; undefined for a symbol not listed. */
  book(symbol: string): KlineBook | undefined;
  recentTrades(symbol: string): readonly VenueTrade[];
}

export interface VenueSession {
  readonly id: number;
  /** Topics this connection receives (names are the protocol's). */
  readonly topics: Set<string>;
  /** Monotonic ms when the connection opened. */
  readonly openedAt: number;
  /** Monotonic ms of the last message from the client. */
  lastIncomingAt: number;
  /** The protocol's per-connection state. */
  readonly data: Record<string, unknown>;
  /** The upgrade request's URL. */
  readonly url: URL;
  send(frame: string): void;
  close(code: number, reason: string): void;
}

export interface VenueProtocol {
  readonly name: string;
  /** True when a WebSocket upgrade to this path is a feed connection. */
  acceptsPath(url: URL): boolean;
  onOpen?(s: VenueSession, ctx: VenueContext): void;
  onMessage(s: VenueSession, text: string, ctx: VenueContext): void;
  /** Called every housekeeping tick (~100 ms) per connection: heartbeats, timeouts. `mono` is monotonic ms. */
  housekeeping?(s: VenueSession, ctx: VenueContext, mono: number): void;
  /** The frames one trade produces, each with the topic it goes to. */
  tradeFrames(t: VenueTrade): Iterable<readonly [topic: string, frame: string]>;
  /** The topic a kline of (canonical symbol, interval) goes to; null when the protocol streams no klines. */
  klineTopic(bar: KlineBar, symbol: string): string | null;
  klineFrame(bar: KlineBar, symbol: string, topic: string): string;
  /** Answers a REST request; false for an unknown path (the venue answers 404). */
  handleRest(req: IncomingMessage, url: URL, res: ServerResponse, ctx: VenueContext): boolean;
}

export interface SimulatedVenueOptions {
  protocol: VenueProtocol;
  /** Canonical symbols (default BTC-USDT, ETH-USDT). */
  symbols?: readonly string[];
  seed?: number;
  tradesPerSecond?: number;
  tickMs?: number;
  /** Cadence of open-kline pushes (default 1000 ms). */
  klinePushIntervalMs?: number;
  now?: () => number;
  /**
   * The venue's clock, timers included (overrides `now`): trade generation (every `tickMs` of this clock) and
   * open-kline pushes follow it, so a test stepping a clock it shares with the code under test gets the same
   * trades and klines whatever the machine's load. Session housekeeping (heartbeats, timeouts) stays on real time.
   */
  clock?: Clock;
  host?: string;
  port?: number;
}

const RECENT_TRADES_KEPT = 1000;
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
const HOUSEKEEPING_MS = 100;

interface Listing {
  readonly symbol: string;
  /** The price process's key (BASEQUOTE). */
  readonly key: string;
  readonly book: KlineBook;
  nextId: number;
  readonly recent: VenueTrade[];
  haltedUntil: number;
}

export class SimulatedVenue {
  readonly symbols: string[];
  readonly protocol: VenueProtocol;
  private readonly now: () => number;
  private readonly mono = (): number => performance.now();
  private readonly listings = new Map<string, Listing>();
  private readonly byKey = new Map<string, Listing>();
  private readonly generator: MarketGenerator;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sessions = new Map<VenueSession, WebSocket>();
  private readonly listeners: ((t: VenueTrade) => void)[] = [];
  private readonly ctx: VenueContext;
  private server: Server | null = null;
  private timers: Timer[] = [];
  private pausedUntil = -Infinity;
  private refusing = false;
  private restFailures = 0;
  private nextSessionId = 1;
  private tradesGenerated = 0;
  private framesSent = 0;

  constructor(private readonly o: SimulatedVenueOptions) {
    this.protocol = o.protocol;
    this.symbols = [...new Set(o.symbols ?? ['BTC-USDT', 'ETH-USDT'])];
    const clock = o.clock;
    this.now = clock ? () => clock.now() : (o.now ?? Date.now);
    const keys = this.symbols.map((s) => {
      const parts = splitCanonical(s);
      if (!parts) throw new RangeError(`venue symbols are canonical BASE-QUOTE, got ${s}`);
      return parts.base + parts.quote;
    });
    this.generator = new MarketGenerator(keys, { seed: o.seed ?? 1, tradesPerSecond: o.tradesPerSecond ?? 20 });
    const start = this.now();
    this.symbols.forEach((symbol, i) => {
      const key = keys[i]!;
      const listing: Listing = { symbol, key, book: new KlineBook(symbol, this.generator.lastPriceUnits(key), start), nextId: 1_000_000 * (i + 1) + 1, recent: [], haltedUntil: -Infinity };
      this.listings.set(symbol, listing);
      this.byKey.set(key, listing);
    });
    this.ctx = {
      now: () => this.now(),
      symbols: this.symbols,
      book: (symbol) => {
        const l = this.listings.get(symbol);
        if (l) this.closePeriods(l, this.now());
        return l?.book;
      },
      recentTrades: (symbol) => this.listings.get(symbol)?.recent ?? [],
    };
  }

  async start(): Promise<{ wsBaseUrl: string; restBaseUrl: string }> {
    if (this.server) throw new Error('already started');
    const server = createServer((req, res) => this.rest(req, res));
    server.on('upgrade', (req: IncomingMessage, socket, head) => {
      socket.on('error', () => socket.destroy());
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (this.refusing || !this.protocol.acceptsPath(url)) {
        socket.end(`HTTP/1.1 ${this.refusing ? '503 Service Unavailable' : '404 Not Found'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.open(ws, url));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port ?? 0, this.o.host ?? '127.0.0.1', () => resolve());
    });
    this.server = server;
    const tickMs = this.o.tickMs ?? 50;
    const venueClock = this.o.clock ?? systemClock;
    this.timers = [
      venueClock.setInterval(() => this.tick(tickMs), tickMs),
      venueClock.setInterval(() => this.pushOpenKlines(), this.o.klinePushIntervalMs ?? 1000),
      systemClock.setInterval(() => this.housekeeping(), HOUSEKEEPING_MS),
    ];
    const { port } = server.address() as AddressInfo;
    const host = this.o.host ?? '127.0.0.1';
    return { wsBaseUrl: `ws://${host}:${port}`, restBaseUrl: `http://${host}:${port}` };
  }

  async stop(): Promise<void> {
    for (const t of this.timers) t.cancel();
    this.timers = [];
    for (const ws of this.sessions.values()) ws.terminate();
    this.sessions.clear();
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Terminates every connection abruptly (no close frame). */
  dropConnections(): void {
    for (const ws of this.sessions.values()) ws.terminate();
  }

  /** Keeps connections open but sends nothing (no data, no heartbeats) for ms; trades still happen. */
  pauseStreams(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.mono() + ms);
  }

  /** Refuses new connections (HTTP 503) and drops the open ones until resumeFeed(). */
  stopFeed(): void {
    this.refusing = true;
    this.dropConnections();
  }

  resumeFeed(): void {
    this.refusing = false;
  }

  /** n trades of symbol happen now but are not sent: the next trade id a client sees jumps by n. */
  skipTradeIds(symbol: string, n: number): void {
    const l = this.listing(symbol);
    for (const d of this.generator.forceTrades(l.key, n)) this.record(l, d, this.now(), false);
  }

  /** No trades for symbol during ms. */
  haltSymbol(symbol: string, ms: number): void {
    this.listing(symbol).haltedUntil = this.mono() + ms;
  }

  /** The next `count` REST calls fail with 503. */
  failRest(count: number): void {
    this.restFailures = count;
  }

  /** Sends a raw text frame on every connection (unknown events, malformed frames). */
  broadcast(frame: string): void {
    for (const s of this.sessions.keys()) s.send(frame);
  }

  onTrade(listener: (t: VenueTrade) => void): void {
    this.listeners.push(listener);
  }

  stats(): { tradesGenerated: number; connections: number; framesSent: number } {
    return { tradesGenerated: this.tradesGenerated, connections: this.sessions.size, framesSent: this.framesSent };
  }

  private open(ws: WebSocket, url: URL): void {
    const mono = this.mono();
    const session: VenueSession = {
      id: this.nextSessionId++,
      topics: new Set(),
      openedAt: mono,
      lastIncomingAt: mono,
      data: {},
      url,
      send: (frame) => {
        if (ws.readyState !== ws.OPEN) return;
        if (ws.bufferedAmount > MAX_BUFFERED_BYTES) return ws.terminate();
        ws.send(frame);
        this.framesSent++;
      },
      close: (code, reason) => ws.close(code, reason),
    };
    this.sessions.set(session, ws);
    ws.on('message', (data, isBinary) => {
      session.lastIncomingAt = this.mono();
      if (!isBinary) this.protocol.onMessage(session, data.toString(), this.ctx);
    });
    ws.on('close', () => this.sessions.delete(session));
    ws.on('error', () => ws.terminate());
    this.protocol.onOpen?.(session, this.ctx);
  }

  private rest(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (this.restFailures > 0) {
      this.restFailures--;
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"message":"service unavailable"}');
      return;
    }
    if (!this.protocol.handleRest(req, url, res, this.ctx)) res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"not found"}');
  }

  private paused(): boolean {
    return this.mono() < this.pausedUntil;
  }

  private housekeeping(): void {
    if (this.paused() || !this.protocol.housekeeping) return;
    const mono = this.mono();
    for (const s of this.sessions.keys()) this.protocol.housekeeping(s, this.ctx, mono);
  }

  private tick(tickMs: number): void {
    const t = this.now();
    for (const l of this.listings.values()) this.closePeriods(l, t);
    const mono = this.mono();
    for (const d of this.generator.tick(tickMs, (key) => (this.byKey.get(key)?.haltedUntil ?? -Infinity) <= mono)) {
      const l = this.byKey.get(d.symbol);
      if (l) this.record(l, d, t, true);
    }
  }

  private record(l: Listing, d: TradeDraft, time: number, send: boolean): void {
    const trade: VenueTrade = { symbol: l.symbol, id: l.nextId++, price: d.price, qty: d.qty, time, side: d.buyerIsMaker ? 'sell' : 'buy' };
    this.closePeriods(l, time);
    l.book.addTrade({ id: trade.id, priceUnits: d.priceUnits, qtyUnits: d.qtyUnits, time, buyerIsMaker: d.buyerIsMaker });
    l.recent.push(trade);
    if (l.recent.length > RECENT_TRADES_KEPT) l.recent.splice(0, l.recent.length - RECENT_TRADES_KEPT);
    this.tradesGenerated++;
    for (const listener of this.listeners) listener(trade);
    if (send) for (const [topic, frame] of this.protocol.tradeFrames(trade)) this.publish(topic, frame);
  }

  private closePeriods(l: Listing, time: number): void {
    for (const bar of l.book.advanceTo(time)) this.publishKline(l.symbol, bar);
  }

  private pushOpenKlines(): void {
    const t = this.now();
    for (const l of this.listings.values()) {
      this.closePeriods(l, t);
      for (const interval of l.book.intervals) this.publishKline(l.symbol, l.book.current(interval));
    }
  }

  private publishKline(symbol: string, bar: KlineBar): void {
    const topic = this.protocol.klineTopic(bar, symbol);
    if (topic === null || !this.subscribed(topic)) return;
    this.publish(topic, this.protocol.klineFrame(bar, symbol, topic));
  }

  private subscribed(topic: string): boolean {
    for (const s of this.sessions.keys()) if (s.topics.has(topic)) return true;
    return false;
  }

  private publish(topic: string, frame: string): void {
    if (this.paused()) return;
    for (const s of this.sessions.keys()) if (s.topics.has(topic)) s.send(frame);
  }

  private listing(symbol: string): Listing {
    const l = this.listings.get(symbol);
    if (!l) throw new Error(`unknown symbol ${symbol}`);
    return l;
  }
}
