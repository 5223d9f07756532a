/** The configured strategy (`decide.strategy`): rules, random (seeded) or llm (falls back to rules). */
import type { Clock } from '../core/clock.js';
import type { DecideConfig } from '../config/decide-config.js';
import type { BreakersConfig } from '../config/quality-config.js';
import { breakerSettings } from '../config/quality-config.js';
import { instrumentedBreaker } from '../telemetry/breaker-metrics.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { LlmStrategy, llmApiKey } from './llm-strategy.js';
import { RandomStrategy } from './random-strategy.js';
import { RulesStrategy } from './rules-strategy.js';
import type { Strategy } from './strategy.js';
import type { Tracing } from '../telemetry/tracing.js';

export interface StrategyDeps {
  clock: Clock;
  metrics: Metrics;
  log: Logger;
  breakers: BreakersConfig;
  /** Where the llm API key variable is read from. */
  env: NodeJS.ProcessEnv;
  /** The llm calls become CLIENT spans (peer.service llm). */
  tracing?: Tracing;
}

export function buildStrategy(settings: DecideConfig, deps: StrategyDeps): Strategy {
  if (settings.strategy === 'random') return new RandomStrategy(settings.seed);
  if (settings.strategy === 'llm') {
    const breaker = instrumentedBreaker('decide_llm', breakerSettings(deps.breakers, 'decide_llm'), { clock: deps.clock, metrics: deps.metrics.breakers, log: deps.log.child({ component: 'breaker' }) });
    return new LlmStrategy({ settings: settings.llm, apiKey: llmApiKey(settings.llm, deps.env), fallback: new RulesStrategy(), breaker, metrics: deps.metrics, log: deps.log, tracing: deps.tracing });
  }
  return new RulesStrategy();
}
