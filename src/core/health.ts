/**
 * The one health model, as types only: what /api/health answers on every role (HealthReport; run, demo and
 * serve add the dashboard's detail, DetailedHealthReport) and what the web page reads. Built by
 * src/api/health.ts and src/api/health-details.ts; imported by the web dashboard (web/src/api.ts) too, so it
 * depends on nothing but core.
 */
import type { BreakerStatus } from './circuit-breaker.js';
import type { ExchangeId } from './exchange-id.js';

export const CONNECTION_STATUSES = ['connecting', 'connected', 'disconnected', 'stopped'] as const;
export type ConnectionStatus = (typeof CONNECTION_STATUSES)[number];

/** One exchange connection shard, as its collector reports it. */
export interface FeedHealth {
  exchange: ExchangeId;
  connection: string;
  status: ConnectionStatus;
  symbols: string[];
  streams: number;
  lastMessageAt: number | null;
  lastMessageAgeMs: number | null;
  connectedSince: number | null;
  reconnects: number;
  tradeIdGaps: number;
  lastError: string | null;
}

export type FeedState = 'up' | 'stale' | 'down';

export interface HealthReport {
  role?: string;
  /** `down`: the store is closed or no feed is up; `degraded`: some feed is not up or a breaker is not closed. */
  status: 'ok' | 'degraded' | 'down';
  /** Why the role is not ready (empty when ready): what /readyz answers. */
  reasons: string[];
  uptimeSeconds: number;
  feeds: (FeedHealth & { state: FeedState })[];
  store?: { kind: string; open: boolean; queueDepth: number };
  bus: { kind: string; bufferDepth?: number; caughtUp?: boolean };
  backfill?: { pending: number };
  breakers?: BreakerStatus[];
}

/** green / amber / red. */
export type Level = 'ok' | 'warn' | 'critical';

export interface ReconciliationCounts {
  match: number;
  mismatch: number;
  skipped: number;
  unmatched: number;
}

/** HealthReport plus the dashboard's detail: counts from the components' status() and a level per part. */
export interface DetailedHealthReport extends Omit<HealthReport, 'feeds' | 'store' | 'bus' | 'backfill'> {
  level: Level;
  staleAfterMs: number;
  feeds: (HealthReport['feeds'][number] & { messagesReceived: number; level: Level })[];
  symbols: { exchange: string; symbol: string; tradesReceived: number; lastTradeAgeMs: number | null; tradeIdGaps: number; tradeIdsMissing: number; level: Level }[];
  reconciliation: { total: ReconciliationCounts; recent: ReconciliationCounts; mismatchedFields: Record<string, number>; windowSeconds: number; level: Level };
  rejected: { total: number; reasons: Record<string, number> };
  store: NonNullable<HealthReport['store']> & { rowsWritten: number; errors: number; recentErrors: number; level: Level };
  bus: HealthReport['bus'] & { published: number; consumed: number; handlerErrors: number; recentHandlerErrors: number; level: Level };
  backfill: NonNullable<HealthReport['backfill']> & { candles: number; runsOk: number; runsFailed: number; recentFailures: number; level: Level };
}
