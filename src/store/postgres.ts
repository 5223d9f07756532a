/**
 * PostgreSQL store (node-postgres, pooled): the same semantics as the SQLite store. Candles are upserted in
 * batches by one statement over column arrays (`INSERT ... SELECT FROM unnest($1::text[], ...) ON CONFLICT
 * DO UPDATE`, postgres-sql.ts; arrays built in postgres-arrays.ts): 18 parameters whatever the batch size,
 * so no 65,535-parameter chunking, one parse per batch, and a batch is atomic. A forming candle never
 * overwrites a closed one. Decimals are TEXT, returned exactly as written (see postgres-migrations.ts).
 *
 * Connections: a connection lost to a restart, a failover or pg_terminate_backend is dropped from the pool;
 * an operation that failed on it with a connection error (or on a deadlock) is retried once on a fresh
 * connection (every operation is idempotent). A failure that persists is thrown: the CandleWriter counts it and keeps the rows.
 */
import { TracedHistogram } from '../telemetry/exemplars.js';
import pg from 'pg';
import type { Pool, QueryConfig, QueryResultRow } from 'pg';
import type { Candle } from '../core/types.js';
import { TIMEFRAMES, type Timeframe } from '../core/timeframe.js';
import type { Logger } from '../telemetry/logger.js';
import type { StoreMetrics } from '../telemetry/metrics.js';
import type { CandleQuery, IndicatorPoint, IndicatorQuery, IndicatorRow, Store, StoreStatus, StoredSeries } from './store.js';
import type { IndicatorValues } from '../core/types.js';
import { POSTGRES_MIGRATIONS, migrate, type PgMigration } from './postgres-migrations.js';
import { parsePostgresUrl, type PostgresTarget } from './postgres-url.js';
import { enableTimescale } from './timescale.js';
import { coalesce, upsertColumns } from './postgres-arrays.js';
import { describeError, isTransient } from './postgres-errors.js';
import { PostgresLeaderLock } from './postgres-leader.js';
import type { AssistantStore, FeatureRow } from './assistant-store.js';
import type { RepairStore } from './repair-store.js';
import { toRepair } from './sqlite-repairs.js';
import { toRecord as decisionRecord } from './sqlite-assistant.js';
import type { ExchangeId } from '../core/exchange-id.js';
import { LATEST, QUERY_ASC, QUERY_DESC, SERIES, UPSERT, toCandle, type Row } from './postgres-sql.js';

export interface PostgresStoreOptions {
  /** postgres://... (see postgres-url.ts). */
  url: string;
  now: () => number;
  metrics: StoreMetrics;
  log: Logger;
  migrations?: readonly PgMigration[];
  /** Use TimescaleDB when the server has it (default true). */
  timescale?: boolean;
  /** Give up connecting after this long (default 10 s). */
  connectTimeoutMs?: number;
  /**
   * Server-side bounds of every statement (issue 19: with `LOCK TABLE candles` held, writes and reads waited
   * silently): a statement waiting for a lock longer than `lockTimeoutMs` (default 5 s) or running longer than
   * `statementTimeoutMs` (default 30 s; maintenance's ANALYZE is exempt) fails, so the writer counts the error
   * and keeps its rows queued, and a read answers 503 instead of hanging.
   */
  lockTimeoutMs?: number;
  statementTimeoutMs?: number;
}

type Operation = 'upsert' | 'query' | 'latest' | 'series' | 'prune' | 'migrate' | 'upsert_indicators' | 'query_indicators' | 'maintain' | 'upsert_features' | 'query_features' | 'decisions' | 'repairs';

/** Indicator rows of one batch, deduplicated (latest wins) so one statement never updates a row twice. */
const UPSERT_INDICATORS = `
  INSERT INTO indicators (exchange, symbol, timeframe, open_time, name, value_json, updated_at)
  SELECT e, s, t, o, n, v, $7 FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[]) AS u(e, s, t, o, n, v)
  ON CONFLICT (exchange, symbol, timeframe, open_time, name) DO UPDATE SET value_json = excluded.value_json, updated_at = excluded.updated_at`;

const UPSERT_FEATURES = `
  INSERT INTO features (exchange, symbol, timeframe, open_time, close, values_json, updated_at)
  SELECT e, s, t, o, c, v, $7 FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::float8[], $6::text[]) AS u(e, s, t, o, c, v)
  ON CONFLICT (exchange, symbol, timeframe, open_time) DO UPDATE SET close = excluded.close, values_json = excluded.values_json, updated_at = excluded.updated_at`;

