/**
 * What closes candles in the process role: each symbol's stream clock, and the wall clock only while the
 * consumer reads live. Once the consumer stops (caughtUp() false) a quiet or lagging symbol's periods must not
 * be closed on the wall clock: the next owner replays those trades from Kafka.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CandleEngine } from '../src/pipeline/candle-engine.js';
import { IDLE_CLOSE_MS, streamClockTicker, wallClockTicker } from '../src/pipeline/candle-clock.js';
import type { CandleEvent, Trade } from '../src/core/types.js';
import { FakeClock } from './support/fake-clock.js';
import { log, testMetrics } from './support/harness.js';

const T0 = Date.UTC(2024, 0, 1, 0, 0);

function setup() {
  const clock = new FakeClock(T0);
  const closed: CandleEvent[] = [];
  const engine = new CandleEngine({ timeframes: ['1s'], graceMs: 0, latePolicy: 'drop', clock, metrics: testMetrics(), log, emit: (e) => e.kind === 'close' && closed.push(e) });
  const trade = (symbol: string, at: number): Trade => ({ type: 'trade', exchange: 'binance', symbol, id: at, price: '1.0', qty: '1.0', side: 'buy', count: 1, time: at, receivedAt: at });
  return { clock, engine, closed, trade };
}

test('stream clock: a symbol closes on its own trades; the wall clock closes a quiet one only while caught up', () => {
  const { clock, engine, closed, trade } = setup();
  let live = true;
  const ticker = streamClockTicker(engine, clock, 100, () => live);
  ticker.start();
  const feed = (at: number) => {
    clock.set(at);
    const t = trade('BTC-USDT', at);
    engine.onTrade(t);
    ticker.onTrade(t);
  };
  feed(T0 + 100);
  feed(T0 + 1_500);
  clock.advance(100);
  assert.deepEqual(closed.map((e) => e.candle.openTime), [T0], 'the first second closed on the stream clock (a trade at +1.5 s)');
  clock.advance(1_000); // wall +2.6 s, but the stream is at +1.5 s and IDLE_CLOSE_MS has not passed: the open period waits
  assert.equal(closed.length, 1, 'a quiet symbol does not close on the wall clock before IDLE_CLOSE_MS');
  clock.advance(IDLE_CLOSE_MS); // quiet for longer than IDLE_CLOSE_MS: while live, the wall clock minus IDLE_CLOSE_MS closes it
  const afterIdle = closed.length;
  assert.ok(afterIdle > 1, 'caught up: the quiet symbol closes on the wall clock');

  live = false; // the consumer is stopping (or replaying a backlog)
  clock.advance(5 * IDLE_CLOSE_MS);
  assert.equal(closed.length, afterIdle, 'not caught up: no period closes on the wall clock');
  ticker.stop();
});

test('stream clock: a forgotten symbol (partition moved away) no longer keeps its stream time', () => {
  const { clock, engine, closed, trade } = setup();
  const ticker = streamClockTicker(engine, clock, 100, () => false);
  ticker.start();
  const t = trade('ETH-USDT', T0 + 2_500);
  engine.onTrade(trade('ETH-USDT', T0 + 100));
  ticker.onTrade(t);
  ticker.forget('binance', 'ETH-USDT');
  clock.advance(500);
  assert.equal(closed.length, 0, 'no stream time for a forgotten symbol: nothing closes');
  ticker.stop();
});

test('wall clock: ticks close periods, and the stop makes one last tick', () => {
  const { clock, engine, closed, trade } = setup();
  clock.set(T0 + 500);
  const ticker = wallClockTicker(engine, clock, 1_000); // ticks at +1.5 s, +2.5 s, +3.5 s ...
  ticker.start();
  engine.onTrade(trade('BTC-USDT', T0 + 600));
  clock.set(T0 + 1_200);
  assert.equal(closed.length, 0, 'the period ended, but no tick yet');
  clock.set(T0 + 1_600);
  assert.deepEqual(closed.map((e) => e.candle.openTime), [T0], 'the tick at +1.5 s closed it');
  clock.set(T0 + 2_100);
  engine.onTrade(trade('BTC-USDT', T0 + 2_100));
  clock.set(T0 + 3_200); // the +2 s period ended at +3 s; the next tick would be at +3.5 s
  assert.ok(!closed.some((e) => e.candle.openTime === T0 + 2_000), 'not closed before the stop');
  ticker.stop();
  assert.ok(closed.some((e) => e.candle.openTime === T0 + 2_000), 'the stop ticked once more and closed the ended period');
  const atStop = closed.length;
  clock.advance(10_000);
  assert.equal(closed.length, atStop, 'no tick after the stop');
});
