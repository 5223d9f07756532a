/**
 * Bench 5: /metrics at scale. 1,000 symbols x 6 timeframes of series (trades, last trade, close price,
 * volume, candles completed, late trades, plus prom-client defaults): scrape time, body size, and the
 * event-loop delay one scrape causes.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ingestPipeline, TIMEFRAMES } from './ingest.js';
import { makeWorkload } from './workload.js';
import { collectDefaultMetrics } from 'prom-client';

export async function benchMetricsScrape(symbols = 1000, scrapes = 20) {
  const w = makeWorkload(symbols * 20, symbols, 10_000);
  const pipeline = ingestPipeline(w);
  pipeline.run(w.frames, w.trades.map((t) => t.receivedAt));
  const m = pipeline.metrics;
  collectDefaultMetrics({ register: m.registry });
  for (const s of w.symbols) {
    for (const tf of TIMEFRAMES) {
      m.candles.candleClosePrice.labels('binance', s, tf).set(123.45);
      m.candles.candleVolume.labels('binance', s, tf).set(6.789);
    }
  }
  const body = await m.registry.metrics();
  const series = body.split('\n').filter((l) => l && !l.startsWith('#')).length;
  const times: number[] = [];
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  for (let i = 0; i < scrapes; i++) {
    const t0 = process.hrtime.bigint();
    await m.registry.metrics();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    await new Promise((r) => setTimeout(r, 5));
  }
  delay.disable();
  times.sort((a, b) => a - b);
  return {
    series,
    bytes: Buffer.byteLength(body),
    medianMs: times[Math.floor(times.length / 2)]!,
    maxMs: times[times.length - 1]!,
    loopDelayMaxMs: delay.max / 1e6,
  };
}
