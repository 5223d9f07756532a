/**
 * A simulated Binance spot exchange on loopback that speaks Binance's real wire protocol (market streams and the
 * public REST endpoints), for `candlestack demo` and for tests. Trades come from a seeded price process every tickMs
 * (for the time that actually elapsed, so the rate holds when timers run late);
 * every trade (sent or not) goes into the exchange's own klines, so REST klines are what a correct aggregator of
 * all trades gets. Controls let tests inject the failures a collector must survive.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KlineBook, klineStreamObject } from './kline-book.js';
import type { KlineBar } from './kline-book.js';
import { DEFAULT_SYMBOLS, MarketGenerator, formatUnits, parseUnits } from './price-process.js';
import type { SymbolSpec, TradeDraft } from './price-process.js';
import { RestApi } from './rest-api.js';
import type { RestRequestRecord, SimTrade } from './rest-api.js';
import { StreamHub, parseStreamName } from './stream-hub.js';
import { systemClock, type Clock, type Timer } from '../../core/clock.js';

export type { SimTrade } from './rest-api.js';

export interface SimulatedBinanceOptions {
  /** Binance symbols (BTCUSDT; the canonical BTC-USDT is read the same). */
  symbols?: string[];
  seed?: number;
  /** Average trades per second over all symbols (default 20). */
  tradesPerSecond?: number;
  /** Generation tick (default 50 ms). */
  tickMs?: number;
  /** Ping frame cadence (default 20000 ms, as Binance). */
  pingIntervalMs?: number;
  /** Disconnect a client whose pong is this late (default 60000 ms, as Binance). */
  pongTimeoutMs?: number;
  /** Cadence of `@kline_<interval>` updates of the open kline (default 1000 ms; Binance: 1000 for 1s, else 2000). */
  klinePushIntervalMs?: number;
  /** Exchange clock for trade/event times and kline periods (default Date.now). */
  now?: () => number;
  /**
   * The exchange's clock, timers included (overrides `now`): trade generation (every `tickMs` of this clock) and
   * open-kline pushes follow it, so a test stepping a clock it shares with the code under test gets the same
   * trades and klines whatever the machine's load. Connection housekeeping (pings, pong timeouts) stays on real time.
   */
  clock?: Clock;
  host?: string;
  port?: number;
  /**
   * Trades kept per symbol for `GET /api/v3/aggTrades` (default 1000, Binance's largest page). A load test over
   * thousands of symbols that never asks for them keeps fewer: 1000 × 2,000 symbols is two million trade
   * objects on the load generator's own heap.
   */
  recentTradesKept?: number;
}

export type TradeListener = (t: SimTrade) => void;

const RECENT_TRADES_KEPT = 1000;
/** The most time one generation tick makes up for after a stall of the process (longer stalls lose the rest). */
const MAX_TICK_CATCH_UP_MS = 1000;

export class SimulatedBinance {
  readonly symbols: string[];
  private readonly specs: readonly SymbolSpec[];
  private readonly now: () => number;
  private readonly clock = (): number => performance.now();
  private readonly tickMs: number;
  private readonly klinePushIntervalMs: number;
  private readonly host: string;
  private readonly port: number;
  private readonly generator: MarketGenerator;
  private readonly books = new Map<string, KlineBook>();
  private readonly nextTradeId = new Map<string, number>();
  private readonly nextAggId = new Map<string, number>();
  private readonly recent = new Map<string, SimTrade[]>();
  private readonly haltedUntil = new Map<string, number>();
  private readonly listeners: TradeListener[] = [];
  private readonly hub: StreamHub;
  private readonly hubTimings: { pingIntervalMs: number; pongTimeoutMs: number };
  private readonly rest: RestApi;
  private server: Server | null = null;
  private timers: Timer[] = [];
  private readonly venueClock: Clock;
  private tradesGenerated = 0;
  private readonly recentTradesKept: number;
  /** clock() at the last generation tick: each tick generates the time actually elapsed, so a late timer (a busy machine) does not lower the rate. */
  private lastTickAt = 0;

