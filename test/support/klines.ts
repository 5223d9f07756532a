/** Real Binance klines from test/fixtures/binance/ as candles (decimal strings with the exchange's 8 decimals). */
import type { Candle } from '../../src/core/types.js';
import type { Timeframe } from '../../src/core/timeframe.js';
import { readFixture } from './fixtures.js';

/** `[openTime, open, high, low, close, volume]` rows (freqtrade's OHLCV JSON layout) -> closed candles. */
export function loadKlines(file: string, symbol: string, timeframe: Timeframe): Candle[] {
  const rows = JSON.parse(readFixture('binance', file)) as number[][];
  return rows.map(([t, o, h, l, c, v]) => {
    const close = c!.toFixed(8);
    return {
      exchange: 'binance',
      symbol,
      timeframe,
      openTime: t!,
      open: o!.toFixed(8),
      high: h!.toFixed(8),
      low: l!.toFixed(8),
      close,
      volume: v!.toFixed(8),
      quoteVolume: '0.00000000',
      takerBuyVolume: '0.00000000',
      tradeCount: 0,
      vwap: close,
      closed: true,
      source: 'backfill',
      revision: 0,
    };
  });
}
