/**
 * The assistant panel of the web dashboard's market view, in real Chromium:
 *  - against a running demo (the decision service in-process) whose store holds 1m history and recorded
 *    decisions with outcomes: the panel shows the action, confidence, strategy and reasons that
 *    GET /api/decision answers for the market on screen, and the hit ratio per horizon of that strategy's
 *    recorded decisions on that market (other strategies' and other markets' are left out); switching the
 *    market asks again. No console error or failed request is allowed.
 *  - against `serve` (split stack over the Kafka mock cluster: no decision service there, /api/decision is
 *    a 404): the panel says "decision service unavailable" with the server's message, and the chart still works.
 *  - against `serve` with `http.decisionUrl` naming a real `decide` role on the same store: serve passes the
 *    decide role's answers on (the same JSON, its 400s too), the panel shows the decision; decide stopped ->
 *    serve answers 503 decision_unavailable and the panel says so.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { systemClock } from '../src/core/clock.js';
import { defaultConfig } from '../src/config/config.js';
import type { Candle } from '../src/core/types.js';
import type { NewDecision, Outcome } from '../src/store/assistant-store.js';
import { startDemo, type Demo } from '../src/demo/demo.js';
import { startServe } from '../src/app/serve.js';
import { startDecide } from '../src/app/decide.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { chromiumAvailable, launchChromium, PageWatch } from './support/browser.js';
import { kafkaMockUnavailable } from './support/kafka/mock-cluster.js';
import { kafkaFixture } from './support/roles-fixture.js';
import { log, skipUnlessAvailable, until } from './support/harness.js';

const ARTIFACTS = join('test-artifacts');
const MIN = 60_000;
const HISTORY = 400;

interface Snapshot {
  state: 'loading' | 'ready' | 'unavailable';
  key: { exchange: string; symbol: string; timeframe: string } | null;
  decision: { action: string; confidence: number; strategy: string; reasons: string[]; asOf: number | null } | null;
  ratios: Record<string, { hits: number; scored: number }> | null;
  error: string | null;
}

const skip = skipUnlessAvailable(chromiumAvailable(), 'chromium not installed (Debian package chromium; or set CHROMIUM_PATH)');

/** Closed 1m candles of `symbol` ending the minute before `now`: a steady climb with a wave (the rules see a trend). */
function history(symbol: string, now: number, base: number): Candle[] {
  const end = Math.floor(now / MIN) * MIN - MIN;
  return Array.from({ length: HISTORY }, (_, i) => {
    const mid = base * (1 + i / 40_000) + base * 0.002 * Math.sin(i / 9);
    const open = mid * (1 - 0.0004 * Math.sin(i / 3));
    const close = mid * (1 + 0.0004 * Math.sin(i / 3));
    const f = (n: number) => n.toFixed(2);
    return {
      exchange: 'binance', symbol, timeframe: '1m', openTime: end - (HISTORY - 1 - i) * MIN,
      open: f(open), high: f(Math.max(open, close) * 1.0002), low: f(Math.min(open, close) * 0.9998), close: f(close),
      volume: (1 + (i % 5)).toFixed(8), quoteVolume: (mid * (1 + (i % 5))).toFixed(8), takerBuyVolume: '0.50000000',
      tradeCount: 10, vwap: f(mid), closed: true, source: 'trades', revision: 0,
    };
  });
}

const outcome = (hit: boolean | null, at: number): Outcome => ({ price: hit === null ? null : 100, change: hit === null ? null : 0.01, hit, scoredAt: at });

/** Recorded decisions on BTC-USDT 1m: rules 15m 3 hits of 4 (one no_data left out), 1h 1 of 2; random and ETH-USDT ones that must not count. */
async function recordDecisions(store: SqliteStore, now: number): Promise<void> {
  const base = (symbol: string, strategy: string, i: number): NewDecision => ({
    exchange: 'binance', symbol, timeframe: '1m', strategy, action: 'BUY', confidence: 0.6, price: 100, asOf: now - (10 - i) * 3_600_000,
    decidedAt: now - (10 - i) * 3_600_000, reasons: ['seeded'], features: {}, scorable: true,
  });
  const rows: [NewDecision, Record<string, Outcome>][] = [
    [base('BTC-USDT', 'rules', 0), { '15m': outcome(true, now), '1h': outcome(true, now) }],
    [base('BTC-USDT', 'rules', 1), { '15m': outcome(true, now), '1h': outcome(false, now) }],
    [base('BTC-USDT', 'rules', 2), { '15m': outcome(false, now), '1h': outcome(null, now) }],
    [base('BTC-USDT', 'rules', 3), { '15m': outcome(true, now) }],
    [base('BTC-USDT', 'rules', 4), { '15m': outcome(null, now) }],
    [base('BTC-USDT', 'random', 5), { '15m': outcome(false, now), '1h': outcome(false, now) }],
    [base('ETH-USDT', 'rules', 6), { '15m': outcome(false, now), '1h': outcome(false, now) }],
  ];
  for (const [d, outcomes] of rows) await store.assistant.setOutcomes(await store.assistant.insertDecision(d), outcomes, false); // not pending: the scorer leaves them as seeded
}

