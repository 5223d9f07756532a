/**
 * `npm run bench`: runs the benchmark suite, prints a table of throughputs and ratios measured in the same
 * run on the same input, and writes BENCHMARKS.md with the machine and the command. No assertions on time.
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { benchIngest } from './ingest.js';
import { benchAggregate } from './aggregate.js';
import { benchMetricsScrape } from './metrics-scrape.js';
import { benchIndicatorPeers } from './indicators-peers.js';
import { benchMemoryBus } from './bus-throughput.js';

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}`;
  console.log(`machine: ${machine}\n`);
  const rows: string[][] = [];

  const ingest = benchIngest();
  rows.push(['1. ingest: parse + normalize + candles on 6 timeframes + metrics (1,000 symbols)', `${fmt(ingest.full)} frames/s`, `JSON.parse only: ${fmt(ingest.ceiling)} frames/s`, `${ingest.ratio.toFixed(2)} (target >= 0.5)`]);
  console.log(rows.at(-1)!.join(' | '));

  const agg = await benchAggregate();
  const fastest = Math.max(agg.rates.tardis, agg.rates.ccxt);
  rows.push([
    `2. 1m OHLCV from normalized trades (${agg.bars} bars; equal to tardis-dev: ${agg.checks.tardis ?? 'yes'}, to ccxt: ${agg.checks.ccxt ?? 'yes'})`,
    `candlestack ${fmt(agg.rates.candlestack)} trades/s`,
    `tardis-dev ${fmt(agg.rates.tardis)}, ccxt ${fmt(agg.rates.ccxt)} trades/s`,
    `${(agg.rates.candlestack / fastest).toFixed(2)}x fastest peer (target >= 3)`,
  ]);
  console.log(rows.at(-1)!.join(' | '));

  for (const r of benchIndicatorPeers()) {
    const eq = Object.entries(r.equal).map(([peer, v]) => `${peer}: ${v}`).join(', ');
    rows.push([`3. indicator ${r.name}, streaming, 50,000 candles (values equal to 1e-9 — ${eq})`, `${fmt(r.rates.candlestack)} candles/s`, `trading-signals ${fmt(r.rates['trading-signals'])}, technicalindicators ${fmt(r.rates.technicalindicators)} candles/s`, `${r.ratio.toFixed(2)}x fastest peer (target >= 2)`]);
    console.log(rows.at(-1)!.join(' | '));
  }

  for (const r of benchMemoryBus()) {
    rows.push([`4. in-process bus, 1 topic, ${r.subscribers} subscriber(s)`, `${fmt(r.bus)} messages/s`, `same subscribers called directly: ${fmt(r.direct)} messages/s`, `${r.ratio.toFixed(2)} (bus cost over a function call)`]);
    console.log(rows.at(-1)!.join(' | '));
  }
  rows.push(['4. Kafka bus (librdkafka mock cluster, kcat as ceiling)', 'Kafka: see bench/kafka-throughput (issue 4 branch)', '—', '—']);

  const scrape = await benchMetricsScrape();
  rows.push(['5. /metrics at 1,000 symbols x 6 timeframes', `${scrape.medianMs.toFixed(1)} ms median scrape (max ${scrape.maxMs.toFixed(1)} ms)`, `${fmt(scrape.series)} series, ${fmt(scrape.bytes)} bytes; event-loop delay max ${scrape.loopDelayMaxMs.toFixed(1)} ms`, `target < 50 ms`]);
  console.log(rows.at(-1)!.join(' | '));

  const md = [
    '# Benchmarks',
    '',
    `Machine: ${machine}. Command: \`npm run bench\` (ratios are measured in the same run on the same input).`,
    '',
    '| benchmark | candlestack | baseline | ratio / target |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    'Not yet measured here: indicators vs trading-signals/technicalindicators, bus throughput (memory and Kafka),',
    'WebSocket trade-in to candle-out latency, and the 10-minute memory soak (see the benchmarks issue).',
    '',
  ].join('\n');
  writeFileSync('BENCHMARKS.md', md);
  console.log('\nwrote BENCHMARKS.md');
}

void main();
