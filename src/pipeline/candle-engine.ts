/**
 * The candle engine: trades in, candle events out, for every configured timeframe at once.
 *
 * - A trade is parsed once and applied to each timeframe's forming candle (no allocation per trade).
 * - A period closes on the clock (`tick`), `graceMs` after its end, not on the next trade, so a quiet market
 *   still gets its bar. A trade already in the next period moves the forming candle into a `closing` slot
 *   where it can still take out-of-order trades until its grace ends.
 * - A period without trades is open = high = low = close = previous close, volume 0 (Binance's rule).
 * - A trade for a period that has closed is late: counted, then dropped or (policy `amend`) applied to the
 *   closed candle, which is re-published as a `correction`.
 * - Forming candles are published as `update` events at most once per tick, only when they changed; a series
 *   someone watches live (`setWatched`) also gets its update right after the batch of trades that changed it
 *   (`defer`, e.g. setImmediate: one update per series per batch), so live latency does not wait for the tick.
 */
import { fixed8, parseFixed8, type Fixed8 } from '../core/decimal.js';
import type { Clock } from '../core/clock.js';
import type { Candle, CandleEvent, CandleEventKind, Trade } from '../core/types.js';
import { periodStart, sortTimeframes, timeframeMs, type Timeframe } from '../core/timeframe.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Logger } from '../telemetry/logger.js';
import { CandleState } from './candle-state.js';

export const LATE_POLICIES = ['drop', 'amend'] as const;
export type LatePolicy = (typeof LATE_POLICIES)[number];

export interface CandleEngineOptions {
  timeframes: readonly Timeframe[];
  graceMs: number;
  latePolicy: LatePolicy;
  clock: Clock;
  metrics: Metrics;
  log: Logger;
  emit: (event: CandleEvent) => void;
  /** Closed candles kept per timeframe for late amendments, backfill and reconciliation. Default 3. */
  keepClosed?: number;
  /** Runs a function after the current batch of trades (setImmediate); enables prompt updates of watched series. */
  defer?: (fn: () => void) => void;
  /**
   * Skip a trade whose id is not above the highest id already applied to its symbol (counted as
   * `messages_rejected_total{reason="redelivered"}`). For a bus that may redeliver (Kafka) and exchanges with
   * sequential trade ids; the watermark survives restarts through the stored candles' `lastTradeId`.
   */
  dedupeTradeIds?: boolean;
}

/** Empty periods filled in one step at most; a longer jump restarts the series instead (bad clock or data). */
const MAX_EMPTY_FILL = 100_000;

interface FrameState {
  readonly tf: Timeframe;
  readonly tfMs: number;
  open: CandleState | null;
  closing: CandleState | null;
  /** Closed candles, oldest first. */
  readonly recent: CandleState[];
  /** Someone watches this series live: publish its updates right after the trades (see `defer`). */
  watched: boolean;
  /** In the prompt-update queue already. */
  queued: boolean;
  readonly m: {
    completed: { inc(): void };
    latency: { observe(v: number): void };
    lateDropped: { inc(): void };
    lateAmended: { inc(): void };
    lateTooOld: { inc(): void };
    closePrice: { set(v: number): void };
    volume: { set(v: number): void };
  };
}

interface Book {
  readonly exchange: string;
  readonly symbol: string;
  readonly frames: FrameState[];
  /** Recent gaps [from, to]: a candle created later for a period touching one starts out incomplete. */
  readonly gaps: { from: number; to: number }[];
  /** Highest trade id applied (or restored); -1 when none. */
  lastTradeId: number;
}

/** Gaps remembered per symbol for candles not created yet (e.g. the startup gap, before the first trade). */
const MAX_GAPS = 16;

export class CandleEngine {
  private readonly books = new Map<string, Map<string, Book>>();
  private readonly timeframes: Timeframe[];
  private readonly keep: number;
  private readonly price: Fixed8 = fixed8();
  private readonly qty: Fixed8 = fixed8();
  private readonly scratch: Fixed8 = fixed8();
  private prompt: { book: Book; frame: FrameState }[] = [];

  constructor(private readonly o: CandleEngineOptions) {
    this.timeframes = sortTimeframes(o.timeframes);
    this.keep = Math.max(1, o.keepClosed ?? 3);
  }

