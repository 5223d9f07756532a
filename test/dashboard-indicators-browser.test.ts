/**
 * Indicator overlays on the web dashboard, in real Chromium against a running demo whose store holds 1m
 * history with the indicator values the real IndicatorEngine computed over it: the page offers exactly the
 * drawable indicators the server lists, the overlay lines hold the values /api/indicators returns for the
 * loaded candles (SMA/EMA/Bollinger on the price pane, RSI and MACD in panes of their own), live values
 * arrive over /ws, each toggle hides and shows its overlay from the keyboard and is remembered across a
 * reload, and the page still fits a phone. No console error or failed request is allowed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { systemClock } from '../src/core/clock.js';
import { defaultConfig } from '../src/config/config.js';
import type { Candle, IndicatorEvent, IndicatorValues } from '../src/core/types.js';
import { startDemo, type Demo } from '../src/demo/demo.js';
import { IndicatorEngine } from '../src/pipeline/indicators/engine.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { IndicatorRow } from '../src/store/store.js';
import { chromiumAvailable, launchChromium, PageWatch } from './support/browser.js';
import { log, skipUnlessAvailable, sleep, testMetrics, until } from './support/harness.js';

const ARTIFACTS = join('test-artifacts');
const MIN = 60_000;
const HISTORY = 700;
const MARKET = 'binance/BTC-USDT/1m';
const ready = `#chart[data-ready="true"][data-market="${MARKET}"]`;

type Lines = Record<string, { time: number; value: number }[]>;
interface Drawn {
  pane: number;
  lines: Lines;
}
interface State {
  loading: boolean;
  names: string[];
  offered: string[];
  enabled: string[];
  panes: number;
}
interface ApiIndicators {
  names: string[];
  indicators: { openTime: number; values: Record<string, IndicatorValues> }[];
}

const skip = skipUnlessAvailable(chromiumAvailable(), 'chromium not installed (Debian package chromium; or set CHROMIUM_PATH)');

/** Closed BTCUSDT 1m candles ending the minute before `now`, waving around the simulator's 65 000. */
function history(now: number): Candle[] {
  const end = Math.floor(now / MIN) * MIN - MIN;
  return Array.from({ length: HISTORY }, (_, i) => {
    const mid = 64_500 + 300 * Math.sin(i / 40) + 80 * Math.sin(i / 7);
    const open = mid - 25 * Math.sin(i / 3);
    const close = mid + 25 * Math.sin(i / 3);
    const f = (n: number) => n.toFixed(2);
    return {
      exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', openTime: end - (HISTORY - 1 - i) * MIN,
      open: f(open), high: f(Math.max(open, close) + 12), low: f(Math.min(open, close) - 12), close: f(close),
      volume: (1 + (i % 5)).toFixed(8), quoteVolume: (mid * (1 + (i % 5))).toFixed(8), takerBuyVolume: '0.50000000',
      tradeCount: 10, vwap: f(mid), closed: true, source: 'trades', revision: 0,
    };
  });
}

/** The values the real engine computes over `candles`, as the store keeps them. */
function indicatorRows(candles: readonly Candle[]): IndicatorRow[] {
  const events: IndicatorEvent[] = [];
  const engine = new IndicatorEngine({ specs: defaultConfig().indicators.specs, forming: false, history: 500, metrics: testMetrics().indicators, log, emit: (e) => events.push(e) });
  for (const candle of candles) engine.onCandle({ type: 'candle', kind: 'close', candle });
  return events.flatMap((e) => Object.entries(e.values).map(([name, values]) => ({ exchange: e.exchange, symbol: e.symbol, timeframe: e.timeframe, openTime: e.openTime, name, values })));
}


