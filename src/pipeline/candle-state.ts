/**
 * One candle being built: mutable, allocation-free per trade. Prices keep the exchange's string for output
 * and their parsed limbs for exact comparison; sums are exact decimal sums kept as whole units and units of 1e-8
 * (the arithmetic of DecimalSum in core/decimal.ts, inlined: a trade touches this one object per candle, not four).
 */
import { SCALE, compareFixed8, formatFixed8, parseFixed8, ratioToFixed8, type Fixed8 } from '../core/decimal.js';
import type { Candle, CandleSource, Trade } from '../core/types.js';
import type { Timeframe } from '../core/timeframe.js';
import type { ExchangeId } from '../core/exchange-id.js';

export class CandleState {
  openTime: number;
  tradeCount = 0;
  oS: string;
  oI: number;
  oF: number;
  hS: string;
  hI: number;
  hF: number;
  lS: string;
  lI: number;
  lF: number;
  cS: string;
  cI: number;
  cF: number;
  /** Exchange times of the trades that set open and close. */
  openAt = 0;
  closeAt = 0;
  /** Exact sums, whole units (…I) and units of 1e-8 in [0, 1e8) (…F): base volume, quote volume, taker-buy base volume. */
  vI = 0;
  vF = 0;
  qvI = 0;
  qvF = 0;
  tbI = 0;
  tbF = 0;
  closed = false;
  source: CandleSource = 'trades';
  revision = 0;
  /** The period overlaps a known gap in the data: it will be backfilled, and is not reconciled. */
  incomplete = false;
  /** Changed since last published. */
  dirty = true;
  /** Highest trade id applied (-1: none or unknown). */
  lastTradeId = -1;
  /**
   * openTime + the timeframe when openTime is on the timeframe's boundary (set by the engine), else NaN: a
   * trade with openTime <= time < end is in this period without computing its period start.
   */
  end = Number.NaN;

  /** A period without trades so far: open = high = low = close = the previous close. */
  constructor(openTime: number, prevS: string, prevI: number, prevF: number) {
    this.openTime = openTime;
    this.oS = this.hS = this.lS = this.cS = prevS;
    this.oI = this.hI = this.lI = this.cI = prevI;
    this.oF = this.hF = this.lF = this.cF = prevF;
  }

  /**
   * Applies one trade. Open and close follow exchange time, not arrival order: an out-of-order trade
   * (earlier timestamp) never becomes the close; trades with the same timestamp keep arrival order.
   */
  applyTrade(t: Trade, p: Fixed8, q: Fixed8): void {
    const pS = t.price;
    const pI = p.int;
    const pF = p.frac;
    const time = t.time;
    if (this.tradeCount === 0) {
      this.oS = this.hS = this.lS = this.cS = pS;
      this.oI = this.hI = this.lI = this.cI = pI;
      this.oF = this.hF = this.lF = this.cF = pF;
      this.openAt = this.closeAt = time;
    } else {
      if (compareFixed8(pI, pF, this.hI, this.hF) > 0) {
        this.hS = pS;
        this.hI = pI;
        this.hF = pF;
      }
      if (compareFixed8(pI, pF, this.lI, this.lF) < 0) {
        this.lS = pS;
        this.lI = pI;
        this.lF = pF;
      }
      if (time >= this.closeAt) {
        this.cS = pS;
        this.cI = pI;
        this.cF = pF;
        this.closeAt = time;
      }
      if (time < this.openAt) {
        this.oS = pS;
        this.oI = pI;
        this.oF = pF;
        this.openAt = time;
      }
    }
    this.tradeCount += t.count;
    const qI = q.int;
    const qF = q.frac;
    this.vI += qI;
    const vf = this.vF + qF;
    if (vf >= SCALE) {
      this.vI += 1;
      this.vF = vf - SCALE;
    } else {
      this.vF = vf;
    }
    // DecimalSum.addProduct: (pI + pF/1e8) × (qI + qF/1e8) truncated to 8 decimals; pF × qF can reach 1e16
    // (> 2^53), so pF is split in hi × 1e4 + lo, each product < 1e12.
    const hi = Math.floor(pF / 10_000);
    const lo = pF - hi * 10_000;
    const fracProduct = Math.floor((hi * qF + Math.floor((lo * qF) / 10_000)) / 10_000);
    const qf = this.qvF + pI * qF + pF * qI + fracProduct;
    const carry = Math.floor(qf / SCALE);
    this.qvF = qf - carry * SCALE;
    this.qvI += pI * qI + carry;
    if (t.side === 'buy') {
      this.tbI += qI;
      const tf = this.tbF + qF;
      if (tf >= SCALE) {
        this.tbI += 1;
        this.tbF = tf - SCALE;
      } else {
        this.tbF = tf;
      }
    }
    if (t.id > this.lastTradeId) this.lastTradeId = t.id;
    this.dirty = true;
  }

