/** The indicator factory for the specs of the `indicators:` config section (src/core/indicator-specs.ts). */
import { Atr } from './atr.js';
import { Bollinger } from './bollinger.js';
import { Ema } from './ema.js';
import type { StreamingIndicator } from './indicator.js';
import { Macd } from './macd.js';
import { Rsi } from './rsi.js';
import { Sma } from './sma.js';
import { Vwap } from './vwap.js';
import type { IndicatorSpec } from '../../core/indicator-specs.js';

export { DEFAULT_INDICATOR_SPECS, type IndicatorSpec, type IndicatorsConfig } from '../../core/indicator-specs.js';

export function createIndicator(spec: IndicatorSpec): StreamingIndicator {
  switch (spec.kind) {
    case 'sma':
      return new Sma(spec.period);
    case 'ema':
      return new Ema(spec.period);
    case 'rsi':
      return new Rsi(spec.period);
    case 'atr':
      return new Atr(spec.period);
    case 'macd':
      return new Macd(spec.fast, spec.slow, spec.signal);
    case 'bollinger':
      return new Bollinger(spec.period, spec.stdDev);
    case 'vwap':
      return new Vwap();
  }
}

export function createIndicators(specs: readonly IndicatorSpec[]): StreamingIndicator[] {
  return specs.map(createIndicator);
}

/** Series names of a configuration, in order (`sma20`, `macd12_26_9`, ...). */
export function indicatorNames(specs: readonly IndicatorSpec[]): string[] {
  return createIndicators(specs).map((i) => i.name);
}
