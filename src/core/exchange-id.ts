/** The exchanges candlestack speaks to, by id: the `exchange` of every domain event, candle and metric label. */
export const EXCHANGE_IDS = ['binance', 'coinbase', 'kraken', 'bybit', 'okx'] as const;
export type ExchangeId = (typeof EXCHANGE_IDS)[number];

export function isExchangeId(value: unknown): value is ExchangeId {
  return typeof value === 'string' && (EXCHANGE_IDS as readonly string[]).includes(value);
}
