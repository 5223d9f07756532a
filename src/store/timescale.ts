/**
 * TimescaleDB, when the server has it: the candles table becomes a hypertable partitioned on open_time
 * (epoch ms, one chunk per day), which keeps inserts and range queries fast as history grows. Nothing else
 * changes: same table, same queries, same results as on plain PostgreSQL, which is what runs when the
 * extension is not available (or cannot be created, e.g. not in shared_preload_libraries).
 *
 * Deliberately not used: continuous aggregates (the candle engine already writes every timeframe, exactly,
 * with Binance's rules) and Timescale's retention policies (the retention job prunes per timeframe, which
 * drop_chunks cannot do on a table that mixes timeframes).
 */
import type { PoolClient } from 'pg';
import type { Logger } from '../telemetry/logger.js';

export const HYPERTABLE_CHUNK_MS = 86_400_000;

export interface TimescaleStatus {
  /** The server can CREATE EXTENSION timescaledb. */
  available: boolean;
  /** Schema the extension is installed in (quoted when needed), or null. */
  installedIn: string | null;
}

export async function timescaleStatus(client: PoolClient): Promise<TimescaleStatus> {
  const { rows } = await client.query<{ available: boolean; installed_in: string | null }>(`
    SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') AS available,
           (SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'timescaledb') AS installed_in`);
  return { available: rows[0]?.available === true, installedIn: rows[0]?.installed_in ?? null };
}

/** Makes `candles` (in the current schema) a hypertable; a no-op when it already is one. */
export async function createHypertable(client: PoolClient, extensionSchema: string): Promise<void> {
  await client.query(
    `SELECT ${extensionSchema}.create_hypertable(format('%I.candles', current_schema())::regclass, 'open_time',
       chunk_time_interval => $1::bigint, if_not_exists => true, migrate_data => true)`,
    [HYPERTABLE_CHUNK_MS],
  );
}

/** Uses TimescaleDB when it is there; says which layout is in use. Never fails the open: plain PostgreSQL gives the same results. */
export async function enableTimescale(client: PoolClient, log: Logger): Promise<'hypertable' | 'plain'> {
  let status = await timescaleStatus(client);
  if (!status.available) return 'plain';
  try {
    if (status.installedIn === null) {
      await client.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
      status = await timescaleStatus(client);
    }
    if (status.installedIn === null) return 'plain';
    await createHypertable(client, status.installedIn);
    return 'hypertable';
  } catch (err) {
    log.warn({ err }, 'TimescaleDB is available but could not be enabled; using plain PostgreSQL tables (same results)');
    return 'plain';
  }
}
