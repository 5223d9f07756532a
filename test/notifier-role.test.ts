/**
 * `candlestack notify`, the notifier's own role: its RoleServer (/readyz once the Bot API answered, /metrics,
 * Alertmanager's POST /api/alerts forwarded to the subscribed chats), the token read from a file, and webhook
 * mode (updates POSTed by the Bot API server with the secret token header; without it a 401). The market
 * data comes from a real demo's API, the decisions from a real `candlestack decide` process over the same store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../src/core/clock.js';
import { defaultConfig, type Config } from '../src/config/config.js';
import { startDemo, type Demo } from '../src/demo/demo.js';
import { startNotify } from '../src/app/notify.js';
import type { RoleApp } from '../src/app/parts.js';
import { WEBHOOK_PATH } from '../src/assistant/notifier/notifier.js';
import { log, until } from './support/harness.js';
import { freePort } from './support/net.js';
import { TelegramBotApiServer } from './support/telegram-bot-api.js';
import { Service } from './support/observability.js';
import { capturedLog, metricValue, postAlerts, TOKEN, TOKEN_SECRET, webhookBody } from './support/notifier-rig.js';

const CHAT = 4242;
const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function notifyConfig(botApi: TelegramBotApiServer, marketDataUrl: string, decisionUrl: string, dir: string): Config {
  const config = defaultConfig();
  config.http = { host: '127.0.0.1', port: 0 };
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  config.telegram = { ...config.telegram, tokenFile, apiUrl: botApi.url, allowedChats: [CHAT], defaultMarket: { exchange: 'binance', symbol: 'BTC-USDT' }, timeframe: '1s', marketDataUrl, decisionUrl, stateFile: join(dir, 'state.json') };
  return config;
}

async function demoApi(store = 'sqlite::memory:'): Promise<Demo> {
  const config = defaultConfig();
  config.http = { host: '127.0.0.1', port: 0 };
  config.timeframes = ['1s', '1m'];
  config.candles = { ...config.candles, graceMs: 200, tickMs: 50 };
  config.store = { url: store, flushMs: 100 };
  const demo = await startDemo(config, { rate: 50, seed: 9, chaos: false, symbolsGiven: false, storeGiven: true }, { clock: systemClock, log, version: 'test' });
  // A closed one (a forming candle is served too, and the decision needs a closed candle in the store).
  await until('a closed 1s candle', async () => ((await (await fetch(`http://127.0.0.1:${demo.port}/api/candles?symbol=BTC-USDT&timeframe=1s&limit=5`)).json()) as any).candles.some((c: { closed: boolean }) => c.closed), 15_000);
  return demo;
}

const UNAVAILABLE = /^⚠️ <b>Decision unavailable<\/b> for BTC-USDT on binance: decide (is not answering|did not answer in time|is failing, calls paused for a while)\.\nMarket data as of \d\d:\d\d:\d\d UTC \(\d+s ago\): <code>\d+(\.\d+)?<\/code> \(1s close\)\./;

test('notify role with the real decide and serve APIs: token from a file, /readyz, a decision with its price and reasons; decide killed -> "decision unavailable, market data as of" in < 5 s; alerts on its own /api/alerts', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-notify-'));
  const botApi = await new TelegramBotApiServer(TOKEN).start();
  // The market data: a demo writing a SQLite file that the decide process reads (as process and decide share a store).
  const storeUrl = `sqlite:${join(dir, 'candles.db')}`;
  const demo = await demoApi(storeUrl);
  const decidePort = await freePort();
  const decide = new Service('decide', process.execPath, [MAIN, 'decide', '--store', storeUrl, '--port', String(decidePort), '--timeframes', '1s,1m', '--log-format', 'json', '--log-level', 'warn']);
  const { log: captured, lines } = capturedLog();
  let app: RoleApp | null = null;
  try {
    await decide.waitReady(`http://127.0.0.1:${decidePort}/readyz`);
    app = await startNotify(notifyConfig(botApi, `http://127.0.0.1:${demo.port}`, `http://127.0.0.1:${decidePort}`, dir), { clock: systemClock, log: captured, version: 'test' });
    const base = `http://127.0.0.1:${app.port}`;
    await until('/readyz ready', async () => (await fetch(`${base}/readyz`)).status === 200, 10_000);
    const health = (await (await fetch(`${base}/api/health`)).json()) as any;
    assert.equal(health.role, 'notify');
    assert.deepEqual(health.breakers.map((b: any) => b.component).sort(), ['notifier_decide', 'notifier_serve']);

    // The button: the decide process's answer, with the price it is about and its reasons.
    const first = botApi.sent.length;
    botApi.message(CHAT, 'What should I do with crypto?');
    const pressedAt = Date.now();
    const decision = await botApi.waitForMessage((m) => m.chatId === CHAT, 6_000, first);
    t.diagnostic(`decision answered in ${decision.at - pressedAt} ms`);
    assert.match(decision.text, /^(🟢|🔴|⚪) <b>(BUY|SELL|HOLD)<\/b> BTC-USDT on binance · confidence \d+%\nPrice <code>\d+(\.\d+)?<\/code> · as of \d\d:\d\d:\d\d UTC \(\d+s ago\)\nWhy:\n• \S+/);
    assert.match(decision.text, /strategy rules · 1s candles/);
    assert.equal(decision.replyMarkup.keyboard[0][0].text, 'What should I do with crypto?');

    // The decision service hangs (stopped: connections accepted, never answered): the timeouts still leave time to answer.
    decide.proc.kill('SIGSTOP');
    const hungFrom = botApi.sent.length;
    const hungAt = Date.now();
    botApi.message(CHAT, 'What should I do with crypto?');
    const hung = await botApi.waitForMessage((m) => m.chatId === CHAT, 6_000, hungFrom);
    t.diagnostic(`decide hung, answered in ${hung.at - hungAt} ms`);
    assert.ok(hung.at - hungAt < 5_000, `answered in ${hung.at - hungAt} ms`);
    assert.match(hung.text, UNAVAILABLE);
    assert.match(hung.text, /decide did not answer in time/);

    // The decision service dies: every press still gets an answer, within 5 s, with the market data.
    decide.proc.kill('SIGKILL');
    await new Promise((r) => decide.proc.once('exit', r));
    for (let i = 0; i < 3; i++) {
      const from = botApi.sent.length;
      const asked = Date.now();
      botApi.message(CHAT, 'What should I do with crypto?');
      const reply = await botApi.waitForMessage((m) => m.chatId === CHAT, 6_000, from);
      const took = reply.at - asked;
      t.diagnostic(`decide killed, press ${i + 1} answered in ${took} ms`);
      assert.ok(took < 5_000, `answered in ${took} ms`);
      assert.match(reply.text, UNAVAILABLE);
    }
    const h = botApi.sent.length;
    botApi.message(CHAT, '/health');
    assert.match((await botApi.waitForMessage((m) => m.chatId === CHAT, 6_000, h)).text, /🔴 Decision service: decide (is not answering|is failing, calls paused for a while)/);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /candlestack_http_client_requests_total\{target="decide",outcome="200"\} [1-9]/, 'outgoing calls counted by target');
    assert.match(metrics, /candlestack_http_client_requests_total\{target="decide",outcome="(error|circuit_open)"\} [1-9]/);
    assert.match(metrics, /candlestack_http_client_requests_total\{target="serve",outcome="200"\} [1-9]/);
    assert.match(metrics, /candlestack_notifier_reply_duration_seconds_count\{command="button"\} 5/);

    // Alertmanager posts to the notify role itself in the split deployment.
    const from = botApi.sent.length;
    botApi.message(CHAT, '/subscribe');
    await botApi.waitForMessage((m) => m.chatId === CHAT, 5_000, from);
    const before = botApi.sent.length;
    assert.equal((await postAlerts(base, webhookBody('firing', [{ alertname: 'StoreWriteErrors', severity: 'critical', fingerprint: 's1', summary: 'Candle writes <fail>' }]))).status, 200);
    const alert = await botApi.waitForMessage((m) => m.chatId === CHAT, 5_000, before);
    assert.match(alert.text, /🔥 <b>StoreWriteErrors<\/b> \[critical\]: Candle writes &lt;fail&gt;/);
    assert.equal((await postAlerts(base, { version: '3' })).status, 400, 'the shared receiver validates');
    assert.equal(await metricValue(app.metrics.registry, 'candlestack_alerts_received_total', { status: 'firing', severity: 'critical' }), 1);
    assert.ok(!lines.some((l) => l.includes(TOKEN_SECRET)), 'no log line carries the token');
  } finally {
    await app?.stop();
    await decide.stop();
    await demo.stop();
    await botApi.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('notify role, webhook mode: setWebhook with the secret token; updates with the header are answered, without it refused with 401', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-notify-wh-'));
  const botApi = await new TelegramBotApiServer(TOKEN).start();
  let app: RoleApp | null = null;
  try {
    const port = await freePort();
    const config = notifyConfig(botApi, `http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`, dir);
    config.http.port = port;
    config.telegram = { ...config.telegram, mode: 'webhook', webhookUrl: `http://127.0.0.1:${port}${WEBHOOK_PATH}`, webhookSecret: 'webhook-secret_1' };
    app = await startNotify(config, { clock: systemClock, log, version: 'test' });
    await until('setWebhook', () => botApi.webhook !== null, 10_000);
    assert.deepEqual(botApi.webhook, { url: `http://127.0.0.1:${port}${WEBHOOK_PATH}`, secret: 'webhook-secret_1' });
    assert.ok(!botApi.calls.some((c) => c.method === 'getUpdates'), 'no polling in webhook mode');
    const from = botApi.sent.length;
    botApi.message(CHAT, '/help');
    const reply = await botApi.waitForMessage((m) => m.chatId === CHAT, 10_000, from);
    assert.match(reply.text, /candlestack assistant/);
    const forged = await fetch(`http://127.0.0.1:${port}${WEBHOOK_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': 'wrong' }, body: JSON.stringify({ update_id: 1, message: { message_id: 1, date: 0, chat: { id: CHAT, type: 'private' }, text: '/help' } }) });
    assert.equal(forged.status, 401);
    const none = await fetch(`http://127.0.0.1:${port}${WEBHOOK_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(none.status, 401);
  } finally {
    await app?.stop();
    await botApi.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
