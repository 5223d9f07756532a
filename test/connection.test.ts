/**
 * FeedConnection and Collector against real local WebSocket servers (127.0.0.1, port 0) on the system clock
 * with small timings. Never touches the network.
 */
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';
import { systemClock } from '../src/core/clock.js';
import type { GapEvent, Kline, Trade } from '../src/core/types.js';
import { FeedConnection, type ConnectionOptions } from '../src/feed/connection.js';
import { Collector, shardStreams } from '../src/feed/collector.js';
import { binance } from '../src/exchanges/binance/feed.js';
import type { ExchangeAdapter, StreamRef, Subscription } from '../src/exchanges/adapter.js';
import { MemoryBus } from '../src/bus/memory.js';
import type { Metrics } from '../src/telemetry/metrics.js';
import { log, sleep, testMetrics, until, type UntilOptions } from './support/harness.js';
import { metricValue } from './support/metrics.js';

/** Socket events here take milliseconds: poll often, and keep the waits as short as the tests claim. */
const PROMPTLY: UntilOptions = { pollMs: 5 };

// ── a local WebSocket server we control ─────────────────────────────────────────────────────────────

interface Accepted {
  ws: WebSocket;
  url: string;
  at: number;
  messages: { text: string; at: number }[];
  pongs: { data: Buffer; at: number }[];
  /** Everything received, in order: `msg:<text>` or `pong:<payload>`. */
  events: string[];
  closed: boolean;
}

interface TestServer {
  port: number;
  url: string;
  base: string;
  /** Every upgrade request (accepted or refused), in order. */
  upgrades: { at: number; url: string }[];
  accepted: Accepted[];
  /** While true, upgrades are answered with HTTP 503. */
  refuse: boolean;
  close(): Promise<void>;
}

