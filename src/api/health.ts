/** The health model behind /api/health and /readyz. */
import type { FeedHealth } from '../feed/collector.js';
import type { BreakerStatus } from '../core/circuit-breaker.js';

export interface HealthSources {
  feeds: () => FeedHealth[];
  /** A feed whose last frame is older than this is reported `stale`. */
  staleAfterMs: number;
  store: { kind: string; isOpen(): boolean; queueDepth(): number };
  bus: { kind: string };
  backfillPending: () => number;
  startedAt: number;
  /** Circuit breakers; one that is not closed makes the status `degraded`. */
  breakers?: () => BreakerStatus[];
}

export type FeedState = 'up' | 'stale' | 'down';

export interface HealthReport {
  status: 'ok' | 'degraded' | 'down';
  uptimeSeconds: number;
  feeds: (FeedHealth & { state: FeedState })[];
  store: { kind: string; open: boolean; queueDepth: number };
  bus: { kind: string };
  backfill: { pending: number };
  breakers?: BreakerStatus[];
}

export function healthReport(s: HealthSources, now: number): HealthReport {
  const feeds = s.feeds().map((f) => ({ ...f, state: feedState(f, s.staleAfterMs) }));
  const storeOpen = s.store.isOpen();
  const up = feeds.filter((f) => f.state === 'up').length;
  const breakers = s.breakers?.();
  const tripped = breakers?.some((b) => b.state !== 'closed') ?? false;
  const status = !storeOpen || (feeds.length > 0 && up === 0) ? 'down' : up < feeds.length || tripped ? 'degraded' : 'ok';
  return {
    status,
    uptimeSeconds: Math.round((now - s.startedAt) / 1000),
    feeds,
    store: { kind: s.store.kind, open: storeOpen, queueDepth: s.store.queueDepth() },
    bus: { kind: s.bus.kind },
    backfill: { pending: s.backfillPending() },
    ...(breakers ? { breakers } : {}),
  };
}

function feedState(f: FeedHealth, staleAfterMs: number): FeedState {
  if (f.status !== 'connected') return 'down';
  return f.lastMessageAgeMs !== null && f.lastMessageAgeMs > staleAfterMs / 2 ? 'stale' : 'up';
}

/** Ready when the store is open and every feed is connected. */
export function readiness(report: HealthReport): { ready: boolean; reasons: string[] } {
  const reasons: string[] = [];
  if (!report.store.open) reasons.push(`store ${report.store.kind} is not open`);
  for (const f of report.feeds) if (f.status !== 'connected') reasons.push(`feed ${f.exchange}#${f.connection} is ${f.status}`);
  return { ready: reasons.length === 0, reasons };
}
