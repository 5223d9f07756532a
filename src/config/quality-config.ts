/**
 * Config sections `quality:` (data-quality checks and score) and `breakers:` (circuit breakers), read from the
 * config file and validated field by field: an invalid value is a ConfigError naming e.g. `quality.outlierK`.
 */
import { BREAKER_COMPONENTS, type BreakerComponent, type BreakerSettings } from '../core/circuit-breaker.js';
import { ConfigError } from '../core/errors.js';
import { TIMEFRAMES, isTimeframe, type Timeframe } from '../core/timeframe.js';
import { QUALITY_CHECKS } from '../quality/checks.js';
import { defaultQualitySettings, type QualitySettings } from '../quality/settings.js';
import { parseDuration } from './duration.js';

export interface BreakersConfig {
  /** Settings every breaker uses unless overridden. */
  defaults: BreakerSettings;
  overrides: Partial<Record<BreakerComponent, Partial<BreakerSettings>>>;
  /** Rows the store writer buffers while it cannot write before dropping forming-candle updates. */
  storeBufferRows: number;
}

export function defaultBreakersConfig(): BreakersConfig {
  return { defaults: { failureThreshold: 5, openMs: 30_000, halfOpenProbes: 1 }, overrides: {}, storeBufferRows: 100_000 };
}

/** The settings of one component's breaker. */
export function breakerSettings(c: BreakersConfig, component: BreakerComponent): BreakerSettings {
  return { ...c.defaults, ...c.overrides[component] };
}

export { defaultQualitySettings };

type Obj = Record<string, unknown>;

const QUALITY_FIELDS = ['checkInterval', 'staleAfter', 'outlierK', 'outlierMinJump', 'outlierWindow', 'volumeMaxMultiple', 'candleTimeframe', 'candlePeriods', 'candleCheckInterval', 'maxDivergence', 'halfLife', 'window', 'weights'] as const;

export function applyQualityFile(q: QualitySettings, raw: unknown): void {
  const o = mapping(raw, 'quality', QUALITY_FIELDS);
  if (o.checkInterval !== undefined) q.checkIntervalMs = duration(o.checkInterval, 'quality.checkInterval', 50, 3_600_000);
  if (o.staleAfter !== undefined) q.staleAfterMs = duration(o.staleAfter, 'quality.staleAfter', 100, 86_400_000);
  if (o.outlierK !== undefined) q.outlierK = num(o.outlierK, 'quality.outlierK', 1, 1_000);
  if (o.outlierMinJump !== undefined) q.outlierMinJump = num(o.outlierMinJump, 'quality.outlierMinJump', 0, 1);
  if (o.outlierWindow !== undefined) q.outlierWindow = int(o.outlierWindow, 'quality.outlierWindow', 8, 100_000);
  if (o.volumeMaxMultiple !== undefined) q.volumeMaxMultiple = num(o.volumeMaxMultiple, 'quality.volumeMaxMultiple', 2, 1e12);
  if (o.candleTimeframe !== undefined) {
    if (typeof o.candleTimeframe !== 'string' || !isTimeframe(o.candleTimeframe)) throw new ConfigError('quality.candleTimeframe', `one of ${TIMEFRAMES.join(', ')}`, o.candleTimeframe);
    q.candleTimeframe = o.candleTimeframe;
  }
  if (o.candlePeriods !== undefined) q.candlePeriods = int(o.candlePeriods, 'quality.candlePeriods', 2, 5_000);
  if (o.candleCheckInterval !== undefined) q.candleCheckIntervalMs = duration(o.candleCheckInterval, 'quality.candleCheckInterval', 100, 86_400_000);
  if (o.maxDivergence !== undefined) q.maxDivergence = num(o.maxDivergence, 'quality.maxDivergence', 0, 1);
  if (o.halfLife !== undefined) q.halfLifeMs = duration(o.halfLife, 'quality.halfLife', 1_000, 86_400_000);
  if (o.window !== undefined) q.windowMs = duration(o.window, 'quality.window', 1_000, 7 * 86_400_000);
  if (o.weights !== undefined) {
    const w = mapping(o.weights, 'quality.weights', QUALITY_CHECKS);
    for (const [check, v] of Object.entries(w)) q.weights[check as keyof QualitySettings['weights']] = num(v, `quality.weights.${check}`, 0, 100);
  }
}

/** The timeframe the missing-candle check uses: the configured one (which must be collected) or the smallest. */
export function resolveCandleTimeframe(q: QualitySettings, timeframes: readonly Timeframe[]): Timeframe {
  if (q.candleTimeframe === null) return timeframes[0] ?? '1m';
  if (!timeframes.includes(q.candleTimeframe)) throw new ConfigError('quality.candleTimeframe', `one of the configured timeframes ${timeframes.join(', ')}`, q.candleTimeframe);
  return q.candleTimeframe;
}

const BREAKER_FIELDS = ['failureThreshold', 'openFor', 'halfOpenProbes'] as const;

export function applyBreakersFile(b: BreakersConfig, raw: unknown): void {
  const o = mapping(raw, 'breakers', [...BREAKER_FIELDS, 'storeBufferRows', ...BREAKER_COMPONENTS]);
  Object.assign(b.defaults, breakerFields(o, 'breakers'));
  if (o.storeBufferRows !== undefined) b.storeBufferRows = int(o.storeBufferRows, 'breakers.storeBufferRows', 100, 100_000_000);
  for (const component of BREAKER_COMPONENTS) {
    if (o[component] === undefined) continue;
    const field = `breakers.${component}`;
    b.overrides[component] = breakerFields(mapping(o[component], field, BREAKER_FIELDS), field);
  }
}

function breakerFields(o: Obj, field: string): Partial<BreakerSettings> {
  const out: Partial<BreakerSettings> = {};
  if (o.failureThreshold !== undefined) out.failureThreshold = int(o.failureThreshold, `${field}.failureThreshold`, 1, 1_000);
  if (o.openFor !== undefined) out.openMs = duration(o.openFor, `${field}.openFor`, 100, 86_400_000);
  if (o.halfOpenProbes !== undefined) out.halfOpenProbes = int(o.halfOpenProbes, `${field}.halfOpenProbes`, 1, 100);
  return out;
}

function mapping(v: unknown, field: string, allowed: readonly string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(field, `a mapping with keys ${allowed.join(', ')}`, v);
  for (const k of Object.keys(v)) if (!allowed.includes(k)) throw new ConfigError(`${field}.${k}`, `no such field (known: ${allowed.join(', ')})`, (v as Obj)[k]);
  return v as Obj;
}

function num(v: unknown, field: string, min: number, max: number): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
  if (!Number.isFinite(n) || n < min || n > max) throw new ConfigError(field, `a number from ${min} to ${max}`, v);
  return n;
}

function int(v: unknown, field: string, min: number, max: number): number {
  const n = num(v, field, min, max);
  if (!Number.isInteger(n)) throw new ConfigError(field, `an integer from ${min} to ${max}`, v);
  return n;
}

function duration(v: unknown, field: string, min: number, max: number): number {
  const ms = parseDuration(v);
  if (ms === undefined || ms < min || ms > max) throw new ConfigError(field, `a duration like 500ms, 2s, 5m, 1h (or milliseconds) between ${min}ms and ${max}ms`, v);
  return ms;
}
