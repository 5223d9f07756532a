/**
 * Messages per second through the Kafka bus on this machine, against kcat on the same cluster.
 *
 * librdkafka's mock cluster (3 brokers, topics of 6 partitions). Each round, for each case a fresh topic:
 * - kcat: `kcat -P` produces the same N messages (same keys, values and header as the bus writes: the bus's
 *   own encoding of the same trades) from a file, then `kcat -C` consumes them back to the end; whole
 *   processes, timed from spawn to exit. This is the ceiling: librdkafka in C.
 * - the bus (KafkaBus, kafkajs): once connected (one message sent first), N trades `publish`ed, then `drain()`
 *   (every one acked), then a new consumer
 *   group reads them back from the beginning (decode, dispatch to a subscriber); consume is timed from
 *   `start()` (group join included) and, separately, from the first message delivered to the last.
 * Producer settings are varied per case (acks, batch size, linger, compression) to measure what they gain.
 * Run alone: `npm run build && node dist/bench/kafka-throughput.js [N] [ROUNDS]`. Needs librdkafka-dev and kcat
 * (see test/support/kafka/); without them it says so and measures nothing.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../src/core/clock.js';
import type { Trade } from '../src/core/types.js';
import { KafkaBus, type KafkaBusOptions } from '../src/bus/kafka.js';
import { encode, messageKey } from '../src/bus/kafka-codec.js';
import { createMetrics, createRegistry } from '../src/telemetry/metrics.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { KafkaMockCluster, kafkaMockUnavailable, kcatUnavailable } from '../test/support/kafka/mock-cluster.js';

export type ProducerSettings = Pick<KafkaBusOptions, 'acks' | 'compression' | 'batchMax' | 'lingerMs'>;

export interface KafkaCase {
  name: string;
  settings: ProducerSettings;
}

/** The bus's defaults first: every other case is compared with it. */
export const KAFKA_CASES: KafkaCase[] = [
  { name: 'defaults: acks=all, gzip, batch 2,000, linger 5 ms', settings: {} },
  { name: 'batch 10,000', settings: { batchMax: 10_000 } },
  { name: 'linger 50 ms', settings: { lingerMs: 50 } },
  { name: 'no compression', settings: { compression: 'none' } },
  { name: 'acks=1 (leader only)', settings: { acks: 1 } },
];

/** One measurement, messages per second, and the client's CPU time per message (µs, user + sys). */
export interface Rates {
  produced: number;
  producedCpuUs: number | null;
  consumedCpuUs: number | null;
  /** From consumer start (group join included) to the last message. */
  consumed: number;
  /** From the first message delivered to the last. */
  consumedAfterFirst: number;
}

export interface KafkaBench {
  messages: number;
  rounds: number;
  bytesPerMessage: number;
  encodePerSecond: number;
  /** kcat with the bus's default settings (acks=all, gzip), and without compression. */
  kcat: { gzip: Rates[]; none: Rates[] };
  cases: { case: KafkaCase; runs: Rates[] }[];
}

const SYMBOLS = Array.from({ length: 50 }, (_, i) => `SYM${i}USDT`);

