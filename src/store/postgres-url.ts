/**
 * PostgreSQL store URLs: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=NAME&pool_size=N&...]`
 * (or `postgresql://`). Pure: parsed and validated here (config validation calls it too), so a bad URL
 * stops the start with one line naming the field. `schema` and `pool_size` are candlestack's own
 * parameters; every other parameter (sslmode, application_name, options, ...) goes to node-postgres as is.
 * The password may instead come from PGPASSWORD or ~/.pgpass (node-postgres reads both), which keeps it out
 * of config files. Passwords never reach a log line or an error message: use `redactUrl`.
 */
import { ConfigError } from '../core/errors.js';

export const POSTGRES_URL_EXPECTED = 'postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (optionally ?schema=NAME&pool_size=N)';
export const DEFAULT_POOL_SIZE = 10;
const MAX_POOL_SIZE = 1000;
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export interface PostgresTarget {
  /** What node-postgres connects with: the URL minus candlestack's own parameters. */
  connectionString: string;
  /** Schema holding candlestack's tables (created if missing), or null for the server's default search_path. */
  schema: string | null;
  poolSize: number;
  /** Startup `options` for every connection (the URL's own, plus search_path when a schema is given). */
  options: string | undefined;
  /** The URL with its password replaced by `***`, for logs and errors. */
  display: string;
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** Parses and validates a PostgreSQL URL; throws ConfigError naming `field` when it is not usable. */
export function parsePostgresUrl(url: string, field = 'store'): PostgresTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(field, POSTGRES_URL_EXPECTED, redactUrl(url));
  }
  if (!isPostgresUrl(url) || u.hostname === '') throw new ConfigError(field, POSTGRES_URL_EXPECTED, redactUrl(url));
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/')) throw new ConfigError(field, `${POSTGRES_URL_EXPECTED} with a database name`, redactUrl(url));

  const schema = u.searchParams.get('schema');
  if (schema !== null && !IDENTIFIER.test(schema)) {
    throw new ConfigError(`${field} schema`, 'a schema name of lower-case letters, digits and _ (not starting with a digit, at most 63)', schema);
  }
  const rawPool = u.searchParams.get('pool_size');
  let poolSize = DEFAULT_POOL_SIZE;
  if (rawPool !== null) {
    poolSize = /^\d+$/.test(rawPool) ? Number(rawPool) : Number.NaN;
    if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > MAX_POOL_SIZE) throw new ConfigError(`${field} pool_size`, `a whole number from 1 to ${MAX_POOL_SIZE}`, rawPool);
  }
  const urlOptions = u.searchParams.get('options');
  const options = [urlOptions, schema !== null ? `-c search_path=${schema}` : null].filter((o) => o !== null && o !== '').join(' ') || undefined;
  for (const own of ['schema', 'pool_size', 'options']) u.searchParams.delete(own);
  const connectionString = u.toString();
  return { connectionString, schema, poolSize, options, display: redactUrl(url) };
}

/** The URL with any password replaced by `***`; other strings (sqlite:PATH) unchanged. */
/** Query parameters that carry a secret (password, sslpassword, passfile contents never, but tokens may). */
const SECRET_PARAMS = /pass|secret|token|key$/i;

export function redactUrl(url: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return url;
  try {
    const u = new URL(url);
    let changed = false;
    if (u.password !== '') {
      u.password = '***';
      changed = true;
    }
    // libpq reads a password (and TLS key passphrases) from the query too: ?password=..., ?sslpassword=...
    for (const key of [...u.searchParams.keys()]) {
      if (SECRET_PARAMS.test(key)) {
        u.searchParams.set(key, '***');
        changed = true;
      }
    }
    return changed ? u.toString().replace(/%2A%2A%2A/g, '***') : url;
  } catch {
    // Unparseable: over-redact (up to the last @) rather than risk showing part of a password.
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*):.*@/i, '$1:***@');
  }
}
