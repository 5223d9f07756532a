/** Reading a user's symbol (config, CLI, API) in either form: the exchange's native one or canonical BASE-QUOTE. */
import type { SymbolCodec } from './adapter.js';
import { canonicalSymbol, memoSymbols, splitCanonical, splitConcatenated, splitSeparated } from '../core/symbols.js';

/**
 * `BTCUSDT`, `btc-usdt`, `BTC/USDT`, Kraken's `XBT/USD` -> canonical (`BTC-USDT`, `BTC-USD`) for the exchange
 * whose codec is given; null when the input is neither its native form nor BASE-QUOTE.
 */
export function resolveSymbol(codec: SymbolCodec, input: string): string | null {
  const s = input.trim().toUpperCase();
  const native = codec.toCanonical(s);
  if (native !== null) return native;
  const parts = splitSeparated(s);
  return parts ? canonicalSymbol(parts) : null;
}

/**
 * BTCUSDT <-> BTC-USDT for exchanges that concatenate base and quote (Binance, Bybit spot): the quote is read
 * from a known suffix, memoised (one Map.get per frame).
 */
export function concatenatedSymbols(): SymbolCodec {
  return {
    toCanonical: memoSymbols((native) => {
      const parts = splitConcatenated(native);
      return parts ? canonicalSymbol(parts) : null;
    }),
    toNative(canonical) {
      const parts = splitCanonical(canonical);
      return parts ? parts.base + parts.quote : canonical;
    },
  };
}
