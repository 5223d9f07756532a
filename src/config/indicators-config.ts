/**
 * The `indicators:` section of the config file. Each indicator key replaces the defaults of that kind (an empty
 * list or `false` turns it off); kinds not named keep their defaults. `indicators: false` turns them all off.
 *
 *   indicators:
 *     forming: true          # values over the forming candle, published (not stored)
 *     history: 500           # closed candles kept per series (warm-up after restart, correction replay)
 *     sma: [20, 50]
 *     ema: [20]
 *     rsi: [14]
 *     macd: ["12/26/9"]      # or [{ fast: 12, slow: 26, signal: 9 }]
 *     bollinger: ["20/2"]    # or [{ period: 20, stdDev: 2 }]
 *     atr: [14]
 *     vwap: true
 */
import { ConfigError } from '../core/errors.js';
import { DEFAULT_INDICATOR_SPECS, longestWarmup, type IndicatorSpec, type IndicatorsConfig } from '../core/indicator-specs.js';
import { bool, isObj, mapping, type Obj, type Parse } from './fields.js';
import { leaf, section, type Node } from './schema.js';

const KINDS = ['sma', 'ema', 'rsi', 'macd', 'bollinger', 'atr', 'vwap'] as const;
const MAX_PERIOD = 1000;

const history: Parse<number> = (v, field) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 10 || v > 100_000) throw new ConfigError(field, 'an integer from 10 to 100000 (closed candles kept per series)', v);
  return v;
};

/** The indicator kinds' keys (sma ... vwap) in the section's mapping: each one given replaces that kind's specs. */
const specs: Node<IndicatorSpec[]> = {
  inline: KINDS,
  init: () => DEFAULT_INDICATOR_SPECS.map((s) => ({ ...s })),
  read(raw, field, current) {
    const o = raw as Obj;
    let out = current;
    const replace = (kind: IndicatorSpec['kind'], next: IndicatorSpec[]) => (out = [...out.filter((s) => s.kind !== kind), ...next]);
    for (const kind of ['sma', 'ema', 'rsi', 'atr'] as const) {
      if (o[kind] !== undefined) replace(kind, items(o[kind], `${field}.${kind}`).map((x, i) => ({ kind, period: period(x, `${field}.${kind}[${i}]`, kind === 'sma' ? 1 : 2) })));
    }
    if (o.macd !== undefined) replace('macd', items(o.macd, `${field}.macd`).map((x, i) => macd(x, `${field}.macd[${i}]`)));
    if (o.bollinger !== undefined) replace('bollinger', items(o.bollinger, `${field}.bollinger`).map((x, i) => bollinger(x, `${field}.bollinger[${i}]`)));
    if (o.vwap !== undefined) replace('vwap', bool(o.vwap, `${field}.vwap`) ? [{ kind: 'vwap' }] : []);
    const seen = new Set<string>();
    return out.filter((s) => {
      const k = JSON.stringify(s);
      return seen.has(k) ? false : (seen.add(k), true);
    });
  },
  settings: [],
  leaves: () => [],
};

export const INDICATORS = section<IndicatorsConfig>(
  {
    enabled: leaf(bool, true),
    forming: leaf(bool, true),
    history: leaf(history, 500),
    specs,
  },
  {
    expected: (keys) => `false or a mapping with keys ${keys.join(', ')}`,
    // `indicators: false` (or null): every kind off.
    shorthand: (raw) => (raw === false || raw === null ? Object.fromEntries([['enabled', false], ...KINDS.map((k) => [k, false])]) : undefined),
    check: (c, _given, field) => {
      const need = longestWarmup(c.specs);
      if (c.history < need) throw new ConfigError(`${field}.history`, `at least ${need} (the slowest configured indicator's warm-up)`, c.history);
    },
  },
);

function items(v: unknown, field: string): unknown[] {
  if (v === false) return [];
  if (Array.isArray(v)) return v;
  if (typeof v === 'number' || typeof v === 'string' || (typeof v === 'object' && v !== null)) return [v];
  throw new ConfigError(field, 'a list (empty or false to turn it off)', v);
}

function period(v: unknown, field: string, min: number): number {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > MAX_PERIOD) throw new ConfigError(field, `a period: an integer from ${min} to ${MAX_PERIOD}`, v);
  return n;
}

/** "12/26/9" or { fast, slow, signal }: the parts in `names` order. */
function parts(v: unknown, field: string, names: readonly string[], expected: string): unknown[] {
  if (typeof v === 'string') return v.split('/').map((s) => s.trim());
  if (isObj(v)) {
    const o = mapping(v, field, names);
    return names.map((n) => o[n]);
  }
  throw new ConfigError(field, expected, v);
}

function macd(v: unknown, field: string): IndicatorSpec {
  const expected = '"fast/slow/signal" like "12/26/9", or { fast, slow, signal }';
  const p = parts(v, field, ['fast', 'slow', 'signal'], expected);
  if (p.length !== 3) throw new ConfigError(field, expected, v);
  const [fast, slow, signal] = p.map((x, i) => period(x, typeof v === 'string' ? field : `${field}.${['fast', 'slow', 'signal'][i]}`, 1));
  if (!(fast! < slow!)) throw new ConfigError(typeof v === 'string' ? field : `${field}.fast`, `a fast period below the slow one (${slow})`, fast);
  return { kind: 'macd', fast: fast!, slow: slow!, signal: signal! };
}

function bollinger(v: unknown, field: string): IndicatorSpec {
  const expected = '"period/stdDev" like "20/2", or { period, stdDev }';
  const p = parts(v, field, ['period', 'stdDev'], expected);
  if (p.length !== 2) throw new ConfigError(field, expected, v);
  const per = period(p[0], typeof v === 'string' ? field : `${field}.period`, 2);
  const k = typeof p[1] === 'string' && p[1] !== '' ? Number(p[1]) : p[1];
  if (typeof k !== 'number' || !Number.isFinite(k) || k <= 0 || k > 10) throw new ConfigError(typeof v === 'string' ? field : `${field}.stdDev`, 'a band width in standard deviations, above 0 and at most 10', p[1]);
  return { kind: 'bollinger', period: per, stdDev: k };
}
