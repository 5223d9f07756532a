/**
 * Line parsers for Binance trade dumps, for the offline candle builder (cli/candles-command.ts).
 *
 * Each parser maps one text line to a normalized Trade, to `{ error }` (a bad line: reported and counted,
 * never used), or to null (a line to skip: a header, a kline, another symbol). Pure: no I/O, no state.
 *
 * - `binance-aggtrades-csv` (data.binance.vision aggTrades): agg id, price, qty, first id, last id, time,
 *   buyer-was-maker[, best-match]. count = last - first + 1.
 * - `binance-trades-csv` (data.binance.vision trades): id, price, qty, quote qty, time, buyer-was-maker[,
 *   best-match]. The quote qty column is not used (quote volume is Σ price × qty, as for live trades).
 * - `binance-ws-jsonl`: one raw WebSocket frame per line, mapped by the live `binanceMapper`.
 *
 * The trailing best-match column is optional (USDⓈ-M futures dumps do not have it). Timestamps may be
 * epoch ms or µs (spot dumps from 2025-01-01 use µs): see `eventTimeMs`.
 */
import { fixed8, parseFixed8 } from '../core/decimal.js';
import type { Trade } from '../core/types.js';
import type { EventSink, TradeStream } from '../exchanges/adapter.js';
import { binanceMapper, binanceSymbols } from '../exchanges/binance/mapper.js';
import { resolveSymbol } from '../exchanges/symbols.js';

export const DUMP_FORMATS = ['binance-aggtrades-csv', 'binance-trades-csv', 'binance-ws-jsonl'] as const;
export type DumpFormat = (typeof DUMP_FORMATS)[number];

export function isDumpFormat(value: unknown): value is DumpFormat {
  return typeof value === 'string' && (DUMP_FORMATS as readonly string[]).includes(value);
}

/** A trade, a bad line (`error` says why), or null for a line that is skipped on purpose. */
export type LineResult = Trade | { readonly error: string } | null;

export type LineParser = (line: string, symbol: string) => LineResult;

const EXCHANGE = 'binance';

/** Timestamps at or above this are microseconds (1e14 ms is the year 5138; 1e14 µs is 1973). */
export const MICROS_THRESHOLD = 1e14;

/** Epoch ms from a timestamp in ms or µs (detected per value). */
export function eventTimeMs(value: number): number {
  return value >= MICROS_THRESHOLD ? Math.floor(value / 1000) : value;
}

/** `BTCUSDT`, `btc-usdt`, `BTC/USDT` -> canonical `BTC-USDT`; null when the input is neither form. */
export function normalizeSymbol(input: string): string | null {
  return resolveSymbol(binanceSymbols, input);
}

const DIGITS = /^\d+$/;

/** True when the line's first CSV field is not a number: a header line (only checked on line 1). */
export function isCsvHeader(line: string): boolean {
  const first = line.replace(/^\uFEFF/, '').split(',', 1)[0] ?? '';
  return !DIGITS.test(first.trim());
}

const scratch = fixed8();

