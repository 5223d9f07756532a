/**
 * Versioned PostgreSQL migrations: applied in version order, each once and in its own transaction,
 * recorded in schema_migrations. Append only. `migrate` holds a session advisory lock for the whole run,
 * so several processes starting at once (e.g. `process` instances) apply each migration exactly once: the
 * others wait, then find it recorded.
 *
 * Decimals are TEXT, as in SQLite, deliberately: the store must hand back exactly the exchange's strings
 * ("43210.12000000"), whatever their form. NUMERIC would keep the scale of plain decimals but rewrite others
 * (".5" -> "0.5", "1e-7" -> "0.0000001"), and SQLite would not: the two stores would disagree. Ad-hoc SQL
 * aggregates with a cast (sum(volume::numeric)); the candle engine does the arithmetic, exactly.
 */
import type { PoolClient } from 'pg';
import { canonicalSymbolsSql } from './canonical-symbols-migration.js';

export interface PgMigration {
  version: number;
  name: string;
  sql: string;
}

export const POSTGRES_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    name: 'candles',
    sql: `
      CREATE TABLE candles (
        exchange         text    NOT NULL,
        symbol           text    NOT NULL,
        timeframe        text    NOT NULL,
        open_time        bigint  NOT NULL,
        open             text    NOT NULL,
        high             text    NOT NULL,
        low              text    NOT NULL,
        close            text    NOT NULL,
        volume           text    NOT NULL,
        quote_volume     text    NOT NULL,
        taker_buy_volume text    NOT NULL,
        trade_count      bigint  NOT NULL,
        vwap             text    NOT NULL,
        closed           boolean NOT NULL,
        source           text    NOT NULL,
        revision         integer NOT NULL,
        updated_at       bigint  NOT NULL,
        PRIMARY KEY (exchange, symbol, timeframe, open_time)
      ) WITH (fillfactor = 80);
      -- fillfactor 80: a forming candle is rewritten every flush until it closes; free room on its page lets
      -- PostgreSQL update it in place (HOT, no index writes). Measured on 500 series x 60 periods x 11
      -- writes: 75% HOT updates and a 30 MB table+indexes, against 6% and 66 MB at the default 100.
      -- The primary key serves /api/candles (one series, an open_time range, either direction) and latest()
      -- (one index probe per series). Retention deletes by timeframe and age across all series:
      CREATE INDEX candles_timeframe_open_time ON candles (timeframe, open_time);
    `,
  },
  {
    version: 2,
    name: 'indicators',
    sql: `
      -- Indicator values of closed candles (the SQLite store's migration 2): one row per series, candle and
      -- indicator name; values as JSON text, which round-trips numbers exactly, as in SQLite.
      CREATE TABLE indicators (
        exchange   text   NOT NULL,
        symbol     text   NOT NULL,
        timeframe  text   NOT NULL,
        open_time  bigint NOT NULL,
        name       text   NOT NULL,
        value_json text   NOT NULL,
        updated_at bigint NOT NULL,
        PRIMARY KEY (exchange, symbol, timeframe, open_time, name)
      );
      CREATE INDEX indicators_timeframe_open_time ON indicators (timeframe, open_time);
    `,
  },
  {
    version: 3,
    name: 'candles.last_trade_id',
    // The last trade id applied to the candle: after a crash, the process role skips redelivered trades
    // at or below it (exactly-once candles over Kafka; see ARCHITECTURE.md).
    sql: `ALTER TABLE candles ADD COLUMN last_trade_id bigint;`,
  },
  {
    version: 4,
    name: 'canonical symbols',
    // Binance rows from before canonical symbols: BTCUSDT -> BTC-USDT (see canonical-symbols-migration.ts).
    sql: canonicalSymbolsSql('char_length'),
  },
  {
    version: 5,
    name: 'assistant: features and decisions',
    // The feature vector of every closed candle and every decision with its outcomes (SQLite migration 5).
    sql: `
      CREATE TABLE features (
        exchange    text             NOT NULL,
        symbol      text             NOT NULL,
        timeframe   text             NOT NULL,
        open_time   bigint           NOT NULL,
        close       double precision NOT NULL,
        values_json text             NOT NULL,
        updated_at  bigint           NOT NULL,
        PRIMARY KEY (exchange, symbol, timeframe, open_time)
      );
      CREATE INDEX features_timeframe_open_time ON features (timeframe, open_time);
      CREATE TABLE decisions (
        id            bigserial PRIMARY KEY,
        exchange      text             NOT NULL,
        symbol        text             NOT NULL,
        timeframe     text             NOT NULL,
        strategy      text             NOT NULL,
        action        text             NOT NULL,
        confidence    double precision NOT NULL,
        price         double precision,
        as_of         bigint,
        decided_at    bigint           NOT NULL,
        reasons_json  text             NOT NULL,
        features_json text             NOT NULL,
        outcomes_json text             NOT NULL,
        scorable      boolean          NOT NULL,
        pending       boolean          NOT NULL
      );
      CREATE INDEX decisions_decided_at ON decisions (decided_at);
      CREATE INDEX decisions_pending ON decisions (decided_at) WHERE pending;
    `,
  },
  {
    version: 6,
    name: 'pending repairs',
    // The backfiller's queued repairs, so that a restart re-queues those a kill interrupted (SQLite migration 6,
    // repair-store.ts). A handful of rows at a time: no index beyond the key.
    sql: `
      CREATE TABLE pending_repairs (
        id         text   NOT NULL PRIMARY KEY,
        exchange   text   NOT NULL,
        symbol     text   NOT NULL,
        timeframe  text   NOT NULL,
        first_open bigint NOT NULL,
        last_open  bigint NOT NULL,
        updated_at bigint NOT NULL
      );
    `,
  },
];

/** Applies what is missing. `lockName` scopes the advisory lock (one per schema). */
export async function migrate(
  client: PoolClient,
  opts: { migrations: readonly PgMigration[]; now: () => number; lockName: string; schema: string | null; afterMigrations?: (client: PoolClient) => Promise<void> },
): Promise<number[]> {
  await client.query('SELECT pg_advisory_lock(hashtext($1))', [opts.lockName]);
  try {
    if (opts.schema !== null) await client.query(`CREATE SCHEMA IF NOT EXISTS "${opts.schema}"`);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)');
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((r) => r.version));
    const ran: number[] = [];
    for (const m of [...opts.migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, opts.now()]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new Error(`PostgreSQL migration ${m.version} (${m.name}) failed: ${(err as Error).message}`, { cause: err });
      }
      ran.push(m.version);
    }
    await opts.afterMigrations?.(client);
    return ran;
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [opts.lockName]).catch(() => undefined);
  }
}
