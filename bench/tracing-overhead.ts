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
 * not be off. The parent runs `rounds` pairs of an off and an on child, one after the other alternating which
 * goes first (a loaded machine drifts), or with `--together` both children of a pair at once (both then see
 * the same load). It reports the median on/off ratio and its spread, of two measures: wall frames per second,
 * and CPU time per frame (the child's `process.cpuUsage()`, user + system of all its threads, from the first
 * measured run to the end of the last span export). Wall time counts whatever else the machine runs; CPU time
 * only the child's own work, so it is far less sensitive to the load, though not immune (on two shared cores
 * the child's own instructions slow down too: caches, frequency). `--control` runs tracing off on both sides
 * (an A/A test): its ratios are the measure's own noise.
 */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { defaultConfig } from '../src/config/config.js';
import { Tracing, SpanKind } from '../src/telemetry/tracing.js';
import { CandleWriter } from '../src/store/candle-writer.js';
import { silentLogger } from '../src/telemetry/logger.js';
import type { Store } from '../src/store/store.js';
import type { Clock } from '../src/core/clock.js';
import { ingestPipeline } from './ingest.js';
import { makeWorkload } from './workload.js';

/** Frames per consumed batch (one CONSUMER span each). */
export const BATCH = 500;
/** Frames per measured run (default; `--frames`). */
const FRAMES = 100_000;
const SYMBOLS = 1000;

export interface TracingOverhead {
  rounds: number;
  /** Wall frames per second, per round. */
  off: number[];
  on: number[];
  /** on / off frames per second per round, in round order (1 = no cost; below 1 = tracing is slower). */
  ratios: number[];
  median: number;
  min: number;
  max: number;
  /** CPU µs (user + system) per frame, per round. */
  cpuOff: number[];
  cpuOn: number[];
  /** on / off CPU per frame per round, in round order (1 = no cost; above 1 = tracing costs CPU). */
  cpuRatios: number[];
  cpuMedian: number;
  cpuMin: number;
  cpuMax: number;
}

/** One child's measurement with tracing `mode`. */
export interface Measurement {
  /** Wall frames per second over the measured runs. */
  rate: number;
  /** CPU µs (user + system, every thread of the process) per frame, span export included. */
  cpuUsPerFrame: number;
}

/** Measured runs last at least this long (wall). */
const MIN_MS = 3000;

async function measure(mode: 'on' | 'off', endpoint: string | undefined, frames = FRAMES): Promise<Measurement> {
  const tracing = mode === 'on'
    ? Tracing.fromConfig({ ...defaultConfig().tracing, endpoint: endpoint ?? null }, { role: 'process', version: 'bench' })
    : Tracing.off();
  if (mode === 'on' && !tracing.enabled) throw new Error('--mode on needs --endpoint');
  const w = makeWorkload(frames, SYMBOLS, 10_000);
  const receivedAt = w.trades.map((t) => t.receivedAt);
  const store = { kind: 'memory', upsert: async () => {} } as unknown as Store;
  const clock: Clock = { now: () => Date.now(), setTimeout: () => ({ cancel() {} }), setInterval: () => ({ cancel() {} }) };
  const log = silentLogger();
  const run = async () => {
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
  };
  await run(); // warm-up, its spans exported before the measurement starts
  await tracing.flush();
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  let runs = 0;
  let wallMs = 0;
  do {
    await run();
    runs++;
    wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  } while (wallMs < MIN_MS);
  await tracing.shutdown(); // the measured runs' last spans exported: their cost is tracing's too
  const cpu = process.cpuUsage(cpu0);
  return { rate: (frames * runs) / (wallMs / 1000), cpuUsPerFrame: (cpu.user + cpu.system) / (frames * runs) };
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

export interface PairOptions {
  /** Both children of a pair at the same time, so both see the same load from the rest of the machine (they then also compete with each other, equally). Default: one after the other, alternating which goes first. */
  together?: boolean;
  /** The control (an A/A test): the "on" side runs with tracing off too, so the ratios show the measure's own noise. */
  control?: boolean;
  /** Called after each pair. */
  progress?: (round: number, off: Measurement, on: Measurement) => void;
}

/** Off and on runs, each in a fresh child process, `rounds` pairs. */
export async function benchTracingOverhead(rounds = 5, frames = FRAMES, o: PairOptions = {}): Promise<TracingOverhead> {
  const { together = false, control = false, progress } = o;
  const sink = await startSink();
  const self = fileURLToPath(import.meta.url);
  const run = promisify(execFile);
  const child = async (side: 'on' | 'off') => {
    const mode = control ? 'off' : side;
    return JSON.parse((await run(process.execPath, [self, '--mode', mode, '--endpoint', sink.endpoint, '--frames', String(frames)], { encoding: 'utf8' })).stdout) as Measurement;
  };
  const off: Measurement[] = [];
  const on: Measurement[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      if (together) {
        const [a, b] = await Promise.all([child('off'), child('on')]);
        off.push(a);
        on.push(b);
      } else if (r % 2 === 0) {
        // Alternate which goes first, so a trend in the machine's load does not favour one side.
        off.push(await child('off'));
        on.push(await child('on'));
      } else {
        on.push(await child('on'));
        off.push(await child('off'));
      }
      progress?.(r, off[r]!, on[r]!);
    }
  } finally {
    sink.stop();
  }
  const ratios = on.map((m, i) => m.rate / off[i]!.rate);
  const cpuRatios = on.map((m, i) => m.cpuUsPerFrame / off[i]!.cpuUsPerFrame);
  return {
    rounds,
    off: off.map((m) => m.rate),
    on: on.map((m) => m.rate),
    ratios,
    median: median(ratios),
    min: Math.min(...ratios),
    max: Math.max(...ratios),
    cpuOff: off.map((m) => m.cpuUsPerFrame),
    cpuOn: on.map((m) => m.cpuUsPerFrame),
    cpuRatios,
    cpuMedian: median(cpuRatios),
    cpuMin: Math.min(...cpuRatios),
    cpuMax: Math.max(...cpuRatios),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { together: { type: 'boolean', default: false }, control: { type: 'boolean', default: false }, mode: { type: 'string' }, endpoint: { type: 'string' }, rounds: { type: 'string', default: '5' }, frames: { type: 'string', default: String(FRAMES) } } });
  const frames = Number(values.frames);
  if (!Number.isInteger(frames) || frames < BATCH) throw new Error(`--frames: expected an integer >= ${BATCH}, got ${values.frames}`);
  if (values.mode === 'on' || values.mode === 'off') {
    console.log(JSON.stringify(await measure(values.mode, values.endpoint, frames)));
  } else if (values.mode !== undefined) {
    throw new Error(`--mode: expected on or off, got ${values.mode}`);
  } else {
    const rounds = Number(values.rounds);
    if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: expected a positive integer, got ${values.rounds}`);
    // One line per pair on stderr as it is measured, the whole result as JSON on stdout.
    const pair = (r: number, off: Measurement, on: Measurement) => process.stderr.write(`pair ${r + 1}: off ${off.rate.toFixed(0)} frames/s ${off.cpuUsPerFrame.toFixed(2)} µs CPU/frame, on ${on.rate.toFixed(0)} frames/s ${on.cpuUsPerFrame.toFixed(2)} µs CPU/frame, on/off wall ${(on.rate / off.rate).toFixed(3)} CPU ${(on.cpuUsPerFrame / off.cpuUsPerFrame).toFixed(3)}\n`);
    console.log(JSON.stringify(await benchTracingOverhead(rounds, frames, { progress: pair, together: values.together === true, control: values.control === true })));
  }
}
