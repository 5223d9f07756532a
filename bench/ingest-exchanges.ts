/**
 * Bench 1 per exchange: the live ingest path (Collector.handleFrame: the exchange's mapper -> checks -> id
 * continuity -> metrics -> bus -> candles on 6 timeframes) against `JSON.parse` alone over the same frames.
 * Frames: Binance `trade` and `aggTrade` as the combined stream sends them; Coinbase, Bybit, OKX and Kraken
 * as the simulated venues (src/demo) write them, which speak each exchange's documented wire format; each frame
 * a flat string, as the WebSocket delivers it (`asReceived`, workload.ts). Same
 * trades for every exchange (1,000 symbols, 200,000 trades). Each exchange: `rounds` rounds alternating the
 * ceiling and the full path, each one's fastest round kept (load from other work only slows a round down).
 * The trades that reach the candle engine are counted: a row whose frames were not all accepted says so. CPU time
 * (process.cpuUsage) is measured alongside wall time, fastest round each, as a second reading of the same ratio.
 * Run alone: `npm run build && node dist/bench/ingest-exchanges.js [ROUNDS]`.
 */
import type { Clock } from '../src/core/clock.js';
import type { ExchangeId } from '../src/core/exchange-id.js';
import type { Timeframe } from '../src/core/timeframe.js';
import type { TradeStream } from '../src/exchanges/adapter.js';
import { adapterFor } from '../src/exchanges/index.js';
import { MemoryBus } from '../src/bus/memory.js';
import { Collector } from '../src/feed/collector.js';
import { CandleEngine } from '../src/pipeline/candle-engine.js';
import { createMetrics, createRegistry } from '../src/telemetry/metrics.js';
import { silentLogger } from '../src/telemetry/logger.js';
import type { VenueProtocol, VenueTrade } from '../src/demo/simulated-venue/venue.js';
import { bybitProtocol } from '../src/demo/simulated-venue/bybit.js';
import { coinbaseProtocol } from '../src/demo/simulated-venue/coinbase.js';
import { krakenProtocol } from '../src/demo/simulated-venue/kraken.js';
import { okxProtocol } from '../src/demo/simulated-venue/okx.js';
import { asReceived, mulberry32 } from './workload.js';

const TIMEFRAMES: Timeframe[] = ['1m', '5m', '15m', '1h', '4h', '1d'];

export interface ExchangeIngest {
  name: string;
  frames: number;
  /** Trades the candle engine received (= frames when every frame was accepted). */
  accepted: number;
  ceiling: number;
  full: number;
  ratio: number;
  /** The same from the process's CPU time (user + system) of each one's least-CPU round: less swayed by other work. */
  ceilingCpu: number;
  fullCpu: number;
  cpuRatio: number;
  /**
   * The exchange's mapper alone over the same frames, into a sink that drops what it gets (frames/s of CPU time):
   * what the path costs up to the normalized trade; the rest of `fullCpu` is checks, metrics, bus and candles.
   */
  mapperCpu: number;
}

interface Feed {
  name: string;
  exchange: ExchangeId;
  tradeStream: TradeStream;
  frames: (t: VenueTrade) => string;
}

const fromProtocol = (p: VenueProtocol) => (t: VenueTrade) => {
  for (const [, frame] of p.tradeFrames(t)) return frame;
  throw new Error(`${p.name}: no frame for a trade`);
};

function binanceFrame(kind: 'trade' | 'aggTrade') {
  return (t: VenueTrade) => {
    const s = adapterFor('binance').symbols.toNative(t.symbol);
    const data = kind === 'trade'
      ? { e: 'trade', E: t.time + 1, s, t: t.id, p: t.price, q: t.qty, T: t.time, m: t.side === 'sell', M: true }
      : { e: 'aggTrade', E: t.time + 1, s, a: t.id, p: t.price, q: t.qty, f: t.id, l: t.id, T: t.time, m: t.side === 'sell', M: true };
    return `{"stream":${JSON.stringify(`${s.toLowerCase()}@${kind}`)},"data":${JSON.stringify(data)}}`;
  };
}

export const FEEDS: Feed[] = [
  { name: 'Binance trade', exchange: 'binance', tradeStream: 'trade', frames: binanceFrame('trade') },
  { name: 'Binance aggTrade', exchange: 'binance', tradeStream: 'aggTrade', frames: binanceFrame('aggTrade') },
  { name: 'Coinbase match', exchange: 'coinbase', tradeStream: 'trade', frames: fromProtocol(coinbaseProtocol()) },
  { name: 'Bybit publicTrade', exchange: 'bybit', tradeStream: 'trade', frames: fromProtocol(bybitProtocol()) },
  { name: 'OKX trades', exchange: 'okx', tradeStream: 'trade', frames: fromProtocol(okxProtocol()) },
  { name: 'Kraken trade', exchange: 'kraken', tradeStream: 'trade', frames: fromProtocol(krakenProtocol()) },
];

