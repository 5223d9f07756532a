/**
 * Cost of the per-trade data-quality checks (out-of-order, price outlier, volume sanity) on the hot path,
 * next to the candle engine on the same trades, and whether they allocate: the number of young-generation
 * garbage collections (scavenges) during the timed loop. No assertions on time; prints what it measured.
 *
 *   node dist/bench/quality-checks.js
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { FakeClock } from '../test/support/fake-clock.js';
import type { Trade } from '../src/core/types.js';
import { CandleEngine } from '../src/pipeline/candle-engine.js';
import { QualityMonitor } from '../src/quality/monitor.js';
import { defaultQualitySettings } from '../src/quality/settings.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { createMetrics, createRegistry } from '../src/telemetry/metrics.js';
import { silentLogger } from '../src/telemetry/logger.js';

const SYMBOLS = 100;
const TRADES = 2_000_000;
/** Trade times are epoch milliseconds, as live (beyond the small-integer range, so boxing would show). */
const EPOCH = Date.UTC(2024, 0, 1);

/** A fixed pool of trades (a random walk per symbol), reused so the loop itself allocates nothing. */
function workload(): Trade[] {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const prices = Array.from({ length: SYMBOLS }, () => 100 + rnd() * 1000);
  const out: Trade[] = [];
  for (let i = 0; i < 20_000; i++) {
    const s = i % SYMBOLS;
    prices[s] = prices[s]! * (1 + (rnd() - 0.5) * 2e-4);
    out.push({ type: 'trade', exchange: 'binance', symbol: `SYM${s}USDT`, id: i, price: prices[s]!.toFixed(2), qty: (rnd() * 2).toFixed(5), side: 'buy', count: 1, time: EPOCH, receivedAt: EPOCH }); // double fields: re-stamping stores in place
  }
  return out;
}

async function time(label: string, pool: Trade[], onTrade: (t: Trade, i: number) => void): Promise<{ nsPerTrade: number; scavenges: number }> {
  const WARM = 200_000;
  for (let i = 0; i < WARM; i++) onTrade(pool[i % pool.length]!, i); // warm up (JIT, windows full)
  let scavenges = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++;
  });
  obs.observe({ entryTypes: ['gc'] });
  const start = process.hrtime.bigint();
  for (let i = WARM; i < WARM + TRADES; i++) onTrade(pool[i % pool.length]!, i);
  const ns = Number(process.hrtime.bigint() - start);
  await new Promise((r) => setTimeout(r, 50)); // gc entries are delivered asynchronously
  obs.disconnect();
  const r = { nsPerTrade: ns / TRADES, scavenges };
  console.log(`${label}: ${r.nsPerTrade.toFixed(1)} ns/trade, ${(1e9 / r.nsPerTrade / 1e6).toFixed(2)} M trades/s, ${r.scavenges} scavenges in ${TRADES.toLocaleString('en-US')} trades`);
  return r;
}

async function main(): Promise<void> {
  const pool = workload();
  const clock = new FakeClock(0);
  const log = silentLogger();
  const metrics = createMetrics(createRegistry({ defaults: false }));
  const symbols = Array.from({ length: SYMBOLS }, (_, s) => `SYM${s}USDT`);
  const store = new SqliteStore(':memory:', () => 0);
  const monitor = new QualityMonitor({ settings: defaultQualitySettings(), markets: [{ exchange: 'binance', symbols }], candleTimeframe: '1m', candleSettleMs: 0, store, clock, metrics: metrics.quality, log });
  const engine = new CandleEngine({ timeframes: ['1m', '5m', '15m', '1h', '4h', '1d'], graceMs: 2_000, latePolicy: 'drop', clock, metrics, log, emit: () => {} });

  // trades of one pool entry keep their time; time moves forward with the loop index (1 trade per ms)
  const stamp = (t: Trade, i: number): Trade => {
    (t as { time: number }).time = EPOCH + i;
    (t as { receivedAt: number }).receivedAt = EPOCH + i;
    return t;
  };
  // calibration: a loop that allocates one small object per trade must show scavenges
  const sink: object[] = [];
  await time('calibration (allocates per trade)', pool, (t, i) => void (sink[i & 1023] = { t, i }));
  const quality = await time('quality checks (3 per trade)', pool, (t, i) => monitor.onTrade(stamp(t, i)));
  const candles = await time('candle engine (6 timeframes)', pool, (t, i) => engine.onTrade(stamp(t, i + 2_200_000)));
  console.log(`quality checks cost ${(quality.nsPerTrade / candles.nsPerTrade).toFixed(2)}× the candle engine per trade`);
  const failures = monitor.summary(EPOCH + 2_200_000).filter((s) => s.failing.length > 0).length;
  console.log(`symbols with a failing check on the clean random walk: ${failures} of ${SYMBOLS}`);
  await store.close();
}

void main();