async function startServer(t: TestContext, onConnection?: (c: Accepted) => void): Promise<TestServer> {
  const http = createServer((_req, res) => {
    res.writeHead(404);
    res.end();
  });
  const wss = new WebSocketServer({ noServer: true, autoPong: true });
  let closed = false;
  const s: TestServer = {
    port: 0,
    url: '',
    base: '',
    upgrades: [],
    accepted: [],
    refuse: false,
    close: async () => {
      if (closed) return;
      closed = true;
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
  http.on('upgrade', (req: IncomingMessage, socket, head) => {
    s.upgrades.push({ at: Date.now(), url: req.url ?? '' });
    socket.on('error', () => undefined); // a client that gives up resets the socket: not a test failure
    if (s.refuse) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const c: Accepted = { ws, url: req.url ?? '', at: Date.now(), messages: [], pongs: [], events: [], closed: false };
      ws.on('message', (data: Buffer) => {
        c.messages.push({ text: data.toString(), at: Date.now() });
        c.events.push(`msg:${data.toString()}`);
      });
      ws.on('pong', (data: Buffer) => {
        c.pongs.push({ data, at: Date.now() });
        c.events.push(`pong:${data.toString()}`);
      });
      ws.on('close', () => (c.closed = true));
      ws.on('error', () => undefined);
      s.accepted.push(c);
      onConnection?.(c);
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  s.port = (http.address() as AddressInfo).port;
  s.base = `ws://127.0.0.1:${s.port}`;
  s.url = `${s.base}/feed`;
  t.after(() => s.close());
  return s;
}

// ── FeedConnection ──────────────────────────────────────────────────────────────────────────────────

interface Harness {
  conn: FeedConnection;
  metrics: Metrics;
  frames: { frame: string; at: number }[];
  opens: { downSince: number | null; at: number }[];
}

function makeConnection(t: TestContext, server: TestServer, overrides: Partial<ConnectionOptions> = {}): Harness {
  const metrics = testMetrics();
  const frames: Harness['frames'] = [];
  const opens: Harness['opens'] = [];
  const conn = new FeedConnection({
    exchange: 'testex',
    connection: '0',
    plan: () => ({ url: server.url, subscribeMessages: [] }),
    limits: { maxStreamsPerConnection: 10, maxOutgoingPerSecond: 50, maxConnectionLifetimeMs: 60_000 },
    staleAfterMs: 10_000,
    backoff: { initialMs: 50, maxMs: 400 },
    clock: systemClock,
    metrics: metrics.feed,
    log,
    random: () => 1,
    onFrame: (frame, at) => frames.push({ frame, at }),
    onOpen: (downSince, at) => opens.push({ downSince, at }),
    ...overrides,
  });
  t.after(() => conn.stop());
  return { conn, metrics, frames, opens };
}

describe('FeedConnection', () => {
  test('connects, sends the plan messages and delivers frames via onFrame', async (t) => {
    const server = await startServer(t);
    const h = makeConnection(t, server, { plan: () => ({ url: server.url, subscribeMessages: ['{"op":"sub","n":1}', '{"op":"sub","n":2}'] }) });
    h.conn.start();
    await until('a connection', () => server.accepted.length === 1 && h.opens.length === 1, 3_000, PROMPTLY);
    assert.equal(h.conn.status, 'connected');
    assert.equal(h.opens[0]!.downSince, null, 'first open has no downSince');
    assert.ok(h.conn.connectedSince !== null);
    assert.equal(await metricValue(h.metrics, 'candlestack_collector_status', { exchange: 'testex', connection: '0' }), 1);

    await until('the subscribe messages', () => server.accepted[0]!.messages.length === 2, 3_000, PROMPTLY);
    assert.deepEqual(server.accepted[0]!.messages.map((m) => m.text), ['{"op":"sub","n":1}', '{"op":"sub","n":2}']);

    const ws = server.accepted[0]!.ws;
    ws.send('frame-a');
    ws.send('frame-b');
    ws.send(Buffer.from('frame-c'), { binary: true });
    await until('three frames', () => h.frames.length === 3, 3_000, PROMPTLY);
    assert.deepEqual(h.frames.map((f) => f.frame), ['frame-a', 'frame-b', 'frame-c']);
    assert.equal(h.conn.lastMessageAt, h.frames[2]!.at);
    assert.equal(await metricValue(h.metrics, 'candlestack_ws_messages_received_total', { exchange: 'testex', connection: '0' }), 3);
  });

  test('reconnects after the server terminates the socket; second onOpen carries downSince', async (t) => {
    const server = await startServer(t);
    const h = makeConnection(t, server);
    h.conn.start();
    await until('first connection', () => h.opens.length === 1, 3_000, PROMPTLY);
    server.accepted[0]!.ws.send('hello');
    await until('first frame', () => h.frames.length === 1, 3_000, PROMPTLY);

    const droppedAt = Date.now();
    server.accepted[0]!.ws.terminate();
    await until('second connection', () => h.opens.length === 2 && server.accepted.length === 2, 3_000, PROMPTLY);
    const second = h.opens[1]!;
    assert.notEqual(second.downSince, null, 'second onOpen has downSince');
    assert.ok(second.downSince! <= droppedAt + 5 && second.downSince! <= second.at, 'downSince is when data stopped, before the reopen');
    assert.equal(h.conn.reconnects, 1);
    assert.equal(h.conn.status, 'connected');
    assert.equal(await metricValue(h.metrics, 'candlestack_websocket_reconnections_total', { exchange: 'testex' }), 1);
    assert.equal(await metricValue(h.metrics, 'candlestack_websocket_reconnections_total', { exchange: 'testex', reason: 'closed' }), 1);

    // frames on the new socket still arrive
    server.accepted[1]!.ws.send('again');
    await until('frame on the new socket', () => h.frames.length === 2, 3_000, PROMPTLY);
    assert.equal(h.frames[1]!.frame, 'again');
  });

  test('backoff: refused upgrades are retried with growing, capped spacing; data flow resets it', async (t) => {
    const server = await startServer(t);
    server.refuse = true;
    const h = makeConnection(t, server); // initialMs 50, maxMs 400, random() = 1 -> 50, 100, 200, 400, 400, ...
    h.conn.start();
    await until('7 upgrade attempts', () => server.upgrades.length >= 7, 4000, PROMPTLY);
    const at = server.upgrades.map((u) => u.at);
    const gaps = at.slice(1).map((x, i) => x - at[i]!);
    const expected = [50, 100, 200, 400, 400, 400];
    gaps.slice(0, 6).forEach((g, i) => {
      assert.ok(g >= expected[i]! - 5, `gap ${i} = ${g} ms, expected about ${expected[i]}`);
      assert.ok(g <= expected[i]! + 150, `gap ${i} = ${g} ms, expected about ${expected[i]} (capped at maxMs)`);
    });
    assert.ok(gaps[1]! > gaps[0]! && gaps[2]! > gaps[1]! && gaps[3]! > gaps[2]!, `spacing grows: ${gaps.join(', ')}`);
    assert.equal(h.conn.status === 'connecting' || h.conn.status === 'disconnected', true);
    assert.match(h.conn.lastError ?? '', /503/);
    assert.equal(h.opens.length, 0);
    assert.ok((await metricValue(h.metrics, 'candlestack_collector_errors_total', { exchange: 'testex', kind: 'connect' })) >= 6);
    assert.equal(await metricValue(h.metrics, 'candlestack_websocket_reconnections_total'), 0, 'never connected: no reconnection counted');

    // let it in; once data flows the attempt count resets, so the next drop retries after ~initialMs again
    server.refuse = false;
    await until('connection after refusals', () => h.opens.length === 1, 2000, PROMPTLY);
    assert.equal(h.opens[0]!.downSince, null);
    server.accepted[0]!.ws.send('data');
    await until('frame', () => h.frames.length === 1, 3_000, PROMPTLY);
    const dropAt = Date.now();
    server.accepted[0]!.ws.terminate();
    await until('reconnect after drop', () => server.accepted.length === 2, 2000, PROMPTLY);
    const delay = server.accepted[1]!.at - dropAt;
    assert.ok(delay < 200, `reconnect after data flowed took ${delay} ms; expected ~50 ms (attempt count reset)`);
  });

  test('backoff: a closed port is retried and reported, without opening', async (t) => {
    const server = await startServer(t);
    const port = server.port;
    await server.close();
    const h = makeConnection(t, server, { plan: () => ({ url: `ws://127.0.0.1:${port}/feed`, subscribeMessages: [] }) });
    h.conn.start();
    await until('3 failed attempts', () => h.conn.lastError !== null, 2000, PROMPTLY);
    await sleep(250);
    assert.ok((await metricValue(h.metrics, 'candlestack_collector_errors_total', { kind: 'connect' })) >= 2);
    assert.match(h.conn.lastError ?? '', /ECONNREFUSED|connect/i);
    assert.equal(h.opens.length, 0);
    assert.notEqual(h.conn.status, 'connected');
  });

  test('stale detection: a silent server gets the connection recycled', async (t) => {
    const server = await startServer(t);
    const h = makeConnection(t, server, { staleAfterMs: 250 });
    h.conn.start();
    await until('first connection', () => server.accepted.length === 1, 3_000, PROMPTLY);
    await until('stale reconnect', () => server.accepted.length === 2, 2000, PROMPTLY);
    const after = server.accepted[1]!.at - server.accepted[0]!.at;
    assert.ok(after >= 240, `recycled after ${after} ms, not before staleAfterMs`);
    assert.ok(after < 1000, `recycled after ${after} ms`);
    assert.ok((await metricValue(h.metrics, 'candlestack_feed_stale_total', { exchange: 'testex', connection: '0' })) >= 1);
    assert.ok((await metricValue(h.metrics, 'candlestack_websocket_reconnections_total', { reason: 'stale' })) >= 1);
    await until('old socket closed on the server', () => server.accepted[0]!.closed, 3_000, PROMPTLY);
  });

  test('stale detection: a server that keeps sending is not recycled', async (t) => {
    const server = await startServer(t, (c) => {
      const timer = setInterval(() => {
        if (c.ws.readyState === WebSocket.OPEN) c.ws.send('tick');
      }, 40);
      c.ws.on('close', () => clearInterval(timer));
      t.after(() => clearInterval(timer));
    });
    const h = makeConnection(t, server, { staleAfterMs: 250 });
    h.conn.start();
    await until('first connection', () => server.accepted.length === 1, 3_000, PROMPTLY);
    await sleep(1000);
    assert.equal(server.accepted.length, 1, 'no reconnect while data flows');
    assert.equal(await metricValue(h.metrics, 'candlestack_feed_stale_total'), 0);
    assert.ok(h.frames.length > 10);
    assert.equal(h.conn.status, 'connected');
  });

  test('ping/pong: a server ping is answered with the same payload, exactly once', async (t) => {
    const server = await startServer(t);
    const h = makeConnection(t, server);
    h.conn.start();
    await until('connection', () => server.accepted.length === 1 && h.opens.length === 1, 3_000, PROMPTLY);
    const c = server.accepted[0]!;
    c.ws.ping(Buffer.from('ping-payload-42'));
    await until('pong', () => c.pongs.length === 1, 3_000, PROMPTLY);
    assert.equal(c.pongs[0]!.data.toString(), 'ping-payload-42');
    c.ws.ping(Buffer.from('second'));
    await until('second pong', () => c.pongs.length === 2, 3_000, PROMPTLY);
    await sleep(100);
    assert.deepEqual(c.pongs.map((p) => p.data.toString()), ['ping-payload-42', 'second'], 'one pong per ping (no auto-pong duplicate)');
  });

  test('ping/pong: pongs go through the rate limit ahead of queued messages', async (t) => {
    const server = await startServer(t, (c) => {
      c.ws.once('message', () => c.ws.ping(Buffer.from('p1')));
    });
    const msgs = ['s1', 's2', 's3', 's4'];
    const h = makeConnection(t, server, {
      plan: () => ({ url: server.url, subscribeMessages: msgs }),
      limits: { maxStreamsPerConnection: 10, maxOutgoingPerSecond: 2, maxConnectionLifetimeMs: 60_000 },
    });
    h.conn.start();
    await until('s3 and the pong', () => (server.accepted[0]?.messages.length ?? 0) >= 3 && server.accepted[0]!.pongs.length === 1, 3000, PROMPTLY);
    const events = server.accepted[0]!.events;
    assert.ok(events.indexOf('pong:p1') < events.indexOf('msg:s3'), `pong jumps the queue: ${events.join(' ')}`);
    assert.deepEqual(events.filter((e) => e.startsWith('msg:')).slice(0, 3), ['msg:s1', 'msg:s2', 'msg:s3']);
  });

  test('outgoing rate limit: 12 messages at 5/s arrive at most 5 per second, all within ~3 s', async (t) => {
    const server = await startServer(t);
    const msgs = Array.from({ length: 12 }, (_, i) => `m${i}`);
    const h = makeConnection(t, server, {
      plan: () => ({ url: server.url, subscribeMessages: msgs }),
      limits: { maxStreamsPerConnection: 10, maxOutgoingPerSecond: 5, maxConnectionLifetimeMs: 60_000 },
    });
    h.conn.start();
    await until('connection', () => h.opens.length === 1, 3_000, PROMPTLY);
    const openedAt = h.opens[0]!.at;
    await until('all 12 messages', () => (server.accepted[0]?.messages.length ?? 0) === 12, 3500, PROMPTLY);
    const got = server.accepted[0]!.messages;
    assert.deepEqual(got.map((m) => m.text), msgs, 'order kept');
    const ts = got.map((m) => m.at);
    for (let i = 0; i + 5 < ts.length; i++) {
      const span = ts[i + 5]! - ts[i]!;
      // 6 messages must span at least a second (small tolerance for delivery jitter)
      assert.ok(span >= 950, `messages ${i}..${i + 5} arrived within ${span} ms: more than 5 per second`);
    }
    assert.ok(ts[11]! - openedAt <= 3000, `last message after ${ts[11]! - openedAt} ms`);
    assert.equal(await metricValue(h.metrics, 'candlestack_ws_outgoing_delayed_total', { exchange: 'testex' }), 7, '7 of 12 messages were held back');
  });

  test('lifetime rotation: a new connection opens around maxConnectionLifetimeMs', async (t) => {
    const server = await startServer(t);
    const h = makeConnection(t, server, { limits: { maxStreamsPerConnection: 10, maxOutgoingPerSecond: 50, maxConnectionLifetimeMs: 300 } });
    h.conn.start();
    await until('first connection', () => server.accepted.length === 1, 3_000, PROMPTLY);
    await until('rotation', () => server.accepted.length === 2 && h.opens.length === 2, 2000, PROMPTLY);
    const after = server.accepted[1]!.at - server.accepted[0]!.at;
    assert.ok(after >= 280 && after < 800, `rotated after ${after} ms`);
    assert.ok((await metricValue(h.metrics, 'candlestack_websocket_reconnections_total', { exchange: 'testex', reason: 'lifetime' })) >= 1);
    assert.notEqual(h.opens[1]!.downSince, null);
    await until('old socket closed', () => server.accepted[0]!.closed, 3_000, PROMPTLY);
  });

  test("reconnect('server_shutdown') reconnects at once and counts that reason", async (t) => {
    const server = await startServer(t);
    const h = makeConnection(t, server);
    h.conn.start();
    await until('first connection', () => h.opens.length === 1, 3_000, PROMPTLY);
    const t0 = Date.now();
    h.conn.reconnect('server_shutdown');
    await until('second connection', () => server.accepted.length === 2 && h.opens.length === 2, 3_000, PROMPTLY);
    assert.ok(Date.now() - t0 < 500);
    assert.equal(await metricValue(h.metrics, 'candlestack_websocket_reconnections_total', { exchange: 'testex', reason: 'server_shutdown' }), 1);
    assert.equal(await metricValue(h.metrics, 'candlestack_websocket_reconnections_total'), 1);
    assert.equal(h.conn.reconnects, 1);
    await until('old socket closed', () => server.accepted[0]!.closed, 3_000, PROMPTLY);
  });

  test('stop() closes the socket and no reconnect happens afterwards', async (t) => {
    const server = await startServer(t);
    const h = makeConnection(t, server, { staleAfterMs: 100, limits: { maxStreamsPerConnection: 10, maxOutgoingPerSecond: 50, maxConnectionLifetimeMs: 150 } });
    h.conn.start();
    await until('connection', () => h.opens.length === 1, 3_000, PROMPTLY);
    await h.conn.stop();
    assert.equal(h.conn.status, 'stopped');
    await until('server saw the close', () => server.accepted[0]!.closed, 3_000, PROMPTLY);
    h.conn.start(); // no effect once stopped
    h.conn.reconnect('server_shutdown'); // no effect once stopped
    await sleep(400); // longer than the lifetime, stale and backoff timers
    assert.equal(server.upgrades.length, 1);
    assert.equal(h.opens.length, 1);
    assert.equal(await metricValue(h.metrics, 'candlestack_collector_status', { exchange: 'testex', connection: '0' }), 0);
  });

  test('stop() during backoff cancels the pending retry', async (t) => {
    const server = await startServer(t);
    server.refuse = true;
    const h = makeConnection(t, server);
    h.conn.start();
    await until('two refused attempts', () => server.upgrades.length >= 2, 3_000, PROMPTLY);
    await h.conn.stop();
    const n = server.upgrades.length;
    await sleep(500);
    assert.equal(server.upgrades.length, n);
    assert.equal(h.conn.status, 'stopped');
  });
});

// ── Collector with the real Binance adapter ─────────────────────────────────────────────────────────

interface CollectorHarness {
  collector: Collector;
  metrics: Metrics;
  trades: Trade[];
  klines: Kline[];
  gaps: GapEvent[];
}

function makeCollector(t: TestContext, server: TestServer, sub: Partial<Subscription> = {}, adapter: ExchangeAdapter = binance): CollectorHarness {
  const metrics = testMetrics();
  const bus = new MemoryBus(metrics.bus, log);
  const trades: Trade[] = [];
  const klines: Kline[] = [];
  const gaps: GapEvent[] = [];
  bus.subscribe('trade', (x) => trades.push(x));
  bus.subscribe('kline', (x) => klines.push(x));
  bus.subscribe('gap', (x) => gaps.push(x));
  const collector = new Collector({
    adapter,
    endpoints: { wsBaseUrl: server.base, restBaseUrl: 'http://127.0.0.1:9' },
    subscription: { symbols: ['BTC-USDT', 'ETH-USDT'], timeframes: ['1m'], tradeStream: 'trade', klines: false, ...sub },
    staleAfterMs: 10_000,
    backoff: { initialMs: 20, maxMs: 100 },
    bus,
    clock: systemClock,
    metrics: metrics.feed,
    log,
  });
  t.after(() => collector.stop());
  return { collector, metrics, trades, klines, gaps };
}

/** A Binance trade frame for a canonical symbol (BTC-USDT is sent as Binance spells it, BTCUSDT). */
function tradeFrame(symbol: string, id: number, time = Date.now(), price = '100.50'): string {
  const native = symbol.replace('-', '');
  return JSON.stringify({
    stream: `${native.toLowerCase()}@trade`,
    data: { e: 'trade', E: time, s: native, t: id, p: price, q: '0.25', T: time, m: false },
  });
}

describe('Collector (Binance adapter)', () => {
  test('connects to /stream?streams=... and publishes trades on the bus', async (t) => {
    const server = await startServer(t);
    const h = makeCollector(t, server);
    h.collector.start();
    await until('connection', () => server.accepted.length === 1, 3_000, PROMPTLY);
    assert.equal(server.accepted[0]!.url, '/stream?streams=btcusdt@trade/ethusdt@trade');
    const ws = server.accepted[0]!.ws;
    const time = Date.now() - 1000;
    ws.send(tradeFrame('BTC-USDT', 7, time, '42000.10'));
    ws.send(JSON.stringify({ stream: 'ethusdt@trade', data: { e: 'trade', E: time, s: 'ETHUSDT', t: 3, p: '3000', q: '1', T: time, m: true } }));
    await until('two trades', () => h.trades.length === 2, 3_000, PROMPTLY);
    assert.deepEqual(
      h.trades.map((x) => [x.exchange, x.symbol, x.id, x.price, x.qty, x.side, x.time]),
      [
        ['binance', 'BTC-USDT', 7, '42000.10', '0.25', 'buy', time],
        ['binance', 'ETH-USDT', 3, '3000', '1', 'sell', time],
      ],
    );
    assert.equal(await metricValue(h.metrics, 'candlestack_trades_received_total', { exchange: 'binance', symbol: 'BTC-USDT' }), 1);
    assert.deepEqual(h.gaps, [], 'no gap on the first connection');
    const [health] = h.collector.health();
    assert.equal(health?.status, 'connected');
    assert.deepEqual(health?.symbols, ['BTC-USDT', 'ETH-USDT']);
    assert.equal(health?.streams, 2);
  });

  test('klines are subscribed and published when requested', async (t) => {
    const server = await startServer(t);
    const h = makeCollector(t, server, { symbols: ['BTC-USDT'], klines: true, timeframes: ['1m', '5m'] });
    h.collector.start();
    await until('connection', () => server.accepted.length === 1, 3_000, PROMPTLY);
    assert.equal(server.accepted[0]!.url, '/stream?streams=btcusdt@trade/btcusdt@kline_1m/btcusdt@kline_5m');
    const k = { t: 1_700_000_040_000, i: '1m', o: '1', h: '2', l: '0.5', c: '1.5', v: '10', q: '15', V: '4', n: 12, x: true };
    server.accepted[0]!.ws.send(JSON.stringify({ stream: 'btcusdt@kline_1m', data: { e: 'kline', E: 1_700_000_100_000, s: 'BTCUSDT', k } }));
    await until('kline', () => h.klines.length === 1, 3_000, PROMPTLY);
    assert.equal(h.klines[0]!.timeframe, '1m');
    assert.equal(h.klines[0]!.closed, true);
    assert.equal(await metricValue(h.metrics, 'candlestack_klines_received_total', { exchange: 'binance', timeframe: '1m' }), 1);
  });

  test('a trade-id jump publishes a trade_id gap; duplicates are rejected and not published', async (t) => {
    const server = await startServer(t);
    const h = makeCollector(t, server);
    h.collector.start();
    await until('connection', () => server.accepted.length === 1, 3_000, PROMPTLY);
    const ws = server.accepted[0]!.ws;
    const t0 = Date.now() - 10_000;
    ws.send(tradeFrame('BTC-USDT', 100, t0));
    ws.send(tradeFrame('BTC-USDT', 101, t0 + 100));
    ws.send(tradeFrame('ETH-USDT', 50, t0 + 150));
    ws.send(tradeFrame('BTC-USDT', 104, t0 + 200)); // 102, 103 missing
    ws.send(tradeFrame('ETH-USDT', 51, t0 + 250));
    await until('5 trades', () => h.trades.length === 5, 3_000, PROMPTLY);
    assert.equal(h.gaps.length, 1);
    assert.deepEqual(h.gaps[0], { type: 'gap', exchange: 'binance', symbol: 'BTC-USDT', from: t0 + 100, to: t0 + 200, cause: 'trade_id', missing: 2 });
    assert.equal(await metricValue(h.metrics, 'candlestack_trade_id_gaps_total', { exchange: 'binance', symbol: 'BTC-USDT', cause: 'stream' }), 1);
    assert.equal(await metricValue(h.metrics, 'candlestack_trade_id_gaps_total', { cause: 'reconnect' }), 0);
    assert.equal(await metricValue(h.metrics, 'candlestack_trade_ids_missing_total', { exchange: 'binance', symbol: 'BTC-USDT' }), 2);

    // a repeated id and an older id are duplicates; the next id continues without a gap
    ws.send(tradeFrame('BTC-USDT', 104, t0 + 300));
    ws.send(tradeFrame('BTC-USDT', 103, t0 + 300));
    ws.send(tradeFrame('BTC-USDT', 105, t0 + 400));
    await until('trade 105', () => h.trades.some((x) => x.id === 105), 3_000, PROMPTLY);
    assert.deepEqual(
      h.trades.filter((x) => x.symbol === 'BTC-USDT').map((x) => x.id),
      [100, 101, 104, 105],
    );
    assert.equal(await metricValue(h.metrics, 'candlestack_messages_rejected_total', { exchange: 'binance', reason: 'duplicate_trade' }), 2);
    assert.equal(h.gaps.length, 1, 'no new gap');
    assert.equal(h.collector.health()[0]?.tradeIdGaps, 1);
  });

  test('malformed frames are counted by reason and do not kill the connection', async (t) => {
    const server = await startServer(t);
    const h = makeCollector(t, server);
    h.collector.start();
    await until('connection', () => server.accepted.length === 1, 3_000, PROMPTLY);
    const ws = server.accepted[0]!.ws;
    ws.send('this is not json');
    ws.send('[1,2,3]');
    ws.send(JSON.stringify({ stream: 'btcusdt@trade', data: { e: 'trade', s: 'BTCUSDT', t: 1, q: '1', T: 1, m: false } })); // no price
    ws.send(JSON.stringify({ stream: 'btcusdt@trade', data: { e: 'trade', s: 'BTCUSDT', t: -5, p: '1', q: '1', T: 1, m: false } })); // bad id
    ws.send(JSON.stringify({ e: 'mystery', E: 1 }));
    ws.send(tradeFrame('BTC-USDT', 9, Date.now() + 3_600_000)); // an hour in the future
    ws.send(tradeFrame('BTC-USDT', 10));
    await until('the good trade', () => h.trades.length === 1, 3_000, PROMPTLY);
    assert.equal(h.trades[0]!.id, 10);
    const rejected = (reason: string) => metricValue(h.metrics, 'candlestack_messages_rejected_total', { exchange: 'binance', reason });
    assert.equal(await rejected('invalid_json'), 2);
    assert.equal(await rejected('invalid_field'), 2);
    assert.equal(await rejected('unknown_event'), 1);
    assert.equal(await rejected('future_timestamp'), 1);
    assert.equal(server.accepted.length, 1, 'same connection');
    assert.equal(h.collector.health()[0]?.status, 'connected');
    assert.equal(await metricValue(h.metrics, 'candlestack_websocket_reconnections_total'), 0);
  });

  test('a serverShutdown notice makes the collector reconnect', async (t) => {
    const server = await startServer(t);
    const h = makeCollector(t, server);
    h.collector.start();
    await until('connection', () => server.accepted.length === 1, 3_000, PROMPTLY);
    server.accepted[0]!.ws.send('{"e":"serverShutdown","E":1}');
    await until('second connection', () => server.accepted.length === 2, 2000, PROMPTLY);
    assert.equal(server.accepted[1]!.url, '/stream?streams=btcusdt@trade/ethusdt@trade');
    assert.equal(await metricValue(h.metrics, 'candlestack_websocket_reconnections_total', { exchange: 'binance', reason: 'server_shutdown' }), 1);
    await until('old socket closed', () => server.accepted[0]!.closed, 3_000, PROMPTLY);
    await until('reconnected', () => h.collector.health()[0]?.status === 'connected', 3_000, PROMPTLY);
  });

  test('after a server-side drop, a reconnect gap is published per symbol and id jumps count as reconnect', async (t) => {
    const server = await startServer(t);
    const h = makeCollector(t, server);
    h.collector.start();
    await until('connection', () => server.accepted.length === 1, 3_000, PROMPTLY);
    const tradeTime = Date.now() - 5_000;
    server.accepted[0]!.ws.send(tradeFrame('BTC-USDT', 10, tradeTime));
    await until('trade', () => h.trades.length === 1, 3_000, PROMPTLY);
    const dropAt = Date.now();
    server.accepted[0]!.ws.terminate();
    await until('reconnect gaps', () => server.accepted.length === 2 && h.gaps.length === 2, 2000, PROMPTLY);
    const bySymbol = new Map(h.gaps.map((g) => [g.symbol, g]));
    assert.deepEqual([...bySymbol.keys()].sort(), ['BTC-USDT', 'ETH-USDT']);
    for (const g of h.gaps) {
      assert.equal(g.cause, 'reconnect');
      assert.equal(g.exchange, 'binance');
      assert.ok(g.from <= g.to, 'from before to');
      assert.ok(g.to >= dropAt, 'gap ends at the reconnect');
      assert.ok(g.from <= dropAt, 'gap starts no later than the drop');
    }
    assert.equal(bySymbol.get('BTC-USDT')!.from, tradeTime, 'BTCUSDT gap starts at its last trade');
    assert.equal(h.collector.health()[0]?.reconnects, 1);

    // the jump across the reconnect is attributed to the reconnect, not to a dropped stream message
    server.accepted[1]!.ws.send(tradeFrame('BTC-USDT', 15));
    await until('trade after reconnect', () => h.trades.length === 2, 3_000, PROMPTLY);
    assert.equal(await metricValue(h.metrics, 'candlestack_trade_id_gaps_total', { symbol: 'BTC-USDT', cause: 'reconnect' }), 1);
    assert.equal(await metricValue(h.metrics, 'candlestack_trade_id_gaps_total', { cause: 'stream' }), 0);
    assert.equal(h.gaps.at(-1)?.cause, 'reconnect');
    assert.equal(h.gaps.at(-1)?.missing, 4);
  });

  test('streams are sharded over connections within the adapter limit', async (t) => {
    const server = await startServer(t);
    const small: ExchangeAdapter = { ...binance, limits: { ...binance.limits, maxStreamsPerConnection: 3 } };
    const h = makeCollector(t, server, { symbols: ['BTC-USDT', 'ETH-USDT', 'SOL-USDT'], klines: true, timeframes: ['1m'] }, small);
    h.collector.start();
    await until('three connections', () => server.accepted.length === 3, 3_000, PROMPTLY);
    assert.deepEqual(server.accepted.map((c) => c.url).sort(), [
      '/stream?streams=btcusdt@trade/btcusdt@kline_1m',
      '/stream?streams=ethusdt@trade/ethusdt@kline_1m',
      '/stream?streams=solusdt@trade/solusdt@kline_1m',
    ]);
    assert.deepEqual(h.collector.health().map((x) => x.connection), ['0', '1', '2']);
  });
});

describe('shardStreams', () => {
  const refs = (symbol: string, n: number): StreamRef[] => Array.from({ length: n }, (_, i) => ({ symbol, name: `${symbol}@s${i}` }));

  test("keeps a symbol's streams together and respects max", () => {
    const streams = [...refs('A', 3), ...refs('B', 2), ...refs('C', 3), ...refs('D', 1)];
    const shards = shardStreams(streams, 5);
    for (const s of shards) assert.ok(s.length <= 5, `shard of ${s.length}`);
    for (const sym of ['A', 'B', 'C', 'D']) {
      const holding = shards.filter((s) => s.some((x) => x.symbol === sym));
      assert.equal(holding.length, 1, `${sym} on exactly one shard`);
    }
    assert.deepEqual(shards.flat(), streams, 'every stream kept, in order');
    assert.deepEqual(shards.map((s) => s.length), [5, 4]);
  });

  test('interleaved streams of a symbol still land together', () => {
    const streams: StreamRef[] = [
      { symbol: 'A', name: 'a1' },
      { symbol: 'B', name: 'b1' },
      { symbol: 'A', name: 'a2' },
      { symbol: 'B', name: 'b2' },
    ];
    const shards = shardStreams(streams, 2);
    assert.deepEqual(shards.map((s) => s.map((x) => x.name)), [['a1', 'a2'], ['b1', 'b2']]);
  });

  test('one stream per connection, empty input, and a symbol too big for one connection', () => {
    assert.deepEqual(shardStreams(refs('A', 1).concat(refs('B', 1)), 1).map((s) => s.length), [1, 1]);
    assert.deepEqual(shardStreams([], 10), []);
    assert.throws(() => shardStreams(refs('A', 4), 3), RangeError);
  });
});
