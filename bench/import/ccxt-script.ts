/**
 * Peer of the offline-import benchmark, used as a user would: load ccxt, read the aggTrades CSV, split
 * each line, hand ccxt its trade objects and call buildOHLCVC for one timeframe; print the bars as CSV.
 *
 *   node dist/bench/import/ccxt-script.js FILE TIMEFRAME
 */
import { readFileSync } from 'node:fs';

const [file, timeframe = '1m'] = process.argv.slice(2) as [string, string?];
const ccxt = (await import('ccxt')).default as unknown as { Exchange: new () => { buildOHLCVC(trades: object[], timeframe: string): number[][] } };
const trades: { timestamp: number; price: number; amount: number }[] = [];
for (const line of readFileSync(file, 'latin1').split('\n')) {
  if (line === '') continue;
  const f = line.split(',');
  trades.push({ timestamp: Number(f[5]), price: Number(f[1]), amount: Number(f[2]) });
}
const bars = new ccxt.Exchange().buildOHLCVC(trades, timeframe);
let out = '';
for (const b of bars) out += `${b.join(',')}\n`;
process.stdout.write(out);
