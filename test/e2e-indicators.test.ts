/**
 * End to end, in process: the simulated Binance -> collector -> candle engine -> indicator engine -> SQLite ->
 * API, on the 1s timeframe with short periods. Every indicator value /api/indicators serves must equal what the
 * reference libraries compute from the candles /api/candles serves (including a candle corrected by a REST
 * backfill after dropped messages, which the indicators replay), and /ws pushes the same values live.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import ti from 'technicalindicators';
import { RSI as TsRsi } from 'trading-signals';
import { systemClock } from '../src/core/clock.js';
import { defaultConfig, type Config } from '../src/config/config.js';
import { startEmbedded } from '../src/app/embedded.js';
import { SimulatedBinance } from '../src/demo/simulated-binance/server.js';
import type { IndicatorSpec } from '../src/pipeline/indicators/specs.js';
import { log, sleep } from './support/harness.js';
import { metricValue, scrapeMetrics } from './support/metrics.js';

const SPECS: IndicatorSpec[] = [
  { kind: 'sma', period: 4 },
  { kind: 'ema', period: 4 },
  { kind: 'rsi', period: 3 },
  { kind: 'macd', fast: 2, slow: 5, signal: 3 },
  { kind: 'bollinger', period: 4, stdDev: 2 },
  { kind: 'atr', period: 3 },
  { kind: 'vwap' },
];

interface ApiCandle {
  openTime: number;
  high: string;
  low: string;
  close: string;
  volume: string;
  closed: boolean;
}

type Values = Record<string, Record<string, number | null>>;

/** name -> openTime -> values, recomputed from the served candles with the reference libraries. */
function reference(candles: ApiCandle[]): Map<string, Map<number, Record<string, number>>> {
  const close = candles.map((c) => Number(c.close));
  const high = candles.map((c) => Number(c.high));
  const low = candles.map((c) => Number(c.low));
  const volume = candles.map((c) => Number(c.volume));
  const out = new Map<string, Map<number, Record<string, number>>>();
  const put = (name: string, offset: number, values: Record<string, number>[]) => {
    const m = new Map<number, Record<string, number>>();
    values.forEach((v, i) => m.set(candles[i + offset]!.openTime, v));
    out.set(name, m);
  };
  put('sma4', 3, ti.SMA.calculate({ period: 4, values: close }).map((value) => ({ value })));
  put('ema4', 3, ti.EMA.calculate({ period: 4, values: close }).map((value) => ({ value })));
  const rsi = new TsRsi(3);
  put('rsi3', 0, close.map((c) => ({ value: rsi.update(c, false) ?? Number.NaN })));
  put('macd2_5_3', 4, ti.MACD.calculate({ values: close, fastPeriod: 2, slowPeriod: 5, signalPeriod: 3, SimpleMAOscillator: false, SimpleMASignal: false }).map((r): Record<string, number> => (r.signal === undefined ? { macd: r.MACD! } : { macd: r.MACD!, signal: r.signal, histogram: r.histogram! })));
  put('bb4_2', 3, ti.BollingerBands.calculate({ period: 4, stdDev: 2, values: close }).map((r) => ({ middle: r.middle, upper: r.upper, lower: r.lower })));
  put('atr3', 3, ti.ATR.calculate({ high, low, close, period: 3 }).map((value) => ({ value })));
  // session VWAP: one reference run per UTC day
  const vwap = new Map<number, Record<string, number>>();
  let start = 0;
  for (let i = 1; i <= candles.length; i++) {
    if (i < candles.length && Math.floor(candles[i]!.openTime / 86_400_000) === Math.floor(candles[start]!.openTime / 86_400_000)) continue;
    const seg = (a: number[]) => a.slice(start, i);
    ti.VWAP.calculate({ high: seg(high), low: seg(low), close: seg(close), volume: seg(volume) }).forEach((value, k) => {
      if (Number.isFinite(value)) vwap.set(candles[start + k]!.openTime, { value });
    });
    start = i;
  }
  out.set('vwap', vwap);
  return out;
}

