/**
 * The web dashboard in real Chromium against a running demo (simulated Binance -> the real pipeline -> the
 * API serving the page): the page loads from candlestack alone, the chart draws what /api/candles returns,
 * live candles arrive over /ws, symbol and timeframe switch, scrolling back pages older history in, the
 * health view turns a feed red when the exchange stops it and green again when it comes back, and the page
 * fits a phone. Screenshots and load figures (first paint, bytes) are saved under test-artifacts/. No
 * console error, uncaught exception, failed request or request to another origin is allowed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { systemClock } from '../src/core/clock.js';
import { defaultConfig } from '../src/config/config.js';
import type { Candle } from '../src/core/types.js';
import { startDemo, type Demo } from '../src/demo/demo.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { chromiumAvailable, launchChromium, loadMetrics, PageWatch } from './support/browser.js';
import { log, skipUnlessAvailable, sleep, until } from './support/harness.js';

const ARTIFACTS = join('test-artifacts');
const MIN = 60_000;
/** Stored 1m history before the demo starts: more than two pages (500) of the chart's history loading. */
const HISTORY = 1_200;

interface ChartBar {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
}
interface ChartData {
  key: { exchange: string; symbol: string; timeframe: string } | null;
  bars: ChartBar[];
  volumes: { time: number; value: number }[];
}

/** The chart has drawn the first candles of this market. */
const ready = (market: string) => `#chart[data-ready="true"][data-market="${market}"]`;

const skip = skipUnlessAvailable(chromiumAvailable(), 'chromium not installed (Debian package chromium; or set CHROMIUM_PATH)');

/** Closed BTC-USDT 1m candles ending the minute before `now`, drifting towards the simulator's 65 000. */
function history(now: number): Candle[] {
  const end = Math.floor(now / MIN) * MIN - MIN;
  return Array.from({ length: HISTORY }, (_, i) => {
    const openTime = end - (HISTORY - 1 - i) * MIN;
    const mid = 64_000 + (1_000 * i) / HISTORY + 150 * Math.sin(i / 17);
    const open = mid - 20 * Math.sin(i / 3);
    const close = mid + 20 * Math.sin(i / 3);
    const f = (n: number) => n.toFixed(2) + '000000';
    return {
      exchange: 'binance',
      symbol: 'BTC-USDT',
      timeframe: '1m',
      openTime,
      open: f(open),
      high: f(Math.max(open, close) + 15),
      low: f(Math.min(open, close) - 15),
      close: f(close),
      volume: (1 + (i % 7)).toFixed(8),
      quoteVolume: (mid * (1 + (i % 7))).toFixed(8),
      takerBuyVolume: '0.50000000',
      tradeCount: 10,
      vwap: f(mid),
      closed: true,
      source: 'trades',
      revision: 0,
    };
  });
}


