/** Conversions between the exchange's klines and our candles. */
import { DecimalSum, fixed8, ratioToFixed8 } from './decimal.js';
import type { Candle, CandleSource, Kline } from './types.js';

/** A kline the exchange serves as final over REST: `time` and `receivedAt` are the period's last millisecond. */
export function closedKline(k: Omit<Kline, 'type' | 'closed' | 'time' | 'receivedAt'>, periodMs: number): Kline {
  const end = k.openTime + periodMs - 1;
  return { ...k, type: 'kline', closed: true, time: end, receivedAt: end };
}

/**
 * The exchange's kline as a closed candle of ours (REST backfill). Fields the exchange does not report
 * (null) become 0 — the candle's `source: backfill` says its volume split and count are the exchange's — and
 * the VWAP falls back to the close when there is no quote volume.
 */
export function klineToCandle(k: Kline, source: CandleSource): Candle {
  return {
    exchange: k.exchange,
    symbol: k.symbol,
    timeframe: k.timeframe,
    openTime: k.openTime,
    open: k.open,
    high: k.high,
    low: k.low,
    close: k.close,
    volume: k.volume,
    quoteVolume: k.quoteVolume ?? '0',
    takerBuyVolume: k.takerBuyVolume ?? '0',
    tradeCount: k.tradeCount ?? 0,
    vwap: k.quoteVolume === null ? k.close : vwapOf(k.quoteVolume, k.volume, k.close),
    closed: k.closed,
    source,
    revision: 0,
  };
}

/** quote / base with 8 decimals; `fallback` (the close) when the volume is zero or unparsable. */
export function vwapOf(quoteVolume: string, volume: string, fallback: string): string {
  const scratch = fixed8();
  const q = new DecimalSum();
  const v = new DecimalSum();
  if (!q.set(quoteVolume, scratch) || !v.set(volume, scratch) || v.isZero()) return fallback;
  return ratioToFixed8(q.toNumber() / v.toNumber());
}
