/**
 * Bench 7: memory under sustained load. The real embedded pipeline (startEmbedded, 6 timeframes, SQLite,
 * indicators, /ws, /metrics scraped every 15 s like Prometheus) fed 10,000 trades/s over 1,000 symbols by the
 * loopback Binance server, in this process. RSS and heap (after a full GC) are sampled after the warm-up and at
 * the end; flat means the end is within 5 % of the warm-up.
 *
 *   npx tsc -p tsconfig.json && node --expose-gc dist/bench/memory-soak.js [--minutes 10] [--rate 10000] [--symbols 1000]
 *     [--no-indicators]  (control run: without the indicators' per-series candle history, which fills for hours)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { systemClock } from '../src/core/clock.js';
import { defaultConfig, type Config } from '../src/config/config.js';
import { startEmbedded } from '../src/app/embedded.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { LoopbackExchange } from './loopback-exchange.js';
import { TIMEFRAMES } from './ingest.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface MemorySample {
  atSeconds: number;
  rssMB: number;
  heapUsedMB: number;
  /**
   * ArrayBuffer memory (outside the JS heap): typed arrays, e.g. the indicators' candle history
   * (bar-history.ts), so data moved there still counts.
   */
  arrayBuffersMB: number;
  /** Trades sent by the exchange but not yet received by the collector (a backlog grows memory too). */
  backlog?: number;
}

export interface SoakResult {
  minutes: number;
  rate: number;
  symbols: number;
  sent: number;
  warm: MemorySample;
  end: MemorySample;
  samples: MemorySample[];
  rssGrowth: number;
  heapGrowth: number;
  /** Growth of heap used + ArrayBuffer memory. */
  heapAndBuffersGrowth: number;
}

function sample(start: number): MemorySample {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { atSeconds: Math.round((performance.now() - start) / 1000), rssMB: m.rss / 2 ** 20, heapUsedMB: m.heapUsed / 2 ** 20, arrayBuffersMB: m.arrayBuffers / 2 ** 20 };
}

/** Sum of candlestack_ws_messages_received_total on the app's /metrics. */
async function received(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^candlestack_ws_messages_received_total\{[^}]*\} (\S+)$/gm)) n += Number(m[1]);
  return n;
}

export async function soak(minutes: number, rate = 10_000, symbolCount = 1000, onSample?: (s: MemorySample) => void, indicators = true): Promise<SoakResult> {
  if (!(globalThis as { gc?: unknown }).gc) throw new Error('run with node --expose-gc (heap is measured after a full GC)');
  const symbols = Array.from({ length: symbolCount }, (_, i) => `M${String(i).padStart(4, '0')}-USDT`);
  const exchange = new LoopbackExchange();
  const { wsBaseUrl, restBaseUrl } = await exchange.start();
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-bench-soak-'));
  const base = defaultConfig();
  const config: Config = {
    ...base,
    exchanges: [{ ...base.exchanges[0]!, symbols, klines: false, wsUrl: wsBaseUrl, restUrl: restBaseUrl }],
    timeframes: TIMEFRAMES,
    store: { ...base.store, url: `sqlite:${join(dir, 'soak.db')}` },
    indicators: { ...base.indicators, enabled: indicators },
    http: { host: '127.0.0.1', port: 0 },
  };
  const app = await startEmbedded(config, { clock: systemClock, log: silentLogger(), version: 'bench', role: 'bench' });
  try {
    while (exchange.connected === 0) await sleep(10);
    const totalMs = minutes * 60_000;
    const warmupMs = Math.min(60_000, totalMs * 0.2);
    const start = performance.now();
    let sent = 0;
    let next = 0;
    let lastScrape = 0;
    let warm: MemorySample | null = null;
    const samples: MemorySample[] = [];
    let nextSample = warmupMs;
    for (;;) {
      const elapsed = performance.now() - start;
      if (elapsed >= totalMs) break;
      const due = Math.floor((elapsed / 1000) * rate);
      const now = Date.now();
      for (; sent < due; sent++) exchange.send(symbols[next++ % symbols.length]!, now);
      exchange.sentAt.length = 0; // the soak does not correlate latencies: keep the exchange's own memory flat
      if (elapsed - lastScrape >= 15_000) {
        lastScrape = elapsed;
        await (await fetch(`http://127.0.0.1:${app.port}/metrics`)).text();
      }
      if (elapsed >= nextSample) {
        const s = { ...sample(start), backlog: sent - (await received(app.port)) };
        samples.push(s);
        onSample?.(s);
        warm ??= s;
        nextSample += Math.max(10_000, (totalMs - warmupMs) / 10);
      }
      await sleep(5);
    }
    const end = { ...sample(start), backlog: sent - (await received(app.port)) };
    samples.push(end);
    onSample?.(end);
    const w = warm ?? end;
    return { minutes, rate, symbols: symbolCount, sent, warm: w, end, samples, rssGrowth: end.rssMB / w.rssMB - 1, heapGrowth: end.heapUsedMB / w.heapUsedMB - 1, heapAndBuffersGrowth: (end.heapUsedMB + end.arrayBuffersMB) / (w.heapUsedMB + w.arrayBuffersMB) - 1 };
  } finally {
    await app.stop();
    await exchange.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, rate: { type: 'string', default: '10000' }, symbols: { type: 'string', default: '1000' }, json: { type: 'boolean', default: false }, 'no-indicators': { type: 'boolean', default: false } } });
  const minutes = Number(values.minutes);
  if (!(minutes > 0)) throw new Error(`--minutes: expected a positive number, got ${values.minutes}`);
  const result = await soak(minutes, Number(values.rate), Number(values.symbols), (s) => !values.json && console.log(JSON.stringify(s)), !values['no-indicators']);
  console.log(JSON.stringify(result));
}