  /** Applies one trade to every timeframe. Returns false (and counts it) if its price or qty is not a decimal. */
  onTrade(t: Trade): boolean {
    const p = this.price;
    const q = this.qty;
    if (!parseFixed8(t.price, p) || !parseFixed8(t.qty, q)) {
      this.o.metrics.messagesRejected.labels(t.exchange, 'invalid_decimal').inc();
      this.o.log.warn({ exchange: t.exchange, symbol: t.symbol, price: t.price, qty: t.qty }, 'trade with invalid decimal dropped');
      return false;
    }
    const book = this.book(t.exchange, t.symbol);
    if (this.o.dedupeTradeIds) {
      if (t.id <= book.lastTradeId) {
        this.o.metrics.messagesRejected.labels(t.exchange, 'redelivered').inc();
        return true;
      }
      book.lastTradeId = t.id;
    }
    for (const frame of book.frames) {
      const period = periodStart(t.time, frame.tfMs);
      const open = frame.open;
      if (open === null) {
        const s = this.create(book, frame, period, t.price, p.int, p.frac);
        s.applyTrade(t, p, q);
        frame.open = s;
      } else if (period === open.openTime) {
        open.applyTrade(t, p, q);
      } else if (period > open.openTime) {
        this.rollTo(book, frame, period);
        frame.open!.applyTrade(t, p, q);
      } else if (frame.closing !== null && period === frame.closing.openTime) {
        frame.closing.applyTrade(t, p, q);
      } else {
        this.late(book, frame, period, t);
      }
      if (frame.watched && !frame.queued) this.queuePrompt(book, frame);
    }
    return true;
  }

  /** Whether a series is watched live; watched series get prompt updates when the engine has `defer`. */
  setWatched(exchange: string, symbol: string, tf: Timeframe, watched: boolean): void {
    const frame = this.book(exchange, symbol).frames.find((f) => f.tf === tf);
    if (frame) frame.watched = watched && this.o.defer !== undefined;
  }

  private queuePrompt(book: Book, frame: FrameState): void {
    frame.queued = true;
    this.prompt.push({ book, frame });
    if (this.prompt.length === 1) this.o.defer!(this.flushPrompt);
  }

  /** Publishes the changed forming candles of the watched series touched by the last batch of trades. */
  private readonly flushPrompt = (): void => {
    const queue = this.prompt;
    this.prompt = [];
    for (const { book, frame } of queue) {
      frame.queued = false;
      if (frame.closing?.dirty) this.publish('update', book, frame, frame.closing);
      if (frame.open?.dirty) this.publish('update', book, frame, frame.open);
    }
  };

  /** Closes every period whose end + grace has passed and publishes changed forming candles. */
  tick(now: number = this.o.clock.now()): void {
    for (const bySymbol of this.books.values()) {
      for (const book of bySymbol.values()) this.tickBook(book, now);
    }
  }

  /**
   * `tick` with a clock per symbol (a consumer replaying a bus closes each symbol's candles on that symbol's
   * own stream time, so a partition read ahead of another does not make the other's trades late).
   */
  tickEach(nowOf: (exchange: string, symbol: string) => number): void {
    for (const bySymbol of this.books.values()) {
      for (const book of bySymbol.values()) {
        const now = nowOf(book.exchange, book.symbol);
        if (now > 0) this.tickBook(book, now);
      }
    }
  }

  private tickBook(book: Book, now: number): void {
    const grace = this.o.graceMs;
    for (const frame of book.frames) {
      const closing = frame.closing;
      if (closing !== null && now >= closing.openTime + frame.tfMs + grace) {
        frame.closing = null;
        this.close(book, frame, closing, now);
      }
      const open = frame.open;
      if (open !== null && now >= open.openTime + frame.tfMs + grace) {
        if (frame.closing !== null) {
          this.close(book, frame, frame.closing, now);
          frame.closing = null;
        }
        this.close(book, frame, open, now);
        frame.open = this.fillEmpty(book, frame, open, periodStart(now - grace, frame.tfMs), now);
      }
      if (frame.closing?.dirty) this.publish('update', book, frame, frame.closing);
      if (frame.open?.dirty) this.publish('update', book, frame, frame.open);
    }
  }

  /** Closes every forming candle now (end of an offline replay). */
  closeAll(now: number = this.o.clock.now()): void {
    for (const bySymbol of this.books.values()) {
      for (const book of bySymbol.values()) {
        for (const frame of book.frames) {
          if (frame.closing) this.close(book, frame, frame.closing, now);
          if (frame.open) this.close(book, frame, frame.open, now);
          frame.closing = null;
          frame.open = null;
        }
      }
    }
  }

  /** Marks every known candle overlapping [from, to] as incomplete (it will be backfilled, not reconciled). */
  markGap(exchange: string, symbol: string, from: number, to: number): void {
    const book = this.book(exchange, symbol);
    book.gaps.push({ from, to });
    if (book.gaps.length > MAX_GAPS) book.gaps.shift();
    for (const frame of book.frames) {
      const first = periodStart(from, frame.tfMs);
      for (const s of [...frame.recent, frame.closing, frame.open]) {
        if (s && s.openTime >= first && s.openTime <= to) s.incomplete = true;
      }
    }
  }

