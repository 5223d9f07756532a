/** What the API serves: the configured exchanges and symbols, and how request values resolve to them. */
import { BadParameterError } from '../core/errors.js';
import type { Timeframe } from '../core/timeframe.js';
import type { SymbolCodec } from '../exchanges/adapter.js';
import type { ExchangeId } from '../core/exchange-id.js';
import { resolveSymbol } from '../exchanges/symbols.js';

export interface Market {
  exchange: ExchangeId;
  /** Canonical BASE-QUOTE symbols. */
  symbols: readonly string[];
  timeframes: readonly Timeframe[];
  /** The exchange's symbol codec: requests may name a symbol in its native form too. */
  codec: SymbolCodec;
}

export class Markets {
  constructor(readonly list: readonly Market[]) {}

  get defaultTimeframe(): Timeframe {
    return this.list[0]?.timeframes[0] ?? '1m';
  }

  /** Resolves (and defaults) exchange and symbol; unknown ones are a BadParameterError. */
  resolve(exchange: string | null, symbol: string | null): { exchange: ExchangeId; symbol: string; market: Market } {
    const market = exchange === null || exchange === '' ? this.list[0] : this.list.find((m) => m.exchange === exchange);
    if (!market) throw new BadParameterError('exchange', `one of ${this.list.map((m) => m.exchange).join(', ')}`, exchange);
    if (symbol === null || symbol === '') {
      const first = market.symbols[0];
      if (!first) throw new BadParameterError('symbol', 'a symbol', symbol);
      return { exchange: market.exchange, symbol: first, market };
    }
    const normalized = resolveSymbol(market.codec, symbol);
    if (normalized === null || !market.symbols.includes(normalized)) {
      throw new BadParameterError('symbol', `one of ${market.symbols.join(', ')} on ${market.exchange}`, symbol);
    }
    return { exchange: market.exchange, symbol: normalized, market };
  }
}