  /**
   * Adds the trades aggregated in `b` (a batch that arrived after every trade already in this candle, all in
   * this candle's period) as if each had been applied with `applyTrade`, in arrival order: high and low keep
   * the first trade reaching them (strict comparisons, earlier trades win ties), close the last trade with
   * the latest time (>=: later arrivals win ties), open the first trade with the earliest time (<). Sums are
   * exact sums of the same per-trade terms. `b` must hold at least one trade with count >= 1.
   */
  mergeBatch(b: CandleState): void {
    if (this.tradeCount === 0) {
      this.oS = b.oS;
      this.oI = b.oI;
      this.oF = b.oF;
      this.hS = b.hS;
      this.hI = b.hI;
      this.hF = b.hF;
      this.lS = b.lS;
      this.lI = b.lI;
      this.lF = b.lF;
      this.cS = b.cS;
      this.cI = b.cI;
      this.cF = b.cF;
      this.openAt = b.openAt;
      this.closeAt = b.closeAt;
    } else {
      if (compareFixed8(b.hI, b.hF, this.hI, this.hF) > 0) {
        this.hS = b.hS;
        this.hI = b.hI;
        this.hF = b.hF;
      }
      if (compareFixed8(b.lI, b.lF, this.lI, this.lF) < 0) {
        this.lS = b.lS;
        this.lI = b.lI;
        this.lF = b.lF;
      }
      if (b.closeAt >= this.closeAt) {
        this.cS = b.cS;
        this.cI = b.cI;
        this.cF = b.cF;
        this.closeAt = b.closeAt;
      }
      if (b.openAt < this.openAt) {
        this.oS = b.oS;
        this.oI = b.oI;
        this.oF = b.oF;
        this.openAt = b.openAt;
      }
    }
    this.tradeCount += b.tradeCount;
    this.addSums(b.vI, b.vF, b.qvI, b.qvF, b.tbI, b.tbF);
    if (b.lastTradeId > this.lastTradeId) this.lastTradeId = b.lastTradeId;
    this.dirty = true;
  }

  /** Empties a batch (see `mergeBatch`) for reuse. */
  resetBatch(): void {
    this.tradeCount = 0;
    this.vI = this.vF = this.qvI = this.qvF = this.tbI = this.tbF = 0;
    this.lastTradeId = -1;
  }

  /** Adds exact sums to the three sums (DecimalSum.add of each). */
  private addSums(vI: number, vF: number, qvI: number, qvF: number, tbI: number, tbF: number): void {
    this.vI += vI;
    const v = this.vF + vF;
    if (v >= SCALE) {
      this.vI += 1;
      this.vF = v - SCALE;
    } else {
      this.vF = v;
    }
    this.qvI += qvI;
    const qv = this.qvF + qvF;
    if (qv >= SCALE) {
      this.qvI += 1;
      this.qvF = qv - SCALE;
    } else {
      this.qvF = qv;
    }
    this.tbI += tbI;
    const tb = this.tbF + tbF;
    if (tb >= SCALE) {
      this.tbI += 1;
      this.tbF = tb - SCALE;
    } else {
      this.tbF = tb;
    }
  }

  /**
   * Replaces the content with a candle from elsewhere (REST backfill, the store). Returns false when one of
   * its decimal fields does not parse, leaving this state unchanged.
   */
  replaceWith(c: Candle, scratch: Fixed8): boolean {
    const parsed: [number, number][] = [];
    for (const text of [c.open, c.high, c.low, c.close]) {
      if (!parseFixed8(text, scratch)) return false;
      parsed.push([scratch.int, scratch.frac]);
    }
    const sums: number[] = [];
    for (const text of [c.volume, c.quoteVolume, c.takerBuyVolume]) {
      if (!parseFixed8(text, scratch)) return false;
      sums.push(scratch.int, scratch.frac);
    }
    const [o, h, l, cl] = parsed as [[number, number], [number, number], [number, number], [number, number]];
    this.oS = c.open;
    [this.oI, this.oF] = o;
    this.hS = c.high;
    [this.hI, this.hF] = h;
    this.lS = c.low;
    [this.lI, this.lF] = l;
    this.cS = c.close;
    [this.cI, this.cF] = cl;
    this.vI = this.vF = this.qvI = this.qvF = this.tbI = this.tbF = 0;
    this.addSums(sums[0]!, sums[1]!, sums[2]!, sums[3]!, sums[4]!, sums[5]!);
    this.tradeCount = c.tradeCount;
    this.openAt = this.closeAt = c.openTime;
    this.source = c.source;
    this.lastTradeId = c.lastTradeId ?? -1;
    this.dirty = true;
    return true;
  }

  /** The base volume as a float (the volume gauge). */
  volumeNumber(): number {
    return this.vI + this.vF / SCALE;
  }

  vwap(): string {
    if (this.vI === 0 && this.vF === 0) return this.cS;
    return ratioToFixed8((this.qvI + this.qvF / SCALE) / this.volumeNumber());
  }

  snapshot(exchange: ExchangeId, symbol: string, timeframe: Timeframe): Candle {
    // Two literals rather than a spread: one object per snapshot (closes are published per series per period).
    if (this.lastTradeId >= 0) {
      return {
        exchange,
        symbol,
        timeframe,
        openTime: this.openTime,
        open: this.oS,
        high: this.hS,
        low: this.lS,
        close: this.cS,
        volume: sumText(this.vI, this.vF),
        quoteVolume: sumText(this.qvI, this.qvF),
        takerBuyVolume: sumText(this.tbI, this.tbF),
        tradeCount: this.tradeCount,
        vwap: this.vwap(),
        closed: this.closed,
        source: this.source,
        revision: this.revision,
        lastTradeId: this.lastTradeId,
      };
    }
    return {
      exchange,
      symbol,
      timeframe,
      openTime: this.openTime,
      open: this.oS,
      high: this.hS,
      low: this.lS,
      close: this.cS,
      volume: sumText(this.vI, this.vF),
      quoteVolume: sumText(this.qvI, this.qvF),
      takerBuyVolume: sumText(this.tbI, this.tbF),
      tradeCount: this.tradeCount,
      vwap: this.vwap(),
      closed: this.closed,
      source: this.source,
      revision: this.revision,
    };
  }
}

const ZERO8 = '0.00000000';

/** A sum printed with exactly 8 decimals (DecimalSum.toString). */
function sumText(int: number, frac: number): string {
  return int === 0 && frac === 0 ? ZERO8 : formatFixed8(int, frac);
}
