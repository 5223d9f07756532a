/**
 * The simulated exchange's own klines: every generated trade (sent to clients or not) is aggregated per symbol and
 * interval, with exact decimal sums (BigInt, units of 1e-8). Keeps the last 1000 closed klines per interval plus the
 * open one. A period without trades is still a kline: o=h=l=c=previous close, volume 0, n=0 (Binance's rule).
 */
import { TIMEFRAMES, periodStart, timeframeMs } from '../../core/timeframe.js';
import type { Timeframe } from '../../core/timeframe.js';
import { UNITS_PER_ONE, formatUnits } from './price-process.js';

export const MAX_CLOSED_KLINES = 1000;

export interface BookTrade {
  readonly id: number;
  readonly priceUnits: bigint;
  readonly qtyUnits: bigint;
  readonly time: number;
  readonly buyerIsMaker: boolean;
}

export interface KlineBar {
  readonly symbol: string;
  readonly interval: Timeframe;
  readonly openTime: number;
  /** openTime + interval - 1, as Binance reports it. */
  readonly closeTime: number;
  open: bigint;
  high: bigint;
  low: bigint;
  close: bigint;
  volume: bigint;
  /** Sum of price × qty in units of 1e-16 (exact); printed with 8 decimals. */
  quoteVolume16: bigint;
  takerBuyVolume: bigint;
  takerBuyQuoteVolume16: bigint;
  trades: number;
  /** -1 while the kline has no trade. */
  firstTradeId: number;
  lastTradeId: number;
  closed: boolean;
}

function emptyBar(symbol: string, interval: Timeframe, openTime: number, price: bigint): KlineBar {
  return {
    symbol,
    interval,
    openTime,
    closeTime: openTime + timeframeMs(interval) - 1,
    open: price,
    high: price,
    low: price,
    close: price,
    volume: 0n,
    quoteVolume16: 0n,
    takerBuyVolume: 0n,
    takerBuyQuoteVolume16: 0n,
    trades: 0,
    firstTradeId: -1,
    lastTradeId: -1,
    closed: false,
  };
}

class IntervalSeries {
  readonly history: KlineBar[] = [];
  open: KlineBar;

  constructor(
    private readonly symbol: string,
    readonly interval: Timeframe,
    startTime: number,
    price: bigint,
  ) {
    this.open = emptyBar(symbol, interval, periodStart(startTime, timeframeMs(interval)), price);
  }

  /** Closes every period that ended before `time`; returns the klines closed. */
  advanceTo(time: number): KlineBar[] {
    const closed: KlineBar[] = [];
    const ms = timeframeMs(this.interval);
    while (this.open.closeTime < time) {
      this.open.closed = true;
      this.push(this.open);
      closed.push(this.open);
      let next = this.open.openTime + ms;
      // After a very long pause only the last MAX_CLOSED_KLINES empty periods can be kept anyway.
      const skipTo = periodStart(time, ms) - MAX_CLOSED_KLINES * ms;
      if (next < skipTo) next = skipTo;
      this.open = emptyBar(this.symbol, this.interval, next, this.open.close);
    }
    return closed.length > MAX_CLOSED_KLINES ? closed.slice(-MAX_CLOSED_KLINES) : closed;
  }

  add(t: BookTrade): void {
    const bar = this.open;
    const quote16 = t.priceUnits * t.qtyUnits;
    if (bar.trades === 0) {
      bar.open = bar.high = bar.low = t.priceUnits;
      bar.firstTradeId = t.id;
    }
    if (t.priceUnits > bar.high) bar.high = t.priceUnits;
    if (t.priceUnits < bar.low) bar.low = t.priceUnits;
    bar.close = t.priceUnits;
    bar.volume += t.qtyUnits;
    bar.quoteVolume16 += quote16;
    if (!t.buyerIsMaker) {
      bar.takerBuyVolume += t.qtyUnits;
      bar.takerBuyQuoteVolume16 += quote16;
    }
    bar.trades += 1;
    bar.lastTradeId = t.id;
  }