  /**
   * Replaces a closed candle with one from the exchange (REST backfill) and publishes it as a correction.
   * Periods still forming here are left alone (returns false): backfill only asks for closed periods.
   */
  applyBackfill(candle: Candle): boolean {
    const frame = this.books.get(candle.exchange)?.get(candle.symbol)?.frames.find((f) => f.tf === candle.timeframe);
    if (frame && (frame.open?.openTime === candle.openTime || frame.closing?.openTime === candle.openTime)) return false;
    const state = frame?.recent.find((s) => s.openTime === candle.openTime);
    if (!frame || !state) {
      this.o.emit({ type: 'candle', kind: 'correction', candle: { ...candle, closed: true, source: 'backfill' } });
      return true;
    }
    if (!state.replaceWith({ ...candle, source: 'backfill' }, this.scratch)) return false;
    state.revision += 1;
    state.incomplete = false;
    const book = this.book(candle.exchange, candle.symbol);
    this.publish('correction', book, frame, state);
    const open = frame.open;
    if (open && open.tradeCount === 0 && state === frame.recent[frame.recent.length - 1]) {
      open.oS = open.hS = open.lS = open.cS = state.cS;
      open.oI = open.hI = open.lI = open.cI = state.cI;
      open.oF = open.hF = open.lF = open.cF = state.cF;
      open.dirty = true;
    }
    return true;
  }

  /**
   * Restores state from stored candles (the latest per timeframe) after a restart, so the forming candle
   * continues instead of starting from nothing. A stored forming candle whose period has ended is closed.
   */
  restore(candles: readonly Candle[], now: number = this.o.clock.now()): void {
    for (const c of candles) {
      const book = this.book(c.exchange, c.symbol);
      const frame = book.frames.find((f) => f.tf === c.timeframe);
      if (!frame || frame.open || frame.closing) continue;
      const s = new CandleState(c.openTime, c.close, 0, 0);
      if (!s.replaceWith(c, this.scratch)) continue;
      s.revision = c.revision;
      if (!c.closed && now < c.openTime + frame.tfMs + this.o.graceMs) {
        frame.open = s;
      } else if (!c.closed) {
        s.incomplete = true;
        this.close(book, frame, s, now);
      } else {
        s.closed = true;
        s.dirty = false;
        frame.recent.push(s);
        frame.open = this.fillEmpty(book, frame, s, periodStart(now - this.o.graceMs, frame.tfMs), now);
      }
    }
  }

  /**
   * Resumes a symbol from its stored latest candles without consulting the wall clock (a consumer about to
   * replay what happened since from the bus): a forming candle continues forming, a closed one is followed by
   * an empty forming candle of the next period. Trades up to the stored `lastTradeId` will be skipped
   * (with `dedupeTradeIds`). Does nothing for a symbol already in memory.
   */
  resume(exchange: string, symbol: string, candles: readonly Candle[]): void {
    if (this.books.get(exchange)?.has(symbol)) return;
    const book = this.book(exchange, symbol);
    for (const c of candles) {
      if (c.exchange !== exchange || c.symbol !== symbol) continue;
      const frame = book.frames.find((f) => f.tf === c.timeframe);
      if (!frame || frame.open) continue;
      const s = new CandleState(c.openTime, c.close, 0, 0);
      if (!s.replaceWith(c, this.scratch)) continue;
      s.revision = c.revision;
      s.dirty = false;
      if (c.lastTradeId !== undefined && c.lastTradeId > book.lastTradeId) book.lastTradeId = c.lastTradeId;
      if (!c.closed) {
        frame.open = s;
      } else {
        s.closed = true;
        frame.recent.push(s);
        frame.open = new CandleState(c.openTime + frame.tfMs, s.cS, s.cI, s.cF);
        frame.open.dirty = false;
      }
    }
  }

  /** Drops a symbol's in-memory state (its partition moved to another consumer). */
  forget(exchange: string, symbol: string): void {
    this.books.get(exchange)?.delete(symbol);
  }

  /** Publishes every changed forming candle as an `update`, closing nothing (before a consumer commits). */
  publishForming(): void {
    for (const bySymbol of this.books.values()) {
      for (const book of bySymbol.values()) {
        for (const frame of book.frames) {
          if (frame.closing?.dirty) this.publish('update', book, frame, frame.closing);
          if (frame.open?.dirty) this.publish('update', book, frame, frame.open);
        }
      }
    }
  }

  /** A closed candle still held in memory, with whether it overlaps a gap. */
  lookupClosed(exchange: string, symbol: string, tf: Timeframe, openTime: number): { candle: Candle; incomplete: boolean } | undefined {
    const frame = this.books.get(exchange)?.get(symbol)?.frames.find((f) => f.tf === tf);
    const s = frame?.recent.find((x) => x.openTime === openTime);
    return s ? { candle: s.snapshot(exchange, symbol, tf), incomplete: s.incomplete } : undefined;
  }