describe('web dashboard in Chromium', { skip, timeout: 120_000 }, () => {
  let demo: Demo;
  let dir: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  let base = '';

  const chartData = (): Promise<ChartData> => page.evaluate(() => (globalThis as any).candlestackDashboard.chartData());
  const apiCandles = async (q: string): Promise<Candle[]> => ((await (await fetch(`${base}/api/candles?${q}`)).json()) as { candles: Candle[] }).candles;
  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, name) });

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'candlestack-dashboard-'));
    const db = join(dir, 'dashboard.db');
    const seed = new SqliteStore(db);
    await seed.upsert(history(Date.now()));
    await seed.close();

    const config = defaultConfig();
    config.http = { host: '127.0.0.1', port: 0 };
    config.timeframes = ['1s', '1m', '5m'];
    config.candles = { ...config.candles, graceMs: 300, tickMs: 50 };
    config.feed = { staleAfterMs: 5_000, backoffInitialMs: 200, backoffMaxMs: 1_000 };
    config.store = { url: `sqlite:${db}`, flushMs: 200 };
    demo = await startDemo(config, { rate: 60, seed: 5, chaos: false, symbolsGiven: false, storeGiven: true }, { clock: systemClock, log, version: 'test' });
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

  test('the page loads from candlestack alone and the chart draws the candles /api/candles returns', async (t) => {
    const response = await page.goto(`${base}/`);
    assert.equal(response?.status(), 200);
    await page.waitForSelector(ready('binance/BTC-USDT/1m'));
    assert.match(page.url(), /#\/market\/binance\/BTC-USDT\/1m$/, 'the default market is in the URL');

    const chart = await chartData();
    assert.deepEqual(chart.key, { exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m' });
    assert.ok(chart.bars.length >= 500, `the first page of history is drawn (${chart.bars.length} bars)`);
    // Every closed candle the API serves over the chart's range is in the chart with the same values. A
    // correction (backfill) can reach the chart (over /ws) and the store a moment apart: allow them to meet.
    const differences = async (): Promise<string[]> => {
      const [held, api] = [await chartData(), await apiCandles('exchange=binance&symbol=BTCUSDT&timeframe=1m&limit=500')];
      const byTime = new Map(held.bars.map((b) => [b.time * 1000, b]));
      const volumes = new Map(held.volumes.map((v) => [v.time * 1000, v.value]));
      const compared = api.filter((c) => c.closed && c.openTime >= held.bars[0]!.time * 1000);
      if (compared.length < 490) return [`only ${compared.length} closed candles to compare`];
      return compared.flatMap((c) => {
        const bar = byTime.get(c.openTime);
        const want = [c.open, c.high, c.low, c.close, c.volume].map(Number);
        const got = bar && [bar.open, bar.high, bar.low, bar.close, volumes.get(c.openTime)];
        return JSON.stringify(got) === JSON.stringify(want) ? [] : [`${new Date(c.openTime).toISOString()}: chart ${JSON.stringify(got)}, API ${JSON.stringify(want)}`];
      });
    };
    let diff = await differences();
    for (let i = 0; i < 20 && diff.length > 0; i++) {
      await sleep(250);
      diff = await differences();
    }
    assert.deepEqual(diff, [], 'the chart holds what /api/candles returns');

    // Drawn, not just held: the chart's canvases carry both candle colours.
    const pixels = await page.evaluate(() => {
      const doc = (globalThis as any).document;
      let up = 0;
      let down = 0;
      for (const canvas of doc.querySelectorAll('#chart canvas')) {
        const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
        for (let i = 0; i < data.length; i += 4) {
          if (data[i] === 38 && data[i + 1] === 166 && data[i + 2] === 154) up++;
          else if (data[i] === 239 && data[i + 1] === 83 && data[i + 2] === 80) down++;
        }
      }
      return { up, down };
    });
    assert.ok(pixels.up > 500 && pixels.down > 500, `up and down candles are painted: ${JSON.stringify(pixels)}`);
    assert.match((await page.textContent('#last-price')) ?? '', /^\d{2},\d{3}\.\d{2}$/, 'last price shown');
    assert.match((await page.textContent('#change')) ?? '', /[+−]?\d.*%/, '24 h change shown');

    const metrics = await loadMetrics(page);
    writeFileSync(join(ARTIFACTS, 'dashboard-load.json'), JSON.stringify(metrics, null, 2) + '\n');
    t.diagnostic(`first paint ${metrics.firstPaintMs?.toFixed(0)} ms, first contentful paint ${metrics.firstContentfulPaintMs?.toFixed(0)} ms, chart drawn ${metrics.chartReadyMs?.toFixed(0)} ms, ${(metrics.totalTransferBytes / 1024).toFixed(1)} kB transferred`);
    const js = metrics.resources.find((r) => r.path.startsWith('/assets/app-') && r.path.endsWith('.js'));
    assert.ok(js, 'the bundle was loaded from /assets/');
    assert.ok(js.encodedBytes < js.decodedBytes / 2, `the bundle travels compressed (${js.encodedBytes} of ${js.decodedBytes} bytes)`);
    assert.ok(metrics.firstContentfulPaintMs !== null, 'the page painted');
    await shot('dashboard-market.png');
    assert.deepEqual(watch.foreignRequests, [], 'no request left candlestack');
  });

  test('a live update arrives over /ws within a few seconds', async () => {
    await until('the live connection', async () => (await page.getAttribute('#live', 'data-status')) === 'live');
    const before = (await chartData()).bars.at(-1)!;
    const changed = await until('a live change of the latest candle', async () => {
      const last = (await chartData()).bars.at(-1)!;
      return JSON.stringify(last) !== JSON.stringify(before) ? last : undefined;
    });
    assert.ok(changed.time >= before.time);
  });

  test('switching symbol and timeframe redraws from the API and follows the new live series', async () => {
    await page.selectOption('#pick-symbol', 'ETH-USDT');
    await page.waitForSelector(ready('binance/ETH-USDT/1m'));
    assert.match(page.url(), /#\/market\/binance\/ETH-USDT\/1m$/);
    const eth = await chartData();
    const api = await apiCandles('symbol=ETHUSDT&timeframe=1m');
    for (const c of api.filter((x) => x.closed)) {
      const bar = eth.bars.find((b) => b.time * 1000 === c.openTime);
      assert.deepEqual(bar && [bar.open, bar.close], [Number(c.open), Number(c.close)]);
    }
    assert.match((await page.textContent('#market-title')) ?? '', /ETH-USDT/);

    // The timeframe by keyboard: focus the picker and pick 1s with the arrow keys.
    await page.focus('#pick-timeframe');
    await page.keyboard.press('ArrowUp');
    await page.waitForSelector(ready('binance/ETH-USDT/1s'));
    const first = await chartData();
    const newest = first.bars.at(-1)!.time;
    // 1 s candles: new periods open every second and the previous one closes.
    const later = await until('a new 1s candle', async () => {
      const d = await chartData();
      return d.bars.at(-1)!.time > newest + 1 ? d : undefined;
    });
    assert.ok(later.bars.at(-1)!.close < 10_000, 'the live series is ETH-USDT (about 3 400), not BTC-USDT (about 65 000)');
    assert.match(page.url(), /ETH-USDT\/1s$/);
  });

  test('scrolling back loads older history from /api/candles', async () => {
    await page.goto(`${base}/#/market/binance/BTC-USDT/1m`);
    await page.waitForSelector(ready('binance/BTC-USDT/1m'));
    const start = await chartData();
    assert.ok(start.bars.length < HISTORY, 'not everything is loaded at first');
    const stored = await apiCandles(`symbol=BTCUSDT&timeframe=1m&from=0&limit=1`);
    const before = watch.requests.length;
    // Keyboard: focus the chart, Home scrolls to the oldest loaded candle, which pages older ones in.
    await page.focus('#chart');
    const all = await until('the whole stored history', async () => {
      await page.keyboard.press('Home');
      const d = await chartData();
      return d.bars[0]!.time * 1000 === stored[0]!.openTime ? d : undefined;
    }, 45_000); // generous: paging waits on the shared CPU under load, not a speed target
    assert.ok(all.bars.length >= HISTORY, `${all.bars.length} bars after scrolling back`);
    const pages = watch.requests.slice(before).filter((u) => /\/api\/candles\?.*symbol=BTC-USDT.*timeframe=1m.*&to=\d+/.test(u));
    assert.ok(pages.length >= 2, `older pages were requested with to= (${pages.length})`);
    const times = all.bars.map((b) => b.time);
    assert.deepEqual(times, [...new Set(times)].sort((a, b) => a - b), 'bars stay unique and in order');
    await until('the start-of-history note', async () => /history starts/.test((await page.textContent('#history')) ?? ''));
    await page.keyboard.press('End');
  });

  test('the health view shows the feed up, then red when the exchange stops it, then green again', async () => {
    await page.click('#tab-health');
    await until('the health view', async () => page.url().endsWith('#/health') && (await page.isVisible('#health-view')));
    const row = 'tr[data-feed="binance#0"]';
    await until('the feed up with a message rate', async () => {
      const state = await page.getAttribute(row, 'data-state');
      const rate = Number((await page.textContent(`${row} [data-rate]`))?.replace(/,/g, ''));
      return state === 'up' && rate > 0;
    });
    assert.equal(await page.getAttribute(row, 'data-level'), 'ok');
    assert.equal(await page.locator('#symbols tr').count(), demo.sim!.symbols.length, 'one row per symbol');
    await shot('dashboard-health.png');

    demo.sim!.stopFeed();
    await until('the feed red', async () => (await page.getAttribute(row, 'data-state')) === 'down' && (await page.getAttribute(row, 'data-level')) === 'critical');
    assert.equal(await page.textContent(`${row} .pill`), 'down');
    assert.equal(await page.getAttribute('#status .pill', 'data-level'), 'critical', 'the header turns red too');
    // The last-message age keeps ticking while nothing arrives.
    const age = async () => (await page.textContent(`${row} [data-age]`)) ?? '';
    const a1 = await age();
    const a2 = await until('the age to tick', async () => ((await age()) !== a1 ? age() : undefined), 3_000);
    assert.match(a2, /s$/);
    await shot('dashboard-health-feed-down.png');

    demo.sim!.resumeFeed();
    await until('the feed green again', async () => (await page.getAttribute(row, 'data-state')) === 'up', 15_000);
    // Columns: state, connection, last message, messages/s, reconnects.
    assert.ok(Number(await page.textContent(`${row} td:nth-of-type(5)`)) >= 1, 'the reconnect is counted');
  });

  test('keyboard: the tabs, pickers, overlay toggles and chart are reachable with Tab, and the tabs follow the arrow keys', async () => {
    await page.goto(`${base}/#/market/binance/BTC-USDT/1m`);
    await page.waitForSelector(ready('binance/BTC-USDT/1m'));
    const order: string[] = [];
    await page.focus('#tab-market');
    for (let i = 0; i < 16; i++) {
      order.push(await page.evaluate(() => (globalThis as any).document.activeElement?.id ?? ''));
      await page.keyboard.press('Tab');
    }
    for (const id of ['tab-market', 'pick-exchange', 'pick-symbol', 'pick-timeframe', 'latest', 'overlay-sma20', 'chart']) assert.ok(order.includes(id), `${id} is in the tab order: ${order.join(', ')}`);
    await page.focus('#tab-market');
    await page.keyboard.press('ArrowRight');
    await until('the health tab', async () => page.url().endsWith('#/health'));
    await page.keyboard.press('ArrowLeft');
    await until('the market tab', async () => /#\/market\//.test(page.url()));
  });

  test('fits a phone screen without sideways scrolling', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const view of ['#/market/binance/BTC-USDT/1m', '#/health']) {
      await page.goto(`${base}/${view}`);
      await page.waitForSelector(view === '#/health' ? 'tr[data-feed]' : ready('binance/BTC-USDT/1m'));
      const overflow = await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth - (globalThis as any).innerWidth);
      assert.ok(overflow <= 0, `${view}: the page is ${overflow}px wider than the screen`);
    }
    await shot('dashboard-health-phone.png');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test('no console errors, uncaught exceptions, failed or off-origin requests', () => {
    assert.deepEqual(watch.problems(), []);
  });
});