/** Pending repairs of one batch, one per id (the latest wins), inserted or given their new range. */
const SAVE_REPAIRS = `
  INSERT INTO pending_repairs (id, exchange, symbol, timeframe, first_open, last_open, updated_at)
  SELECT i, e, s, t, f, l, $7 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[]) AS u(i, e, s, t, f, l)
  ON CONFLICT (id) DO UPDATE SET first_open = excluded.first_open, last_open = excluded.last_open, updated_at = excluded.updated_at`;

const DECISION_COLUMNS = 'id, exchange, symbol, timeframe, strategy, action, confidence, price, as_of, decided_at, reasons_json, features_json, outcomes_json, scorable, pending';
type DecisionPgRow = Parameters<typeof decisionRecord>[0] & QueryResultRow;

/** int8 (bigint, count(*)) as a JS number: open times and counts stay far below 2^53. */
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export class PostgresStore implements Store {
  readonly kind = 'postgres';
  private open = true;
  private layout: 'hypertable' | 'plain' = 'plain';
  private readonly m;
  private gaugesQueued = false;
  private readonly leaderLocks = new Set<PostgresLeaderLock>();

  private constructor(
    private readonly pool: Pool,
    private readonly target: PostgresTarget,
    private readonly o: PostgresStoreOptions,
  ) {
    const errors = (operation: string) => o.metrics.hot.storeErrors.counter(o.metrics.storeErrors, this.kind, operation);
    const op = (operation: Operation) => ({
      queries: o.metrics.dbQueries.labels(this.kind, operation),
      duration: new TracedHistogram(o.metrics.dbQueryDuration, { store: this.kind, operation }),
      // Failed upserts are counted by their callers (the CandleWriter and IndicatorWriter keep and retry the rows).
      errors: operation === 'upsert' || operation === 'upsert_indicators' ? null : errors(operation),
    });
    this.m = {
      ops: {
        upsert: op('upsert'),
        query: op('query'),
        latest: op('latest'),
        series: op('series'),
        prune: op('prune'),
        migrate: op('migrate'),
        upsert_indicators: op('upsert_indicators'),
        query_indicators: op('query_indicators'),
        maintain: op('maintain'),
        upsert_features: op('upsert_features'),
        query_features: op('query_features'),
        decisions: op('decisions'),
        repairs: op('repairs'),
      } as Record<Operation, ReturnType<typeof op>>,
      lost: errors('connection'),
      poolSize: o.metrics.dbConnectionPoolSize.labels(this.kind),
      available: o.metrics.dbConnectionsAvailable.labels(this.kind),
      waiting: o.metrics.dbConnectionsWaiting.labels(this.kind),
    };
    this.m.poolSize.set(target.poolSize);
    for (const event of ['connect', 'acquire', 'release', 'remove'] as const) pool.on(event, this.poolChanged);
    this.poolChanged();
    // An idle connection that dies (server restart, pg_terminate_backend) is removed by the pool; without
    // this listener node-postgres would crash the process.
    pool.on('error', (err) => {
      this.m.lost.inc();
      o.log.warn({ err: describeError(err), store: target.display }, 'PostgreSQL connection lost; the pool replaces it');
    });
  }

  /** Connects, runs the migrations (and the TimescaleDB step) and returns the open store. */
  static async open(o: PostgresStoreOptions): Promise<PostgresStore> {
    const target = parsePostgresUrl(o.url);
    const pool = new pg.Pool({
      connectionString: target.connectionString,
      options: target.options,
      max: target.poolSize,
      connectionTimeoutMillis: o.connectTimeoutMs ?? 10_000,
      idleTimeoutMillis: 30_000,
      allowExitOnIdle: true, // idle connections do not keep a finished CLI alive
      application_name: 'candlestack',
      lock_timeout: o.lockTimeoutMs ?? 5_000,
      statement_timeout: o.statementTimeoutMs ?? 30_000,
      types,
    });
    const store = new PostgresStore(pool, target, o);
    try {
      await store.run('migrate', async () => {
        const client = await pool.connect().catch((err: unknown) => {
          throw new Error(`cannot connect to PostgreSQL at ${target.display}: ${describeError(err)}`, { cause: err });
        });
        let broken: Error | undefined;
        try {
          await migrate(client, {
            migrations: o.migrations ?? POSTGRES_MIGRATIONS,
            now: o.now,
            lockName: `candlestack:migrate:${target.schema ?? ''}`,
            schema: target.schema,
            afterMigrations: async (c) => {
              if (o.timescale !== false) store.layout = await enableTimescale(c, o.log);
            },
          });
        } catch (err) {
          broken = err as Error;
          throw err;
        } finally {
          client.release(broken);
        }
      }, false);
    } catch (err) {
      await pool.end().catch(() => undefined);
      store.open = false;
      throw err;
    }
    o.log.info({ store: target.display, schema: target.schema ?? 'default', layout: store.layout, poolSize: target.poolSize }, 'PostgreSQL store open');
    return store;
  }

  /** `hypertable` when TimescaleDB partitions the candles table, else `plain`. */
  get tableLayout(): 'hypertable' | 'plain' {
    return this.layout;
  }

  async upsert(candles: readonly Candle[]): Promise<void> {
    if (candles.length === 0) return;
    const values = [...upsertColumns(coalesce(candles)), this.o.now()];
    await this.run('upsert', () => this.pool.query({ name: 'candlestack_upsert', text: UPSERT, values }));
  }

  async query(q: CandleQuery): Promise<Candle[]> {
    const values = [q.exchange, q.symbol, q.timeframe, q.from ?? Number.MIN_SAFE_INTEGER, q.to ?? Number.MAX_SAFE_INTEGER, q.limit];
    if (q.from !== undefined) return (await this.rows<Row>('query', { name: 'candlestack_query_asc', text: QUERY_ASC, values })).map(toCandle);
    return (await this.rows<Row>('query', { name: 'candlestack_query_desc', text: QUERY_DESC, values })).reverse().map(toCandle);
  }

  async latest(exchange: string, symbols: readonly string[]): Promise<Candle[]> {
    if (symbols.length === 0) return [];
    const rows = await this.rows<Row>('latest', { name: 'candlestack_latest', text: LATEST, values: [exchange, symbols, TIMEFRAMES] });
    return rows.map(toCandle);
  }

  async series(): Promise<StoredSeries[]> {
    const rows = await this.rows<{ exchange: string; symbol: string; timeframe: string; candles: number; first: number; last: number }>('series', { text: SERIES });
    return rows.map((r) => ({ exchange: r.exchange, symbol: r.symbol, timeframe: r.timeframe as Timeframe, candles: r.candles, firstOpenTime: r.first, lastOpenTime: r.last }));
  }

  async prune(timeframe: Timeframe, before: number): Promise<number> {
    // One statement (atomic): the candles' indicator values go with them; rowCount counts the candles.
    const text =
      'WITH i AS (DELETE FROM indicators WHERE timeframe = $1 AND open_time < $2), f AS (DELETE FROM features WHERE timeframe = $1 AND open_time < $2) DELETE FROM candles WHERE timeframe = $1 AND open_time < $2';
    const res = await this.run('prune', () => this.pool.query({ name: 'candlestack_prune', text, values: [timeframe, before] }));
    return res.rowCount ?? 0;
  }

  async upsertIndicators(rows: readonly IndicatorRow[]): Promise<void> {
    if (rows.length === 0) return;
    // Latest row per key, sorted by key: one statement never updates a row twice, and concurrent writers lock
    // rows in the same order (as the candle upsert does).
    const latest = new Map<string, IndicatorRow>();
    for (const r of rows) latest.set(`${r.exchange}\u0000${r.symbol}\u0000${r.timeframe}\u0000${r.name}\u0000${String(r.openTime).padStart(16, '0')}`, r);
    const batch = [...latest.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
    const values = [
      batch.map((r) => r.exchange),
      batch.map((r) => r.symbol),
      batch.map((r) => r.timeframe),
      batch.map((r) => r.openTime),
      batch.map((r) => r.name),
      batch.map((r) => JSON.stringify(r.values)),
      this.o.now(),
    ];
    await this.run('upsert_indicators', () => this.pool.query({ name: 'candlestack_upsert_indicators', text: UPSERT_INDICATORS, values }));
  }

  /** Same rules as the SQLite store: `limit` counts candles; without `from`, the most recent ones. */
  async queryIndicators(q: IndicatorQuery): Promise<IndicatorPoint[]> {
    const names = q.names.length > 0 ? q.names : null;
    const base = [q.exchange, q.symbol, q.timeframe, q.from ?? Number.MIN_SAFE_INTEGER, q.to ?? Number.MAX_SAFE_INTEGER, names];
    const where = 'exchange = $1 AND symbol = $2 AND timeframe = $3 AND open_time >= $4 AND open_time <= $5 AND ($6::text[] IS NULL OR name = ANY($6::text[]))';
    const order = q.from !== undefined ? 'ASC' : 'DESC';
    const rows = await this.rows<{ open_time: number; name: string; value_json: string }>('query_indicators', {
      text: `WITH times AS (SELECT DISTINCT open_time FROM indicators WHERE ${where} ORDER BY open_time ${order} LIMIT $7)
             SELECT i.open_time, i.name, i.value_json FROM indicators i JOIN times USING (open_time)
             WHERE ${where.replace(/\b(exchange|symbol|timeframe|open_time|name)\b/g, 'i.$1')} ORDER BY i.open_time ASC, i.name ASC`,
      values: [...base, q.limit],
    });
    const points: IndicatorPoint[] = [];
    for (const r of rows) {
      let p = points[points.length - 1];
      if (!p || p.openTime !== r.open_time) points.push((p = { openTime: r.open_time, values: {} }));
      p.values[r.name] = JSON.parse(r.value_json) as IndicatorValues;
    }
    return points;
  }

  /** The assistant's tables (features, decisions): the same contract as SQLite's (assistant-store.ts). */
  readonly assistant: AssistantStore = {
    upsertFeatures: async (rows) => {
      if (rows.length === 0) return;
      const latest = new Map<string, FeatureRow>();
      for (const r of rows) latest.set(`${r.exchange}\u0000${r.symbol}\u0000${r.timeframe}\u0000${String(r.openTime).padStart(16, '0')}`, r);
      const batch = [...latest.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
      const values = [batch.map((r) => r.exchange), batch.map((r) => r.symbol), batch.map((r) => r.timeframe), batch.map((r) => r.openTime), batch.map((r) => r.close), batch.map((r) => JSON.stringify(r.values)), this.o.now()];
      await this.run('upsert_features', () => this.pool.query({ name: 'candlestack_upsert_features', text: UPSERT_FEATURES, values }));
    },
    queryFeatures: async (q) => {
      const asc = q.from !== undefined;
      const rows = await this.rows<{ exchange: string; symbol: string; timeframe: string; open_time: number; close: number; values_json: string }>('query_features', {
        text: `SELECT exchange, symbol, timeframe, open_time, close, values_json FROM features
               WHERE exchange = $1 AND symbol = $2 AND timeframe = $3 AND open_time >= $4 AND open_time <= $5 ORDER BY open_time ${asc ? 'ASC' : 'DESC'} LIMIT $6`,
        values: [q.exchange, q.symbol, q.timeframe, q.from ?? Number.MIN_SAFE_INTEGER, q.to ?? Number.MAX_SAFE_INTEGER, q.limit],
      });
      const out = rows.map((r) => ({ exchange: r.exchange as ExchangeId, symbol: r.symbol, timeframe: r.timeframe as Timeframe, openTime: r.open_time, close: r.close, values: JSON.parse(r.values_json) as Record<string, number | null> }));
      return asc ? out : out.reverse();
    },
    insertDecision: async (d) => {
      const rows = await this.rows<{ id: number }>('decisions', {
        text: `INSERT INTO decisions (exchange, symbol, timeframe, strategy, action, confidence, price, as_of, decided_at, reasons_json, features_json, outcomes_json, scorable, pending)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, '{}', $12, $12) RETURNING id`,
        values: [d.exchange, d.symbol, d.timeframe, d.strategy, d.action, d.confidence, d.price, d.asOf, d.decidedAt, JSON.stringify(d.reasons), JSON.stringify(d.features), d.scorable],
      });
      return rows[0]!.id;
    },
    queryDecisions: async (q) => {
      const rows = await this.rows<DecisionPgRow>('decisions', {
        text: `SELECT ${DECISION_COLUMNS} FROM decisions WHERE decided_at >= $1 AND decided_at <= $2 AND ($3::text IS NULL OR exchange = $3) AND ($4::text IS NULL OR symbol = $4)
               AND ($5::text IS NULL OR timeframe = $5) AND ($6::text IS NULL OR strategy = $6) ORDER BY decided_at DESC, id DESC LIMIT $7`,
        values: [q.from ?? Number.MIN_SAFE_INTEGER, q.to ?? Number.MAX_SAFE_INTEGER, q.exchange ?? null, q.symbol ?? null, q.timeframe ?? null, q.strategy ?? null, q.limit],
      });
      return rows.map(decisionRecord);
    },
    pendingDecisions: async (limit) => {
      const rows = await this.rows<DecisionPgRow>('decisions', { text: `SELECT ${DECISION_COLUMNS} FROM decisions WHERE pending ORDER BY decided_at ASC, id ASC LIMIT $1`, values: [limit] });
      return rows.map(decisionRecord);
    },
    setOutcomes: async (id, outcomes, pending) => {
      await this.run('decisions', () => this.pool.query({ text: 'UPDATE decisions SET outcomes_json = $1, pending = $2 WHERE id = $3', values: [JSON.stringify(outcomes), pending, id] }));
    },
  };

  /** The backfiller's pending repairs (migration 6): the same contract as SQLite's (repair-store.ts). */
  readonly repairs: RepairStore = {
    saveRepairs: async (rows) => {
      if (rows.length === 0) return;
      const latest = new Map(rows.map((r) => [r.id, r]));
      const batch = [...latest.keys()].sort().map((id) => latest.get(id)!); // sorted: concurrent writers lock rows in one order
      const values = [batch.map((r) => r.id), batch.map((r) => r.exchange), batch.map((r) => r.symbol), batch.map((r) => r.timeframe), batch.map((r) => r.first), batch.map((r) => r.last), this.o.now()];
      await this.run('repairs', () => this.pool.query({ name: 'candlestack_save_repairs', text: SAVE_REPAIRS, values }));
    },
    removeRepairs: async (ids) => {
      if (ids.length === 0) return;
      await this.run('repairs', () => this.pool.query({ name: 'candlestack_remove_repairs', text: 'DELETE FROM pending_repairs WHERE id = ANY($1::text[])', values: [[...ids]] }));
    },
    pendingRepairs: async () => {
      const rows = await this.rows<{ id: string; exchange: string; symbol: string; timeframe: string; first_open: number; last_open: number }>('repairs', {
        text: 'SELECT id, exchange, symbol, timeframe, first_open, last_open FROM pending_repairs ORDER BY exchange COLLATE "C", symbol COLLATE "C", timeframe COLLATE "C", first_open, id COLLATE "C"',
      });
      return rows.map(toRepair);
    },
  };

  /** The vacuum job: fresh planner statistics (autovacuum reclaims the space of deleted rows itself). */
  async maintain(): Promise<void> {
    // ANALYZE of a large table may take longer than the statement timeout: lifted for this session's statements.
    await this.run('maintain', () => this.unbounded((c) => c.query('ANALYZE candles')));
    await this.run('maintain', () => this.unbounded((c) => c.query('ANALYZE indicators')));
  }

  private async unbounded<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('SET statement_timeout = 0');
      return await fn(c);
    } finally {
      await c.query('RESET statement_timeout').catch(() => undefined);
      c.release();
    }
  }

  /** A session advisory lock named `name` in this store's schema (postgres-leader.ts); released at close at the latest. */
  leaderLock(name: string): PostgresLeaderLock {
    const lock = new PostgresLeaderLock(this.pool, `candlestack:leader:${name}:${this.target.schema ?? ''}`, this.o.log);
    this.leaderLocks.add(lock);
    return lock;
  }

  isOpen(): boolean {
    return this.open;
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    // A held lock keeps a connection checked out, which pool.end() would wait for.
    for (const lock of this.leaderLocks) await lock.release();
    await this.pool.end();
  }

  private async rows<R extends QueryResultRow>(operation: Operation, config: QueryConfig): Promise<R[]> {
    return (await this.run(operation, () => this.pool.query<R>(config))).rows;
  }

  /** Operations that failed here (upserts are the caller's to count) and connections lost. */
  status(): StoreStatus {
    let errors = this.m.lost.value;
    for (const op of Object.values(this.m.ops)) errors += op.errors?.value ?? 0;
    return { errors };
  }

  /** Times and counts one operation; retries it once when it failed on a lost connection or a deadlock. */
  private async run<T>(operation: Operation, fn: () => Promise<T>, retry = true): Promise<T> {
    if (!this.open && operation !== 'migrate') throw new Error(`PostgreSQL store ${this.target.display} is closed`);
    const m = this.m.ops[operation];
    m.queries.inc();
    const stop = m.duration.startTimer();
    try {
      try {
        return await fn();
      } catch (err) {
        if (!retry || !isTransient(err)) throw err;
        this.o.log.warn({ err: describeError(err), operation }, 'PostgreSQL operation failed on a lost connection or a deadlock; retrying it once');
        return await fn();
      }
    } catch (err) {
      m.errors?.inc();
      throw err;
    } finally {
      stop();
    }
  }

  /** Pool gauges, refreshed once per burst of pool events (after the pool has updated its counts). */
  private readonly poolChanged = (): void => {
    if (this.gaugesQueued) return;
    this.gaugesQueued = true;
    queueMicrotask(() => {
      this.gaugesQueued = false;
      const busy = this.pool.totalCount - this.pool.idleCount;
      this.m.available.set(Math.max(0, this.target.poolSize - busy));
      this.m.waiting.set(this.pool.waitingCount);
    });
  };
}
