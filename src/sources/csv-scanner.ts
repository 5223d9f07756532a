/**
 * The fast reader of Binance CSV trade dumps (`binance-aggtrades-csv`, `binance-trades-csv`): bytes in,
 * trades out, without readline, without a string per field and without a regular expression per value.
 *
 * It gives exactly what readline (`crlfDelay: Infinity`) + the line parsers of binance-dumps.ts give, because
 * it only reads the lines it is sure about and hands every other one over as text:
 * - Lines end at `\n`, `\r\n` or a lone `\r`, as readline splits them (a `\r` at the end of one chunk and a
 *   `\n` at the start of the next are one line end); a last line without a line end is a line.
 * - A line is read here when it has the plain form: integers as 1 to 16 ASCII digits (safe integers),
 *   price and quantity as text `parseFixed8` accepts, buyer-was-maker `true`/`false` in any letter case,
 *   the right number of columns, last id not below first id. It becomes a Trade as `csvTrade` makes it.
 * - Every other line (line 1, which may be a header or start with a BOM; empty lines; anything else) goes to
 *   `line()` as the text readline would give (UTF-8), for the line parser to accept, skip or report.
 *
 * The chunk is decoded once as latin1 (one char per byte, so char offsets are byte offsets); a line handed
 * over as text is decoded from its bytes as UTF-8.
 */
import { fixed8, parseFixed8, type Fixed8 } from '../core/decimal.js';
import type { Trade } from '../core/types.js';
import { eventTimeMs } from './binance-dumps.js';

export type CsvLayout = 'aggtrades' | 'trades';

/** A trade the scanner reuses for every line it reads (valid until the next call of `trade`). */
export interface ScannedTrade {
  type: 'trade';
  exchange: 'binance';
  symbol: string;
  id: number;
  price: string;
  qty: string;
  side: 'buy' | 'sell';
  count: number;
  time: number;
  receivedAt: number;
}

export interface CsvScanSink {
  /** A line read here; `price`/`qty` hold its parsed price and quantity. `t` is reused: copy what you keep. */
  trade(t: Trade, price: Fixed8, qty: Fixed8, lineNo: number): void;
  /** Any other line, as readline gives it, for the line parser. */
  line(text: string, lineNo: number): void;
}

const LF = 10;
const CR = 13;
const COMMA = 44;
const MAX_INT_DIGITS = 16;

export class CsvScanner {
  /** Lines seen so far (the number of the last line handed out). */
  lineNo = 0;
  private carry: Buffer | null = null;
  /** The previous chunk ended with `\r`: a `\n` starting the next one belongs to it. */
  private skipLf = false;
  private readonly price = fixed8();
  private readonly qty = fixed8();
  private readonly t: ScannedTrade;
  /** Set by an integer read: where it stopped. */
  private at = 0;
  /** The bytes being scanned (the chunk, with the previous chunk's last partial line in front). */
  private b: Uint8Array = new Uint8Array(0);
  /** End of the complete lines in `b`. */
  private limit = 0;

  constructor(
    private readonly layout: CsvLayout,
    symbol: string,
    private readonly sink: CsvScanSink,
  ) {
    this.t = { type: 'trade', exchange: 'binance', symbol, id: 0, price: '', qty: '', side: 'buy', count: 1, time: 0, receivedAt: 0 };
  }

