/**
 * Peer of the offline-import benchmark, used as a user would: read the aggTrades CSV as a stream of lines,
 * make tardis-dev normalized trade messages and run them through compute(computeTradeBars) for one
 * timeframe; print the bars as CSV.
 *
 *   node dist/bench/import/tardis-script.js FILE INTERVAL_MS
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { compute, computeTradeBars } from 'tardis-dev';

const [file, interval = '60000'] = process.argv.slice(2) as [string, string?];
async function* trades() {
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (line === '') continue;
    const f = line.split(',');
    const t = new Date(Number(f[5]));
    yield { type: 'trade' as const, symbol: 'BTCUSDT', exchange: 'binance' as const, id: f[0]!, price: Number(f[1]), amount: Number(f[2]), side: f[6] === 'True' ? ('sell' as const) : ('buy' as const), timestamp: t, localTimestamp: t };
  }
}
let out = '';
for await (const m of compute(trades(), computeTradeBars({ kind: 'time', interval: Number(interval) }))) {
  const b = m as unknown as { type: string; open: number; high: number; low: number; close: number; volume: number; timestamp: Date };
  if (b.type === 'trade_bar') out += `${b.timestamp.getTime()},${b.open},${b.high},${b.low},${b.close},${b.volume}\n`;
}
process.stdout.write(out);
