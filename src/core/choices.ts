/**
 * The closed sets a setting chooses from. They live here, not in the modules that act on them (candle engine,
 * logger, exchange adapters), so config can validate them without importing those modules.
 */

/** What the candle engine does with a trade for a period that has already closed. */
export const LATE_POLICIES = ['drop', 'amend'] as const;
export type LatePolicy = (typeof LATE_POLICIES)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `auto`: pretty when stdout is a terminal, JSON otherwise. */
export const LOG_FORMATS = ['json', 'pretty', 'auto'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Which trade stream to subscribe to where an exchange has two (Binance `@trade` or `@aggTrade`). */
export const TRADE_STREAMS = ['trade', 'aggTrade'] as const;
export type TradeStream = (typeof TRADE_STREAMS)[number];
