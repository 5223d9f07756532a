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
import { TracedHistogram } from '../telemetry/exemplars.js';
import { fixed8, parseFixed8, type Fixed8 } from '../core/decimal.js';
import type { Clock } from '../core/clock.js';
import type { Candle, CandleEvent, CandleEventKind, Trade } from '../core/types.js';
import { periodStart, sortTimeframes, timeframeMs, type Timeframe } from '../core/timeframe.js';
import { HotCounter } from '../telemetry/hot.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Logger } from '../telemetry/logger.js';
import { LogThrottle } from '../telemetry/log-throttle.js';
import { CandleState } from './candle-state.js';
import type { ExchangeId } from '../core/exchange-id.js';
import type { LatePolicy } from '../core/choices.js';

export { LATE_POLICIES, type LatePolicy } from '../core/choices.js';

export interface CandleEngineOptions {
  timeframes: readonly Timeframe[];
  graceMs: number;
  latePolicy: LatePolicy;
  clock: Clock;
  /**
   * Candle metrics; rejected trades (invalid_decimal, redelivered) count under the feed's messages_rejected_total.
   * Without (an offline replay, which nobody scrapes): counts are kept for `status()`, nothing is exported.
   */
  metrics?: Pick<Metrics, 'candles' | 'feed'>;
  log: Logger;
  emit: (event: CandleEvent) => void;
  /** Closed candles kept per timeframe for late amendments, backfill and reconciliation. Default 3. */
  keepClosed?: number;
  /**
   * Publish `update` events for forming candles (default true). An offline replay only wants closes: without
   * updates the engine makes no snapshot of a forming candle at each tick.
   */
  updates?: boolean;
  /** Runs a function after the current batch of trades (setImmediate); enables prompt updates of watched series. */
  defer?: (fn: () => void) => void;
  /**
   * For which exchanges to skip a trade whose id is not above the highest id already applied to its symbol
   * (counted as `messages_rejected_total{reason="redelivered"}`). For a bus that may redeliver (Kafka) and
   * exchanges whose trade ids only grow; the watermark survives restarts through the stored candles'
   * `lastTradeId`.
   */
  dedupeTradeIds?: (exchange: ExchangeId) => boolean;
}

export type LateAction = 'dropped' | 'amended' | 'too_old';

/** What the engine has counted (`CandleEngine.status()`): the same numbers its metrics expose. */
export interface CandleEngineStatus {
  /** Late trades by what was done with them, over every exchange and timeframe. */
  lateTrades: Record<LateAction, number>;
  /** Trades the engine refused (invalid_decimal, redelivered), by reason. */
  rejected: Record<string, number>;
}

/** Late-trade counters of one exchange and timeframe, shared by its symbols' frames. */
type LateCounters = Record<LateAction, HotCounter>;

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
  /** Someone watches this series live (as told by `setWatched`, with or without `defer`): closed first in a tick. */
  live: boolean;
  /** In the prompt-update queue already. */
  queued: boolean;
  readonly m: {
    completed: { inc(): void };
    latency: { observe(v: number): void };
    readonly late: LateCounters;
    closePrice: { set(v: number): void };
    volume: { set(v: number): void };
  };
}

/**
 * A symbol's state in the engine. It is itself the batch of its trades not yet merged into the derived frames'
 * candles (the CandleState it extends, see `batch`): a batched trade then touches the book, its batch and its
 * shortest frame's candle in two objects, not three.
 */
class Book extends CandleState {
  /**
   * Period start (shortest timeframe) whose further trades may be batched: set after a trade of that period
   * was applied to every derived frame's open or closing candle; NaN when batching is off for the book.
   */
  armed = Number.NaN;
  /** End of period `armed` (armed + the shortest timeframe); NaN when not armed. */
  armedEnd = Number.NaN;
  /** Derived frames watched live (their trades are then never batched: prompt updates per batch of trades). */
  watchedDerived = 0;
  /** Recent gaps [from, to]: a candle created later for a period touching one starts out incomplete. */
  readonly gaps: { from: number; to: number }[] = [];
  /** Frames watched live (`FrameState.live`): the book is then closed first in a tick. */
  liveFrames = 0;
  /** Highest trade id applied (or restored); -1 when none. (The batch's own `lastTradeId` is its highest batched id.) */
  appliedId = -1;
  /** The only direct frame when there is one (the usual case: every longer timeframe a multiple), else null. */
  readonly base: FrameState | null;

