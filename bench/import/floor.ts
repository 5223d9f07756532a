/**
 * The parse floor of the offline-import benchmark: a plain script that only cuts the aggTrades CSV into
 * lines and fields and converts price, quantity and time with Number() (no validation, no candles). It reads
 * the file as a stream of strings, as the candle builder must. Prints the sums so nothing is optimised away.
 *
 *   node dist/bench/import/floor.js FILE
 */
import { createReadStream } from 'node:fs';

const file = process.argv[2]!;
let rest = '';
let rows = 0;
let price = 0;
let qty = 0;
let time = 0;
function line(l: string): void {
  if (l === '') return;
  const f = l.split(',');
  price += Number(f[1]);
  qty += Number(f[2]);
  time = Number(f[5]);
  rows++;
}
for await (const chunk of createReadStream(file, { encoding: 'latin1', highWaterMark: 1 << 20 })) {
  const text = rest + (chunk as string);
  let start = 0;
  for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
    line(text.slice(start, nl));
    start = nl + 1;
  }
  rest = text.slice(start);
}
line(rest);
process.stderr.write(`${rows} rows, sum price ${price}, sum qty ${qty}, last time ${time}\n`);
