/**
 * Issue 19, the fault suite's HTTP/WS part: malformed and abusive /ws messages. Every one gets an error reply
 * (or, over the message bound, a close with 1009), none subscribes anything, and the server keeps serving —
 * an exception escaping a `message` handler would end this test's process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { startTestApi } from '../support/api.js';
import { candle } from '../support/store-contract.js';

interface Reply {
  type: string;
  error?: { code: string; parameter?: string };
}

/** A connected client that buffers every reply. */
async function connect(url: string): Promise<{ ws: WebSocket; replies: Reply[]; next(): Promise<Reply>; closed: Promise<{ code: number; reason: string }> }> {
  const ws = new WebSocket(url);
  const replies: Reply[] = [];
  const waiters: ((r: Reply) => void)[] = [];
  ws.on('message', (data: Buffer) => {
    const r = JSON.parse(data.toString()) as Reply;
    const w = waiters.shift();
    if (w) w(r);
    else replies.push(r);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = () => {
    const r = replies.shift();
    if (r) return Promise.resolve(r);
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reply within 5 s')), 5_000);
      waiters.push((x) => {
        clearTimeout(timer);
        resolve(x);
      });
    });
  };
  return { ws, replies, next, closed };
}

const deep = (n: number, leaf = '0') => '['.repeat(n) + leaf + ']'.repeat(n);
const deepObject = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);

/** Each case: what is sent, and the error code (and parameter) the reply must carry. */
const CASES: { name: string; send: string | Buffer; code: string; parameter?: string }[] = [
  { name: 'not JSON', send: 'hello', code: 'bad_message' },
  { name: 'truncated JSON', send: '{"op":"subscribe","symbol":"BTC', code: 'bad_message' },
  { name: 'a binary frame', send: Buffer.from([0xff, 0x00, 0x7b]), code: 'bad_message' },
  { name: 'a JSON string', send: '"subscribe"', code: 'bad_message' },
  { name: 'null', send: 'null', code: 'bad_message' },
  { name: 'an array', send: '[{"op":"subscribe"}]', code: 'bad_message' },
  { name: 'an unknown op', send: '{"op":"dance"}', code: 'bad_parameter', parameter: 'op' },
  { name: 'type instead of op', send: '{"type":"subscribe","symbol":"BTC-USDT"}', code: 'bad_parameter', parameter: 'op' },
  { name: 'a mistyped field', send: '{"op":"subscribe","sybmol":"ETH-USDT"}', code: 'bad_parameter', parameter: 'sybmol' },
  { name: 'a number for a string field', send: '{"op":"subscribe","symbol":1e308}', code: 'bad_parameter', parameter: 'symbol' },
  { name: 'a timeframe not configured', send: '{"op":"subscribe","timeframe":"1d"}', code: 'bad_parameter', parameter: 'timeframe' },
  { name: 'a timeframe that does not exist', send: '{"op":"subscribe","timeframe":"7m"}', code: 'bad_parameter', parameter: 'timeframe' },
  { name: 'an unknown symbol 10,000 characters long', send: JSON.stringify({ op: 'subscribe', symbol: 'X'.repeat(10_000) }), code: 'bad_parameter', parameter: 'symbol' },
  { name: 'JSON nested 30,000 levels deep', send: deep(30_000), code: 'bad_message' },
  { name: 'a field nested 10,000 levels deep', send: `{"op":"subscribe","symbol":${deepObject(10_000)}}`, code: 'bad_parameter', parameter: 'symbol' },
  { name: 'duplicated keys (the last wins: an unknown exchange)', send: '{"op":"subscribe","exchange":"binance","exchange":"nope"}', code: 'bad_parameter', parameter: 'exchange' },
  { name: '__proto__ as a field', send: '{"op":"subscribe","__proto__":{"symbol":"ETH-USDT"}}', code: 'bad_parameter', parameter: '__proto__' },
];

test('malformed /ws messages: each gets an error reply naming what is wrong, nothing is subscribed, the server keeps serving', { timeout: 60_000 }, async (t) => {
  const api = await startTestApi({ timeframes: ['1m', '5m'] });
  t.after(() => api.close());
  const client = await connect(`${api.wsUrl}/ws`);
  t.after(() => client.ws.terminate());
  const answered: string[] = [];
  for (const c of CASES) {
    client.ws.send(c.send, { binary: Buffer.isBuffer(c.send) });
    const r = await client.next();
    assert.equal(r.type, 'error', `${c.name}: ${JSON.stringify(r)}`);
    assert.equal(r.error?.code, c.code, `${c.name}: ${JSON.stringify(r)}`);
    if (c.parameter) assert.equal(r.error?.parameter, c.parameter, `${c.name}: ${JSON.stringify(r)}`);
    answered.push(c.name);
  }
  // nothing above subscribed: a BTC-USDT 1m candle reaches no one, and the next answer is the real subscription's
  api.live.onCandle({ type: 'candle', kind: 'update', candle: candle(Date.UTC(2024, 0, 1)) });
  client.ws.send('{"op":"subscribe","exchange":"binance","symbol":"BTC-USDT","timeframe":"5m"}');
  assert.deepEqual(await client.next(), { type: 'subscribed', exchange: 'binance', symbol: 'BTC-USDT', timeframe: '5m' });

  // a burst: 2,000 bad messages, 2,000 error replies, the connection still open
  const BURST = 2_000;
  for (let i = 0; i < BURST; i++) client.ws.send(i % 2 ? '{' : '{"op":"subscribe","timeframe":"1d"}');
  let errors = 0;
  for (let i = 0; i < BURST; i++) if ((await client.next()).type === 'error') errors++;
  assert.equal(errors, BURST);
  assert.equal(client.ws.readyState, WebSocket.OPEN);
  assert.equal((await fetch(`${api.url}/healthz`)).status, 200);
  t.diagnostic(`faults.ws malformed messages: ${answered.length} of ${CASES.length} cases answered with the expected error; a burst of ${BURST} bad messages -> ${errors} error replies, connection open, /healthz 200`);
});

test('a /ws message over the 64 KiB bound closes that connection with 1009; other clients and new connections are served', { timeout: 30_000 }, async (t) => {
  const api = await startTestApi();
  t.after(() => api.close());
  const other = await connect(`${api.wsUrl}/ws`);
  t.after(() => other.ws.terminate());
  const abuser = await connect(`${api.wsUrl}/ws`);
  abuser.ws.send(JSON.stringify({ op: 'subscribe', symbol: 'X'.repeat(1024 * 1024) }));
  const { code } = await abuser.closed;
  assert.equal(code, 1009, 'message too big');
  other.ws.send('{"op":"subscribe"}');
  assert.deepEqual(await other.next(), { type: 'subscribed', exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m' });
  const fresh = await connect(`${api.wsUrl}/ws?symbol=BTC-USDT`);
  t.after(() => fresh.ws.terminate());
  assert.equal((await fresh.next()).type, 'subscribed');
  t.diagnostic(`faults.ws huge message: 1 MiB -> close ${code}, the other client and a new connection served`);
});
