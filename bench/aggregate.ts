/**
 * Bench 2: 1m OHLCV aggregation of the same normalized trades by candlestack's engine, tardis-dev
 * (compute + computeTradeBars) and ccxt (buildOHLCVC). First checks the three agree where their rules agree
 * (periods with trades: OHLC and volume), then measures trades/s.
 */
import type { Clock } from '../src/core/clock.js';
import type { Candle } from '../src/core/types.js';
import { CandleEngine } from '../src/pipeline/candle-engine.js';
import { createMetrics, createRegistry } from '../src/telemetry/metrics.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { makeWorkload, opsPerSecond, opsPerSecondAsync } from './workload.js';
import type { Trade } from '../src/core/types.js';

interface Bar {
  t: number;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
}

function candlestack(trades: readonly Trade[]): Bar[] {
  let now = 0;
  const clock: Clock = { now: () => now, setTimeout: () => ({ cancel() {} }), setInterval: () => ({ cancel() {} }) };
  const out: Candle[] = [];
  const metrics = createMetrics(createRegistry({ defaults: false }));
  const engine = new CandleEngine({ timeframes: ['1m'], graceMs: 0, latePolicy: 'drop', clock, metrics, log: silentLogger(), emit: (e) => void (e.kind === 'close' && out.push(e.candle)) });
  for (const t of trades) {
    now = t.time;
    engine.onTrade(t);
  }
  engine.closeAll();
  return out.filter((c) => c.tradeCount > 0).map((c) => ({ t: c.openTime, o: +c.open, h: +c.high, l: +c.low, c: +c.close, v: +c.volume }));
}

/** tardis-dev's normalized trade messages, built before timing (its input format, as ours is Trade). */
function tardisInput(trades: readonly Trade[]) {
  return trades.map((t) => ({ type: 'trade' as const, symbol: t.symbol, exchange: 'binance' as const, id: String(t.id), price: Number(t.price), amount: Number(t.qty), side: t.side, timestamp: new Date(t.time), localTimestamp: new Date(t.receivedAt) }));
}

async function tardis(input: ReturnType<typeof tardisInput>, tardisDev: typeof import('tardis-dev')): Promise<Bar[]> {
  async function* messages() {
    yield* input;
  }
  const bars: Bar[] = [];
  for await (const m of tardisDev.compute(messages(), tardisDev.computeTradeBars({ kind: 'time', interval: 60_000 }))) {
    const b = m as unknown as { type: string; open: number; high: number; low: number; close: number; volume: number; openTimestamp?: Date; timestamp: Date; trades: number };
    if (b.type === 'trade_bar' && b.trades > 0) bars.push({ t: b.timestamp.getTime() - 60_000, o: b.open, h: b.high, l: b.low, c: b.close, v: b.volume });
  }
  return bars;
}

/** ccxt's trade format, built before timing. */
function ccxtInput(trades: readonly Trade[]) {
  return trades.map((t) => ({ timestamp: t.time, price: Number(t.price), amount: Number(t.qty) }));
}

function ccxtBars(input: object[], exchange: { buildOHLCVC(trades: object[], timeframe: string): number[][] }): Bar[] {
  return exchange.buildOHLCVC(input, '1m').map(([t, o, h, l, c, v]) => ({ t: t!, o: o!, h: h!, l: l!, c: c!, v: v! }));
}

function sameBars(a: Bar[], b: Bar[], tolerance: number): string | null {
  if (a.length !== b.length) return `${a.length} vs ${b.length} bars`;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    for (const k of ['t', 'o', 'h', 'l', 'c', 'v'] as const) {
      if (Math.abs(x[k] - y[k]) > tolerance * Math.max(1, Math.abs(x[k]))) return `bar ${i} field ${k}: ${x[k]} vs ${y[k]}`;
    }
  }
  return null;
}

export async function benchAggregate(count = 200_000) {
  const w = makeWorkload(count, 1, 50);
  const tardisDev = await import('tardis-dev');
  const ccxt = (await import('ccxt')).default as unknown as { Exchange: new () => { buildOHLCVC(trades: object[], timeframe: string): number[][] } };
  const ccxtExchange = new ccxt.Exchange();
  const tIn = tardisInput(w.trades);
  const cIn = ccxtInput(w.trades);
  const ours = candlestack(w.trades);
  // tardis-dev emits a bar when the next period starts, so the stream's last (unfinished) bar is not in its output.
  const checks = {
    tardis: sameBars(ours.slice(0, -1), await tardis(tIn, tardisDev), 1e-9),
    ccxt: sameBars(ours, ccxtBars(cIn, ccxtExchange), 1e-9),
  };
  const rates = {
    candlestack: opsPerSecond(count, () => void candlestack(w.trades)),
    tardis: await opsPerSecondAsync(count, async () => void (await tardis(tIn, tardisDev))),
    ccxt: opsPerSecond(count, () => void ccxtBars(cIn, ccxtExchange)),
  };
  return { bars: ours.length, checks, rates, ratio: rates.candlestack / Math.max(rates.tardis, rates.ccxt) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchAggregate()));
}
