/**
 * Cross-exchange divergence: for a canonical symbol (BTC-USDT) traded on two or more exchanges, each
 * exchange's last accepted price is compared with the median of all of them, and the spread of the prices is
 * reported in basis points. With a single exchange the check does not run; it activates by itself when a
 * second exchange carries the same symbol. BTC-USD and BTC-USDT are different symbols and are not compared.
 */
import type { ExchangeId } from '../core/exchange-id.js';

export interface PricedMarket {
  exchange: ExchangeId;
  /** Last accepted price, NaN when none. */
  price: number;
  /** Whether the price is recent enough to compare (not stale). */
  fresh: boolean;
}

export interface Divergence {
  exchange: ExchangeId;
  price: number;
  median: number;
  /** |ln(price / median)| */
  divergence: number;
  others: Record<string, number>;
}

export interface CrossExchangeView {
  /** (highest - lowest) / median of the fresh prices, in basis points. */
  spreadBps: number;
  divergences: Divergence[];
}

/**
 * Divergence of each fresh market from the median of the fresh ones, and their spread; null when fewer than
 * two are fresh.
 */
export function crossExchange(markets: readonly PricedMarket[]): CrossExchangeView | null {
  const live = markets.filter((m) => m.fresh && m.price > 0);
  if (live.length < 2) return null;
  const sorted = live.map((m) => m.price).sort((a, b) => a - b);
  const h = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[h]! : (sorted[h - 1]! + sorted[h]!) / 2;
  const spreadBps = ((sorted[sorted.length - 1]! - sorted[0]!) / median) * 10_000;
  const divergences = live.map((m) => ({
    exchange: m.exchange,
    price: m.price,
    median,
    divergence: Math.abs(Math.log(m.price / median)),
    others: Object.fromEntries(live.filter((o) => o !== m).map((o) => [o.exchange, o.price])),
  }));
  return { spreadBps, divergences };
}
