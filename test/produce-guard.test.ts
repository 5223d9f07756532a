/**
 * The bus-produce hook: a bounded outbox drained through the bus_produce breaker. The sender stands in for a
 * broker client (the Kafka bus comes later); it fails while the "broker" is down.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CandleEvent, Trade } from '../src/core/types.js';
import { ProduceGuard, type Outgoing } from '../src/bus/produce-guard.js';
import { instrumentedBreaker } from '../src/telemetry/breaker-metrics.js';
import { FakeClock } from './support/fake-clock.js';
import { log, testMetrics } from './support/harness.js';

const trade = (id: number): Trade => ({ type: 'trade', exchange: 'binance', symbol: 'BTC-USDT', id, price: '1', qty: '1', side: 'buy', count: 1, time: id, receivedAt: id });
const update = (openTime: number): CandleEvent => ({
  type: 'candle',
  kind: 'update',
  candle: { exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', openTime, open: '1', high: '1', low: '1', close: '1', volume: '0', quoteVolume: '0', takerBuyVolume: '0', tradeCount: 0, vwap: '1', closed: false, source: 'trades', revision: 0 },
});

function setup(maxBuffered: number) {
  const clock = new FakeClock();
  const metrics = testMetrics();
  const breaker = instrumentedBreaker('bus_produce', { failureThreshold: 2, openMs: 1_000, halfOpenProbes: 1 }, { clock, metrics: metrics.breakers, log });
  const broker = { down: false, sends: 0, received: [] as Outgoing[] };
  const dropped: Outgoing[] = [];
  const guard = new ProduceGuard({
    bus: 'kafka',
    breaker,
    maxBuffered,
    maxBatch: 2,
    clock,
    metrics: metrics.bus,
    log,
    onDrop: (m) => dropped.push(m),
    send: async (batch) => {
      broker.sends++;
      if (broker.down) throw new Error('broker unreachable');
      broker.received.push(...batch);
    },
  });
  return { clock, metrics, breaker, broker, guard, dropped };
}

test('while the broker is down the breaker opens, messages stay queued, and they are all delivered in order after recovery', async () => {
  const { clock, breaker, broker, guard } = setup(100);
  broker.down = true;
  for (let i = 1; i <= 5; i++) guard.push('trade', trade(i));
  await guard.drain();
  await guard.drain();
  assert.equal(breaker.state, 'open');
  await guard.drain();
  assert.equal(broker.sends, 2, 'no send while open');
  assert.equal(guard.depth, 5);
  broker.down = false;
  clock.advance(1_000);
  await guard.drain();
  assert.equal(breaker.state, 'closed');
  assert.equal(guard.depth, 0);
  assert.deepEqual(broker.received.map((m) => (m.message as Trade).id), [1, 2, 3, 4, 5]);
});

test('past the bound forming-candle updates are dropped first, then the oldest message; each drop is counted and reported', async () => {
  const { metrics, broker, guard, dropped } = setup(3);
  broker.down = true;
  guard.push('trade', trade(1));
  guard.push('candle', update(0));
  guard.push('trade', trade(2));
  guard.push('trade', trade(3)); // over: the candle update goes
  guard.push('trade', trade(4)); // over, nothing droppable: the oldest (trade 1) goes
  assert.equal(guard.depth, 3);
  assert.deepEqual(dropped.map((m) => m.topic), ['candle', 'trade']);
  assert.equal((dropped[1]!.message as Trade).id, 1);
  const counted = (await metrics.bus.busMessagesDropped.get()).values.map((v) => [v.labels.topic, v.value]);
  assert.deepEqual(counted, [['candle', 1], ['trade', 1]]);
  broker.down = false;
  await guard.drain();
  assert.deepEqual(broker.received.map((m) => (m.message as Trade).id), [2, 3, 4]);
});