test('/api/indicators equals the reference libraries over /api/candles; /ws pushes the same values', { timeout: 60_000 }, async () => {
  const sim = new SimulatedBinance({ seed: 11, tradesPerSecond: 120, symbols: ['BTC-USDT'] });
  const { wsBaseUrl, restBaseUrl } = await sim.start();
  const base = defaultConfig();
  const config: Config = {
    ...base,
    exchanges: [{ ...base.exchanges[0]!, symbols: ['BTC-USDT'], wsUrl: wsBaseUrl, restUrl: restBaseUrl }],
    timeframes: ['1s'],
    candles: { graceMs: 200, latePolicy: 'drop', tickMs: 50 },
    feed: { staleAfterMs: 5_000, backoffInitialMs: 100, backoffMaxMs: 500 },
    store: { url: 'sqlite::memory:', flushMs: 100 },
    http: { host: '127.0.0.1', port: 0 },
    indicators: { enabled: true, forming: true, history: 500, specs: SPECS },
  };
  const app = await startEmbedded(config, { clock: systemClock, log, version: 'test', role: 'test' });
  const live: any[] = [];
  const ws = new WebSocket(`ws://127.0.0.1:${app.port}/ws?exchange=binance&symbol=BTCUSDT&timeframe=1s`);
  ws.on('message', (d: Buffer) => live.push(JSON.parse(d.toString())));
  try {
    const api = `http://127.0.0.1:${app.port}`;
    await sleep(4_000);
    sim.skipTradeIds('BTC-USDT', 5); // dropped messages: the touched candle is backfilled, a correction the indicators replay
    await sleep(5_000);
    const ind = (await (await fetch(`${api}/api/indicators?symbol=BTCUSDT&timeframe=1s&limit=5000`)).json()) as { names: string[]; indicators: { openTime: number; values: Values }[] };
    const body = (await (await fetch(`${api}/api/candles?symbol=BTCUSDT&timeframe=1s&limit=5000`)).json()) as { candles: ApiCandle[] };
    const candles = body.candles.filter((c) => c.closed);
    assert.deepEqual(ind.names, ['sma4', 'ema4', 'rsi3', 'macd2_5_3', 'bb4_2', 'atr3', 'vwap']);
    assert.ok(candles.length >= 6, `closed 1s candles served (${candles.length})`);
    for (let i = 1; i < candles.length; i++) assert.equal(candles[i]!.openTime - candles[i - 1]!.openTime, 1_000, 'a contiguous series');

    const ref = reference(candles);
    const lastCandle = candles[candles.length - 1]!.openTime;
    const points = ind.indicators.filter((p) => p.openTime <= lastCandle);
    assert.ok(points.length >= candles.length - 1, `indicator values for the candles (${points.length} of ${candles.length})`);
    let compared = 0;
    for (const p of points) {
      for (const name of ind.names) {
        const want = ref.get(name)!.get(p.openTime);
        const got = p.values[name];
        if (want === undefined || Object.values(want).some((v) => Number.isNaN(v))) {
          assert.equal(got, undefined, `${name} at ${p.openTime}: no value while warming up`);
          continue;
        }
        assert.ok(got, `${name} at ${p.openTime}: served`);
        for (const [line, v] of Object.entries(want)) {
          const diff = Math.abs((got[line] as number) - v);
          assert.ok(diff <= 1e-9 * Math.max(1, Math.abs(v)), `${name}.${line} at ${p.openTime}: ${got[line]} vs ${v}`);
          compared++;
        }
      }
    }
    assert.ok(compared >= 40, `values compared (${compared})`);

    const pushed = live.filter((m) => m.type === 'indicator');
    assert.ok(pushed.some((m) => m.kind === 'update'), 'forming values are pushed');
    const closes = pushed.filter((m) => m.kind === 'close' || m.kind === 'correction');
    const served = new Map(points.map((p) => [p.openTime, p.values]));
    const latestPush = new Map<number, Values>();
    for (const m of closes) latestPush.set(m.openTime, m.values);
    let matched = 0;
    for (const [t, v] of latestPush) if (served.has(t)) (assert.deepEqual(v, served.get(t), `pushed = served at ${t}`), matched++);
    assert.ok(matched >= 3, `pushed close values match the served ones (${matched})`);

    const metrics = await scrapeMetrics(api);
    assert.ok((await metricValue(metrics, 'candlestack_indicator_recalculations_total', { result: 'replayed' })) >= 1, 'the backfill correction was replayed');
    assert.ok((await metricValue(metrics, 'candlestack_indicator_values_calculated_total', { indicator: 'macd' })) >= 1);
    assert.ok((await metricValue(metrics, 'candlestack_indicator_calculation_duration_seconds_count', { indicator: 'bollinger' })) >= 1);
  } finally {
    ws.terminate();
    await app.stop();
    await sim.stop();
  }
});