  private push(bar: KlineBar): void {
    this.history.push(bar);
    if (this.history.length > MAX_CLOSED_KLINES) this.history.splice(0, this.history.length - MAX_CLOSED_KLINES);
  }
}

export interface KlineQuery {
  startTime?: number;
  endTime?: number;
  limit: number;
}

/** All intervals' klines of one symbol. */
export class KlineBook {
  private readonly series = new Map<Timeframe, IntervalSeries>();

  constructor(
    readonly symbol: string,
    startPriceUnits: bigint,
    startTime: number,
    intervals: readonly Timeframe[] = TIMEFRAMES,
  ) {
    for (const tf of intervals) this.series.set(tf, new IntervalSeries(symbol, tf, startTime, startPriceUnits));
  }

  get intervals(): Timeframe[] {
    return [...this.series.keys()];
  }

  /** Closes every period that ended before `time`, in every interval; returns the klines closed, oldest first. */
  advanceTo(time: number): KlineBar[] {
    const closed: KlineBar[] = [];
    for (const s of this.series.values()) closed.push(...s.advanceTo(time));
    return closed;
  }

  /** Adds a trade (advancing to its time first). Trades must arrive in time order. */
  addTrade(trade: BookTrade): KlineBar[] {
    const closed = this.advanceTo(trade.time);
    for (const s of this.series.values()) s.add(trade);
    return closed;
  }

  /** The open kline of an interval. */
  current(interval: Timeframe): KlineBar {
    return this.get(interval).open;
  }

  /**
   * Binance `GET /api/v3/klines` selection: klines whose open time lies in [startTime, endTime], oldest first, at
   * most `limit`; from startTime forward when it is given, otherwise the most recent ones. Includes the open kline.
   */
  query(interval: Timeframe, q: KlineQuery): KlineBar[] {
    const s = this.get(interval);
    let bars = [...s.history, s.open];
    if (q.startTime !== undefined) bars = bars.filter((b) => b.openTime >= q.startTime!);
    if (q.endTime !== undefined) bars = bars.filter((b) => b.openTime <= q.endTime!);
    return q.startTime !== undefined ? bars.slice(0, q.limit) : bars.slice(Math.max(0, bars.length - q.limit));
  }

  private get(interval: Timeframe): IntervalSeries {
    const s = this.series.get(interval);
    if (!s) throw new Error(`interval ${interval} not kept`);
    return s;
  }
}

const quote8 = (units16: bigint): string => formatUnits(units16 / UNITS_PER_ONE);

/** The REST layout: [openTime, o, h, l, c, v, closeTime, q, n, V, Q, "0"]. */
export function klineRestRow(b: KlineBar): (string | number)[] {
  return [
    b.openTime,
    formatUnits(b.open),
    formatUnits(b.high),
    formatUnits(b.low),
    formatUnits(b.close),
    formatUnits(b.volume),
    b.closeTime,
    quote8(b.quoteVolume16),
    b.trades,
    formatUnits(b.takerBuyVolume),
    quote8(b.takerBuyQuoteVolume16),
    '0',
  ];
}

/** The `k` object of a `<symbol>@kline_<interval>` event. */
export function klineStreamObject(b: KlineBar): Record<string, string | number | boolean> {
  return {
    t: b.openTime,
    T: b.closeTime,
    s: b.symbol,
    i: b.interval,
    f: b.firstTradeId,
    L: b.lastTradeId,
    o: formatUnits(b.open),
    c: formatUnits(b.close),
    h: formatUnits(b.high),
    l: formatUnits(b.low),
    v: formatUnits(b.volume),
    n: b.trades,
    x: b.closed,
    q: quote8(b.quoteVolume16),
    V: formatUnits(b.takerBuyVolume),
    Q: quote8(b.takerBuyQuoteVolume16),
    B: '0',
  };
}