/** Canonical symbols and trades: consecutive ids per symbol, 8-decimal prices, `perSecond` of exchange time. */
function makeTrades(count: number, symbolCount: number, perSecond: number, seed = 42): { symbols: string[]; trades: VenueTrade[] } {
  const rnd = mulberry32(seed);
  const symbols = Array.from({ length: symbolCount }, (_, i) => `S${String(i).padStart(4, '0')}-USDT`);
  const price = symbols.map(() => 10 + rnd() * 50_000);
  const nextId = symbols.map((_, i) => 1_000_000 * (i + 1));
  const start = Date.UTC(2024, 0, 1);
  const trades: VenueTrade[] = new Array(count);
  for (let n = 0; n < count; n++) {
    const i = Math.floor(rnd() * symbolCount);
    price[i] = Math.max(0.01, price[i]! * (1 + (rnd() - 0.5) * 0.002));
    // (rnd() * 2).toFixed(5) is "0.00000" for one of the 200,000 trades: a zero quantity, which every mapper rightly
    // rejects (invalid_qty); it made every row read "199,999 reached the engine". The smallest step instead.
    const qty = (rnd() * 2).toFixed(5);
    trades[n] = { symbol: symbols[i]!, id: nextId[i]!++, price: price[i]!.toFixed(2), qty: qty === '0.00000' ? '0.00001' : qty, time: start + Math.floor((n * 1000) / perSecond), side: rnd() < 0.5 ? 'sell' : 'buy' };
  }
  return { symbols, trades };
}

function pipeline(feed: Feed, symbols: string[], start: number) {
  let now = start;
  const clock: Clock = { now: () => now, setTimeout: () => ({ cancel() {} }), setInterval: () => ({ cancel() {} }) };
  const metrics = createMetrics(createRegistry({ defaults: false }));
  const log = silentLogger();
  const bus = new MemoryBus(metrics.bus, log);
  let accepted = 0;
  const engine = new CandleEngine({ timeframes: TIMEFRAMES, graceMs: 2000, latePolicy: 'drop', clock, metrics, log, emit: (e) => bus.publish('candle', e) });
  bus.subscribe('trade', (t) => {
    accepted++;
    engine.onTrade(t);
  });
  const adapter = adapterFor(feed.exchange);
  const collector = new Collector({
    adapter,
    endpoints: adapter.defaultEndpoints,
    subscription: { symbols, timeframes: TIMEFRAMES, tradeStream: feed.tradeStream, klines: false },
    staleAfterMs: 30_000,
    backoff: { initialMs: 1000, maxMs: 60_000 },
    bus,
    clock,
    metrics: metrics.feed,
    log,
  });
  return (frames: readonly string[], receivedAt: readonly number[]) => {
    for (let i = 0; i < frames.length; i++) {
      now = receivedAt[i]!;
      collector.handleFrame(frames[i]!, now);
    }
    engine.tick(now);
    return accepted;
  };
}

export function benchIngestExchanges(rounds = 5, count = 200_000, symbolCount = 1000, feeds: Feed[] = FEEDS): ExchangeIngest[] {
  const { symbols, trades } = makeTrades(count, symbolCount, 10_000);
  const receivedAt = trades.map((t) => t.time + 2);
  let sink = 0;
  return feeds.map((feed) => {
    const frames = trades.map((t) => asReceived(feed.frames(t))); // flat, as a socket delivers them
    /** [frames/s of wall time, frames/s of CPU time] of one pass. */
    const rates = (t0: bigint, c0: NodeJS.CpuUsage): [number, number] => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const c = process.cpuUsage(c0);
      return [count / wall, count / ((c.user + c.system) / 1e6)];
    };
    const ceilingPass = () => {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      for (const f of frames) sink += (JSON.parse(f) as object) === null ? 1 : 0;
      return rates(t0, c0);
    };
    const mapper = adapterFor(feed.exchange).mapper;
    let mapped = 0;
    const drop = { trade: () => void mapped++, kline: () => {}, reject: () => {}, reconnect: () => {} };
    const mapperPass = () => {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < frames.length; i++) mapper.map(frames[i]!, receivedAt[i]!, drop);
      return rates(t0, c0);
    };
    let accepted = 0;
    const fullPass = () => {
      const run = pipeline(feed, symbols, trades[0]!.time);
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      accepted = run(frames, receivedAt);
      return rates(t0, c0);
    };
    ceilingPass();
    fullPass();
    let ceiling = 0;
    let full = 0;
    let ceilingCpu = 0;
    let fullCpu = 0;
    let mapperCpu = 0;
    for (let r = 0; r < rounds; r++) {
      const [cw, cc] = ceilingPass();
      mapperCpu = Math.max(mapperCpu, mapperPass()[1]);
      const [fw, fc] = fullPass();
      ceiling = Math.max(ceiling, cw);
      ceilingCpu = Math.max(ceilingCpu, cc);
      full = Math.max(full, fw);
      fullCpu = Math.max(fullCpu, fc);
    }
    if (sink === -1 || mapped === -1) console.log('unreachable');
    return { name: feed.name, frames: count, accepted, ceiling, full, ratio: full / ceiling, ceilingCpu, fullCpu, cpuRatio: fullCpu / ceilingCpu, mapperCpu };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of benchIngestExchanges(Number(process.argv[2] ?? 5))) {
    const k = (n: number) => Math.round(n / 1000).toLocaleString('en-US');
    const ns = (rate: number) => (1e9 / rate).toFixed(0);
    console.log(`${r.name.padEnd(18)} wall ${k(r.full)}k / ${k(r.ceiling)}k frames/s = ${r.ratio.toFixed(2)}   cpu ${k(r.fullCpu)}k / ${k(r.ceilingCpu)}k = ${r.cpuRatio.toFixed(2)}   CPU ns/frame: JSON.parse ${ns(r.ceilingCpu)}, mapper alone ${ns(r.mapperCpu)}, full path ${ns(r.fullCpu)}   reached the engine ${r.accepted.toLocaleString('en-US')} of ${r.frames.toLocaleString('en-US')}`);
  }
}