  constructor(opts: SimulatedBinanceOptions = {}) {
    this.symbols = [...new Set((opts.symbols ?? DEFAULT_SYMBOLS).map(binanceSpelling))];
    this.venueClock = opts.clock ?? systemClock;
    const clock = opts.clock;
    this.now = clock ? () => clock.now() : (opts.now ?? Date.now);
    this.tickMs = opts.tickMs ?? 50;
    this.recentTradesKept = Math.max(0, opts.recentTradesKept ?? RECENT_TRADES_KEPT);
    this.klinePushIntervalMs = opts.klinePushIntervalMs ?? 1000;
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? 0;
    this.generator = new MarketGenerator(this.symbols, { seed: opts.seed ?? 1, tradesPerSecond: opts.tradesPerSecond ?? 20 });
    this.specs = this.generator.specs;
    const start = this.now();
    this.symbols.forEach((symbol, i) => {
      this.books.set(symbol, new KlineBook(symbol, this.generator.lastPriceUnits(symbol), start));
      this.nextTradeId.set(symbol, 100_000_000 * (i + 1) + 1);
      this.nextAggId.set(symbol, 50_000_000 * (i + 1) + 1);
      this.recent.set(symbol, []);
    });
    this.hubTimings = { pingIntervalMs: opts.pingIntervalMs ?? 20_000, pongTimeoutMs: opts.pongTimeoutMs ?? 60_000 };
    this.hub = new StreamHub({ ...this.hubTimings, clock: this.clock });
    this.rest = new RestApi({
      specs: this.specs,
      now: () => this.now(),
      book: (symbol) => {
        const book = this.books.get(symbol);
        if (book) this.closePeriods(book, this.now());
        return book;
      },
      recentTrades: (symbol) => this.recent.get(symbol) ?? [],
    });
  }