  /** The forming candle of a timeframe, if any. */
  forming(exchange: string, symbol: string, tf: Timeframe): Candle | undefined {
    const frame = this.books.get(exchange)?.get(symbol)?.frames.find((f) => f.tf === tf);
    return frame?.open?.snapshot(exchange, symbol, tf);
  }

  private rollTo(book: Book, frame: FrameState, period: number): void {
    const open = frame.open!;
    if (frame.closing !== null) {
      this.close(book, frame, frame.closing, this.o.clock.now());
      frame.closing = null;
    }
    if (period === open.openTime + frame.tfMs) {
      frame.closing = open;
      frame.open = this.create(book, frame, period, open.cS, open.cI, open.cF);
      return;
    }
    const now = this.o.clock.now();
    this.close(book, frame, open, now);
    frame.open = this.fillEmpty(book, frame, open, period, now);
  }

  /** Closes empty candles from after `last` up to (not including) `period`; returns the new forming one. */
  private fillEmpty(book: Book, frame: FrameState, last: CandleState, period: number, now: number): CandleState {
    const periods = (period - last.openTime) / frame.tfMs - 1;
    if (periods > MAX_EMPTY_FILL) {
      this.o.log.warn({ exchange: book.exchange, symbol: book.symbol, timeframe: frame.tf, periods }, 'time jumped too far to fill empty candles; series restarted');
    } else {
      for (let p = last.openTime + frame.tfMs; p < period; p += frame.tfMs) {
        this.close(book, frame, this.create(book, frame, p, last.cS, last.cI, last.cF), now);
      }
    }
    return this.create(book, frame, period, last.cS, last.cI, last.cF);
  }

  /** A new candle for `period`; incomplete when the period touches a gap this symbol already had. */
  private create(book: Book, frame: FrameState, period: number, prevS: string, prevI: number, prevF: number): CandleState {
    const s = new CandleState(period, prevS, prevI, prevF);
    const end = period + frame.tfMs;
    for (const g of book.gaps) {
      if (g.from < end && g.to >= period) {
        s.incomplete = true;
        break;
      }
    }
    return s;
  }

  private close(book: Book, frame: FrameState, s: CandleState, now: number): void {
    s.closed = true;
    // Held before it is published: a synchronous listener (the reconciler) looks the closed candle up, e.g. for
    // its gap (incomplete) flag, while handling the `close` event.
    frame.recent.push(s);
    if (frame.recent.length > this.keep) frame.recent.shift();
    this.publish('close', book, frame, s);
    const m = frame.m;
    m.completed.inc();
    m.latency.observe(Math.max(0, now - (s.openTime + frame.tfMs)) / 1000);
    m.closePrice.set(s.cI + s.cF / 1e8);
    m.volume.set(s.volume.toNumber());
  }

  private late(book: Book, frame: FrameState, period: number, t: Trade): void {
    if (this.o.latePolicy === 'drop') {
      frame.m.lateDropped.inc();
      return;
    }
    const s = frame.recent.find((x) => x.openTime === period);
    if (!s) {
      frame.m.lateTooOld.inc();
      return;
    }
    s.applyTrade(t, this.price, this.qty);
    s.revision += 1;
    frame.m.lateAmended.inc();
    this.publish('correction', book, frame, s);
  }

  private publish(kind: CandleEventKind, book: Book, frame: FrameState, s: CandleState): void {
    s.dirty = false;
    this.o.emit({ type: 'candle', kind, candle: s.snapshot(book.exchange, book.symbol, frame.tf) });
  }

  private book(exchange: string, symbol: string): Book {
    let bySymbol = this.books.get(exchange);
    if (!bySymbol) this.books.set(exchange, (bySymbol = new Map()));
    let book = bySymbol.get(symbol);
    if (!book) {
      const mt = this.o.metrics;
      book = {
        exchange,
        symbol,
        gaps: [],
        lastTradeId: -1,
        frames: this.timeframes.map((tf) => ({
          tf,
          tfMs: timeframeMs(tf),
          open: null,
          closing: null,
          recent: [],
          watched: false,
          queued: false,
          m: {
            completed: mt.candlesCompleted.labels(exchange, tf),
            latency: mt.candleCloseLatency.labels(tf),
            lateDropped: mt.lateTrades.labels(exchange, tf, 'dropped'),
            lateAmended: mt.lateTrades.labels(exchange, tf, 'amended'),
            lateTooOld: mt.lateTrades.labels(exchange, tf, 'too_old'),
            closePrice: mt.candleClosePrice.labels(exchange, symbol, tf),
            volume: mt.candleVolume.labels(exchange, symbol, tf),
          },
        })),
      };
      bySymbol.set(symbol, book);
    }
    return book;
  }
}
