/**
 * Measures the web dashboard in real Chromium against an in-process demo: first paint, first contentful
 * paint, when the first candles are drawn, and the bytes transferred, for cold loads (fresh profile: nothing
 * cached) and a warm reload (hashed assets come from the cache). Optionally saves the README screenshots.
 *
 *   node dist/bench/dashboard.js [--loads 5] [--warmup 20] [--screenshots docs]
 *
 * --warmup: seconds the demo runs first (the 1s chart fills with candles; the indicator overlays need 20 to 35
 * closed candles, so 60 for screenshots); --screenshots DIR: writes DIR/dashboard-market.png (default
 * overlays on) and DIR/dashboard-health.png at 1280x800. Numbers depend on the machine.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock } from '../src/core/clock.js';
import { defaultConfig } from '../src/config/config.js';
import { startDemo } from '../src/demo/demo.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { chromiumAvailable, launchChromium, loadMetrics, PageWatch, type LoadMetrics } from '../test/support/browser.js';

const { values } = parseArgs({ options: { loads: { type: 'string', default: '5' }, warmup: { type: 'string', default: '20' }, screenshots: { type: 'string' } } });
const loads = Number(values.loads);
const warmupS = Number(values.warmup);
if (!Number.isInteger(loads) || loads < 1 || !(warmupS >= 0)) {
  console.error('usage: node dist/bench/dashboard.js [--loads N>=1] [--warmup SECONDS] [--screenshots DIR]');
  process.exit(2);
}
if (!chromiumAvailable()) {
  console.error('chromium not found (Debian package chromium, or set CHROMIUM_PATH)');
  process.exit(2);
}

const MARKET = '#/market/binance/BTC-USDT/1s';
const config = defaultConfig();
config.http = { host: '127.0.0.1', port: 0 };
config.timeframes = ['1s', '1m', '5m', '15m', '1h'];
config.store = { url: 'sqlite::memory:', flushMs: 1_000 };
const demo = await startDemo(config, { rate: 50, seed: 1, chaos: false, symbolsGiven: false, storeGiven: true }, { clock: systemClock, log: silentLogger(), version: '0.1.0' });
const base = `http://127.0.0.1:${demo.port}`;
const browser = await launchChromium();
try {
  console.log(`demo on ${base}; warming up ${warmupS} s`);
  await new Promise((r) => setTimeout(r, warmupS * 1000));

  const cold: LoadMetrics[] = [];
  let warm: LoadMetrics | null = null;
  const problems: string[] = [];
  for (let i = 0; i < loads; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    // No request routing here: it would switch Chromium's HTTP cache off and spoil the warm load.
    const watch = new PageWatch(page, base, { blockForeign: false });
    await page.goto(`${base}/${MARKET}`);
    await page.waitForSelector('#chart[data-ready="true"]');
    cold.push(await loadMetrics(page));
    if (i === 0) {
      // A second visit in the same profile: the page is revalidated (304), hashed assets come from the cache.
      await watch.leave(() => page.goto('about:blank'));
      await page.goto(`${base}/${MARKET}`);
      await page.waitForSelector('#chart[data-ready="true"]');
      warm = await loadMetrics(page);
    }
    problems.push(...watch.problems());
    await context.close();
  }

  const median = (xs: (number | null)[]) => {
    const s = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
    return s.length ? s[Math.floor(s.length / 2)]! : NaN;
  };
  const ms = (pick: (m: LoadMetrics) => number | null) => `${median(cold.map(pick)).toFixed(0)} ms (min ${Math.min(...cold.map((m) => pick(m) ?? Infinity)).toFixed(0)}, max ${Math.max(...cold.map((m) => pick(m) ?? 0)).toFixed(0)})`;
  const kb = (n: number) => `${(n / 1024).toFixed(1)} kB`;
  console.log(`cold loads (${loads}, fresh profile each), median:`);
  console.log(`  first paint             ${ms((m) => m.firstPaintMs)}`);
  console.log(`  first contentful paint  ${ms((m) => m.firstContentfulPaintMs)}`);
  console.log(`  DOMContentLoaded        ${ms((m) => m.domContentLoadedMs)}`);
  console.log(`  first candles drawn     ${ms((m) => m.chartReadyMs)}`);
  console.log(`  transferred             ${kb(median(cold.map((m) => m.totalTransferBytes)))}`);
  for (const r of cold[0]!.resources) console.log(`    ${r.path.padEnd(72)} ${kb(r.transferBytes).padStart(9)} on the wire, ${kb(r.decodedBytes).padStart(9)} decoded`);
  if (warm) console.log(`second visit (same profile): first contentful paint ${warm.firstContentfulPaintMs?.toFixed(0)} ms, first candles ${warm.chartReadyMs?.toFixed(0)} ms, ${kb(warm.totalTransferBytes)} transferred`);
  console.log(problems.length ? `PROBLEMS:\n  ${problems.join('\n  ')}` : 'no console errors, failed or off-origin requests');

  if (values.screenshots) {
    mkdirSync(values.screenshots, { recursive: true });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${base}/${MARKET}`);
    await page.waitForSelector('#chart[data-ready="true"]');
    await page.waitForFunction(() => (globalThis as any).candlestackDashboard.indicatorState().loading === false);
    await page.waitForTimeout(1_500);
    await page.screenshot({ path: join(values.screenshots, 'dashboard-market.png') });
    await page.click('#tab-health');
    await page.waitForSelector('tr[data-feed]');
    await page.waitForTimeout(3_000); // a few samples, so the rates show
    await page.screenshot({ path: join(values.screenshots, 'dashboard-health.png') });
    await context.close();
    console.log(`screenshots: ${join(values.screenshots, 'dashboard-market.png')}, ${join(values.screenshots, 'dashboard-health.png')}`);
  }
} finally {
  await browser.close();
  await demo.stop();
}
