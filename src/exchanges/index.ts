/** The exchange registry: every adapter candlestack can run. */
import type { ExchangeAdapter } from './adapter.js';
import { binance } from './binance/feed.js';
import { coinbase } from './coinbase/feed.js';
import { kraken } from './kraken/feed.js';
import { bybit } from './bybit/feed.js';
import { okx } from './okx/feed.js';

import type { ExchangeId } from '../core/exchange-id.js';

export { EXCHANGE_IDS, isExchangeId, type ExchangeId } from '../core/exchange-id.js';

const ADAPTERS: Readonly<Record<ExchangeId, ExchangeAdapter>> = { binance, coinbase, kraken, bybit, okx };

export function adapterFor(id: ExchangeId): ExchangeAdapter {
  return ADAPTERS[id];
}
