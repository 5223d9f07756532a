/**
 * The decision service as a part, the same in the `decide` role and in run/demo: the configured strategy
 * over the role's store and markets, and its routes (GET /api/decision) for the role's HTTP server.
 */
import type { Config } from '../config/config.js';
import { DecisionService, type FeatureLookup } from '../assistant/decision-service.js';
import { buildStrategy } from '../assistant/strategies.js';
import type { Store } from '../store/store.js';
import type { Markets } from '../api/markets.js';
import type { PartDeps } from './parts.js';

export interface DecisionsPart {
  service: DecisionService;
  routes: Record<string, DecisionService['route']>;
}

export function buildDecisions(config: Config, deps: PartDeps, parts: { store: Store; markets: Markets; features?: FeatureLookup[] }): DecisionsPart {
  const log = deps.log.child({ component: 'decisions' });
  const service = new DecisionService({ store: parts.store, markets: parts.markets.list, strategy: buildStrategy(config.decide), clock: deps.clock, log, features: parts.features });
  return { service, routes: { '/api/decision': service.route } };
}
