/** What the repair jobs (gap-sweep, integrity) share: a RestHistory over the exchanges' REST kline sources. */
import type { Clock } from '../core/clock.js';
import type { Store } from '../store/store.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { BackfillSource } from './backfill.js';
import type { JobWorkDeps } from './gap-sweep.js';
import { RestHistory } from './rest-history.js';

export function repairJobDeps(sources: ReadonlyMap<string, BackfillSource>, deps: { store: Store; clock: Clock; metrics: Metrics }): JobWorkDeps {
  return { store: deps.store, history: new RestHistory({ sources, store: deps.store }), clock: deps.clock, metrics: deps.metrics.candles };
}
