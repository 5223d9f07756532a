/**
 * Bench 10: the ingest pipeline with tracing on at the default sampler (parentbased_always_on, OTLP/HTTP
 * protobuf to a local receiver in another process) against tracing off, on the same frames.
 *
 * The pipeline is bench 1's (parse -> validate -> bus -> candles on 6 timeframes -> metrics) plus the store
 * writer of the process role (a store that accepts the rows), driven as the process role drives it: the
 * frames arrive in batches of `BATCH`, each handled inside one CONSUMER span (`process candlestack_trades`,
 * as src/bus/kafka-consumer.ts opens per Kafka batch; a no-op with tracing off), the writer flushes once per
 * run (one `upsert candles` span), and the event loop turns between batches so the batch span processor
 * exports while the frames flow. Trades are not traced one by one; what tracing adds per trade is the
 * writer's parent bookkeeping and, per candle close, the exemplar lookup.
 *
 * Each measurement runs in its own child process (`--mode on|off`): the async-local-storage context manager
 * an enabled Tracing installs is process-wide, so an "off" run after an "on" one in the same process would
 * not be off. The parent alternates on and off `rounds` times (a loaded machine drifts) and reports the
 * median ratio and its spread.
 */
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { defaultConfig } from '../src/config/config.js';
import { Tracing, SpanKind } from '../src/telemetry/tracing.js';
import { CandleWriter } from '../src/store/candle-writer.js';
import { silentLogger } from '../src/telemetry/logger.js';
import type { Store } from '../src/store/store.js';
import type { Clock } from '../src/core/clock.js';
import { ingestPipeline } from './ingest.js';
import { makeWorkload, opsPerSecondAsync } from './workload.js';

/** Frames per consumed batch (one CONSUMER span each). */
export const BATCH = 500;
/** Frames per measured run (default; `--frames`). */
const FRAMES = 100_000;
const SYMBOLS = 1000;

export interface TracingOverhead {
  rounds: number;
  off: number[];
  on: number[];
  /** on / off per round, in round order. */
  ratios: number[];
  median: number;
  min: number;
  max: number;
}

/** One child's measurement: frames per second with tracing `mode`. */
async function measure(mode: 'on' | 'off', endpoint: string | undefined, frames = FRAMES): Promise<number> {
  const tracing = mode === 'on'
    ? Tracing.fromConfig({ ...defaultConfig().tracing, endpoint: endpoint ?? null }, { role: 'process', version: 'bench' })
    : Tracing.off();
  if (mode === 'on' && !tracing.enabled) throw new Error('--mode on needs --endpoint');
  const w = makeWorkload(frames, SYMBOLS, 10_000);
  const receivedAt = w.trades.map((t) => t.receivedAt);
  const store = { kind: 'memory', upsert: async () => {} } as unknown as Store;
  const clock: Clock = { now: () => Date.now(), setTimeout: () => ({ cancel() {} }), setInterval: () => ({ cancel() {} }) };
  const log = silentLogger();
  const rate = await opsPerSecondAsync(frames, async () => {
    const p = ingestPipeline(w);
    const writer = new CandleWriter({ store, clock, metrics: p.metrics.store, log, tracing, maxBatch: Number.MAX_SAFE_INTEGER, maxBufferedRows: Number.MAX_SAFE_INTEGER });
    p.bus.subscribe('candle', writer.onEvent);
    for (let i = 0; i < frames; i += BATCH) {
      const batch = w.frames.slice(i, i + BATCH);
      const at = receivedAt.slice(i, i + BATCH);
      tracing.span('process candlestack_trades', { kind: SpanKind.CONSUMER, attributes: { 'messaging.system': 'kafka', 'messaging.batch.message_count': batch.length } }, () => p.run(batch, at));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await writer.flush();
  }, 1500);
  await tracing.shutdown();
  return rate;
}

/** A local OTLP/HTTP sink in its own process (a collector would be one): answers 200 to every POST. */
async function startSink(): Promise<{ endpoint: string; stop: () => void }> {
  const code = "const s=require('http').createServer((q,r)=>{q.resume();q.on('end',()=>r.writeHead(200,{'content-type':'application/x-protobuf'}).end())});s.listen(0,'127.0.0.1',()=>console.log(s.address().port))";
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (b: Buffer) => resolve(b.toString().trim()));
    child.once('exit', (c) => reject(new Error(`OTLP sink exited with ${c}`)));
  });
  return { endpoint: `http://127.0.0.1:${port}`, stop: () => child.kill() };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Alternates off and on runs, each in a fresh child process. */
export async function benchTracingOverhead(rounds = 5, frames = FRAMES): Promise<TracingOverhead> {
  const sink = await startSink();
  const self = fileURLToPath(import.meta.url);
  const child = (mode: 'on' | 'off') => Number(execFileSync(process.execPath, [self, '--mode', mode, '--endpoint', sink.endpoint, '--frames', String(frames)], { encoding: 'utf8' }).trim());
  const off: number[] = [];
  const on: number[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      // Alternate which goes first, so a trend in the machine's load does not favour one side.
      if (r % 2 === 0) {
        off.push(child('off'));
        on.push(child('on'));
      } else {
        on.push(child('on'));
        off.push(child('off'));
      }
    }
  } finally {
    sink.stop();
  }
  const ratios = on.map((v, i) => v / off[i]!);
  return { rounds, off, on, ratios, median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { mode: { type: 'string' }, endpoint: { type: 'string' }, rounds: { type: 'string', default: '5' }, frames: { type: 'string', default: String(FRAMES) } } });
  const frames = Number(values.frames);
  if (!Number.isInteger(frames) || frames < BATCH) throw new Error(`--frames: expected an integer >= ${BATCH}, got ${values.frames}`);
  if (values.mode === 'on' || values.mode === 'off') {
    console.log(String(await measure(values.mode, values.endpoint, frames)));
  } else if (values.mode !== undefined) {
    throw new Error(`--mode: expected on or off, got ${values.mode}`);
  } else {
    const rounds = Number(values.rounds);
    if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: expected a positive integer, got ${values.rounds}`);
    console.log(JSON.stringify(await benchTracingOverhead(rounds, frames)));
  }
}
