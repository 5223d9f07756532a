/**
 * The decision service as a part, the same in the `decide` role and in run/demo: the configured strategy
 * over the role's store and markets, the decision log (recording, scoring, metrics), and their routes
 * (GET /api/decision, GET /api/decisions) for the role's HTTP server.
 */
import type { Config } from '../config/config.js';
import { DecisionService, type FeatureLookup } from '../assistant/decision-service.js';
import { DecisionLog } from '../assistant/decision-log.js';
import { buildStrategy } from '../assistant/strategies.js';
import type { FeatureVector } from '../assistant/features.js';
import type { Service } from '../core/service.js';
import type { Store } from '../store/store.js';
import type { Markets } from '../api/markets.js';
import type { PartDeps } from './parts.js';

export interface DecisionsPart {
  service: DecisionService;
  log: DecisionLog;
  /** In start order. */
  services: Service[];
  routes: Record<string, DecisionService['route']>;
}

/** The latest stored feature vector of a series (written by the process role, or run/demo's feature engine). */
function storedFeatures(store: Store): FeatureLookup {
  return async (exchange, symbol, timeframe) => {
    const [row] = (await store.assistant?.queryFeatures({ exchange, symbol, timeframe, limit: 1 })) ?? [];
    return row ? { ...row, values: row.values as FeatureVector['values'] } : null;
  };
}

/**
 * `features`: the in-process feature engine's latest vectors (run/demo); the stored ones are looked up after them.
 * `env`: where the llm strategy reads CANDLESTACK_LLM_API_KEY (the process environment in the roots).
 */
export function buildDecisions(config: Config, deps: PartDeps, parts: { store: Store; markets: Markets; features?: FeatureLookup; env?: NodeJS.ProcessEnv }): DecisionsPart {
  const log = deps.log.child({ component: 'decisions' });
  const d = config.decide;
  const decisionLog = new DecisionLog({
    store: parts.store,
    clock: deps.clock,
    log,
    metrics: deps.metrics.assistant,
    horizonsMs: d.horizonsMs,
    hitThreshold: d.hitThreshold,
    scoreIntervalMs: d.scoreIntervalMs,
    priceTimeframe: config.timeframes[0]!,
    markets: parts.markets,
  });
  const lookups: FeatureLookup[] = [...(parts.features ? [parts.features] : []), storedFeatures(parts.store)];
  const service = new DecisionService({ store: parts.store, markets: parts.markets.list, strategy: buildStrategy(d, { clock: deps.clock, metrics: deps.metrics, log, breakers: config.breakers, env: parts.env ?? {}, tracing: deps.tracing }), clock: deps.clock, log, features: lookups, onDecision: decisionLog.record, ...(deps.tracing ? { tracing: deps.tracing } : {}) });
  return { service, log: decisionLog, services: [service, decisionLog], routes: { '/api/decision': service.route, '/api/decisions': decisionLog.route } };
}
