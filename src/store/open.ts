/** Opens the store a config URL names. `sqlite:PATH` (default); PostgreSQL comes with the scale-out work. */
import { ConfigError } from '../core/errors.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './store.js';

export function openStore(url: string, now: () => number): Store {
  if (url.startsWith('sqlite:')) return new SqliteStore(url.slice('sqlite:'.length), now);
  throw new ConfigError('store', 'sqlite:PATH', url);
}