function trade(i: number): Trade {
  return { type: 'trade', exchange: 'binance', symbol: SYMBOLS[i % SYMBOLS.length]!, id: i, price: '64123.45000000', qty: '0.00123000', side: i % 3 ? 'buy' : 'sell', count: 1, time: 1_700_000_000_000 + i, receivedAt: 1_700_000_000_005 + i };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const TIME = '/usr/bin/time';

/**
 * Runs a process to its exit; resolves with its wall time (ms), its CPU time (ms, user + sys, through GNU
 * time when installed, else null) and the newlines it printed.
 */
function timed(cmd: string, args: string[]): Promise<{ ms: number; cpuMs: number | null; lines: number }> {
  const gnuTime = existsSync(TIME);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = gnuTime ? spawn(TIME, ['-f', 'cpu %U %S', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let lines = 0;
    let err = '';
    child.stdout.on('data', (b: Buffer) => {
      for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) lines++;
    });
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`));
      const m = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(err);
      resolve({ ms: performance.now() - t0, cpuMs: m ? (Number(m[1]) + Number(m[2])) * 1000 : null, lines });
    });
  });
}

async function kcatRound(cluster: KafkaMockCluster, topic: string, file: string, n: number, compression: 'gzip' | 'none'): Promise<Rates> {
  await cluster.createTopic(topic, 6);
  const b = cluster.bootstrap;
  // The producer as the bus is configured by default: acks from all in-sync replicas, 5 ms linger, 2,000 per batch.
  const produce = await timed('kcat', ['-P', '-q', '-b', b, '-t', topic, '-K', '\t', '-H', 'content-type=application/json', '-z', compression, '-X', 'acks=all', '-X', 'linger.ms=5', '-X', 'batch.num.messages=2000', '-l', file]);
  const consume = await timed('kcat', ['-C', '-q', '-b', b, '-t', topic, '-o', 'beginning', '-e', '-c', String(n), '-f', '%k\t%s\n']);
  if (consume.lines !== n) throw new Error(`kcat consumed ${consume.lines} of ${n} messages from ${topic}`);
  const consumed = n / (consume.ms / 1000);
  const us = (cpuMs: number | null) => (cpuMs === null ? null : (cpuMs * 1000) / n);
  return { produced: n / (produce.ms / 1000), consumed, consumedAfterFirst: consumed, producedCpuUs: us(produce.cpuMs), consumedCpuUs: us(consume.cpuMs) };
}

const cpuUs = (u: NodeJS.CpuUsage, n: number) => (u.user + u.system) / n;

async function busRound(cluster: KafkaMockCluster, topic: string, n: number, settings: ProducerSettings, tag: string): Promise<Rates> {
  await cluster.createTopic(topic, 6);
  const log = silentLogger();
  const common = { brokers: cluster.brokers, topics: { trade: topic }, clock: systemClock, log };
  const producer = new KafkaBus({ ...common, clientId: `bench-p-${tag}`, bufferMax: n + 1, ...settings, metrics: createMetrics(createRegistry({ defaults: false })) });
  // One message first, so the timing starts connected (kcat's includes its connect, which takes librdkafka ms).
  producer.publish('trade', trade(n));
  await producer.drain();
  let t0 = performance.now();
  let cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) producer.publish('trade', trade(i));
  await producer.drain();
  const produced = n / ((performance.now() - t0) / 1000);
  const producedCpuUs = cpuUs(process.cpuUsage(cpu0), n);
  await producer.stop();

  const consumer = new KafkaBus({ ...common, clientId: `bench-c-${tag}`, group: `bench-${tag}`, fromBeginning: true, metrics: createMetrics(createRegistry({ defaults: false })) });
  let got = 0;
  let first = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  consumer.subscribe('trade', () => {
    if (got++ === 0) first = performance.now();
    if (got === n + 1) done();
  });
  t0 = performance.now();
  cpu0 = process.cpuUsage();
  await consumer.start();
  await all;
  const end = performance.now();
  const consumedCpuUs = cpuUs(process.cpuUsage(cpu0), n + 1);
  await consumer.stop();
  return { produced, consumed: (n + 1) / ((end - t0) / 1000), consumedAfterFirst: n / ((end - first) / 1000), producedCpuUs, consumedCpuUs };
}

export async function benchKafka(n = 50_000, rounds = 1, cases: KafkaCase[] = KAFKA_CASES, progress?: (line: string) => void): Promise<KafkaBench | string> {
  const why = kafkaMockUnavailable() ?? kcatUnavailable();
  if (why) return why;
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-kafka-bench-'));
  const cluster = await KafkaMockCluster.start(3);
  try {
    const t0 = performance.now();
    let bytes = 0;
    const lines: string[] = [];
    for (let i = 0; i < n; i++) {
      const t = trade(i);
      const value = encode('trade', t)!;
      bytes += value.length;
      lines.push(`${messageKey(t)}\t${value}\n`);
    }
    const encodePerSecond = n / ((performance.now() - t0) / 1000);
    const file = join(dir, 'messages.tsv');
    writeFileSync(file, lines.join(''));

    const result: KafkaBench = { messages: n, rounds, bytesPerMessage: bytes / n, encodePerSecond, kcat: { gzip: [], none: [] }, cases: cases.map((c) => ({ case: c, runs: [] })) };
    for (let r = 0; r < rounds; r++) {
      result.kcat.gzip.push(await kcatRound(cluster, `bench_kcat_gzip_${r}`, file, n, 'gzip'));
      progress?.(`round ${r + 1}: kcat gzip ${JSON.stringify(result.kcat.gzip.at(-1))}`);
      for (const [i, c] of result.cases.entries()) {
        c.runs.push(await busRound(cluster, `bench_bus_${i}_${r}`, n, c.case.settings, `${i}-${r}`));
        progress?.(`round ${r + 1}: ${c.case.name} ${JSON.stringify(c.runs.at(-1))}`);
      }
      result.kcat.none.push(await kcatRound(cluster, `bench_kcat_none_${r}`, file, n, 'none'));
      progress?.(`round ${r + 1}: kcat none ${JSON.stringify(result.kcat.none.at(-1))}`);
    }
    return result;
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

/** "median (min–max)" of one rate over the rounds. */
export function spread(runs: Rates[], key: keyof Rates, digits = 0): string {
  const xs = runs.map((r) => r[key]).filter((x): x is number => x !== null);
  if (xs.length === 0) return '?';
  const f = (x: number) => (digits ? x.toFixed(digits) : fmt(x));
  return xs.length === 1 ? f(xs[0]!) : `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchKafka(Number(process.argv[2] ?? 50_000), Number(process.argv[3] ?? 3), KAFKA_CASES, (line) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`));
  if (typeof r === 'string') {
    console.log(`skipped: ${r}`);
  } else {
    console.log(`Kafka, ${fmt(r.messages)} trades (${r.bytesPerMessage.toFixed(0)} B JSON each), mock cluster 3 brokers x 6 partitions, ${r.rounds} round(s): median (min–max) msg/s`);
    const kg = r.kcat.gzip;
    const med = (runs: Rates[], k: keyof Rates) => median(runs.map((x) => x[k] ?? Number.NaN));
    console.log(`  kcat, acks=all gzip:  produce ${spread(kg, 'produced')} msg/s, ${spread(kg, 'producedCpuUs', 1)} µs CPU/msg; consume ${spread(kg, 'consumed')} msg/s, ${spread(kg, 'consumedCpuUs', 1)} µs CPU/msg`);
    console.log(`  kcat, acks=all none:  produce ${spread(r.kcat.none, 'produced')} msg/s, ${spread(r.kcat.none, 'producedCpuUs', 1)} µs CPU/msg; consume ${spread(r.kcat.none, 'consumed')} msg/s, ${spread(r.kcat.none, 'consumedCpuUs', 1)} µs CPU/msg`);
    const base = r.cases[0]!.runs;
    for (const c of r.cases) {
      console.log(`  bus, ${c.case.name}:`);
      console.log(`    produce ${spread(c.runs, 'produced')} msg/s (${(med(c.runs, 'produced') / med(base, 'produced')).toFixed(2)}x defaults, ${(med(c.runs, 'produced') / med(kg, 'produced')).toFixed(3)} of kcat), ${spread(c.runs, 'producedCpuUs', 1)} µs CPU/msg (kcat's ${(med(kg, 'producedCpuUs') / med(c.runs, 'producedCpuUs')).toFixed(3)})`);
      console.log(`    consume ${spread(c.runs, 'consumedAfterFirst')} msg/s after the first message (${(med(c.runs, 'consumedAfterFirst') / med(kg, 'consumed')).toFixed(3)} of kcat), ${spread(c.runs, 'consumed')} from group join, ${spread(c.runs, 'consumedCpuUs', 1)} µs CPU/msg (kcat's ${(med(kg, 'consumedCpuUs') / med(c.runs, 'consumedCpuUs')).toFixed(3)})`);
    }
    console.log(`  encode only: ${fmt(r.encodePerSecond)} msg/s`);
  }
}