describe('indicator overlays on the web dashboard in Chromium', { skip, timeout: 120_000 }, () => {
  let demo: Demo;
  let dir: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  let base = '';

  const drawn = (name: string): Promise<Drawn | null> => page.evaluate((n) => (globalThis as any).candlestackDashboard.indicatorSeries(n), name);
  const state = (): Promise<State> => page.evaluate(() => (globalThis as any).candlestackDashboard.indicatorState());
  const bars = (): Promise<{ time: number }[]> => page.evaluate(() => (globalThis as any).candlestackDashboard.chartData().bars);
  const api = async (q: string): Promise<ApiIndicators> => (await (await fetch(`${base}/api/indicators?exchange=binance&symbol=BTCUSDT&timeframe=1m&${q}`)).json()) as ApiIndicators;
  const toggle = (name: string) => `#overlays button[data-indicator="${name}"]`;
  /** Pixels of the SMA's yellow (#f0b90b, antialiased included) on the chart's canvases: a drawn line leaves many. */
  const yellow = (): Promise<number> =>
    page.evaluate(() => {
      const doc = (globalThis as any).document;
      // Read through one scratch canvas made for readback (reading the chart's own canvases repeatedly warns).
      const scratch = doc.createElement('canvas');
      const ctx = scratch.getContext('2d', { willReadFrequently: true });
      let n = 0;
      for (const canvas of doc.querySelectorAll('#chart canvas')) {
        if (canvas.width === 0 || canvas.height === 0) continue;
        scratch.width = canvas.width;
        scratch.height = canvas.height;
        ctx.drawImage(canvas, 0, 0);
        const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
        for (let i = 0; i < data.length; i += 4) if (data[i] > 150 && data[i + 1] > 110 && data[i + 2] < 70 && data[i] - data[i + 1] > 25) n++;
      }
      return n;
    });
  /** After the chart's next frames (it draws on animation frames). */
  const frames = () => page.evaluate(() => new Promise((r) => (globalThis as any).requestAnimationFrame(() => (globalThis as any).requestAnimationFrame(r))));
  const loaded = async () => {
    await page.waitForSelector(ready);
    await until('the indicator history', async () => !(await state()).loading);
  };

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'candlestack-overlays-'));
    const db = join(dir, 'overlays.db');
    const seed = new SqliteStore(db);
    const candles = history(Date.now());
    await seed.upsert(candles);
    await seed.upsertIndicators(indicatorRows(candles));
    await seed.close();

    const config = defaultConfig();
    config.http = { host: '127.0.0.1', port: 0 };
    config.timeframes = ['1m', '5m'];
    config.candles = { ...config.candles, graceMs: 300, tickMs: 50 };
    config.store = { url: `sqlite:${db}`, flushMs: 200 };
    demo = await startDemo(config, { rate: 40, seed: 7, chaos: false, symbolsGiven: false, storeGiven: true }, { clock: systemClock, log, version: 'test' });
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

  test('offers the drawable indicators the server lists, with SMA, EMA, Bollinger and RSI on by default', async () => {
    await page.goto(`${base}/#/market/${MARKET}`);
    await loaded();
    const s = await state();
    assert.deepEqual(s.names, (await api('limit=1')).names, 'the names come from /api/indicators');
    assert.deepEqual(s.offered, ['sma20', 'ema20', 'rsi14', 'macd12_26_9', 'bb20_2', 'vwap'], 'ATR (no overlay) is not offered');
    assert.deepEqual(s.enabled, ['sma20', 'ema20', 'rsi14', 'bb20_2']);
    assert.equal(await page.locator('#overlays button').count(), 6);
    assert.equal(await page.getAttribute(toggle('sma20'), 'aria-pressed'), 'true');
    assert.equal(await page.getAttribute(toggle('macd12_26_9'), 'aria-pressed'), 'false');
    assert.equal(s.panes, 2, 'price pane and the RSI pane');
    assert.equal((await drawn('sma20'))?.pane, 0);
    assert.equal((await drawn('bb20_2'))?.pane, 0);
    assert.equal((await drawn('rsi14'))?.pane, 1);
    assert.equal(await drawn('macd12_26_9'), null, 'MACD is off');
    await frames();
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-overlays.png') });
    assert.ok((await yellow()) > 100, `the SMA line is painted (${await yellow()} pixels)`);
  });

  test('the overlay lines hold exactly the values /api/indicators returns for the loaded candles', async () => {
    // A value can close between reading the page and asking the API: compare until both agree.
    const differences = async (): Promise<string[]> => {
      const first = (await bars())[0]!.time * 1000;
      const stored = (await api(`from=${first}&limit=5000`)).indicators;
      if (stored.length < 400) return [`only ${stored.length} stored points`];
      const lastStored = stored.at(-1)!.openTime;
      const out: string[] = [];
      let compared = 0;
      for (const [name, keys] of [['sma20', ['value']], ['ema20', ['value']], ['bb20_2', ['upper', 'middle', 'lower']], ['rsi14', ['value']]] as const) {
        const d = await drawn(name);
        if (!d) return [`${name} is not drawn`];
        for (const key of keys) {
          const held = new Map(d.lines[key]!.map((p) => [p.time * 1000, p.value]));
          for (const p of stored) {
            const want = p.values[name]?.[key];
            if (typeof want !== 'number') continue;
            compared++;
            if (held.get(p.openTime) !== want) out.push(`${name}.${key} at ${new Date(p.openTime).toISOString()}: page ${held.get(p.openTime)}, API ${want}`);
          }
          // Nothing drawn that the API does not have (up to its newest stored point; later ones are live).
          const times = new Set(stored.filter((p) => typeof p.values[name]?.[key] === 'number').map((p) => p.openTime));
          for (const t of held.keys()) if (t >= first && t <= lastStored && !times.has(t)) out.push(`${name}.${key} at ${new Date(t).toISOString()}: drawn but not stored`);
        }
      }
      if (compared < 2_000) out.push(`only ${compared} values compared`);
      return out;
    };
    let diff = await differences();
    for (let i = 0; i < 20 && diff.length > 0; i++) {
      await sleep(250);
      diff = await differences();
    }
    assert.deepEqual(diff.slice(0, 10), [], `${diff.length} differences`);
  });

  test('live values arrive over /ws on the forming candle', async () => {
    await until('the live connection', async () => (await page.getAttribute('#live', 'data-status')) === 'live');
    const before = (await drawn('sma20'))!.lines.value!.at(-1)!;
    const changed = await until('a live SMA value', async () => {
      const last = (await drawn('sma20'))!.lines.value!.at(-1)!;
      return last.time !== before.time || last.value !== before.value ? last : undefined;
    });
    const newestBar = (await bars()).at(-1)!.time;
    assert.ok(changed.time >= before.time && changed.time <= newestBar, 'the value belongs to a candle on the chart');
  });

  test('each toggle hides and shows its overlay from the keyboard, and the choice survives a reload', async () => {
    const sma = (await drawn('sma20'))!.lines.value!.length;
    await page.focus(toggle('sma20'));
    await page.keyboard.press('Enter');
    assert.equal(await page.getAttribute(toggle('sma20'), 'aria-pressed'), 'false');
    assert.equal(await drawn('sma20'), null, 'SMA hidden');
    await frames();
    assert.equal(await yellow(), 0, 'no SMA pixels left');
    await page.focus(toggle('rsi14'));
    await page.keyboard.press('Space');
    assert.equal(await drawn('rsi14'), null, 'RSI hidden');
    assert.equal((await state()).panes, 1, 'its pane is gone');
    await page.focus(toggle('macd12_26_9'));
    await page.keyboard.press('Enter');
    const macd = (await drawn('macd12_26_9'))!;
    assert.equal(macd.pane, 1, 'MACD takes the lower pane');
    assert.deepEqual(Object.keys(macd.lines).sort(), ['histogram', 'macd', 'signal']);
    assert.ok(macd.lines.macd!.length > 400, 'MACD history drawn');

    await watch.leave(() => page.reload());
    await loaded();
    const s = await state();
    assert.deepEqual(s.enabled, ['ema20', 'macd12_26_9', 'bb20_2'], 'the toggles are remembered');
    assert.equal(await page.getAttribute(toggle('sma20'), 'aria-pressed'), 'false');
    assert.equal(await drawn('sma20'), null);

    for (const name of ['sma20', 'rsi14', 'macd12_26_9']) await page.click(toggle(name));
    const back = await drawn('sma20');
    assert.ok(back && back.lines.value!.length >= sma - 1, 'SMA drawn again with its history');
    assert.equal((await drawn('rsi14'))?.pane, 1);
    assert.equal((await state()).panes, 2);
    await frames();
    assert.ok((await yellow()) > 100, 'the SMA line is painted again');
  });

  test('the toggles fit a phone screen without sideways scrolling', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(200);
    const overflow = await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth - (globalThis as any).innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
    assert.ok(await page.isVisible(toggle('sma20')));
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-overlays-phone.png') });
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test('no console errors, uncaught exceptions, failed or off-origin requests', () => {
    assert.deepEqual(watch.problems(), []);
  });
});