async function snapshot(page: Page): Promise<Snapshot> {
  return page.evaluate(() => (globalThis as any).candlestackDashboard.decisionState());
}

describe('the assistant panel on the market view, against a demo', { skip, timeout: 120_000 }, () => {
  let demo: Demo;
  let dir: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  let base = '';

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'candlestack-decision-panel-'));
    const db = join(dir, 'decisions.db');
    const seed = new SqliteStore(db);
    const now = Date.now();
    await seed.upsert([...history('BTC-USDT', now, 65_000), ...history('ETH-USDT', now, 3_400)]);
    await recordDecisions(seed, now);
    await seed.close();

    const config = defaultConfig();
    config.http = { host: '127.0.0.1', port: 0 };
    config.timeframes = ['1m', '5m'];
    config.candles = { ...config.candles, graceMs: 300, tickMs: 50 };
    config.store = { url: `sqlite:${db}`, flushMs: 200 };
    config.decide = { ...config.decide, horizonsMs: [15 * MIN, 60 * MIN], scoreIntervalMs: 3_600_000 };
    demo = await startDemo(config, { rate: 20, seed: 11, chaos: false, symbolsGiven: false, storeGiven: true }, { clock: systemClock, log, version: 'test' });
    base = `http://127.0.0.1:${demo.port}`;
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    watch = new PageWatch(page, base);
  });

  after(async () => {
    await context?.close();
    await browser?.close();
    await demo?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('shows the decision /api/decision answers for the market on screen, with its reasons', async () => {
    await page.goto(`${base}/#/market/binance/BTC-USDT/1m`);
    await page.waitForSelector('#decision[data-state="ready"][data-market="binance/BTC-USDT/1m"]');
    // The page and the test ask the same service; they agree once both decided on the same closed candle.
    let api: Snapshot['decision'] = null;
    let shown: Snapshot | null = null;
    await until('the panel and /api/decision to answer for the same candle', async () => {
      api = (await (await fetch(`${base}/api/decision?exchange=binance&symbol=BTC-USDT&timeframe=1m`)).json()) as Snapshot['decision'];
      shown = await snapshot(page);
      return shown.decision?.asOf === api!.asOf;
    }, 60_000, { pollMs: 1_000 });
    const d = shown!.decision!;
    assert.deepEqual({ action: d.action, confidence: d.confidence, strategy: d.strategy, reasons: d.reasons }, { action: api!.action, confidence: api!.confidence, strategy: api!.strategy, reasons: api!.reasons });
    assert.equal(d.strategy, 'rules');
    assert.ok(['BUY', 'SELL', 'HOLD'].includes(d.action));
    assert.notDeepEqual(d.reasons, ['stale_data'], 'the stored history is fresh: a real decision, not the stale-data hold');
    // What a person sees: the action word, the strategy and every reason.
    assert.equal(await page.textContent('#decision .action'), d.action);
    assert.equal(await page.getAttribute('#decision', 'data-action'), d.action);
    assert.match((await page.textContent('#decision .decision-head'))!, new RegExp(`confidence ${Math.round(d.confidence * 100)}% · strategy rules`));
    assert.deepEqual(await page.$$eval('#decision .reasons li', (els) => els.map((e) => e.textContent)), d.reasons);
  });

  test('shows the hit ratio of that strategy on that market per horizon, as /api/decisions scores it', async () => {
    const s = await snapshot(page);
    // Seeded: rules on BTC-USDT 1m, 15m: 3 hits of 4 scored; 1h: 1 of 2 (no_data, random and ETH-USDT left out).
    // The demo may record live decisions too, but none is scored within the test (scoreInterval 1 h).
    assert.deepEqual(s.ratios, { '15m': { hits: 3, scored: 4 }, '1h': { hits: 1, scored: 2 } });
    assert.equal(await page.textContent('#decision .ratio[data-horizon="15m"]'), '15m 75% of 4');
    assert.equal(await page.textContent('#decision .ratio[data-horizon="1h"]'), '1h 50% of 2');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-decision.png') });
  });

  test('switching the market asks the decision service about the new one', async () => {
    await page.selectOption('#pick-symbol', 'ETH-USDT');
    await page.waitForSelector('#decision[data-state="ready"][data-market="binance/ETH-USDT/1m"]');
    const s = await snapshot(page);
    assert.deepEqual(s.key, { exchange: 'binance', symbol: 'ETH-USDT', timeframe: '1m' });
    assert.deepEqual(s.ratios, { '15m': { hits: 0, scored: 1 }, '1h': { hits: 0, scored: 1 } }, "ETH-USDT's own recorded decision");
    const api = (await (await fetch(`${base}/api/decision?exchange=binance&symbol=ETH-USDT&timeframe=1m`)).json()) as { strategy: string };
    assert.equal(s.decision?.strategy, api.strategy);
    assert.deepEqual(watch.problems(), []);
  });
});

