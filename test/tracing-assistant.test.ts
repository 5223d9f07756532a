/**
 * The assistant's trace: one button press in Telegram is one trace across three processes. `notify`, `serve`
 * and `decide` run as separate `candlestack` processes exporting to a local OTLP receiver (each under its own
 * service.name); a local Bot API server delivers an inline-button press (a callback query). The trace:
 *
 *   notify  telegram market                      SERVER (root)
 *   notify  ├─ POST telegram answerCallbackQuery CLIENT
 *   notify  ├─ GET decide                        CLIENT ─► decide GET /api/decision SERVER ─► decide rules INTERNAL
 *   notify  ├─ GET serve                         CLIENT ─► serve  GET /api/candles  SERVER
 *   notify  └─ POST telegram sendMessage         CLIENT
 *
 * With decide killed the press is still answered within 5 s (the market data, "decision unavailable"), and
 * that trace shows it: the `GET decide` CLIENT span and the root carry ERROR status, nothing from decide.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_KAFKA_TOPICS } from '../src/bus/kafka-codec.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { Candle } from '../src/core/types.js';
import { KafkaMockCluster, kafkaMockUnavailable } from './support/kafka/mock-cluster.js';
import { skipUnlessAvailable, until } from './support/harness.js';
import { freePort } from './support/net.js';
import { Service } from './support/observability.js';
import { OtlpReceiver, SPAN_KIND, STATUS_CODE, parentOf, type ReceivedSpan } from './support/otlp-receiver.js';
import { TelegramBotApiServer } from './support/telegram-bot-api.js';
import { TOKEN } from './support/notifier-rig.js';

/**
 * The SDK starts each span at Date.now() (whole milliseconds) and ends it at start + a precise duration, so two
 * spans can be out of order by up to 1 ms when one begins right after the other ends (or starts).
 */
const MS = 1_000_000n;
const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const CHAT = 5151;
const MIN = 60_000;

