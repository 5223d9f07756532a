/**
 * Indicator throughput: time per `next` (closed candle) and per `peek` (forming candle) for each default
 * indicator, and for the whole default set, over a synthetic random walk at BTC-like prices. Also checks that
 * the cost does not grow with the period (O(1) per update): SMA/Bollinger at period 20 vs 2000.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/indicators.js
 */
import { performance } from 'node:perf_hooks';
import type { Bar } from '../src/pipeline/indicators/indicator.js';
import { createIndicator, createIndicators, DEFAULT_INDICATOR_SPECS, type IndicatorSpec } from '../src/pipeline/indicators/specs.js';

const N = 200_000;
const bars: Bar[] = [];
let price = 43_000;
for (let i = 0; i < N; i++) {
  const open = price;
  price = Math.max(1, price + (Math.sin(i * 12.9898) * 43758.5453 % 1) * 20);
  const close = Math.round(price * 100) / 100;
  const high = Math.max(open, close) + 3.17;
  const low = Math.min(open, close) - 2.41;
  bars.push({ openTime: 1_700_000_000_000 + i * 60_000, open, high, low, close, volume: 1 + (i % 17) * 0.37, closeText: close.toFixed(2) });
}

function time(label: string, fn: () => void): void {
  fn(); // warm up the JIT
  const t0 = performance.now();
  fn();
  const ns = ((performance.now() - t0) * 1e6) / N;
  console.log(`${label.padEnd(36)} ${ns.toFixed(0).padStart(6)} ns/candle`);
}

const specs: [string, IndicatorSpec][] = DEFAULT_INDICATOR_SPECS.map((s) => [createIndicator(s).name, s]);
specs.push(['sma2000 (O(1) check)', { kind: 'sma', period: 2000 }], ['bb2000_2 (O(1) check)', { kind: 'bollinger', period: 2000, stdDev: 2 }]);
for (const [name, spec] of specs) {
  time(`next ${name}`, () => {
    const ind = createIndicator(spec);
    for (const b of bars) ind.next(b);
  });
}
time('next: the 7 defaults together', () => {
  const inds = createIndicators(DEFAULT_INDICATOR_SPECS);
  for (const b of bars) for (const i of inds) i.next(b);
});
time('peek: the 7 defaults together', () => {
  const inds = createIndicators(DEFAULT_INDICATOR_SPECS);
  for (const i of inds) for (const b of bars.slice(0, 3000)) i.next(b);
  for (const b of bars) for (const i of inds) i.peek(b);
});