  /** Listens on host:port (port 0: any free port) and starts generating trades. */
  async start(): Promise<{ wsBaseUrl: string; restBaseUrl: string }> {
    if (this.server) throw new Error('already started');
    const server = createServer((req, res) => this.rest.handle(req, res));
    server.on('upgrade', (req, socket, head) => this.hub.handleUpgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => resolve());
    });
    this.server = server;
    this.lastTickAt = this.clock();
    const pingMs = this.hubTimings.pingIntervalMs;
    const housekeepingMs = Math.max(5, Math.min(250, pingMs / 2, this.hubTimings.pongTimeoutMs / 2));
    this.timers = [
      this.venueClock.setInterval(() => this.tick(), this.tickMs),
      this.venueClock.setInterval(() => this.pushOpenKlines(), this.klinePushIntervalMs),
      systemClock.setInterval(() => this.hub.housekeeping(), housekeepingMs),
    ];
    const { port } = server.address() as AddressInfo;
    return { wsBaseUrl: `ws://${this.host}:${port}`, restBaseUrl: `http://${this.host}:${port}` };
  }

  async stop(): Promise<void> {
    for (const t of this.timers) t.cancel();
    this.timers = [];
    const server = this.server;
    this.server = null;
    await this.hub.close();
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Terminates every client socket abruptly (no close frame). */
  dropConnections(): void {
    this.hub.dropAll();
  }

  /** Keeps sockets open but sends nothing for ms (a stall); trades are still generated and recorded, not sent. */
  pauseStreams(ms: number): void {
    this.hub.pause(ms);
  }

  /** Sends Binance's serverShutdown event, {"e":"serverShutdown","E":<ms>}, on every connection. */
  sendServerShutdown(): void {
    this.hub.broadcast({ e: 'serverShutdown', E: this.now() });
  }

  /** Sends an event type Binance may add and the collector does not know ({"e":type,"E":<ms>}) on every connection. */
  sendUnknownEvent(type = 'newEventType'): void {
    this.hub.broadcast({ e: type, E: this.now() });
  }

  /** n trades of symbol happen now but are not sent: the next trade id a client sees jumps by n. */
  skipTradeIds(symbol: string, n: number): void {
    const sym = this.known(symbol);
    const t = this.now();
    for (const d of this.generator.forceTrades(sym, n)) this.record(d, t, false);
  }

  /**
   * One trade of symbol happens now at `factor` × the current price (a fat-finger print) and is sent like any
   * other (it is in the exchange's klines too); the price process carries on from where it was.
   */
  injectOutlier(symbol: string, factor: number): void {
    if (!(factor > 0) || !Number.isFinite(factor)) throw new RangeError(`factor must be a positive number, got ${factor}`);
    const sym = this.known(symbol);
    const draft = this.generator.forceTrades(sym, 1)[0]!;
    const tick = parseUnits(this.specs.find((s) => s.symbol === sym)!.tickSize);
    const priceUnits = BigInt(Math.max(1, Math.round((Number(draft.priceUnits) * factor) / Number(tick)))) * tick;
    this.record({ ...draft, priceUnits, price: formatUnits(priceUnits) }, this.now(), true);
  }

  /** No trades at all for symbol during ms. */
  haltSymbol(symbol: string, ms: number): void {
    this.haltedUntil.set(this.known(symbol), this.clock() + ms);
  }

  /** The next `count` REST calls answer `status` with Retry-After and {"code":-1003,...}. */
  rateLimitRest(count: number, status: 429 | 418 = 429, retryAfterSeconds = 1): void {
    this.rest.rateLimit(count, status, retryAfterSeconds);
  }

  /** The next `count` REST calls fail with 503 (an exchange-side outage); 0 ends it. */
  failRest(count: number): void {
    this.rest.fail(count);
  }

  /** Fault control: the REST requests the exchange answered (the most recent 10,000), oldest first, with their status. */
  restRequests(): readonly RestRequestRecord[] {
    return this.rest.requestLog;
  }

  /** Refuses new WebSocket connections (HTTP 503 on upgrade) and drops existing ones, until resumeFeed(). */
  stopFeed(): void {
    this.hub.refusing = true;
    this.hub.dropAll();
  }

  resumeFeed(): void {
    this.hub.refusing = false;
  }

  /** Changes the average trades per second over all symbols from the next tick on (a load ramp). */
  setTradesPerSecond(tradesPerSecond: number): void {
    this.generator.setTradesPerSecond(tradesPerSecond);
  }

  /** Every generated trade, sent or not. */
  onTrade(listener: TradeListener): void {
    this.listeners.push(listener);
  }

  stats(): { tradesGenerated: number; connections: number; framesSent: number } {
    return { tradesGenerated: this.tradesGenerated, connections: this.hub.connections, framesSent: this.hub.framesSent };
  }

  private tick(): void {
    const t = this.now();
    for (const book of this.books.values()) this.closePeriods(book, t);
    const clock = this.clock();
    const elapsed = Math.min(MAX_TICK_CATCH_UP_MS, Math.max(0, clock - this.lastTickAt));
    this.lastTickAt = clock;
    const drafts = this.generator.tick(elapsed, (s) => (this.haltedUntil.get(s) ?? -Infinity) <= clock);
    for (const d of drafts) this.record(d, t, true);
  }

  private record(d: TradeDraft, time: number, send: boolean): void {
    const book = this.books.get(d.symbol);
    const id = this.nextTradeId.get(d.symbol);
    const aggId = this.nextAggId.get(d.symbol);
    if (!book || id === undefined || aggId === undefined) return;
    this.nextTradeId.set(d.symbol, id + 1);
    this.nextAggId.set(d.symbol, aggId + 1);
    const trade: SimTrade = { symbol: d.symbol, id, aggId, price: d.price, qty: d.qty, time, buyerIsMaker: d.buyerIsMaker };
    this.closePeriods(book, time);
    book.addTrade({ id, priceUnits: d.priceUnits, qtyUnits: d.qtyUnits, time, buyerIsMaker: d.buyerIsMaker });
    const recent = this.recent.get(d.symbol);
    if (recent && this.recentTradesKept > 0) {
      recent.push(trade);
      if (recent.length > this.recentTradesKept) recent.splice(0, recent.length - this.recentTradesKept);
    }
    this.tradesGenerated++;
    for (const l of this.listeners) l(trade);
    if (!send) return;
    const lower = d.symbol.toLowerCase();
    const E = this.now();
    const common = { p: d.price, q: d.qty };
    this.hub.publish(`${lower}@trade`, { e: 'trade', E, s: d.symbol, t: id, ...common, T: time, m: d.buyerIsMaker, M: true });
    this.hub.publish(`${lower}@aggTrade`, { e: 'aggTrade', E, s: d.symbol, a: aggId, ...common, f: id, l: id, T: time, m: d.buyerIsMaker, M: true });
  }

  /** Closes finished periods and sends each closed kline once, with "x":true. */
  private closePeriods(book: KlineBook, time: number): void {
    for (const bar of book.advanceTo(time)) this.publishKline(bar);
  }

  private pushOpenKlines(): void {
    const t = this.now();
    const streams = new Set(this.hub.subscribedStreams());
    for (const name of streams) {
      const parsed = parseStreamName(name);
      const book = parsed?.kind === 'kline' ? this.books.get(parsed.symbol) : undefined;
      if (!book || parsed?.kind !== 'kline') continue;
      this.closePeriods(book, t);
      this.publishKline(book.current(parsed.interval));
    }
  }

  private publishKline(bar: KlineBar): void {
    this.hub.publish(`${bar.symbol.toLowerCase()}@kline_${bar.interval}`, { e: 'kline', E: this.now(), s: bar.symbol, k: klineStreamObject(bar) });
  }

  private known(symbol: string): string {
    const upper = binanceSpelling(symbol);
    if (!this.books.has(upper)) throw new Error(`unknown symbol ${symbol}`);
    return upper;
  }
}

/** Binance's spelling of a symbol given natively (btcusdt) or canonically (BTC-USDT). */
function binanceSpelling(symbol: string): string {
  return symbol.replace('-', '').toUpperCase();
}
