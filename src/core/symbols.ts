/**
 * Canonical market symbols: `BASE-QUOTE` in upper case (`BTC-USDT`, `ETH-USD`), the one form candlestack uses
 * after the exchange edge — in candles, the store, the API, metrics and logs. Each exchange adapter maps its
 * native form (BTCUSDT, BTC-USD, BTC/USD, XBTUSD, BTC-USDT) to and from it.
 */

const CANONICAL = /^([A-Z0-9]{1,20})-([A-Z0-9]{1,20})$/;
const SEPARATED = /^([A-Z0-9]{1,20})[-/_:]([A-Z0-9]{1,20})$/;

/** Asset codes some exchanges spell their own way, mapped to the common code. */
const ASSET_ALIASES: Readonly<Record<string, string>> = { XBT: 'BTC', XDG: 'DOGE' };

/**
 * Quote assets recognised at the end of a concatenated symbol (BTCUSDT), longest match first so that
 * `FDUSD` wins over `USD` and `USDT` over `USD`.
 */
export const CONCATENATED_QUOTES: readonly string[] = [
  'FDUSD', 'USDT', 'USDC', 'TUSD', 'BUSD', 'USDE', 'DAI', 'USD', 'EUR', 'GBP', 'TRY', 'BRL', 'JPY', 'AUD',
  'BTC', 'ETH', 'BNB', 'XRP', 'SOL', 'DOGE',
].sort((a, b) => b.length - a.length);

export interface SymbolParts {
  base: string;
  quote: string;
}

/** The common code for an asset (`XBT` -> `BTC`). */
export function commonAsset(code: string): string {
  return ASSET_ALIASES[code] ?? code;
}

export function canonicalSymbol(parts: SymbolParts): string {
  return `${commonAsset(parts.base)}-${commonAsset(parts.quote)}`;
}

/** Base and quote of a canonical symbol; null when `s` is not canonical. */
export function splitCanonical(s: string): SymbolParts | null {
  const m = CANONICAL.exec(s);
  return m ? { base: m[1]!, quote: m[2]! } : null;
}

/** `BTC-USDT`, `btc/usdt`, `XBT_USD`, `BTC:USD` -> parts (upper case, aliases kept); null otherwise. */
export function splitSeparated(s: string): SymbolParts | null {
  const m = SEPARATED.exec(s.trim().toUpperCase());
  return m ? { base: m[1]!, quote: m[2]! } : null;
}

/** `BTCUSDT` -> { BTC, USDT } by the longest known quote suffix; null when none fits. */
export function splitConcatenated(s: string, quotes: readonly string[] = CONCATENATED_QUOTES): SymbolParts | null {
  if (!/^[A-Z0-9]{2,40}$/.test(s)) return null;
  for (const quote of quotes) {
    if (s.length > quote.length && s.endsWith(quote)) return { base: s.slice(0, -quote.length), quote };
  }
  return null;
}

const MAX_NATIVE_LENGTH = 48;

/**
 * Wraps a native -> canonical mapping in a bounded memo, so the per-frame lookup on the hot path is one
 * Map.get. Misses (null) are remembered too; the memo is cleared when it reaches `max` entries.
 */
export function memoSymbols(map: (native: string) => string | null, max = 10_000): (native: string) => string | null {
  const memo = new Map<string, string | null>();
  return (native) => {
    // No symbol is this long (canonical parts are at most 20 characters each): not read, and not memoised, so a
    // hostile frame cannot fill the memo with large keys.
    if (native.length > MAX_NATIVE_LENGTH) return null;
    let out = memo.get(native);
    if (out === undefined) {
      out = map(native);
      if (memo.size >= max) memo.clear();
      memo.set(native, out);
    }
    return out;
  };
}
