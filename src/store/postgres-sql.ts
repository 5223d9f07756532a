/** The PostgreSQL store's SQL, and its rows mapped back to candles (see postgres.ts). */
import type { Candle, CandleSource } from '../core/types.js';
import type { Timeframe } from '../core/timeframe.js';
import type { ExchangeId } from '../core/exchange-id.js';

export interface Row {
  exchange: ExchangeId;
  symbol: string;
  timeframe: string;
  open_time: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  quote_volume: string;
  taker_buy_volume: string;
  trade_count: number;
  vwap: string;
  closed: boolean;
  source: string;
  revision: number;
  last_trade_id: number | null;
}

export const COLUMNS =
  'exchange, symbol, timeframe, open_time, open, high, low, close, volume, quote_volume, taker_buy_volume, trade_count, vwap, closed, source, revision, last_trade_id';

export const UPSERT = `
  INSERT INTO candles AS k (${COLUMNS}, updated_at)
  SELECT u.*, $18::bigint FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[],
    $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::text[],
    $14::boolean[], $15::text[], $16::integer[], $17::bigint[]) AS u
  ON CONFLICT (exchange, symbol, timeframe, open_time) DO UPDATE SET
    open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
    volume = excluded.volume, quote_volume = excluded.quote_volume, taker_buy_volume = excluded.taker_buy_volume,
    trade_count = excluded.trade_count, vwap = excluded.vwap, closed = excluded.closed, source = excluded.source,
    revision = excluded.revision, last_trade_id = excluded.last_trade_id, updated_at = excluded.updated_at
  WHERE NOT (k.closed AND NOT excluded.closed)`;

export const RANGE = 'exchange = $1 AND symbol = $2 AND timeframe = $3 AND open_time >= $4 AND open_time <= $5';
export const QUERY_ASC = `SELECT ${COLUMNS} FROM candles WHERE ${RANGE} ORDER BY open_time ASC LIMIT $6`;
export const QUERY_DESC = `SELECT ${COLUMNS} FROM candles WHERE ${RANGE} ORDER BY open_time DESC LIMIT $6`;
// One primary-key probe per (symbol, timeframe): cheap however long the history.
export const LATEST = `
  SELECT k.* FROM unnest($2::text[]) AS s(symbol) CROSS JOIN unnest($3::text[]) AS t(timeframe)
  CROSS JOIN LATERAL (
    SELECT ${COLUMNS} FROM candles c WHERE c.exchange = $1 AND c.symbol = s.symbol AND c.timeframe = t.timeframe
    ORDER BY c.open_time DESC LIMIT 1) AS k`;
// COLLATE "C": byte order, as SQLite sorts.
export const SERIES = `
  SELECT exchange, symbol, timeframe, count(*) AS candles, min(open_time) AS first, max(open_time) AS last
  FROM candles GROUP BY exchange, symbol, timeframe
  ORDER BY exchange COLLATE "C", symbol COLLATE "C", timeframe COLLATE "C"`;

export function toCandle(r: Row): Candle {
  return {
    exchange: r.exchange as ExchangeId, // written by us from an ExchangeId
    symbol: r.symbol,
    timeframe: r.timeframe as Timeframe,
    openTime: r.open_time,
    open: r.open,
    high: r.high,
    low: r.low,
    close: r.close,
    volume: r.volume,
    quoteVolume: r.quote_volume,
    takerBuyVolume: r.taker_buy_volume,
    tradeCount: r.trade_count,
    vwap: r.vwap,
    closed: r.closed,
    source: r.source as CandleSource,
    revision: r.revision,
    ...(r.last_trade_id !== null ? { lastTradeId: r.last_trade_id } : {}),
  };
}
