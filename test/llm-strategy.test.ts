/**
 * The `llm` strategy against a local OpenAI-compatible server (test/support/fake-llm.ts) through the decide
 * role: the prompt carries the features, the key is a bearer token read from the environment or a file and
 * never logged, a parsable answer is the decision, and a timeout, an error status, an unparsable answer or an
 * open breaker fall back to `rules`, counted by reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { defaultConfig } from '../src/config/config.js';
import { startDecide } from '../src/app/decide.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { parseAnswer, llmApiKey } from '../src/assistant/llm-strategy.js';
import { ConfigError } from '../src/core/errors.js';
import type { Logger } from '../src/telemetry/logger.js';
import { FakeClock } from './support/fake-clock.js';
import { FakeLlmServer, type FakeAnswer } from './support/fake-llm.js';
import { loadKlines } from './support/klines.js';
import { metricValue } from './support/metrics.js';

const MIN = 60_000;
const KEY = 'sk-test-SECRET-0123456789';

test('llm strategy through the decide role: prompt with features, bearer key, answer used; every failure falls back to rules and is counted; the key is never logged', async (t) => {
  const llm = new FakeLlmServer();
  const baseUrl = await llm.start();
  t.after(() => llm.stop());
  const dir = mkdtempSync(join(tmpdir(), 'llm-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const candles = loadKlines('XRPETH-1m-2019-10-11.json', 'BTC-USDT', '1m');
  const clock = new FakeClock(candles.at(-1)!.openTime + MIN + 5_000);
  const store = new SqliteStore(join(dir, 'c.db'), () => clock.now());
  await store.upsert(candles);
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) })) as unknown as Logger;
  const config = defaultConfig();
  config.http.port = 0;
  config.decide.strategy = 'llm';
  config.decide.llm = { baseUrl, model: 'gpt-test', apiKeyFile: null, timeoutMs: 300 };
  config.breakers.overrides.decide_llm = { failureThreshold: 3, openMs: 60_000 };
  const app = await startDecide(config, { clock, log, version: 'test', store, env: { CANDLESTACK_LLM_API_KEY: KEY } });
  t.after(async () => {
    await app.stop();
    await store.close();
  });
  const decide = async () => (await (await fetch(`http://127.0.0.1:${app.port}/api/decision?symbol=BTC-USDT`)).json()) as any;

  llm.answer = { content: '{"action":"sell","confidence":0.8,"reason":"momentum is fading"}' };
  const d = await decide();
  assert.deepEqual([d.action, d.confidence, d.strategy, d.reasons], ['SELL', 0.8, 'llm', ['llm: momentum is fading']]);
  const req = llm.seen[0]!;
  assert.equal(req.authorization, `Bearer ${KEY}`);
  assert.equal(req.body.model, 'gpt-test');
  const prompt = JSON.parse(req.body.messages!.find((m) => m.role === 'user')!.content);
  assert.deepEqual(Object.keys(prompt.features), Object.keys(d.features));
  assert.equal(prompt.price, d.price);

  llm.answer = { content: 'BUY. Breakout above the upper band.' };
  assert.deepEqual([(await decide()).action, (await decide()).reasons[0]], ['BUY', 'llm: Breakout above the upper band.']);

  const fallbacks: [FakeAnswer, string][] = [
    [{ content: 'I would rather not say.' }, 'unparsable'],
    [{ status: 500 }, 'status'],
    [{ delayMs: 600, content: '{"action":"BUY"}' }, 'timeout'],
  ];
  for (const [answer, reason] of fallbacks) {
    llm.answer = answer;
    const started = Date.now();
    const f = await decide();
    assert.ok(Date.now() - started < 1_500, `${reason}: answered within the timeout, not after it`);
    assert.equal(f.strategy, 'rules', reason);
    assert.equal(f.reasons[0], `llm_fallback: ${reason}`);
    assert.ok(['BUY', 'SELL', 'HOLD'].includes(f.action));
    assert.equal(await metricValue(app.metrics, 'candlestack_decision_llm_fallbacks_total', { reason }), 1, reason);
  }
  // 500 and the timeout were 2 consecutive failures; one more opens the decide_llm breaker: no call at all then.
  llm.answer = { hangUp: true };
  assert.equal((await decide()).reasons[0], 'llm_fallback: error');
  const calls = llm.seen.length;
  assert.equal((await decide()).reasons[0], 'llm_fallback: circuit_open');
  assert.equal(llm.seen.length, calls, 'the open breaker sends nothing');
  assert.equal(await metricValue(app.metrics, 'candlestack_circuit_breaker_state', { component: 'decide_llm' }), 1);
  assert.equal(await metricValue(app.metrics, 'candlestack_http_client_requests_total', { target: 'llm', outcome: '200' }), 4);
  assert.equal(await metricValue(app.metrics, 'candlestack_decisions_total', { strategy: 'rules' }), 5, 'fallbacks count as rules decisions');
  assert.ok(lines.some((l) => /falling back to rules/.test(l)));
  assert.ok(!lines.join('').includes('SECRET'), 'the API key appears in no log line');
});

test('llm API key: from the file when decide.llm.apiKeyFile is set (trimmed), else the environment; an unreadable file is a ConfigError naming the field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llm-key-'));
  try {
    const file = join(dir, 'key');
    writeFileSync(file, `${KEY}\n`);
    assert.equal(llmApiKey({ apiKeyFile: file }, { CANDLESTACK_LLM_API_KEY: 'other' }), KEY);
    assert.equal(llmApiKey({ apiKeyFile: null }, { CANDLESTACK_LLM_API_KEY: ' k ' }), 'k');
    assert.equal(llmApiKey({ apiKeyFile: null }, {}), undefined, 'local servers need none');
    assert.throws(() => llmApiKey({ apiKeyFile: join(dir, 'missing') }, {}), (e: unknown) => e instanceof ConfigError && e.field === 'decide.llm.apiKeyFile' && !e.message.includes(KEY));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('parseAnswer: JSON (also fenced) or text starting with the action; anything else is null', () => {
  const body = (content: unknown) => ({ choices: [{ message: { role: 'assistant', content } }] });
  assert.deepEqual(parseAnswer(body('```json\n{"action":"HOLD","confidence":2,"reason":"flat"}\n```')), { action: 'HOLD', confidence: 0.5, reasons: ['llm: flat'] });
  assert.deepEqual(parseAnswer(body('hold')), { action: 'HOLD', confidence: 0.5, reasons: ['llm: no reason given'] });
  for (const bad of [body('{"action":"SHORT"}'), body('Maybe buy?'), body(42), { choices: [] }, null, 'x']) assert.equal(parseAnswer(bad), null, JSON.stringify(bad));
});
