/**
 * The `random` strategy (the seed's "simple randomizer for testing"): seeded and reproducible. The answer for
 * a market at a candle depends only on (seed, exchange, symbol, timeframe, openTime), never on call order, so
 * a test that knows the seed knows the answer; confidence is drawn too.
 */
import { ACTIONS, type Strategy, type StrategyInput, type Verdict } from './strategy.js';

export class RandomStrategy implements Strategy {
  readonly name = 'random';
  constructor(private readonly seed: number) {}

  decide(input: StrategyInput): Verdict {
    const next = mulberry32(hash(`${this.seed}|${input.exchange}|${input.symbol}|${input.timeframe}|${input.openTime}`));
    const action = ACTIONS[Math.floor(next() * ACTIONS.length)]!;
    return { action, confidence: Math.round((0.34 + next() * 0.66) * 1000) / 1000, reasons: [`random: seeded draw (seed ${this.seed}), for testing only`] };
  }
}

/** FNV-1a, 32 bits. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A small seeded PRNG: uniform numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
