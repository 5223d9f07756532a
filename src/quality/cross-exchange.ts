/**
 * Cross-exchange divergence: for a canonical symbol traded on two or more exchanges, each exchange's last
 * accepted price is compared with the median of all of them. With a single exchange (today's Binance-only
 * setup) the check does not run; it activates by itself when a second exchange carries the same symbol.
 */

export interface PricedMarket {
  exchange: string;
  /** Last accepted price, NaN when none. */
  price: number;
  /** Whether the price is recent enough to compare (not stale). */
  fresh: boolean;
}

export interface Divergence {
  exchange: string;
  price: number;
  median: number;
  /** |ln(price / median)| */
  divergence: number;
  others: Record<string, number>;
}

/** Canonical form of a symbol for matching across exchanges: upper case letters and digits only. */
export function canonicalSymbol(symbol: string): string {
  return symbol.toUpperCase().replace(/[^A-Z0-9]/g, '');
}

/** Divergence of each fresh market from the median of the fresh ones; empty when fewer than two are fresh. */
export function divergences(markets: readonly PricedMarket[]): Divergence[] {
  const live = markets.filter((m) => m.fresh && m.price > 0);
  if (live.length < 2) return [];
  const sorted = live.map((m) => m.price).sort((a, b) => a - b);
  const h = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[h]! : (sorted[h - 1]! + sorted[h]!) / 2;
  return live.map((m) => ({
    exchange: m.exchange,
    price: m.price,
    median,
    divergence: Math.abs(Math.log(m.price / median)),
    others: Object.fromEntries(live.filter((o) => o !== m).map((o) => [o.exchange, o.price])),
  }));
}
