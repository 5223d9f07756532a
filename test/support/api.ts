/**
 * The ApiServer as the API tests run it: on 127.0.0.1:0 over an in-memory SQLite store, one Binance market, a
 * LiveHub, a quiet health report and a fresh metrics registry. Any option can be overridden.
 */
import { ApiServer, type ApiServerOptions } from '../../src/api/server.js';
import type { HealthSources } from '../../src/api/health.js';
import { LiveHub } from '../../src/api/live-ws.js';
import { Markets } from '../../src/api/markets.js';
import { systemClock } from '../../src/core/clock.js';
import type { Timeframe } from '../../src/core/timeframe.js';
import { binance } from '../../src/exchanges/binance/feed.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/store.js';
import type { Metrics } from '../../src/telemetry/metrics.js';
import { log, testMetrics } from './harness.js';

export interface TestApiOptions extends Partial<Omit<ApiServerOptions, 'health' | 'metrics'>> {
  metrics?: Metrics;
  /** Merged over the defaults: no feeds, stale after 10 s, the store open and empty, the memory bus. */
  health?: Partial<HealthSources>;
  /** The Binance market's symbols and timeframes when `markets` is not given (default BTC-USDT, 1m). */
  symbols?: string[];
  timeframes?: Timeframe[];
}

export interface TestApi {
  /** http://127.0.0.1:PORT */
  url: string;
  /** ws://127.0.0.1:PORT */
  wsUrl: string;
  port: number;
  api: ApiServer;
  metrics: Metrics;
  store: Store;
  markets: Markets;
  live: LiveHub;
  /** Closes the server (and its LiveHub), and the store when this helper opened it. */
  close(): Promise<void>;
}

export async function startTestApi(o: TestApiOptions = {}): Promise<TestApi> {
  const { symbols = ['BTC-USDT'], timeframes = ['1m'], health, ...overrides } = o;
  const ownStore = o.store === undefined;
  const store = o.store ?? new SqliteStore(':memory:');
  const metrics = o.metrics ?? testMetrics();
  const markets = o.markets ?? new Markets([{ exchange: 'binance', symbols, timeframes, codec: binance.symbols }]);
  const clock = o.clock ?? systemClock;
  const logger = o.log ?? log;
  const live = o.live ?? new LiveHub({ markets, metrics: metrics.api, log: logger, clock });
  const api = new ApiServer({
    host: '127.0.0.1',
    port: 0,
    registry: metrics.registry,
    version: 'test',
    ...overrides,
    store,
    metrics: metrics.api,
    markets,
    clock,
    log: logger,
    live,
    health: {
      feeds: () => [],
      staleAfterMs: 10_000,
      store: { kind: store.kind, isOpen: () => store.isOpen(), queueDepth: () => 0 },
      bus: { kind: 'memory' },
      backfillPending: () => 0,
      startedAt: Date.now(),
      ...health,
    },
  });
  await api.start();
  const port = api.port;
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    port,
    api,
    metrics,
    store,
    markets,
    live,
    async close() {
      await live.stop();
      await api.stop();
      if (ownStore) await store.close();
    },
  };
}
