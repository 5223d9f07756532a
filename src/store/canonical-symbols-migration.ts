/**
 * Migration 4 (SQLite and PostgreSQL): Binance rows written before canonical symbols carry Binance's native
 * spelling (`BTCUSDT`); rewrite them to `BTC-USDT` so history continues under the symbol new candles use.
 * The quote list is frozen here (a migration must not change when core/symbols.ts does); longest first, and a
 * row rewritten once contains `-` and is not touched again.
 */
const QUOTES_AT_MIGRATION_4 = ['FDUSD', 'USDT', 'USDC', 'TUSD', 'BUSD', 'USDE', 'DAI', 'USD', 'EUR', 'GBP', 'TRY', 'BRL', 'JPY', 'AUD', 'BTC', 'ETH', 'BNB', 'XRP', 'SOL', 'DOGE'].sort(
  (a, b) => b.length - a.length,
);

/** `length` is the SQL function for a string's length (SQLite `length`, PostgreSQL `char_length`). */
export function canonicalSymbolsSql(length: 'length' | 'char_length'): string {
  const statements: string[] = [];
  for (const table of ['candles', 'indicators']) {
    for (const q of QUOTES_AT_MIGRATION_4) {
      statements.push(
        `UPDATE ${table} SET symbol = substr(symbol, 1, ${length}(symbol) - ${q.length}) || '-${q}' ` +
          `WHERE exchange = 'binance' AND symbol NOT LIKE '%-%' AND symbol LIKE '%${q}' AND ${length}(symbol) > ${q.length};`,
      );
    }
  }
  return statements.join('\n');
}
