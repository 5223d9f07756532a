/**
 * The per-trade checks of one exchange/symbol: out-of-order trades, price outliers and volume sanity.
 * O(1) and allocation-free when a trade passes (the common case): prices and quantities are parsed with
 * the engine's allocation-free decimal parser into doubles, results go into plain counters, and the robust
 * scales (of recent log returns, and the median of recent quantities) are recomputed every
 * `recomputeEvery` trades by O(n) selection, not per trade.
 *
 * Price outlier: r = ln(price / reference), the reference being the last accepted price. The trade is an
 * outlier when |r| >= minJump and |r - median(r)| > k · σ̂ over the last `window` returns, with the robust
 * σ̂ = max(1.4826 · MAD(r), IQR(r) / 1.349). (The MAD alone collapses to 0 on two-valued returns such as a
 * bid-ask bounce, where more than half the returns sit at the median; the IQR does not.)
 * An outlier does not move the reference (so the trade after a lone spike is judged against the level
 * before it); `confirmTrades` outliers in a row are a real level shift: the reference moves to the new price.
 * Every return goes into the window (the median and MAD shrug off a few outliers, and a market that turns
 * volatile is learnt rather than flagged forever). The check judges only once the window holds
 * `MIN_SAMPLES` returns (warm-up); after a quiet spell longer than `resetAfterMs` the reference restarts.
 */
import { fixed8, parseFixed8 } from '../core/decimal.js';
import type { Trade } from '../core/types.js';
import type { CheckRecord } from './check-record.js';
import type { AnomalyType, FailureNote } from './checks.js';
import { RollingWindow } from './rolling-window.js';

export interface TradeCheckSettings {
  /** Outlier when the jump exceeds k robust standard deviations of recent log returns. */
  outlierK: number;
  /** ...and is at least this relative move (0.005 = 0.5 %), so a flat market (MAD 0) does not flag ticks. */
  outlierMinJump: number;
  /** Recent log returns (and quantities) kept for the robust scales. */
  outlierWindow: number;
  /** A trade larger than this multiple of the recent median quantity is absurd. */
  volumeMaxMultiple: number;
  recomputeEvery?: number;
  confirmTrades?: number;
  resetAfterMs?: number;
}

/** 1.4826 × MAD and IQR / 1.349 estimate σ for normally distributed data. */
const MAD_TO_SIGMA = 1.4826;
const IQR_TO_SIGMA = 1 / 1.349;
/** Returns needed before the robust scale is trusted. */
const MIN_SAMPLES = 16;

export type FailSink = (record: CheckRecord, anomaly: AnomalyType, message: string, values: Record<string, unknown>, at: number) => void;

export class TradeChecks {
  private lastTime = Number.NEGATIVE_INFINITY;
  private lastId = -1;
  private reference = Number.NaN;
  private referenceTime = 0;
  private outlierRun = 0;
  private readonly returns: RollingWindow;
  private readonly qtys: RollingWindow;
  private center = 0;
  private sigma = 0;
  private warm = false;
  private medianQty = Number.NaN;
  private sinceRecompute = 0;
  private readonly recomputeEvery: number;
  private readonly confirm: number;
  private readonly resetAfterMs: number;
  private readonly scratch = fixed8();
  /** The price being checked; a field, not an argument, so the double is not boxed on the call. */
  private price = Number.NaN;

  constructor(
    private readonly s: TradeCheckSettings,
    private readonly records: { outOfOrder: CheckRecord; outlier: CheckRecord; volume: CheckRecord },
    private readonly fail: FailSink,
  ) {
    this.returns = new RollingWindow(s.outlierWindow);
    this.qtys = new RollingWindow(s.outlierWindow);
    this.recomputeEvery = s.recomputeEvery ?? 64;
    this.confirm = s.confirmTrades ?? 3;
    this.resetAfterMs = s.resetAfterMs ?? 60_000;
  }

  /** The last accepted price (a lone outlier does not move it); NaN before the first trade. */
  get referencePrice(): number {
    return this.reference;
  }

