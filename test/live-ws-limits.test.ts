/**
 * The live WebSocket's caps (src/api/live-ws.ts): connections per client refused past the cap with a 429
 * before the handshake (and allowed again once one closes), subscriptions per connection, and a client that
 * stops reading dropped once its unsent data passes the bound, so the server's memory does not grow; each
 * counted in the limits slice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { LiveHub } from '../src/api/live-ws.js';
import { Markets } from '../src/api/markets.js';
import { systemClock } from '../src/core/clock.js';
import { binance } from '../src/exchanges/binance/feed.js';
import { startTestApi } from './support/api.js';
import { log, testMetrics, until } from './support/harness.js';
import { metricValue } from './support/metrics.js';
import { candle, T0 } from './support/store-contract.js';

function rig(limits: { maxConnectionsPerClient: number; maxSubscriptions: number; maxBufferedBytes: number }) {
  const metrics = testMetrics();
  const markets = new Markets([{ exchange: 'binance', symbols: ['BTC-USDT', 'ETH-USDT'], timeframes: ['1m', '5m'], codec: binance.symbols }]);
  const live = new LiveHub({ markets, metrics: metrics.api, log, clock: systemClock, limits, limitMetrics: metrics.limits });
  return { metrics, markets, live };
}

const opened = (ws: WebSocket) => new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));
const nextMessage = (ws: WebSocket) => new Promise<any>((resolve) => ws.once('message', (d) => resolve(JSON.parse(d.toString()))));

test('a client gets at most maxConnectionsPerClient connections; one more is a 429 before the handshake', async () => {
  const { metrics, markets, live } = rig({ maxConnectionsPerClient: 2, maxSubscriptions: 10, maxBufferedBytes: 1 << 20 });
  const t = await startTestApi({ metrics, markets, live });
  try {
    const a = new WebSocket(`${t.wsUrl}/ws`);
    const b = new WebSocket(`${t.wsUrl}/ws`);
    await Promise.all([opened(a), opened(b)]);
    const c = new WebSocket(`${t.wsUrl}/ws`);
    const status = await new Promise<number>((resolve, reject) => {
      c.once('unexpected-response', (_req, res) => resolve(res.statusCode!));
      c.once('open', () => reject(new Error('third connection accepted')));
    });
    assert.equal(status, 429);
    assert.equal(await metricValue(metrics, 'candlestack_websocket_refused_total', { reason: 'connection_cap' }), 1);
    a.close();
    await until('the closed connection released', () => live.connectionsOf('127.0.0.1') === 1 || live.connectionsOf('::ffff:127.0.0.1') === 1);
    const d = new WebSocket(`${t.wsUrl}/ws`);
    await opened(d);
    b.close();
    d.close();
  } finally {
    await t.close();
  }
});

test('a connection gets at most maxSubscriptions subscriptions', async () => {
  const { metrics, markets, live } = rig({ maxConnectionsPerClient: 5, maxSubscriptions: 2, maxBufferedBytes: 1 << 20 });
  const t = await startTestApi({ metrics, markets, live });
  try {
    const ws = new WebSocket(`${t.wsUrl}/ws`);
    await opened(ws);
    const sub = async (symbol: string, timeframe: string) => {
      const reply = nextMessage(ws);
      ws.send(JSON.stringify({ op: 'subscribe', exchange: 'binance', symbol, timeframe }));
      return reply;
    };
    assert.equal((await sub('BTC-USDT', '1m')).type, 'subscribed');
    assert.equal((await sub('ETH-USDT', '1m')).type, 'subscribed');
    assert.equal((await sub('BTC-USDT', '1m')).type, 'subscribed', 'the same subscription again is not a new one');
    const refused = await sub('BTC-USDT', '5m');
    assert.equal(refused.type, 'error');
    assert.match(refused.error.message, /at most 2 subscriptions/);
    assert.equal(await metricValue(metrics, 'candlestack_websocket_refused_total', { reason: 'subscription_cap' }), 1);
    ws.close();
  } finally {
    await t.close();
  }
});

test('a client that stops reading is dropped once its send buffer passes the bound; a reading one is not', async () => {
  const { metrics, markets, live } = rig({ maxConnectionsPerClient: 5, maxSubscriptions: 10, maxBufferedBytes: 256 * 1024 });
  const t = await startTestApi({ metrics, markets, live });
  try {
    const url = `${t.wsUrl}/ws?exchange=binance&symbol=BTC-USDT&timeframe=1m`;
    const slow = new WebSocket(url);
    const fast = new WebSocket(url);
    let fastReceived = 0;
    fast.on('message', () => fastReceived++);
    await Promise.all([opened(slow), opened(fast)]);
    await until('both subscribed', () => metricValue(metrics, 'candlestack_websocket_messages_sent_total', { type: 'control' }).then((n) => n === 2));
    (slow as unknown as { _socket: { pause(): void } })._socket.pause(); // stops reading: the kernel buffers fill, then the server's
    let slowClosed = false;
    slow.on('close', () => (slowClosed = true));
    const c = candle(T0, { closed: false });
    let sent = 0;
    const before = process.memoryUsage().rss;
    while ((await metricValue(metrics, 'candlestack_websocket_dropped_total', { reason: 'slow_reader' })) === 0) {
      for (let i = 0; i < 500; i++) live.onCandle({ type: 'candle', kind: 'update', candle: { ...c, tradeCount: sent++ } });
      await new Promise((r) => setImmediate(r));
      assert.ok(sent < 2_000_000, 'the slow client was never dropped');
    }
    const grown = process.memoryUsage().rss - before;
    assert.ok(grown < 200 * 1024 * 1024, `memory bounded (grew ${grown} bytes)`);
    await until('the fast client got everything sent after the drop too', async () => {
      live.onCandle({ type: 'candle', kind: 'update', candle: { ...c, tradeCount: sent++ } });
      return fastReceived >= sent;
    }, 10_000, { pollMs: 20 });
    assert.equal(fast.readyState, WebSocket.OPEN, 'the reading client stays');
    (slow as unknown as { _socket: { resume(): void } })._socket.resume();
    await until('the slow client saw its connection end', () => slowClosed);
    assert.equal(await metricValue(metrics, 'candlestack_websocket_dropped_total', { reason: 'slow_reader' }), 1);
    fast.close();
  } finally {
    await t.close();
  }
});
