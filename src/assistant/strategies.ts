/** The configured strategy (`decide.strategy`): rules, random (seeded) or llm (falls back to rules). */
import type { DecideConfig } from '../config/decide-config.js';
import { RandomStrategy } from './random-strategy.js';
import { RulesStrategy } from './rules-strategy.js';
import type { Strategy } from './strategy.js';

export function buildStrategy(settings: DecideConfig): Strategy {
  if (settings.strategy === 'random') return new RandomStrategy(settings.seed);
  return new RulesStrategy();
}
