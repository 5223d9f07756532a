/**
 * The `random` strategy (the seed's "simple randomizer for testing"): seeded and reproducible. The answer for
 * a market at a candle depends only on (seed, exchange, symbol, timeframe, openTime), never on call order, so
 * a test that knows the seed knows the answer; confidence is drawn too.
 */
import { mulberry32 } from '../core/random.js';
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