  constructor(
    readonly exchange: ExchangeId,
    readonly symbol: string,
    readonly frames: FrameState[],
    /** Frames every trade is applied to: the shortest timeframe and any that is not a multiple of it. */
    readonly direct: FrameState[],
    /** Longer timeframes that are multiples of the shortest one: fed from `batch` (see `onTrade`). */
    readonly derived: FrameState[],
    /** Whether trades at or below appliedId are redeliveries to skip (dedupeTradeIds for the exchange). */
    readonly dedupe: boolean,
    /** Redeliveries skipped (the exchange's counter; null without dedupe). */
    readonly redelivered: HotCounter | null,
  ) {
    super(0, '0', 0, 0);
    this.base = direct.length === 1 ? direct[0]! : null;
  }

  /** Trades of one period of the shortest timeframe not yet merged into the derived frames' candles. */
  get batch(): CandleState {
    return this;
  }
}

/** The per-close instruments of an engine without metrics. */
const UNEXPORTED = { inc(): void {}, observe(): void {}, set(): void {} };

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
  private lastBook: Book | null = null;
  /** Books with a frame watched live, closed before the others in `tick`. */
  private readonly liveBooks = new Set<Book>();
  /** Per exchange and timeframe (key `exchange\u0000timeframe`). */
  private readonly lateCounters = new Map<string, LateCounters>();
  /** Per exchange and reason (key `exchange\u0000reason`). */
  private readonly rejects = new Map<string, { reason: string; counter: HotCounter }>();

  private readonly rejectLog: LogThrottle;

  constructor(private readonly o: CandleEngineOptions) {
    this.rejectLog = new LogThrottle(() => o.clock.now(), 10_000);
    this.timeframes = sortTimeframes(o.timeframes);
    this.keep = Math.max(1, o.keepClosed ?? 3);
  }

  /**
   * Applies one trade to every timeframe. Returns false (and counts it) if its price or qty is not a decimal > 0:
   * the last line behind the mappers' own checks (a trade may also come from Kafka or an import). The warning is
   * throttled: one line per exchange per interval, with the number dropped since.
   */
  onTrade(t: Trade): boolean {
    const p = this.price;
    const q = this.qty;
    if (!parseFixed8(t.price, p) || !parseFixed8(t.qty, q) || (p.int === 0 && p.frac === 0) || (q.int === 0 && q.frac === 0)) {
      this.refuse(t);
      return false;
    }
    this.apply(t);
    return true;
  }

  /**
   * `onTrade` for a trade whose price and quantity were already parsed (exactly as `parseFixed8` parses
   * `t.price` and `t.qty`), e.g. by the offline dump reader: the same checks and state machine, without
   * parsing twice. The engine keeps nothing of `t` after the call, so a reader may reuse one object.
   */
  onParsedTrade(t: Trade, price: Fixed8, qty: Fixed8): boolean {
    if ((price.int === 0 && price.frac === 0) || (qty.int === 0 && qty.frac === 0)) {
      this.refuse(t);
      return false;
    }
    this.price.int = price.int;
    this.price.frac = price.frac;
    this.qty.int = qty.int;
    this.qty.frac = qty.frac;
    this.apply(t);
    return true;
  }

  /** Counts (and logs, throttled) a trade refused for its price or quantity. */
  private refuse(t: Trade): void {
    this.rejectCounter(t.exchange, 'invalid_decimal').inc();
    const suppressed = this.rejectLog.take(t.exchange);
    if (suppressed >= 0) this.o.log.warn({ exchange: t.exchange, symbol: t.symbol, price: t.price, qty: t.qty, suppressed }, 'trade with invalid decimal dropped');
  }

  /** A trade with this.price/this.qty parsed, to every timeframe. */
  private apply(t: Trade): void {
    const p = this.price;
    const q = this.qty;
    const book = this.bookOf(t.exchange, t.symbol);
    if (book.dedupe) {
      if (t.id <= book.appliedId) {
        book.redelivered!.inc();
        return;
      }
      book.appliedId = t.id;
    }
    const time = t.time;
    const batch = book.batch;
    if (book.armed === book.armed) {
      // Armed: this symbol's last trade was in period `armed` of the shortest timeframe and was applied to the
      // open or closing candle of every derived timeframe; nothing has touched those candles since (every
      // other entry point merges the batch and disarms). A trade of the same period therefore goes to the same
      // candles, so it is applied to the direct frames now and to the derived ones later, merged in arrival
      // order (CandleState.mergeBatch): the candles come out identical, with far fewer states touched.
      const armed = book.armed;
      if (t.count >= 1 && time >= armed && time < book.armedEnd) {
        // The common case, one direct frame and the trade inside its forming candle, without the loop of
        // applyFrames (the same steps for it): one object fewer per trade.
        const base = book.base;
        const open = base !== null ? base.open : null;
        if (open !== null && time >= open.openTime && time < open.end) {
          open.applyTrade(t, p, q);
          if (base!.watched && !base!.queued) this.queuePrompt(book, base!);
        } else {
          this.applyFrames(book, book.direct, t, time);
        }
        // A listener of an event just published (e.g. a late trade's correction) may have settled the book.
        if (book.armed === armed) batch.applyTrade(t, p, q);
        else this.applyFrames(book, book.derived, t, time);
        return;
      }
      this.settle(book);
    }
    this.applyFrames(book, book.frames, t, time);
    this.arm(book, t, time);
  }

  /** Applies a trade to the given frames of a book (the per-timeframe state machine). */
  private applyFrames(book: Book, frames: readonly FrameState[], t: Trade, time: number): void {
    const p = this.price;
    const q = this.qty;
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i]!;
      const open = frame.open;
      // The common case, a trade inside the forming period, needs no modulo.
      if (open !== null && time >= open.openTime && time < open.end) {
        open.applyTrade(t, p, q);
        if (frame.watched && !frame.queued) this.queuePrompt(book, frame);
        continue;
      }
      const period = periodStart(time, frame.tfMs);
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
  }

  /** After a trade applied to every frame: arms batching when it went to every derived frame's open or closing candle. */
  private arm(book: Book, t: Trade, time: number): void {
    const derived = book.derived;
    if (derived.length === 0 || book.watchedDerived > 0 || t.count < 1) return;
    for (let i = 0; i < derived.length; i++) {
      const frame = derived[i]!;
      const period = periodStart(time, frame.tfMs);
      if (frame.open?.openTime !== period && frame.closing?.openTime !== period) return; // late there
    }
    const baseMs = book.direct[0]!.tfMs;
    book.armed = periodStart(time, baseMs);
    book.armedEnd = book.armed + baseMs;
  }

  /** Merges the batched trades into the derived frames' candles (see `onTrade`). */
  private mergeBatch(book: Book): void {
    const batch = book.batch;
    if (batch.tradeCount > 0) {
      const armed = book.armed;
      for (const frame of book.derived) {
        const period = periodStart(armed, frame.tfMs);
        const s = frame.open !== null && frame.open.openTime === period ? frame.open : frame.closing!;
        s.mergeBatch(batch);
      }
      batch.resetBatch();
    }
  }

  /** Before anything else looks at or changes a book's candles: merges its batch and disarms. */
  private settle(book: Book): void {
    if (book.armed === book.armed) {
      this.mergeBatch(book);
      book.armed = Number.NaN;
      book.armedEnd = Number.NaN;
    }
  }


  /** Whether a series is watched live; watched series get prompt updates when the engine has `defer`. */
  setWatched(exchange: ExchangeId, symbol: string, tf: Timeframe, watched: boolean): void {
    const book = this.book(exchange, symbol);
    this.settle(book);
    const frame = book.frames.find((f) => f.tf === tf);
    if (frame) {
      frame.watched = watched && this.o.defer !== undefined;
      frame.live = watched;
    }
    book.watchedDerived = book.derived.filter((f) => f.watched).length;
    book.liveFrames = book.frames.filter((f) => f.live).length;
    if (book.liveFrames > 0) this.liveBooks.add(book);
    else this.liveBooks.delete(book);
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
      // A derived frame queued while watched may have been unwatched since, and its trades batched again.
      this.settle(book);
      if (frame.closing?.dirty) this.publish('update', book, frame, frame.closing);
      if (frame.open?.dirty) this.publish('update', book, frame, frame.open);
    }
  };

  /**
   * Closes every period whose end + grace has passed and publishes changed forming candles. The symbols
   * someone watches live go first: at a minute boundary a whole market closes thousands of candles in this
   * loop, each with its synchronous listeners, and a watched close published at its end would wait for all of
   * them (each symbol's own frames keep their order; only the order across symbols changes).
   */
  tick(now: number = this.o.clock.now()): void {
    for (const book of this.liveBooks) this.tickBook(book, now);
    for (const bySymbol of this.books.values()) {
      for (const book of bySymbol.values()) if (book.liveFrames === 0) this.tickBook(book, now);
    }
  }

  /**
   * `tick` with a clock per symbol (a consumer replaying a bus closes each symbol's candles on that symbol's
   * own stream time, so a partition read ahead of another does not make the other's trades late).
   */
  tickEach(nowOf: (exchange: ExchangeId, symbol: string) => number): void {
    for (const bySymbol of this.books.values()) {
      for (const book of bySymbol.values()) {
        const now = nowOf(book.exchange, book.symbol);
        if (now > 0) this.tickBook(book, now);
      }
    }
  }

  private tickBook(book: Book, now: number): void {
    this.settle(book);
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
        this.settle(book);
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
  markGap(exchange: ExchangeId, symbol: string, from: number, to: number): void {
    const book = this.book(exchange, symbol);
    this.settle(book);
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
    const known = this.books.get(candle.exchange)?.get(candle.symbol);
    if (known) this.settle(known);
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
      this.settle(book);
      const frame = book.frames.find((f) => f.tf === c.timeframe);
      if (!frame || frame.open || frame.closing) continue;
      const s = new CandleState(c.openTime, c.close, 0, 0);
      if (!s.replaceWith(c, this.scratch)) continue;
      s.revision = c.revision;
      if (!c.closed && now < c.openTime + frame.tfMs + this.o.graceMs) {
        if (periodStart(c.openTime, frame.tfMs) === c.openTime) s.end = c.openTime + frame.tfMs;
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
  resume(exchange: ExchangeId, symbol: string, candles: readonly Candle[]): void {
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
      if (c.lastTradeId !== undefined && c.lastTradeId > book.appliedId) book.appliedId = c.lastTradeId;
      if (periodStart(c.openTime, frame.tfMs) === c.openTime) s.end = c.openTime + frame.tfMs;
      if (!c.closed) {
        frame.open = s;
      } else {
        s.closed = true;
        frame.recent.push(s);
        frame.open = new CandleState(c.openTime + frame.tfMs, s.cS, s.cI, s.cF);
        if (s.end === s.end) frame.open.end = s.end + frame.tfMs;
        frame.open.dirty = false;
      }
    }
  }

  /** Drops a symbol's in-memory state (its partition moved to another consumer). */
  forget(exchange: ExchangeId, symbol: string): void {
    const book = this.books.get(exchange)?.get(symbol);
    if (book) this.liveBooks.delete(book);
    this.books.get(exchange)?.delete(symbol);
    this.lastBook = null;
  }

  /** Publishes every changed forming candle as an `update`, closing nothing (before a consumer commits). */
  publishForming(): void {
    for (const bySymbol of this.books.values()) {
      for (const book of bySymbol.values()) {
        this.settle(book);
        for (const frame of book.frames) {
          if (frame.closing?.dirty) this.publish('update', book, frame, frame.closing);
          if (frame.open?.dirty) this.publish('update', book, frame, frame.open);
        }
      }
    }
  }

  /** A closed candle still held in memory, with whether it overlaps a gap. */
  lookupClosed(exchange: ExchangeId, symbol: string, tf: Timeframe, openTime: number): { candle: Candle; incomplete: boolean } | undefined {
    const book = this.books.get(exchange)?.get(symbol);
    if (book) this.settle(book);
    const frame = book?.frames.find((f) => f.tf === tf);
    const s = frame?.recent.find((x) => x.openTime === openTime);
    return s ? { candle: s.snapshot(exchange, symbol, tf), incomplete: s.incomplete } : undefined;
  }

  /** The forming candle of a timeframe, if any. */
  forming(exchange: ExchangeId, symbol: string, tf: Timeframe): Candle | undefined {
    const book = this.books.get(exchange)?.get(symbol);
    if (book) this.settle(book);
    const frame = book?.frames.find((f) => f.tf === tf);
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
    if (periodStart(period, frame.tfMs) === period) s.end = end;
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
    const m = frame.m;
    // measured when this candle is handed on, not when the tick began: the closes published before it in the
    // same tick (and their synchronous listeners: store, indicators, features, quality, /ws) delay it
    if (m.latency !== UNEXPORTED) m.latency.observe(Math.max(0, Math.max(now, this.o.clock.now()) - (s.openTime + frame.tfMs)) / 1000);
    this.publish('close', book, frame, s);
    m.completed.inc();
    m.closePrice.set(s.cI + s.cF / 1e8);
    m.volume.set(s.volumeNumber());
  }

  private late(book: Book, frame: FrameState, period: number, t: Trade): void {
    if (this.o.latePolicy === 'drop') {
      frame.m.late.dropped.inc();
      return;
    }
    const s = frame.recent.find((x) => x.openTime === period);
    if (!s) {
      frame.m.late.too_old.inc();
      return;
    }
    s.applyTrade(t, this.price, this.qty);
    s.revision += 1;
    frame.m.late.amended.inc();
    this.publish('correction', book, frame, s);
  }

  private publish(kind: CandleEventKind, book: Book, frame: FrameState, s: CandleState): void {
    s.dirty = false;
    if (kind === 'update' && this.o.updates === false) return;
    this.o.emit({ type: 'candle', kind, candle: s.snapshot(book.exchange, book.symbol, frame.tf) });
  }

  /** `book`, remembering the last one: consecutive trades of one symbol skip the two map lookups. */
  private bookOf(exchange: ExchangeId, symbol: string): Book {
    const last = this.lastBook;
    if (last !== null && last.symbol === symbol && last.exchange === exchange) return last;
    return (this.lastBook = this.book(exchange, symbol));
  }

  private book(exchange: ExchangeId, symbol: string): Book {
    let bySymbol = this.books.get(exchange);
    if (!bySymbol) this.books.set(exchange, (bySymbol = new Map()));
    let book = bySymbol.get(symbol);
    if (!book) {
      const mt = this.o.metrics?.candles;
      const frames: FrameState[] = this.timeframes.map((tf) => ({
          tf,
          tfMs: timeframeMs(tf),
          open: null,
          closing: null,
          recent: [],
          watched: false,
          live: false,
          queued: false,
          m: mt
            ? {
                completed: mt.candlesCompleted.labels(exchange, tf),
                latency: new TracedHistogram(mt.candleCloseLatency, { timeframe: tf }),
                late: this.lateOf(exchange, tf),
                closePrice: mt.candleClosePrice.labels(exchange, symbol, tf),
                volume: mt.candleVolume.labels(exchange, symbol, tf),
              }
            : { completed: UNEXPORTED, latency: UNEXPORTED, late: this.lateOf(exchange, tf), closePrice: UNEXPORTED, volume: UNEXPORTED },
        }));
      const baseMs = frames[0]?.tfMs ?? 0;
      const derived = frames.filter((f) => f.tfMs > baseMs && f.tfMs % baseMs === 0);
      const dedupe = this.o.dedupeTradeIds?.(exchange) ?? false;
      const direct = frames.filter((f) => !derived.includes(f));
      book = new Book(exchange, symbol, frames, direct, derived, dedupe, dedupe ? this.rejectCounter(exchange, 'redelivered') : null);
      bySymbol.set(symbol, book);
    }
    return book;
  }

  /** What the engine has counted: late trades by action, refused trades by reason. */
  status(): CandleEngineStatus {
    const lateTrades: Record<LateAction, number> = { dropped: 0, amended: 0, too_old: 0 };
    for (const c of this.lateCounters.values()) {
      lateTrades.dropped += c.dropped.value;
      lateTrades.amended += c.amended.value;
      lateTrades.too_old += c.too_old.value;
    }
    const rejected: Record<string, number> = {};
    for (const { reason, counter } of this.rejects.values()) rejected[reason] = (rejected[reason] ?? 0) + counter.value;
    return { lateTrades, rejected };
  }

  /** Late trades of one timeframe, over every exchange (a replay reports them per timeframe). */
  lateTradesOf(tf: Timeframe): number {
    let n = 0;
    for (const [key, c] of this.lateCounters) {
      if (key.endsWith(`\u0000${tf}`)) n += c.dropped.value + c.amended.value + c.too_old.value;
    }
    return n;
  }

  private lateOf(exchange: string, tf: Timeframe): LateCounters {
    const key = `${exchange}\u0000${tf}`;
    let c = this.lateCounters.get(key);
    if (!c) {
      const m = this.o.metrics?.candles;
      if (!m) {
        c = { dropped: new HotCounter(), amended: new HotCounter(), too_old: new HotCounter() };
        this.lateCounters.set(key, c);
        return c;
      }
      const { hot, lateTrades } = m;
      c = {
        dropped: hot.lateTrades.counter(lateTrades, exchange, tf, 'dropped'),
        amended: hot.lateTrades.counter(lateTrades, exchange, tf, 'amended'),
        too_old: hot.lateTrades.counter(lateTrades, exchange, tf, 'too_old'),
      };
      this.lateCounters.set(key, c);
    }
    return c;
  }

  private rejectCounter(exchange: string, reason: string): HotCounter {
    const key = `${exchange}\u0000${reason}`;
    let r = this.rejects.get(key);
    if (!r) {
      const m = this.o.metrics?.feed;
      const counter = m ? m.hot.messagesRejected.counter(m.messagesRejected, exchange, reason) : new HotCounter();
      this.rejects.set(key, (r = { reason, counter }));
    }
    return r.counter;
  }
}
