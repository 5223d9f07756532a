/**
 * Prompt forming-candle updates for watched series: the engine publishes an `update` right after the batch of
 * trades that changed a series someone watches live (one per series per batch), instead of waiting for its tick;
 * unwatched series keep the tick-rate stream. LiveHub tells who watches what; the embedded app wires the two.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { CandleEngine } from '../src/pipeline/candle-engine.js';
import type { CandleEvent, Trade } from '../src/core/types.js';
import { LiveHub } from '../src/api/live-ws.js';
import { Markets } from '../src/api/markets.js';
import { binance } from '../src/exchanges/binance/feed.js';
import { systemClock } from '../src/core/clock.js';
import { defaultConfig, type Config } from '../src/config/config.js';
import { startEmbedded } from '../src/app/embedded.js';
import { SimulatedBinance } from '../src/demo/simulated-binance/server.js';
import { FakeClock } from './support/fake-clock.js';
import { log, sleep, testMetrics } from './support/harness.js';

const T0 = Date.UTC(2024, 2, 15, 10, 0, 0);
let nextId = 1;
const trade = (time: number, price: string, symbol = 'BTC-USDT'): Trade => ({ type: 'trade', exchange: 'binance', symbol, id: nextId++, price, qty: '1', side: 'buy', count: 1, time, receivedAt: time });

function setup(withDefer = true) {
  const clock = new FakeClock(T0);
  const events: CandleEvent[] = [];
  const deferred: (() => void)[] = [];
  const engine = new CandleEngine({
    timeframes: ['1m', '1h'],
    graceMs: 2_000,
    latePolicy: 'drop',
    clock,
    metrics: testMetrics(),
    log,
    emit: (e) => events.push(e),
    ...(withDefer ? { defer: (fn: () => void) => void deferred.push(fn) } : {}),
  });
  const runDeferred = () => deferred.splice(0).forEach((fn) => fn());
  const updates = () => events.filter((e) => e.kind === 'update').map((e) => `${e.candle.symbol} ${e.candle.timeframe} close=${Number(e.candle.close)} trades=${e.candle.tradeCount}`);
  return { engine, events, deferred, runDeferred, updates };
}

describe('CandleEngine prompt updates', () => {
  test('a watched series gets one update right after the batch of trades that changed it; others wait for the tick', () => {
    const { engine, deferred, runDeferred, updates } = setup();
    engine.setWatched('binance', 'BTC-USDT', '1m', true);
    engine.onTrade(trade(T0 + 1_000, '100'));
    engine.onTrade(trade(T0 + 1_100, '101'));
    engine.onTrade(trade(T0 + 1_200, '50', 'ETH-USDT'));
    assert.equal(deferred.length, 1, 'one deferred flush per batch, however many trades');
    assert.deepEqual(updates(), [], 'nothing is published inside the batch');
    runDeferred();
    assert.deepEqual(updates(), ['BTC-USDT 1m close=101 trades=2'], 'only the watched series, once, with both trades');
    engine.tick(T0 + 1_300);
    assert.deepEqual(updates().slice(1), ['BTC-USDT 1h close=101 trades=2', 'ETH-USDT 1m close=50 trades=1', 'ETH-USDT 1h close=50 trades=1'], 'the tick publishes the rest, not the already-published one again');
  });

  test('a trade opening the next period publishes both the closing and the new forming candle', () => {
    const { engine, runDeferred, updates } = setup();
    engine.setWatched('binance', 'BTC-USDT', '1m', true);
    engine.onTrade(trade(T0 + 59_000, '100'));
    runDeferred();
    engine.onTrade(trade(T0 + 59_500, '102'));
    engine.onTrade(trade(T0 + 60_500, '103'));
    runDeferred();
    assert.deepEqual(updates(), ['BTC-USDT 1m close=100 trades=1', 'BTC-USDT 1m close=102 trades=2', 'BTC-USDT 1m close=103 trades=1']);
  });

  test('unwatching stops prompt updates; without defer, watching changes nothing', () => {
    const a = setup();
    a.engine.setWatched('binance', 'BTC-USDT', '1m', true);
    a.engine.setWatched('binance', 'BTC-USDT', '1m', false);
    a.engine.onTrade(trade(T0 + 1_000, '100'));
    assert.equal(a.deferred.length, 0);
    const b = setup(false);
    b.engine.setWatched('binance', 'BTC-USDT', '1m', true);
    b.engine.onTrade(trade(T0 + 1_000, '100'));
    assert.deepEqual(b.updates(), []);
  });
});

test('LiveHub reports a series watched at its first subscriber and unwatched after its last leaves', async () => {
  const calls: string[] = [];
  const markets = new Markets([{ exchange: 'binance', symbols: ['BTC-USDT', 'ETH-USDT'], timeframes: ['1m', '5m'], codec: binance.symbols }]);
  const live = new LiveHub({ markets, metrics: testMetrics().api, log, clock: systemClock, onWatch: (ex, s, tf, w) => calls.push(`${ex} ${s} ${tf} ${w}`) });
  const server = createServer();
  server.on('upgrade', (req, socket, head) => live.handleUpgrade(req, socket, head));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
  const connect = async () => {
    const ws = new WebSocket(url);
    const inbox: string[] = [];
    ws.on('message', (d) => inbox.push(d.toString()));
    await new Promise((r) => ws.once('open', r));
    return {
      ws,
      async request(msg: object) {
        const n = inbox.length;
        ws.send(JSON.stringify(msg));
        while (inbox.length === n) await sleep(5);
      },
    };
  };
  try {
    const a = await connect();
    const b = await connect();
    const sub = { op: 'subscribe', exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m' };
    await a.request(sub);
    await b.request(sub);
    await a.request({ ...sub, timeframe: '5m' });
    assert.deepEqual(calls, ['binance BTC-USDT 1m true', 'binance BTC-USDT 5m true'], 'the second subscriber of a series does not re-report it');
    await a.request({ ...sub, op: 'unsubscribe' });
    assert.deepEqual(calls.slice(2), [], 'b still watches BTC-USDT 1m');
    b.ws.close();
    a.ws.close();
    while (calls.length < 4) await sleep(5);
    assert.deepEqual(calls.slice(2).sort(), ['binance BTC-USDT 1m false', 'binance BTC-USDT 5m false']);
  } finally {
    await live.stop();
    server.close();
  }
});

test('end to end: a /ws client gets forming-candle updates with the engine tick an hour away', { timeout: 30_000 }, async () => {
  const sim = new SimulatedBinance({ seed: 3, tradesPerSecond: 100, symbols: ['BTC-USDT'] });
  const { wsBaseUrl, restBaseUrl } = await sim.start();
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-prompt-'));
  const base = defaultConfig();
  const config: Config = {
    ...base,
    exchanges: [{ ...base.exchanges[0]!, symbols: ['BTC-USDT'], klines: false, wsUrl: wsBaseUrl, restUrl: restBaseUrl }],
    timeframes: ['1m', '1h'],
    candles: { graceMs: 2_000, latePolicy: 'drop', tickMs: 3_600_000 },
    store: { url: `sqlite:${join(dir, 'prompt.db')}`, flushMs: 100 },
    http: { host: '127.0.0.1', port: 0 },
  };
  const app = await startEmbedded(config, { clock: systemClock, log, version: 'test', role: 'test' });
  const ws = new WebSocket(`ws://127.0.0.1:${app.port}/ws?exchange=binance&symbol=BTCUSDT&timeframe=1m`);
  try {
    const updates: { timeframe: string; tradeCount: number }[] = [];
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { type: string; kind?: string; candle?: { timeframe: string; tradeCount: number } };
      if (m.type === 'candle' && m.kind === 'update') updates.push(m.candle!);
    });
    while (updates.length < 5) await sleep(20);
    assert.ok(updates.every((c) => c.timeframe === '1m'), 'only the subscribed series');
    assert.ok(updates.some((c, i) => i > 0 && c.tradeCount > updates[i - 1]!.tradeCount), 'the forming candle grows from update to update');
  } finally {
    ws.close();
    await app.stop();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
