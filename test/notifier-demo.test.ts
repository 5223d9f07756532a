/**
 * The Telegram notifier inside `demo` (the same root as `run`), started because a bot token is configured,
 * against a local Bot API server speaking Telegram's wire format (long polling getUpdates, sendMessage with
 * reply_markup, callback queries, 429 with retry_after). The bot asks the demo's own API over HTTP, as it asks
 * `serve` in the split roles. Chats: 111 is allowed, 999 is not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../src/core/clock.js';
import { defaultConfig } from '../src/config/config.js';
import { startDemo, type Demo } from '../src/demo/demo.js';
import { BUTTON_TEXT } from '../src/assistant/notifier/format.js';
import { until } from './support/harness.js';
import { TelegramBotApiServer } from './support/telegram-bot-api.js';
import { capturedLog, metricValue, postAlerts, TOKEN, TOKEN_SECRET, webhookBody } from './support/notifier-rig.js';

const ALLOWED = 111;
const STRANGER = 999;

test('notifier in the demo: keyboard, allow-list, prices, market choice, alerts to subscribers, 429 retry_after, no token in the logs', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-notifier-'));
  const botApi = await new TelegramBotApiServer(TOKEN).start();
  const { log, lines } = capturedLog();
  let demo: Demo | null = null;
  try {
    const config = defaultConfig();
    config.http = { host: '127.0.0.1', port: 0 };
    config.timeframes = ['1s', '1m'];
    config.candles = { ...config.candles, graceMs: 200, tickMs: 50 };
    config.store = { url: 'sqlite::memory:', flushMs: 100 };
    config.telegram = { ...config.telegram, token: TOKEN, apiUrl: botApi.url, allowedChats: [ALLOWED], timeframe: '1s', stateFile: join(dir, 'state.json') };
    demo = await startDemo(config, { rate: 100, seed: 3, chaos: false, symbolsGiven: false, storeGiven: true }, { clock: systemClock, log, version: 'test' });
    const api = `http://127.0.0.1:${demo.port}`;
    const registry = demo.metrics.registry;
    await until('the bot polling', () => botApi.calls.some((c) => c.method === 'getUpdates'), 10_000);
    assert.ok(botApi.calls.some((c) => c.method === 'getMe'), 'getMe first');
    // The demo's candles exist before the bot is asked for a price.
    // A closed one (a forming candle is served too, and the decision needs a closed candle in the store).
    await until('a closed 1s candle', async () => ((await (await fetch(`${api}/api/candles?symbol=BTC-USDT&timeframe=1s&limit=5`)).json()) as any).candles.some((c: { closed: boolean }) => c.closed), 15_000);

    await t.test('/start: the help and the reply keyboard with "What should I do with crypto?"', async () => {
      const from = botApi.sent.length;
      botApi.message(ALLOWED, '/start');
      const reply = await botApi.waitForMessage((m) => m.chatId === ALLOWED, 10_000, from);
      assert.equal(reply.parseMode, 'HTML');
      assert.equal(reply.replyMarkup.keyboard[0][0].text, BUTTON_TEXT);
      assert.equal(reply.replyMarkup.resize_keyboard, true);
      for (const c of ['/price SYMBOL', '/decision SYMBOL', '/health', '/subscribe', '/unsubscribe']) assert.ok(reply.text.includes(c), c);
    });

    await t.test('a chat not on the allow-list gets one refusal, is counted, and its text is never logged', async () => {
      const from = botApi.sent.length;
      botApi.message(STRANGER, '/price BTC-USDT my-secret-words');
      botApi.message(STRANGER, 'more-secret-words');
      await until('two refusals counted', async () => (await metricValue(registry, 'candlestack_notifier_unauthorized_total')) === 2, 10_000);
      const refusal = await botApi.waitForMessage((m) => m.chatId === STRANGER, 5_000, from);
      assert.match(refusal.text, /only answers the chats it was set up for/);
      assert.match(refusal.text, /Chat id 999/);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(botApi.sentTo(STRANGER).length, 1, 'one refusal, not one per message');
      const logged = lines.filter((l) => l.includes('999') && l.includes('refused'));
      assert.equal(logged.length, 2);
      assert.ok(!lines.some((l) => l.includes('secret-words')), 'message texts never logged');
    });

    await t.test('/price BTC-USDT: the last close from the market-data API, with its time', async () => {
      const from = botApi.sent.length;
      botApi.message(ALLOWED, '/price btcusdt');
      const reply = await botApi.waitForMessage((m) => m.chatId === ALLOWED, 10_000, from);
      assert.match(reply.text, /^<b>BTC-USDT<\/b> on binance: <code>\d+(\.\d+)?<\/code>\n1s candle (closed|forming) · as of \d\d:\d\d:\d\d UTC/);
      const unknown = botApi.sent.length;
      botApi.message(ALLOWED, '/price DOGE-EUR');
      assert.match((await botApi.waitForMessage((m) => m.chatId === ALLOWED, 10_000, unknown)).text, /Unknown market &quot;DOGE-EUR&quot;\. Watched: binance:BTC-USDT/);
    });

    await t.test('the button with several markets and no default: an inline keyboard of markets; a press answers the callback query', async () => {
      const from = botApi.sent.length;
      botApi.message(ALLOWED, BUTTON_TEXT);
      const ask = await botApi.waitForMessage((m) => m.chatId === ALLOWED, 10_000, from);
      assert.match(ask.text, /Which market\?/);
      const buttons = ask.replyMarkup.inline_keyboard.flat();
      assert.ok(buttons.length >= 5, 'one button per demo market');
      assert.deepEqual(buttons[0], { text: 'BTC-USDT (binance)', callback_data: 'd:binance:BTC-USDT' });
      const answered = botApi.callbackAnswers.length;
      const pressed = botApi.sent.length;
      botApi.press(ALLOWED, 'p:binance:ETH-USDT');
      const reply = await botApi.waitForMessage((m) => m.chatId === ALLOWED, 10_000, pressed);
      assert.match(reply.text, /<b>ETH-USDT<\/b> on binance: <code>/);
      assert.equal(botApi.callbackAnswers.length, answered + 1, 'answerCallbackQuery called');
      // The decision: the demo's in-process decision service, asked over its API.
      const decided = botApi.sent.length;
      botApi.press(ALLOWED, buttons[0].callback_data);
      const decision = await botApi.waitForMessage((m) => m.chatId === ALLOWED, 10_000, decided);
      assert.match(decision.text, /^(🟢|🔴|⚪) <b>(BUY|SELL|HOLD)<\/b> BTC-USDT on binance · confidence \d+%\n(Price <code>\d+(\.\d+)?<\/code> · as of \d\d:\d\d:\d\d UTC|Price: no closed candle yet)/);
      assert.match(decision.text, /\nWhy:\n• \S+/);
      assert.equal(botApi.callbackAnswers.length, answered + 2);
    });

    await t.test('alerts: forwarded to subscribed chats once firing and once resolved, repeats deduplicated', async () => {
      const from = botApi.sent.length;
      botApi.message(ALLOWED, '/subscribe');
      assert.match((await botApi.waitForMessage((m) => m.chatId === ALLOWED, 10_000, from)).text, /Subscribed/);
      assert.deepEqual(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')), { subscribedChats: [ALLOWED] }, 'kept in telegram.stateFile');
      const firing = webhookBody('firing', [
        { alertname: 'FeedDown', severity: 'critical', fingerprint: 'a1', labels: { exchange: 'okx', connection: '0' }, summary: 'Feed okx shard 0 is down' },
        { alertname: 'FeedDown', severity: 'critical', fingerprint: 'a2', labels: { exchange: 'okx', connection: '1' }, summary: 'Feed okx shard 1 is down' },
      ]);
      const afterSub = botApi.sent.length;
      assert.equal((await postAlerts(api, firing)).status, 200);
      const msg = await botApi.waitForMessage((m) => m.chatId === ALLOWED, 10_000, afterSub);
      assert.match(msg.text, /^<b>🔥 2 firing<\/b>/);
      assert.match(msg.text, /🔥 <b>FeedDown<\/b> \[critical\] exchange=okx connection=0 instance=|🔥 <b>FeedDown<\/b> \[critical\] exchange=okx connection=0: Feed okx shard 0 is down/);
      assert.ok(msg.text.includes('Feed okx shard 1 is down'));
      // Alertmanager repeats the group (repeat_interval, an HA twin): nothing new is sent.
      const beforeRepeat = botApi.sent.length;
      assert.equal((await postAlerts(api, firing)).status, 200);
      await until('the repeat counted', async () => (await metricValue(registry, 'candlestack_notifier_alerts_deduplicated_total')) === 2, 5_000);
      // The Watchdog is never forwarded.
      assert.equal((await postAlerts(api, webhookBody('firing', [{ alertname: 'Watchdog', severity: 'none', fingerprint: 'w' }]))).status, 200);
      const resolved = webhookBody('resolved', [{ alertname: 'FeedDown', severity: 'critical', fingerprint: 'a1', labels: { exchange: 'okx', connection: '0' }, summary: 'Feed okx shard 0 is down' }]);
      assert.equal((await postAlerts(api, resolved)).status, 200);
      const res = await botApi.waitForMessage((m) => m.chatId === ALLOWED, 10_000, beforeRepeat);
      assert.match(res.text, /^<b>✅ 1 resolved<\/b>/);
      assert.equal(botApi.sentTo(ALLOWED).length - botApi.sent.slice(0, beforeRepeat).filter((m) => m.chatId === ALLOWED).length, 1, 'only the resolution was sent after the repeat');
      assert.equal(await metricValue(registry, 'candlestack_notifier_alerts_forwarded_total', { status: 'firing' }), 2);
      assert.equal(await metricValue(registry, 'candlestack_notifier_alerts_forwarded_total', { status: 'resolved' }), 1);
      assert.equal(await metricValue(registry, 'candlestack_alerts_received_total', { status: 'firing', severity: 'critical' }), 4, 'the receiver still counts every alert');
      // /health lists what is still firing (a2).
      const h = botApi.sent.length;
      botApi.message(ALLOWED, '/health');
      const health = await botApi.waitForMessage((m) => m.chatId === ALLOWED, 10_000, h);
      assert.match(health.text, /1 alert firing/);
      assert.match(health.text, /Market data: (ok|degraded)/);
    });

    await t.test('Telegram answers 429: the retry_after is waited, then the message is delivered and the error counted', async () => {
      const errorsBefore = await metricValue(registry, 'candlestack_notifier_send_errors_total', { kind: 'reply', reason: 'rate_limited' });
      botApi.rateLimit('sendMessage', 1, 1);
      const from = botApi.sent.length;
      const asked = Date.now();
      botApi.message(ALLOWED, '/help');
      const reply = await botApi.waitForMessage((m) => m.chatId === ALLOWED, 10_000, from);
      assert.ok(reply.at - asked >= 1_000, `sent again after retry_after (${reply.at - asked} ms)`);
      // The /help reply's sends only: under load an earlier reply may still be resent (after a client timeout) in the same window.
      const limited = botApi.calls.filter((c) => c.method === 'sendMessage' && c.at >= asked && Number(c.params.chat_id) === ALLOWED && String(c.params.text).startsWith('<b>candlestack assistant</b>'));
      assert.equal(limited.length, 2, `one refused attempt, one delivered: ${JSON.stringify(limited.map((c) => String(c.params.text).slice(0, 40)))}`);
      assert.ok(limited[1]!.at - limited[0]!.at >= 1_000, 'nothing sent during retry_after');
      assert.equal(await metricValue(registry, 'candlestack_notifier_send_errors_total', { kind: 'reply', reason: 'rate_limited' }), errorsBefore + 1);
    });

    await t.test('a message Telegram refuses for good is counted undeliverable and logged with the chat, not its text', async () => {
      botApi.fail('sendMessage', 1, 403);
      botApi.message(ALLOWED, '/help');
      await until('undeliverable counted', async () => (await metricValue(registry, 'candlestack_notifier_messages_undeliverable_total', { kind: 'reply' })) === 1, 10_000);
      assert.ok(lines.some((l) => l.includes('"level":50') && l.includes(`message to chat ${ALLOWED} undeliverable`)));
    });

    await t.test('the token never reaches a log line', () => {
      assert.ok(lines.length > 5, `${lines.length} lines logged`);
      const leaked = lines.filter((l) => l.includes(TOKEN_SECRET));
      assert.deepEqual(leaked, [], "no log line carries the token");
    });
  } finally {
    await demo?.stop();
    await botApi.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