  /** Checks one trade at its local receive time. (Times are read from the trade, not passed as arguments: an
   * epoch-ms double passed to a call that is not inlined is boxed, i.e. allocated.) */
  check(t: Trade): void {
    const now = t.receivedAt;
    const r = this.records;
    if (t.time < this.lastTime) {
      this.fail(r.outOfOrder, 'out_of_order_trade', `trade ${t.id} at ${iso(t.time)} is ${this.lastTime - t.time} ms older than trade ${this.lastId} before it`, { id: t.id, time: t.time, previousId: this.lastId, previousTime: this.lastTime }, now);
    } else {
      r.outOfOrder.pass(now);
      this.lastTime = t.time;
    }
    this.lastId = t.id;

    const d = this.scratch;
    const price = parseFixed8(t.price, d) ? d.int + d.frac / 1e8 : Number.NaN;
    const qty = parseFixed8(t.qty, d) ? d.int + d.frac / 1e8 : Number.NaN;
    if (!(price > 0) || !(qty > 0)) {
      this.fail(r.volume, 'invalid_trade', `trade ${t.id} has price ${t.price} and quantity ${t.qty}; both must be positive decimals`, { id: t.id, price: t.price, qty: t.qty }, now);
      return; // no price to judge
    }
    const median = this.medianQty;
    if (median > 0 && qty > this.s.volumeMaxMultiple * median) {
      this.fail(r.volume, 'absurd_size', `trade ${t.id} of ${t.qty} is ${Math.round(qty / median)}× the recent median quantity ${median}`, { id: t.id, qty: t.qty, medianQty: median, multiple: qty / median, maxMultiple: this.s.volumeMaxMultiple }, now);
    } else {
      r.volume.pass(now);
      this.qtys.push(qty);
    }

    this.price = price;
    this.checkPrice(t);
    // warming up: the scale is computed as soon as there are enough returns, then every recomputeEvery trades
    if (++this.sinceRecompute >= this.recomputeEvery || (!this.warm && this.returns.count >= MIN_SAMPLES)) this.recompute();
  }

  private checkPrice(t: Trade): void {
    const price = this.price;
    const now = t.receivedAt;
    if (!(this.reference > 0) || t.time - this.referenceTime > this.resetAfterMs) {
      this.reference = price; // nothing recent to compare with: this trade becomes the reference
      this.referenceTime = t.time;
      this.outlierRun = 0;
      return;
    }
    const ret = Math.log(price / this.reference);
    this.returns.push(ret);
    if (!this.warm) {
      this.reference = price;
      this.referenceTime = t.time;
      return;
    }
    const jump = Math.abs(ret);
    const deviation = Math.abs(ret - this.center);
    if (jump >= this.s.outlierMinJump && deviation > this.s.outlierK * this.sigma) {
      const values = { id: t.id, price: t.price, reference: this.reference, logReturn: ret, robustSigma: this.sigma, k: this.s.outlierK, threshold: Math.max(this.s.outlierMinJump, this.s.outlierK * this.sigma) };
      this.fail(this.records.outlier, 'price_outlier', `trade ${t.id} at ${t.price} jumped ${(ret * 100).toFixed(3)}% from ${this.reference} (robust σ ${this.sigma.toExponential(2)}, k ${this.s.outlierK})`, values, now);
      if (++this.outlierRun >= this.confirm) {
        this.reference = price; // the market moved to a new level
        this.referenceTime = t.time;
        this.outlierRun = 0;
      }
      return;
    }
    this.records.outlier.pass(now);
    this.outlierRun = 0;
    this.reference = price;
    this.referenceTime = t.time;
  }

  private recompute(): void {
    this.sinceRecompute = 0;
    if (this.returns.count >= MIN_SAMPLES) {
      this.center = this.returns.median();
      this.sigma = Math.max(MAD_TO_SIGMA * this.returns.mad(this.center), IQR_TO_SIGMA * this.returns.iqr());
      this.warm = true;
    }
    if (this.qtys.count >= 3) this.medianQty = this.qtys.median();
  }
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}
