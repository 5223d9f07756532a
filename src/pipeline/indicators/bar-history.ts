/**
 * A series' closed candles for warm-up and correction replay, stored by column in one typed array (a ring)
 * instead of one Bar object per candle: 7 doubles per candle (open time, OHLC, volume and the close as an
 * exact integer × 10^8), ~60 bytes per candle instead of ~220 (a Bar object, its boxed numbers and its close
 * text). With the default 500 candles for 1,000 symbols × 6 timeframes that is the difference between
 * ~180 MB and ~660 MB once full. Capacity grows by doubling, up to `max + 1`; nothing is allocated before the
 * first candle.
 *
 * The close text is kept exactly: a plain decimal with at most 8 significant fraction digits (every exchange
 * price) is kept as its exact value and given back as that value with 8 decimals ("43210.12" comes back as
 * "43210.12000000": the same decimal, which is all the exact window sums read); any other text is kept as is
 * (in an array allocated only when such a text first comes).
 */
import { toScaled8 } from './exact-window.js';
import type { Bar } from './indicator.js';

/** Doubles per candle: openTime, open, high, low, close, volume, close × 10^8 (NaN: see `odd`). */
const W = 7;
const EMPTY = new Float64Array(0);

export class BarHistory {
  private cap = 0;
  private head = 0;
  length = 0;
  private data: Float64Array = EMPTY;
  /** Close texts that are not exact as an integer × 10^8, by slot; null until one comes. */
  private odd: string[] | null = null;

  constructor(readonly max: number) {}

  private slot(i: number): number {
    const j = this.head + i;
    return j >= this.cap ? j - this.cap : j;
  }

  openTimeAt(i: number): number {
    return this.data[this.slot(i) * W]!;
  }

  at(i: number): Bar {
    const k = this.slot(i);
    const d = this.data;
    const o = k * W;
    const x = d[o + 6]!;
    return { openTime: d[o]!, open: d[o + 1]!, high: d[o + 2]!, low: d[o + 3]!, close: d[o + 4]!, volume: d[o + 5]!, closeText: x === x ? formatScaled8(x) : this.odd![k]! };
  }

  private write(k: number, bar: Bar): void {
    const d = this.data;
    const o = k * W;
    d[o] = bar.openTime;
    d[o + 1] = bar.open;
    d[o + 2] = bar.high;
    d[o + 3] = bar.low;
    d[o + 4] = bar.close;
    d[o + 5] = bar.volume;
    const x = toScaled8(bar.closeText);
    d[o + 6] = x;
    if (x !== x) (this.odd ??= new Array<string>(this.cap).fill(''))[k] = bar.closeText;
    else if (this.odd) this.odd[k] = '';
  }

  private copy(from: number, to: number): void {
    this.data.copyWithin(to * W, from * W, from * W + W);
    if (this.odd) this.odd[to] = this.odd[from]!;
  }

  private grow(): void {
    const cap = Math.min(this.max + 1, Math.max(4, this.cap * 2));
    const n = this.length;
    const data = new Float64Array(cap * W);
    const odd = this.odd ? new Array<string>(cap).fill('') : null;
    for (let i = 0; i < n; i++) {
      const k = this.slot(i);
      data.set(this.data.subarray(k * W, k * W + W), i * W);
      if (odd) odd[i] = this.odd![k]!;
    }
    this.data = data;
    this.odd = odd;
    this.cap = cap;
    this.head = 0;
  }

  /** Appends a candle (newest). */
  push(bar: Bar): void {
    if (this.length === this.cap) this.grow();
    this.write(this.slot(this.length), bar);
    this.length++;
  }

  /** Inserts a candle at position i (0 = oldest), moving the later ones up. */
  insert(i: number, bar: Bar): void {
    if (this.length === this.cap) this.grow();
    for (let j = this.length; j > i; j--) this.copy(this.slot(j - 1), this.slot(j));
    this.write(this.slot(i), bar);
    this.length++;
  }

  /** Replaces the candle at position i. */
  set(i: number, bar: Bar): void {
    this.write(this.slot(i), bar);
  }

  /** Drops the oldest candle. */
  shift(): void {
    if (this.length === 0) return;
    if (this.odd) this.odd[this.head] = '';
    this.head = this.slot(1);
    this.length--;
  }
}

/** v (an integer, value × 10^8, |v| < 2^53) as a decimal with exactly 8 fraction digits. */
export function formatScaled8(v: number): string {
  const a = Math.abs(v);
  const int = Math.floor(a / 1e8);
  const frac = String(a - int * 1e8);
  return `${v < 0 ? '-' : ''}${int}.${'00000000'.slice(frac.length)}${frac}`;
}
