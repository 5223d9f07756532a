/**
 * The bot's messages (src/assistant/notifier/format.ts): escaped for Telegram's HTML, valid as Telegram parses
 * it (the local Bot API server's checker), within 4,096 characters however long the input; and the command
 * parser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { alertsMessage, BUTTON_TEXT, decisionMessage, escapeHtml, fitMessage, healthMessage, MAX_MESSAGE_CHARS } from '../src/assistant/notifier/format.js';
import { parseCommand } from '../src/assistant/notifier/notifier.js';
import { redactor, redactValue, REDACTED } from '../src/assistant/notifier/redact.js';
import { htmlError } from './support/telegram-bot-api.js';

const NOW = Date.parse('2026-12-03T12:00:00Z');

test('escapeHtml: markup in a value is shown, not parsed', () => {
  assert.equal(escapeHtml('<b>x</b> & "y"'), '&lt;b&gt;x&lt;/b&gt; &amp; &quot;y&quot;');
  assert.equal(htmlError(`<b>${escapeHtml('a<b>&c')}</b>`), null);
  assert.notEqual(htmlError('<b>a<b>&c</b>'), null, 'the checker refuses what Telegram refuses');
});

test('a decision with hostile, endless reasons is valid HTML within 4096 characters', () => {
  fc.assert(
    fc.property(fc.array(fc.string({ maxLength: 2000 }), { maxLength: 30 }), fc.string({ maxLength: 300 }), (reasons, strategy) => {
      const text = decisionMessage({ exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', action: 'BUY', confidence: 0.7, strategy, reasons, price: '43210.5', asOf: NOW - 30_000 }, NOW);
      assert.ok(text.length <= MAX_MESSAGE_CHARS, `${text.length} characters`);
      assert.equal(htmlError(text), null, text.slice(0, 200));
      assert.match(text, /<b>BUY<\/b> BTC-USDT on binance · confidence 70%/);
    }),
    { numRuns: 200 },
  );
});

test('an alert group of 500 alerts is cut at a line boundary, says how many lines were left out, and stays valid', () => {
  const alerts = Array.from({ length: 500 }, (_, i) => ({ status: i % 3 ? ('firing' as const) : ('resolved' as const), alertname: `Alert<${i}>`, severity: 'warning', summary: `summary & details ${'x'.repeat(50)}`, detail: `exchange=binance symbol=S${i}` }));
  const text = alertsMessage('alertname=FeedDown', alerts);
  assert.ok(text.length <= MAX_MESSAGE_CHARS);
  assert.equal(htmlError(text), null);
  assert.match(text, /… \d+ more lines$/);
  assert.match(text.split('\n')[0]!, /🔥 333 firing · ✅ 167 resolved/);
  assert.match(text, /Alert&lt;1&gt;/);
});

test('fitMessage: one line longer than the limit is cut outside its tags and entities', () => {
  const text = fitMessage([`<b>${escapeHtml('&'.repeat(5000))}</b>`]);
  assert.ok(text.length <= MAX_MESSAGE_CHARS);
  assert.equal(htmlError(text), null);
  assert.ok(text.endsWith('…'));
});

test('health: feeds, quality, the decision service and firing alerts; market data down is said', () => {
  const text = healthMessage(
    { report: { status: 'degraded', reasons: ['feed okx#0 is reconnecting'], feeds: [{ exchange: 'okx', connection: '0', state: 'down', lastMessageAgeMs: 120_000 }] }, reportError: null, quality: [{ exchange: 'binance', symbol: 'BTC-USDT', score: 0.42, failing: ['staleness'] }], qualityError: null, decisionUp: false, decisionError: 'decide is not answering' },
    [{ alertname: 'FeedDown', severity: 'critical', summary: 'Feed <okx> down', startsAt: NOW - 600_000 }],
    NOW,
  );
  assert.equal(htmlError(text), null);
  for (const part of ['Market data: degraded', 'okx 0: down, last message 2 min ago', 'quality BTC-USDT on binance: 42% (failing: staleness)', 'Decision service: decide is not answering', '1 alert firing', 'FeedDown</b> (critical, since 10 min ago): Feed &lt;okx&gt; down']) assert.ok(text.includes(part), `${part} in ${text}`);
  const down = healthMessage({ report: null, reportError: 'serve is not answering', quality: null, qualityError: null, decisionUp: true, decisionError: null }, [], NOW);
  assert.match(down, /Market data unavailable<\/b>: serve is not answering/);
  assert.match(down, /No alerts firing/);
});

test('parseCommand: the button, commands with @bot and arguments, anything else', () => {
  assert.deepEqual(parseCommand(` ${BUTTON_TEXT} `), { command: 'button', args: '', text: BUTTON_TEXT });
  assert.deepEqual(parseCommand('/price@candlestack_bot okx:ETH-USDT'), { command: 'price', args: 'okx:ETH-USDT', text: '/price@candlestack_bot okx:ETH-USDT' });
  assert.equal(parseCommand('/DECISION btcusdt').command, 'decision');
  assert.equal(parseCommand('/subscribe').command, 'subscribe');
  assert.equal(parseCommand('/nope').command, 'other');
  assert.equal(parseCommand('hello').command, 'other');
});

test('redaction: the token and its secret half vanish from messages, stacks and causes', () => {
  const token = '123456789:AAHfakefakefakefakefakefakefake_-12';
  const redact = redactor([token]);
  const err = new Error(`request to https://api.telegram.org/bot${token}/getMe failed`, { cause: new Error(`secret ${token.split(':')[1]}`) });
  const out = JSON.stringify(redactValue({ err, note: `token=${token}` }, redact));
  assert.ok(!out.includes(token.split(':')[1]!), out);
  assert.ok(out.includes(REDACTED));
});
