/**
 * Config sections `quality:` (data-quality checks and score) and `breakers:` (circuit breakers). An invalid
 * value is a ConfigError naming e.g. `quality.outlierK` or `breakers.store_write.openFor`.
 */
import { BREAKER_COMPONENTS, type BreakerComponent, type BreakerSettings } from '../core/circuit-breaker.js';
import { ConfigError } from '../core/errors.js';
import { TIMEFRAMES, type Timeframe } from '../core/timeframe.js';
import { DEFAULT_CHECK_WEIGHTS, QUALITY_CHECKS } from '../quality/checks.js';
import { defaultQualitySettings, type QualitySettings } from '../quality/settings.js';
import { duration, int, nullable, num, oneOf } from './fields.js';
import { leaf, partial, record, section, type Fields } from './schema.js';

export interface BreakersConfig {
  /** Settings every breaker uses unless overridden. */
  defaults: BreakerSettings;
  overrides: Partial<Record<BreakerComponent, Partial<BreakerSettings>>>;
  /** Rows the store writer buffers while it cannot write before dropping forming-candle updates. */
  storeBufferRows: number;
}

/** The defaults are the quality monitor's own (src/quality/settings.ts: tests and benches run it without config). */
const Q = defaultQualitySettings();

export const QUALITY = section<QualitySettings>({
  checkIntervalMs: leaf(duration(50, 3_600_000), Q.checkIntervalMs, { file: 'checkInterval' }),
  staleAfterMs: leaf(duration(100, 86_400_000), Q.staleAfterMs, { file: 'staleAfter' }),
  outlierK: leaf(num(1, 1_000), Q.outlierK),
  outlierMinJump: leaf(num(0, 1), Q.outlierMinJump),
  outlierWindow: leaf(int(8, 100_000), Q.outlierWindow),
  volumeMaxMultiple: leaf(num(2, 1e12), Q.volumeMaxMultiple),
  /** null: the smallest configured timeframe (resolveCandleTimeframe). */
  candleTimeframe: leaf(nullable(oneOf(TIMEFRAMES)), Q.candleTimeframe),
  candlePeriods: leaf(int(2, 5_000), Q.candlePeriods),
  candleCheckIntervalMs: leaf(duration(100, 86_400_000), Q.candleCheckIntervalMs, { file: 'candleCheckInterval' }),
  maxDivergence: leaf(num(0, 1), Q.maxDivergence),
  halfLifeMs: leaf(duration(1_000, 86_400_000), Q.halfLifeMs, { file: 'halfLife' }),
  windowMs: leaf(duration(1_000, 7 * 86_400_000), Q.windowMs, { file: 'window' }),
  weights: record(QUALITY_CHECKS, (check) => leaf(num(0, 100), DEFAULT_CHECK_WEIGHTS[check])),
});

/** The timeframe the missing-candle check uses: the configured one (which must be collected) or the smallest. */
export function resolveCandleTimeframe(q: QualitySettings, timeframes: readonly Timeframe[]): Timeframe {
  if (q.candleTimeframe === null) return timeframes[0] ?? '1m';
  if (!timeframes.includes(q.candleTimeframe)) throw new ConfigError('quality.candleTimeframe', `one of the configured timeframes ${timeframes.join(', ')}`, q.candleTimeframe);
  return q.candleTimeframe;
}

/** One breaker's settings: at the top of `breakers:` for every breaker, and per component to override them. */
const BREAKER_FIELDS: Fields<BreakerSettings> = {
  failureThreshold: leaf(int(1, 1_000), 5),
  openMs: leaf(duration(100, 86_400_000), 30_000, { file: 'openFor' }),
  halfOpenProbes: leaf(int(1, 100), 1),
};

export const BREAKERS = section<BreakersConfig>({
  defaults: section(BREAKER_FIELDS, { inline: true }),
  storeBufferRows: leaf(int(100, 100_000_000), 100_000),
  overrides: record(BREAKER_COMPONENTS, () => partial(section(BREAKER_FIELDS)), { inline: true }),
});

/** The settings of one component's breaker. */
export function breakerSettings(c: BreakersConfig, component: BreakerComponent): BreakerSettings {
  return { ...c.defaults, ...c.overrides[component] };
}
