import { canonicalSymbolsSql } from './canonical-symbols-migration.js';

/** Versioned SQLite migrations: applied in order, each once, recorded in schema_migrations. Append only. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'candles',
    sql: `
      CREATE TABLE candles (
        exchange         TEXT    NOT NULL,
        symbol           TEXT    NOT NULL,
        timeframe        TEXT    NOT NULL,
        open_time        INTEGER NOT NULL,
        open             TEXT    NOT NULL,
        high             TEXT    NOT NULL,
        low              TEXT    NOT NULL,
        close            TEXT    NOT NULL,
        volume           TEXT    NOT NULL,
        quote_volume     TEXT    NOT NULL,
        taker_buy_volume TEXT    NOT NULL,
        trade_count      INTEGER NOT NULL,
        vwap             TEXT    NOT NULL,
        closed           INTEGER NOT NULL,
        source           TEXT    NOT NULL,
        revision         INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL,
        PRIMARY KEY (exchange, symbol, timeframe, open_time)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: 'indicators',
    sql: `
      CREATE TABLE indicators (
        exchange   TEXT    NOT NULL,
        symbol     TEXT    NOT NULL,
        timeframe  TEXT    NOT NULL,
        open_time  INTEGER NOT NULL,
        name       TEXT    NOT NULL,
        value_json TEXT    NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (exchange, symbol, timeframe, open_time, name)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    name: 'candles.last_trade_id',
    sql: `ALTER TABLE candles ADD COLUMN last_trade_id INTEGER;`,
  },
  {
    version: 4,
    name: 'canonical symbols',
    sql: canonicalSymbolsSql('length'),
  },
  {
    version: 5,
    name: 'assistant: features and decisions',
    sql: `
      CREATE TABLE features (
        exchange    TEXT    NOT NULL,
        symbol      TEXT    NOT NULL,
        timeframe   TEXT    NOT NULL,
        open_time   INTEGER NOT NULL,
        close       REAL    NOT NULL,
        values_json TEXT    NOT NULL,
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (exchange, symbol, timeframe, open_time)
      ) WITHOUT ROWID;
      CREATE TABLE decisions (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        exchange      TEXT    NOT NULL,
        symbol        TEXT    NOT NULL,
        timeframe     TEXT    NOT NULL,
        strategy      TEXT    NOT NULL,
        action        TEXT    NOT NULL,
        confidence    REAL    NOT NULL,
        price         REAL,
        as_of         INTEGER,
        decided_at    INTEGER NOT NULL,
        reasons_json  TEXT    NOT NULL,
        features_json TEXT    NOT NULL,
        outcomes_json TEXT    NOT NULL,
        scorable      INTEGER NOT NULL,
        pending       INTEGER NOT NULL
      );
      CREATE INDEX decisions_decided_at ON decisions (decided_at);
      CREATE INDEX decisions_pending ON decisions (pending, decided_at);
    `,
  },
  {
    version: 6,
    name: 'pending repairs',
    // The backfiller's queued repairs, so that a restart re-queues those a kill interrupted (repair-store.ts).
    sql: `
      CREATE TABLE pending_repairs (
        id         TEXT    NOT NULL PRIMARY KEY,
        exchange   TEXT    NOT NULL,
        symbol     TEXT    NOT NULL,
        timeframe  TEXT    NOT NULL,
        first_open INTEGER NOT NULL,
        last_open  INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
];
