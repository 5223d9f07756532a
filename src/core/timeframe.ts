/** Candle timeframes: names as Binance spells its kline intervals, all aligned to UTC epoch boundaries. */
export const TIMEFRAMES = ['1s', '1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '8h', '12h', '1d'] as const;
export type Timeframe = (typeof TIMEFRAMES)[number];

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

const MS: Readonly<Record<Timeframe, number>> = Object.fromEntries(
  TIMEFRAMES.map((tf) => [tf, Number(tf.slice(0, -1)) * UNIT_MS[tf.slice(-1) as keyof typeof UNIT_MS]]),
) as Record<Timeframe, number>;

export function isTimeframe(value: unknown): value is Timeframe {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(MS, value);
}

export function timeframeMs(tf: Timeframe): number {
  return MS[tf];
}

/** Start of the period containing `time` (epoch ms). Every timeframe up to 1d divides a UTC day evenly. */
export function periodStart(time: number, tfMs: number): number {
  return time - (((time % tfMs) + tfMs) % tfMs);
}

/** Timeframes sorted from shortest to longest. */
export function sortTimeframes(tfs: readonly Timeframe[]): Timeframe[] {
  return [...new Set(tfs)].sort((a, b) => MS[a] - MS[b]);
}