/** 60 closed 1m candles of binance BTC-USDT ending at the last full minute (a decision is made from them). */
async function writeCandles(storePath: string): Promise<void> {
  const store = new SqliteStore(storePath, () => Date.now());
  const last = Math.floor(Date.now() / MIN) * MIN - MIN;
  const rows: Candle[] = [];
  for (let i = 59; i >= 0; i--) {
    const close = (100 + Math.sin(i / 5) * 3).toFixed(2);
    rows.push({ exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', openTime: last - i * MIN, open: close, high: (Number(close) + 1).toFixed(2), low: (Number(close) - 1).toFixed(2), close, volume: '2', quoteVolume: String(Number(close) * 2), takerBuyVolume: '1', tradeCount: 4, vwap: close, closed: true, source: 'trades', revision: 0 });
  }
  await store.upsert(rows);
  await store.close();
}

const byName = (spans: readonly ReceivedSpan[], name: string) => spans.filter((s) => s.name === name);
const childrenOf = (span: ReceivedSpan, spans: readonly ReceivedSpan[]) => spans.filter((s) => s.traceId === span.traceId && s.parentSpanId === span.spanId);
const service = (s: ReceivedSpan) => s.resource['service.name'];

test('one button press = one trace: notify → serve and notify → decide across three processes, Bot API calls inside it; decide killed → ERROR status and still a reply within 5 s', { timeout: 180_000 }, async (t) => {
  const why = kafkaMockUnavailable();
  const skip = skipUnlessAvailable(why === undefined, why ?? '');
  if (skip) return t.skip(skip);
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-trace-assistant-'));
  const storeUrl = `sqlite:${join(dir, 'candles.db')}`;
  await writeCandles(join(dir, 'candles.db'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  const receiver = await new OtlpReceiver().start();
  const botApi = await new TelegramBotApiServer(TOKEN).start();
  const cluster = await KafkaMockCluster.start(1);
  for (const topic of Object.values(DEFAULT_KAFKA_TOPICS)) await cluster.createTopic(topic, 1);
  const [servePort, decidePort, notifyPort] = [await freePort(), await freePort(), await freePort()];
  const env = { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_LOGS_EXPORTER: 'none' };
  const common = ['--store', storeUrl, '--symbols', 'BTC-USDT', '--timeframes', '1m', '--log-format', 'json', '--log-level', 'info'];
  const serve = new Service('serve', process.execPath, [MAIN, 'serve', '--bus', `kafka://${cluster.bootstrap}`, '--port', String(servePort), ...common], env);
  const decide = new Service('decide', process.execPath, [MAIN, 'decide', '--port', String(decidePort), ...common], env);
  const notify = new Service('notify', process.execPath, [MAIN, 'notify', '--port', String(notifyPort), '--telegram-token-file', tokenFile, '--telegram-api-url', botApi.url, '--telegram-allowed-chats', String(CHAT), '--telegram-default-market', 'binance:BTC-USDT', '--market-data-url', `http://127.0.0.1:${servePort}`, '--decision-url', `http://127.0.0.1:${decidePort}`, '--symbols', 'BTC-USDT', '--timeframes', '1m', '--log-format', 'json', '--log-level', 'warn'], env);
  try {
    // Generous: three Node processes and a Kafka consumer group starting on a loaded 2-core machine.
    await serve.waitReady(`http://127.0.0.1:${servePort}/healthz`, 60_000);
    await decide.waitReady(`http://127.0.0.1:${decidePort}/readyz`, 60_000);
    await notify.waitReady(`http://127.0.0.1:${notifyPort}/readyz`, 60_000);
    // Warm both services (first query, JIT) so a cold start on a loaded machine does not spend the notifier's
    // 1.5 s per-attempt timeout; these calls carry no traceparent: traces of their own, not the press's.
    assert.equal((await fetch(`http://127.0.0.1:${servePort}/api/candles?exchange=binance&symbol=BTC-USDT&timeframe=1m&limit=1`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${decidePort}/api/decision?exchange=binance&symbol=BTC-USDT&timeframe=1m`)).status, 200);

    // The press.
    let from = botApi.sent.length;
    botApi.press(CHAT, 'd:binance:BTC-USDT');
    const reply = await botApi.waitForMessage((m) => m.chatId === CHAT, 6_000, from);
    assert.match(reply.text, /<b>(BUY|SELL|HOLD)<\/b> BTC-USDT on binance/);
    const root = await until('the press trace, root to reply', () => {
      const r = receiver.find('telegram market', (s) => s.parentSpanId === '');
      return r && byName(receiver.trace(r.traceId), 'POST telegram sendMessage').length > 0 && byName(receiver.trace(r.traceId), 'decide rules').length > 0 && byName(receiver.trace(r.traceId), 'GET /api/candles').length > 0 ? r : undefined;
    }, 15_000, { pollMs: 200 });
    const spans = receiver.trace(root.traceId);
    t.diagnostic(spans.map((s) => `${service(s)} ${s.name} kind=${s.kind} parent=${parentOf(s, spans)?.name ?? '-'}`).join('\n'));

    assert.equal(root.kind, SPAN_KIND.SERVER);
    assert.equal(service(root), 'candlestack-notify');
    assert.equal(root.attributes['candlestack.telegram.update_type'], 'callback_query');
    assert.equal(root.attributes['candlestack.notifier.command'], 'market');
    assert.equal(root.status.code, STATUS_CODE.UNSET);
    assert.equal(spans.filter((s) => s.parentSpanId === '').length, 1, 'one root');
    assert.deepEqual([...new Set(spans.map(service))].sort(), ['candlestack-decide', 'candlestack-notify', 'candlestack-serve']);
    for (const s of spans) if (s !== root) assert.ok(parentOf(s, spans), `${s.name} hangs in the tree`);

    const direct = childrenOf(root, spans);
    const one = (name: string): ReceivedSpan => {
      const found = direct.filter((s) => s.name === name);
      assert.equal(found.length, 1, `one ${name} under the root: ${direct.map((s) => s.name).join(', ')}`);
      return found[0]!;
    };
    const answer = one('POST telegram answerCallbackQuery');
    const send = one('POST telegram sendMessage');
    for (const s of [answer, send]) {
      assert.equal(s.kind, SPAN_KIND.CLIENT);
      assert.equal(s.attributes['peer.service'], 'telegram');
      assert.equal(s.attributes['http.response.status_code'], 200);
      assert.match(String(s.attributes['url.template']), /^\/bot\{token\}\/\w+$/);
    }
    assert.ok(!JSON.stringify(spans, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)).includes(TOKEN.split(':')[1]!), 'the token is in no span');

    // One CLIENT span per attempt: the attempt that was answered is the parent of the served request.
    const answered = (name: string): ReceivedSpan => {
      const attempts = direct.filter((s) => s.name === name);
      assert.ok(attempts.length >= 1 && attempts.length <= 2, `${name}: one attempt, or two with the retry: ${direct.map((s) => s.name).join(', ')}`);
      const ok = attempts.find((s) => s.attributes['http.response.status_code'] === 200);
      assert.ok(ok, `${name} answered 200`);
      return ok;
    };
    const toDecide = answered('GET decide');
    const toServe = answered('GET serve');
    for (const [client, server, svc] of [[toDecide, 'GET /api/decision', 'candlestack-decide'], [toServe, 'GET /api/candles', 'candlestack-serve']] as const) {
      assert.equal(client.kind, SPAN_KIND.CLIENT);
      assert.equal(client.attributes['peer.service'], client.name.split(' ')[1]);
      const served = childrenOf(client, spans);
      assert.equal(served.length, 1, `${client.name}: the served request continues the trace`);
      assert.equal(served[0]!.name, server);
      assert.equal(served[0]!.kind, SPAN_KIND.SERVER);
      assert.equal(service(served[0]!), svc);
      assert.ok(served[0]!.startNs + MS >= client.startNs && served[0]!.endNs <= client.endNs + 50_000_000n, `${server} within ${client.name}`);
    }
    const strategy = byName(spans, 'decide rules')[0]!;
    assert.equal(strategy.kind, SPAN_KIND.INTERNAL);
    assert.equal(parentOf(strategy, spans)?.name, 'GET /api/decision');
    assert.match(String(strategy.attributes['candlestack.decision.action']), /^(BUY|SELL|HOLD)$/);
    assert.ok(send.startNs + MS >= toDecide.endNs, `the reply is sent after the decision came (${toDecide.endNs - send.startNs} ns)`);
    assert.ok(root.endNs + MS >= send.endNs, `the update span ends after its reply (${send.endNs - root.endNs} ns)`);
    assert.ok(!receiver.spans.some((s) => /getUpdates/.test(s.name)), 'long polls are not traced');

    // decide dies: the press is still answered within 5 s, and its trace says what failed.
    decide.proc.kill('SIGKILL');
    await new Promise((r) => (decide.proc.exitCode !== null || decide.proc.signalCode !== null ? r(null) : decide.proc.once('exit', r)));
    from = botApi.sent.length;
    const pressed = Date.now();
    botApi.press(CHAT, 'd:binance:BTC-USDT');
    const degraded = await botApi.waitForMessage((m) => m.chatId === CHAT, 6_000, from);
    assert.ok(degraded.at - pressed < 5_000, `answered in ${degraded.at - pressed} ms`);
    assert.match(degraded.text, /Decision unavailable<\/b> for BTC-USDT on binance: decide (is not answering|did not answer in time)/);
    const failed = await until('the trace of the press without decide', () => {
      const r = receiver.find('telegram market', (s) => s.parentSpanId === '' && s.traceId !== root.traceId);
      return r && byName(receiver.trace(r.traceId), 'POST telegram sendMessage').length > 0 && byName(receiver.trace(r.traceId), 'GET /api/candles').length > 0 ? r : undefined;
    }, 15_000, { pollMs: 200 });
    const failedSpans = receiver.trace(failed.traceId);
    t.diagnostic(failedSpans.map((s) => `${service(s)} ${s.name} status=${s.status.code}`).join('\n'));
    assert.equal(failed.status.code, STATUS_CODE.ERROR, 'the root shows the degraded answer');
    const decideCalls = childrenOf(failed, failedSpans).filter((s) => s.name === 'GET decide');
    assert.ok(decideCalls.length >= 1);
    for (const c of decideCalls) {
      assert.equal(c.kind, SPAN_KIND.CLIENT);
      assert.equal(c.status.code, STATUS_CODE.ERROR);
      assert.ok(c.attributes['error.type'], 'error.type on the failed call');
      assert.ok(c.events.some((e) => e.name === 'exception'), 'the exception recorded');
    }
    assert.ok(!failedSpans.some((s) => service(s) === 'candlestack-decide'), 'nothing from the dead decide');
    const served = childrenOf(failed, failedSpans).filter((s) => s.name === 'GET serve').flatMap((c) => childrenOf(c, failedSpans));
    assert.ok(served.some((s) => s.name === 'GET /api/candles' && service(s) === 'candlestack-serve'), 'the market data still came, in the same trace');
    const sent = childrenOf(failed, failedSpans).filter((s) => s.name === 'POST telegram sendMessage');
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.status.code, STATUS_CODE.UNSET, 'the reply itself went out fine');
  } finally {
    await notify.stop();
    await decide.stop();
    await serve.stop();
    await botApi.stop();
    await cluster.stop();
    await receiver.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
