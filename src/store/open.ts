/** Opens the store a config URL names: `sqlite:PATH` (default) or `postgres://...` / `postgresql://...`. */
import { ConfigError } from '../core/errors.js';
import type { Logger } from '../telemetry/logger.js';
import type { StoreMetrics } from '../telemetry/metrics.js';
import { PostgresStore } from './postgres.js';
import { isPostgresUrl } from './postgres-url.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './store.js';

export interface OpenStoreDeps {
  metrics: StoreMetrics;
  log: Logger;
}

/** Resolves once the store is usable (connected and migrated); rejects with one clear line otherwise. */
export async function openStore(url: string, now: () => number, deps: OpenStoreDeps): Promise<Store> {
  if (url.startsWith('sqlite:')) return new SqliteStore(url.slice('sqlite:'.length), now);
  if (isPostgresUrl(url)) return PostgresStore.open({ url, now, metrics: deps.metrics, log: deps.log });
  throw new ConfigError('store', 'sqlite:PATH or postgres://USER@HOST/DATABASE', url);
}
