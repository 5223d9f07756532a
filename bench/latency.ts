/**
 * Bench 6: trade in over a loopback WebSocket -> candle update out to a /ws client, through the real embedded
 * pipeline (startEmbedded: collector, bus, engine on 6 timeframes, SQLite writer, indicators, /ws). A trade's
 * latency is the time from its frame being sent to the first candle update whose close shows that trade (or a
 * later one of the same symbol) arriving at the client. Exchange, app and client share one process here.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/latency.js [seconds per rate, default 5]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { systemClock } from '../src/core/clock.js';
import { defaultConfig, type Config } from '../src/config/config.js';
import { startEmbedded } from '../src/app/embedded.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { LoopbackExchange } from './loopback-exchange.js';
import { TIMEFRAMES } from './ingest.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SYMBOLS = Array.from({ length: 10 }, (_, i) => `LAT${i}-USDT`);

export interface LatencyResult {
  rate: number;
  trades: number;
  p50: number;
  p99: number;
  max: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measureRate(exchange: LoopbackExchange, port: number, rate: number, seconds: number): Promise<LatencyResult> {
  const client = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  await new Promise<void>((resolve, reject) => client.once('open', resolve).once('error', reject));
  let subscribed = 0;
  const pending = new Map<string, number[]>(SYMBOLS.map((s) => [s, []]));
  const latencies: number[] = [];
  let firstMeasured = Number.POSITIVE_INFINITY; // trades sent during the warm-up are matched but not recorded
  client.on('message', (data) => {
    const now = performance.now();
    const m = JSON.parse(data.toString()) as { type: string; kind?: string; candle?: { symbol: string; close: string } };
    if (m.type === 'subscribed') subscribed++;
    if (m.type !== 'candle' || m.kind !== 'update') return;
    const seq = Number(m.candle!.close);
    const queue = pending.get(m.candle!.symbol)!;
    let n = 0;
    while (n < queue.length && queue[n]! <= seq) {
      if (queue[n]! >= firstMeasured) latencies.push(now - exchange.sentAt[queue[n]!]!);
      n++;
    }
    queue.splice(0, n);
  });
  for (const symbol of SYMBOLS) client.send(JSON.stringify({ op: 'subscribe', exchange: 'binance', symbol, timeframe: '1m' }));
  while (subscribed < SYMBOLS.length) await sleep(10);

  const warmupMs = 1000;
  const start = performance.now();
  let sent = 0;
  let i = 0;
  while (performance.now() - start < warmupMs + seconds * 1000) {
    const elapsed = performance.now() - start;
    const measuring = elapsed >= warmupMs;
    const due = Math.floor((elapsed / 1000) * rate);
    for (; sent < due; sent++) {
      const symbol = SYMBOLS[i++ % SYMBOLS.length]!;
      const seq = exchange.send(symbol, Date.now());
      if (measuring && firstMeasured === Number.POSITIVE_INFINITY) firstMeasured = seq;
      pending.get(symbol)!.push(seq);
    }
    await new Promise((r) => setImmediate(r));
    if (rate <= 2000) await sleep(1);
  }
  await sleep(600); // let the last updates arrive (more than one engine tick)
  client.close();
  const lost = [...pending.values()].reduce((n, q) => n + q.length, 0);
  if (lost > 0) console.warn(`${rate}/s: ${lost} trades never seen in an update`);
  latencies.sort((a, b) => a - b);
  return { rate, trades: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? Number.NaN };
}

export async function benchLatency(seconds = 5, rates = [1000, 10_000]): Promise<LatencyResult[]> {
  const exchange = new LoopbackExchange();
  const { wsBaseUrl, restBaseUrl } = await exchange.start();
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-bench-latency-'));
  const base = defaultConfig();
  const config: Config = {
    ...base,
    exchanges: [{ ...base.exchanges[0]!, symbols: SYMBOLS, klines: false, wsUrl: wsBaseUrl, restUrl: restBaseUrl }],
    timeframes: TIMEFRAMES,
    store: { ...base.store, url: `sqlite:${join(dir, 'bench.db')}` },
    http: { host: '127.0.0.1', port: 0 },
  };
  const app = await startEmbedded(config, { clock: systemClock, log: silentLogger(), version: 'bench', role: 'bench' });
  try {
    while (exchange.connected === 0) await sleep(10);
    await sleep(200);
    const results: LatencyResult[] = [];
    for (const rate of rates) results.push(await measureRate(exchange, app.port, rate, seconds));
    return results;
  } finally {
    await app.stop();
    await exchange.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const seconds = Number(process.argv[2] ?? 5);
  for (const r of await benchLatency(seconds)) console.log(JSON.stringify(r));
}
