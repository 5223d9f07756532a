/**
 * The one health model: `HealthReport` is what /api/health answers on every role (the API server of run,
 * demo and serve adds the dashboard's detail, health-details.ts; the collect and process role servers serve
 * it as is), and what /readyz derives from: ready when `reasons` is empty.
 */
import type { BreakerStatus } from '../core/circuit-breaker.js';
import type { FeedHealth, FeedState, HealthReport } from '../core/health.js';

export type { FeedState, HealthReport } from '../core/health.js';

/** What a role knows about its parts; a role without feeds, store or backfill leaves them out. */
export interface HealthSources {
  /** The role reporting (run, demo, collect, process, serve). */
  role?: string;
  feeds?: () => FeedHealth[];
  /** A feed whose last frame is older than half of this is reported `stale`. */
  staleAfterMs: number;
  /** `writeStall`: rows waiting while no write completed for N flush intervals (CandleWriter.stall()); makes the role not ready. */
  store?: { kind: string; isOpen(): boolean; queueDepth(): number; writeStall?(): { rows: number; sinceMs: number } | null };
  bus: { kind: string; bufferDepth?: () => number; caughtUp?: () => boolean };
  backfillPending?: () => number;
  startedAt: number;
  /** Circuit breakers; one that is not closed makes the status `degraded`. */
  breakers?: () => BreakerStatus[];
  /** The role's own reasons not to be ready (notify: the Bot API not reachable); any makes the status `degraded`. */
  notReady?: () => string[];
}

export function healthReport(s: HealthSources, now: number): HealthReport {
  const feeds = (s.feeds?.() ?? []).map((f) => ({ ...f, state: feedState(f, s.staleAfterMs) }));
  const storeOpen = s.store?.isOpen() ?? true;
  const up = feeds.filter((f) => f.state === 'up').length;
  const breakers = s.breakers?.();
  const tripped = breakers?.some((b) => b.state !== 'closed') ?? false;
  const own = s.notReady?.() ?? [];
  const stall = storeOpen ? (s.store?.writeStall?.() ?? null) : null;
  const status = !storeOpen || (feeds.length > 0 && up === 0) ? 'down' : up < feeds.length || tripped || own.length > 0 || stall !== null ? 'degraded' : 'ok';
  const reasons: string[] = [...own];
  if (s.store && !storeOpen) reasons.push(`store ${s.store.kind} is not open`);
  if (s.store && stall) reasons.push(`store ${s.store.kind} has completed no write for ${(stall.sinceMs / 1000).toFixed(1)} s with ${stall.rows} rows waiting`);
  for (const f of feeds) if (f.status !== 'connected') reasons.push(`feed ${f.exchange}#${f.connection} is ${f.status}`);
  const bus: HealthReport['bus'] = { kind: s.bus.kind };
  if (s.bus.bufferDepth) bus.bufferDepth = s.bus.bufferDepth();
  if (s.bus.caughtUp) bus.caughtUp = s.bus.caughtUp();
  return {
    ...(s.role ? { role: s.role } : {}),
    status,
    reasons,
    uptimeSeconds: Math.round((now - s.startedAt) / 1000),
    feeds,
    ...(s.store ? { store: { kind: s.store.kind, open: storeOpen, queueDepth: s.store.queueDepth() } } : {}),
    bus,
    ...(s.backfillPending ? { backfill: { pending: s.backfillPending() } } : {}),
    ...(breakers ? { breakers } : {}),
  };
}

function feedState(f: FeedHealth, staleAfterMs: number): FeedState {
  if (f.status !== 'connected') return 'down';
  return f.lastMessageAgeMs !== null && f.lastMessageAgeMs > staleAfterMs / 2 ? 'stale' : 'up';
}

/** Ready when the store (if any) is open and writing (no write stall), every feed is connected, and the role has no reason of its own. */
export function readiness(report: HealthReport): { ready: boolean; reasons: string[] } {
  return { ready: report.reasons.length === 0, reasons: report.reasons };
}