describe('the assistant panel against serve (split stack)', { skip, timeout: 120_000 }, () => {
  test('says "decision service unavailable" with the server\'s message; the chart still draws', async (t) => {
    const why = kafkaMockUnavailable();
    const reason = skipUnlessAvailable(why === undefined, why ?? '');
    if (reason) return t.skip(reason);
    mkdirSync(ARTIFACTS, { recursive: true });
    const fx = await kafkaFixture(13, { symbols: ['BTC-USDT'] });
    const seed = new SqliteStore(join(fx.dir, 'roles.db'));
    await seed.upsert(history('BTC-USDT', Date.now(), 65_000));
    await seed.close();
    const serve = await startServe(fx.config, { clock: systemClock, log, version: 'test' });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      const base = `http://127.0.0.1:${serve.port}`;
      const watch = new PageWatch(page, base);
      await page.goto(`${base}/#/market/binance/BTC-USDT/1m`);
      await page.waitForSelector('#chart[data-ready="true"][data-market="binance/BTC-USDT/1m"]');
      await page.waitForSelector('#decision[data-state="unavailable"]');
      assert.equal(await page.textContent('#decision .action'), 'decision service unavailable');
      const s = await snapshot(page);
      assert.equal(s.decision, null);
      assert.match(s.error ?? '', /\/api\/decision: no route \/api\/decision/, "the server's own message");
      assert.match((await page.textContent('#decision .decision-error'))!, /no route \/api\/decision.*retrying every 30 s/);
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-decision-unavailable.png') });
      // The 404 itself is the browser's one console line about it; nothing else went wrong.
      const problems = watch.problems().filter((p) => !/status of 404/.test(p));
      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
      await serve.stop();
      await fx.cleanup();
    }
  });

  test('with http.decisionUrl serve answers the decision routes from a decide role: the panel shows its decision', async (t) => {
    const why = kafkaMockUnavailable();
    const reason = skipUnlessAvailable(why === undefined, why ?? '');
    if (reason) return t.skip(reason);
    const fx = await kafkaFixture(14, { symbols: ['BTC-USDT'] });
    const seed = new SqliteStore(join(fx.dir, 'roles.db'));
    await seed.upsert(history('BTC-USDT', Date.now(), 65_000));
    await seed.close();
    const decide = await startDecide({ ...fx.config, http: { ...fx.config.http, port: 0 } }, { clock: systemClock, log, version: 'test' });
    const serve = await startServe({ ...fx.config, http: { ...fx.config.http, decisionUrl: `http://127.0.0.1:${decide.port}` } }, { clock: systemClock, log, version: 'test' });
    const browser = await launchChromium();
    let decideStopped = false;
    try {
      const base = `http://127.0.0.1:${serve.port}`;
      const q = '?exchange=binance&symbol=BTC-USDT&timeframe=1m';
      const direct = await fetch(`http://127.0.0.1:${decide.port}/api/decision${q}`);
      const via = await fetch(`${base}/api/decision${q}`);
      assert.equal(via.status, 200);
      const [a, b] = [(await direct.json()) as any, (await via.json()) as any];
      assert.deepEqual({ ...b, features: undefined }, { ...a, features: undefined }, 'serve passes the decide role\'s answer on');
      const bad = await fetch(`${base}/api/decision?exchange=binance&symbol=BTC-USDT&timeframe=7m`);
      assert.equal(bad.status, 400, 'a bad parameter is still decide\'s 400');
      assert.match(JSON.stringify(await bad.json()), /timeframe/);
      assert.equal((await fetch(`${base}/api/decisions?exchange=binance&symbol=BTC-USDT`)).status, 200);

      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      const watch = new PageWatch(page, base);
      await page.goto(`${base}/#/market/binance/BTC-USDT/1m`);
      await page.waitForSelector('#decision[data-state="ready"][data-market="binance/BTC-USDT/1m"]');
      const s = await snapshot(page);
      assert.equal(s.decision?.strategy, a.strategy);
      assert.ok(['BUY', 'SELL', 'HOLD'].includes(s.decision?.action ?? ''), `an action: ${JSON.stringify(s.decision)}`);
      assert.deepEqual(watch.problems(), []);

      await decide.stop();
      decideStopped = true;
      const gone = await fetch(`${base}/api/decision${q}`);
      assert.equal(gone.status, 503);
      assert.equal(((await gone.json()) as any).error.code, 'decision_unavailable');
    } finally {
      await browser.close();
      await serve.stop();
      if (!decideStopped) await decide.stop();
      await fx.cleanup();
    }
  });
});
