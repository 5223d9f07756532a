/** The exchange registry: every adapter candlestack can run. */
import type { ExchangeAdapter } from './adapter.js';
import { binance } from './binance/feed.js';
import { coinbase } from './coinbase/feed.js';
import { kraken } from './kraken/feed.js';
import { bybit } from './bybit/feed.js';
import { okx } from './okx/feed.js';

export const EXCHANGE_IDS = ['binance', 'coinbase', 'kraken', 'bybit', 'okx'] as const;
export type ExchangeId = (typeof EXCHANGE_IDS)[number];

const ADAPTERS: Readonly<Record<ExchangeId, ExchangeAdapter>> = { binance, coinbase, kraken, bybit, okx };

export function isExchangeId(value: unknown): value is ExchangeId {
  return typeof value === 'string' && (EXCHANGE_IDS as readonly string[]).includes(value);
}

export function adapterFor(id: ExchangeId): ExchangeAdapter {
  return ADAPTERS[id];
}
