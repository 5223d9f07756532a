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
  const ticker = wallClockTicker(engine, clock, 1_000); // ticks at +1 s, +2 s, +3 s ... (aligned, grace 0)
  ticker.start();
  engine.onTrade(trade('BTC-USDT', T0 + 600));
  clock.set(T0 + 999);
  assert.equal(closed.length, 0, 'the period has not ended');
  clock.set(T0 + 1_000);
  assert.deepEqual(closed.map((e) => e.candle.openTime), [T0], 'the tick at the period end closed it');
  ticker.stop();

  const slow = wallClockTicker(engine, clock, 5_000); // ticks at +5 s, +10 s ...
  slow.start();
  clock.set(T0 + 2_100);
  engine.onTrade(trade('BTC-USDT', T0 + 2_100));
  clock.set(T0 + 3_200); // the +2 s period ended at +3 s; the next tick would be at +5 s
  assert.ok(!closed.some((e) => e.candle.openTime === T0 + 2_000), 'not closed before the stop');
  slow.stop();
  assert.ok(closed.some((e) => e.candle.openTime === T0 + 2_000), 'the stop ticked once more and closed the ended period');
  const atStop = closed.length;
  clock.advance(10_000);
  assert.equal(closed.length, atStop, 'no tick after the stop');
});

test('wall clock: ticks are aligned to period end + grace whatever the start phase, and a long tick skips the instants it overran', () => {
  const clock = new FakeClock(T0 + 1_123); // started at no particular phase
  const metrics = testMetrics();
  const closes: number[] = [];
  const engine = new CandleEngine({
    timeframes: ['1m'],
    graceMs: 2_000,
    latePolicy: 'drop',
    clock,
    metrics,
    log,
    emit: (e) => {
      if (e.kind !== 'close') return;
      closes.push(clock.now());
      clock.set(clock.now() + 600); // this close's listeners take 600 ms
    },
  });
  const ticks: number[] = [];
  const tick = engine.tick.bind(engine);
  engine.tick = (now?: number) => {
    ticks.push(now ?? clock.now());
    tick(now);
  };
  const ticker = wallClockTicker(engine, clock, 250, 2_000);
  ticker.start();
  engine.onTrade({ type: 'trade', exchange: 'binance', symbol: 'BTC-USDT', id: 1, price: '1.0', qty: '1.0', side: 'buy', count: 1, time: T0 + 5_000, receivedAt: T0 + 5_000 });
  clock.set(T0 + 60_000 + 1_999);
  assert.deepEqual(closes, [], 'not before the grace is over');
  for (const t of ticks) assert.equal((t - T0) % 250, 0, `tick at +${t - T0} ms is on the 250 ms grid`);
  clock.set(T0 + 60_000 + 2_000);
  assert.deepEqual(closes, [T0 + 62_000], 'closed the moment the grace ended (a free-running 250 ms interval from +1,123 ms closed it at +62,123 ms)');
  clock.set(T0 + 64_000);
  const after = ticks.filter((t) => t > T0 + 62_000);
  assert.equal(after[0], T0 + 62_750, 'the tick that ran to +62,600 ms skipped +62,250 and +62,500');
  for (let i = 1; i < after.length; i++) assert.equal(after[i]! - after[i - 1]!, 250);
  ticker.stop();
});