function uint(text: string): number | null {
  if (!DIGITS.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

function bool(text: string): boolean | null {
  const t = text.toLowerCase();
  return t === 'true' ? true : t === 'false' ? false : null;
}

function fields(line: string): string[] {
  return (line.endsWith('\r') ? line.slice(0, -1) : line).split(',');
}

interface CsvColumns {
  id: string;
  price: string;
  qty: string;
  time: string;
  maker: string;
}

function csvTrade(c: CsvColumns, symbol: string, count: number): LineResult {
  const id = uint(c.id);
  if (id === null) return { error: `trade id ${JSON.stringify(c.id)} is not a non-negative integer` };
  if (!parseFixed8(c.price, scratch)) return { error: `price ${JSON.stringify(c.price)} is not a decimal` };
  if (!parseFixed8(c.qty, scratch)) return { error: `quantity ${JSON.stringify(c.qty)} is not a decimal` };
  const raw = uint(c.time);
  if (raw === null) return { error: `timestamp ${JSON.stringify(c.time)} is not an integer` };
  const maker = bool(c.maker);
  if (maker === null) return { error: `buyer-was-maker ${JSON.stringify(c.maker)} is not true/false` };
  const time = eventTimeMs(raw);
  return { type: 'trade', exchange: EXCHANGE, symbol, id, price: c.price, qty: c.qty, side: maker ? 'sell' : 'buy', count, time, receivedAt: time };
}

/** aggTrades CSV: agg id, price, qty, first id, last id, time, buyer-was-maker[, best-match]. */
export function parseAggTradeCsvLine(line: string, symbol: string): LineResult {
  const f = fields(line);
  if (f.length === 1 && f[0] === '') return null;
  if (f.length !== 7 && f.length !== 8) return { error: `expected 7 or 8 columns, got ${f.length}` };
  const [id, price, qty, first, last, time, maker] = f as [string, string, string, string, string, string, string];
  const fi = uint(first);
  const la = uint(last);
  if (fi === null || la === null) return { error: `first/last trade id ${JSON.stringify(`${first}/${last}`)} is not an integer` };
  if (la < fi) return { error: `last trade id ${la} is before first trade id ${fi}` };
  return csvTrade({ id, price, qty, time, maker }, symbol, la - fi + 1);
}

/** trades CSV: id, price, qty, quote qty, time, buyer-was-maker[, best-match]. */
export function parseTradeCsvLine(line: string, symbol: string): LineResult {
  const f = fields(line);
  if (f.length === 1 && f[0] === '') return null;
  if (f.length !== 6 && f.length !== 7) return { error: `expected 6 or 7 columns, got ${f.length}` };
  const [id, price, qty, , time, maker] = f as [string, string, string, string, string, string];
  return csvTrade({ id, price, qty, time, maker }, symbol, 1);
}

/**
 * One raw Binance WebSocket frame (combined-stream wrapper or not), mapped by the live mapper. Trades of
 * `symbol` (already normalized) are returned with µs times converted to ms; klines, acknowledgements, other
 * events and other symbols are skipped; malformed JSON and malformed trade events are bad lines.
 */
export function parseWsJsonLine(line: string, symbol: string): LineResult {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (text.trim() === '') return null;
  let result: LineResult = null;
  const sink: EventSink = {
    trade(t) {
      if (t.symbol !== symbol) return;
      if (!parseFixed8(t.price, scratch)) return void (result = { error: `price ${JSON.stringify(t.price)} is not a decimal` });
      if (!parseFixed8(t.qty, scratch)) return void (result = { error: `quantity ${JSON.stringify(t.qty)} is not a decimal` });
      const time = eventTimeMs(t.time);
      result = time === t.time ? t : { ...t, time, receivedAt: time };
    },
    kline() {},
    reject(reason, detail) {
      // A malformed frame or trade is a bad line; another event, symbol or an exchange notice is skipped.
      if (reason !== 'unknown_event' && reason !== 'unknown_symbol' && reason !== 'exchange_error') result = { error: detail };
    },
    reconnect() {},
  };
  // A recording has no usable receive time: the latest there is, so that only the mapper's lower time bound applies.
  binanceMapper.map(text, Number.MAX_SAFE_INTEGER, sink);
  return result;
}

/** Which trade stream a jsonl line carries, to keep one of them when a recording has both for a symbol. */
export function wsTradeStream(line: string): TradeStream | null {
  const m = /"e"\s*:\s*"(aggTrade|trade)"/.exec(line);
  return m ? (m[1] as TradeStream) : null;
}

export const LINE_PARSERS: Readonly<Record<DumpFormat, LineParser>> = {
  'binance-aggtrades-csv': parseAggTradeCsvLine,
  'binance-trades-csv': parseTradeCsvLine,
  'binance-ws-jsonl': parseWsJsonLine,
};