  /** Reads every complete line of `chunk` (with what was left of the previous one). */
  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.carry !== null) {
      buf = Buffer.concat([this.carry, chunk]);
      this.carry = null;
    }
    let start = 0;
    if (this.skipLf) {
      this.skipLf = false;
      if (buf.length > 0 && buf[0] === LF) start = 1;
    }
    const cut = Math.max(buf.lastIndexOf(LF), buf.lastIndexOf(CR)) + 1;
    if (cut <= start) {
      if (buf.length > start) this.carry = buf.subarray(start);
      return;
    }
    if (cut < buf.length) this.carry = Buffer.from(buf.subarray(cut));
    this.b = buf;
    this.limit = cut;
    this.scan(buf, buf.toString('latin1', 0, cut), start, cut);
  }

  /** The input ended: the last line, if it had no line end. */
  end(): void {
    const rest = this.carry;
    this.carry = null;
    if (rest !== null && rest.length > 0) this.sink.line(rest.toString('utf8'), ++this.lineNo);
  }

  private scan(buf: Buffer, text: string, from: number, end: number): void {
    let i = from;
    while (i < end) {
      const lineNo = ++this.lineNo;
      const next = lineNo === 1 ? -1 : this.layout === 'aggtrades' ? this.aggTrade(text, i) : this.plainTrade(text, i);
      if (next >= 0) {
        i = next;
        continue;
      }
      const b = this.b;
      let j = i;
      let c = b[j];
      while (c !== LF && c !== CR) c = b[++j];
      this.sink.line(buf.toString('utf8', i, j), lineNo);
      i = this.lineEnd(j, end);
    }
  }

  /** Index after the line end at `j` (`\r\n` is one line end; a `\r` ending the chunk may be followed by `\n`). */
  private lineEnd(j: number, end: number): number {
    const b = this.b;
    if (b[j] === CR) {
      if (j + 1 === end) this.skipLf = true;
      else if (b[j + 1] === LF) return j + 2;
    }
    return j + 1;
  }

  /** A non-negative integer of 1..16 digits at `i` (its end in `this.at`), or -1. */
  private uint(i: number): number {
    const b = this.b;
    let n = 0;
    const start = i;
    let d = b[i]! - 48;
    while (d >= 0 && d <= 9) {
      n = n * 10 + d;
      d = b[++i]! - 48;
    }
    this.at = i;
    const digits = i - start;
    return digits === 0 || digits > MAX_INT_DIGITS || n > Number.MAX_SAFE_INTEGER ? -1 : n;
  }

  /** End of the field starting at `i` (the index of its comma or line end). */
  private fieldEnd(i: number): number {
    const b = this.b;
    let c = b[i];
    while (c !== COMMA && c !== LF && c !== CR) c = b[++i];
    return i;
  }

  /** Price and quantity fields from `i` (after the id's comma); sets t.price/t.qty; returns the index after qty's comma or -1. */
  private decimals(text: string, i: number): number {
    const b = this.b;
    let e = this.fieldEnd(i);
    if (b[e] !== COMMA) return -1;
    const price = text.slice(i, e);
    if (!parseFixed8(price, this.price)) return -1;
    i = e + 1;
    e = this.fieldEnd(i);
    if (b[e] !== COMMA) return -1;
    const qty = text.slice(i, e);
    if (!parseFixed8(qty, this.qty)) return -1;
    this.t.price = price;
    this.t.qty = qty;
    return e + 1;
  }

  /** time, buyer-was-maker[, best-match] and the line end from `i`; hands the trade out; the index after the line or -1. */
  private finish(text: string, i: number, id: number, count: number): number {
    const b = this.b;
    const raw = this.uint(i);
    i = this.at;
    if (raw < 0 || b[i] !== COMMA) return -1;
    i++;
    let maker: boolean;
    const c0 = b[i]! | 32;
    if (c0 === 116 /* t */ && (b[i + 1]! | 32) === 114 && (b[i + 2]! | 32) === 117 && (b[i + 3]! | 32) === 101) {
      maker = true;
      i += 4;
    } else if (c0 === 102 /* f */ && (b[i + 1]! | 32) === 97 && (b[i + 2]! | 32) === 108 && (b[i + 3]! | 32) === 115 && (b[i + 4]! | 32) === 101) {
      maker = false;
      i += 5;
    } else {
      return -1;
    }
    let c = b[i];
    if (c === COMMA) {
      i = this.fieldEnd(i + 1);
      c = b[i];
    }
    if (c !== LF && c !== CR) return -1;
    const t = this.t;
    const time = eventTimeMs(raw);
    t.id = id;
    t.count = count;
    t.time = time;
    t.receivedAt = time;
    t.side = maker ? 'sell' : 'buy';
    this.sink.trade(t, this.price, this.qty, this.lineNo);
    return this.lineEnd(i, this.limit);
  }

  /** aggTrades: agg id, price, qty, first id, last id, time, buyer-was-maker[, best-match]. */
  private aggTrade(text: string, i: number): number {
    const b = this.b;
    const id = this.uint(i);
    i = this.at;
    if (id < 0 || b[i] !== COMMA) return -1;
    i = this.decimals(text, i + 1);
    if (i < 0) return -1;
    const first = this.uint(i);
    i = this.at;
    if (first < 0 || b[i] !== COMMA) return -1;
    const last = this.uint(i + 1);
    i = this.at;
    if (last < first || b[i] !== COMMA) return -1;
    return this.finish(text, i + 1, id, last - first + 1);
  }

  /** trades: id, price, qty, quote qty (not used), time, buyer-was-maker[, best-match]. */
  private plainTrade(text: string, i: number): number {
    const b = this.b;
    const id = this.uint(i);
    i = this.at;
    if (id < 0 || b[i] !== COMMA) return -1;
    i = this.decimals(text, i + 1);
    if (i < 0) return -1;
    i = this.fieldEnd(i);
    if (b[i] !== COMMA) return -1;
    return this.finish(text, i + 1, id, 1);
  }
}
