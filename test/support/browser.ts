/**
 * Real Chromium for the dashboard tests and bench/dashboard: Debian's `chromium` driven by playwright-core.
 * Each launch gets a fresh profile (Playwright creates a temporary user-data-dir), so every first page load
 * is a cold one. `PageWatch` records what a page did that it should not: console errors, uncaught
 * exceptions, failed requests, and any request leaving candlestack's origin (the dashboard must work offline).
 */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/** CHROMIUM_PATH, else the first `chromium` on the PATH (Debian's package installs one); '' when there is none. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? findOnPath('chromium');
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function chromiumAvailable(): boolean {
  return CHROMIUM_PATH !== '' && existsSync(CHROMIUM_PATH);
}

function findOnPath(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return '';
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

export class PageWatch {
  readonly consoleErrors: string[] = [];
  readonly pageErrors: string[] = [];
  readonly failedRequests: string[] = [];
  readonly foreignRequests: string[] = [];
  readonly requests: string[] = [];
  /** Set while the test itself replaces the document (reload, goto): the browser aborts what the old one had in flight. */
  private leaving = false;

  /** blockForeign: abort requests to other origins (note: Playwright routing turns the HTTP cache off). */
  constructor(page: Page, origin: string, options: { blockForeign?: boolean } = {}) {
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') this.consoleErrors.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => this.pageErrors.push(e.message));
    page.on('requestfailed', (r) => {
      const error = r.failure()?.errorText ?? 'failed';
      // An old document's poll cut off by a navigation the test asked for is not the page's fault; any other
      // failure (including ERR_ABORTED at other times) is.
      if (this.leaving && error === 'net::ERR_ABORTED') return;
      this.failedRequests.push(`${r.url()}: ${error}`);
    });
    page.on('request', (r) => {
      this.requests.push(r.url());
      const url = new URL(r.url());
      if (url.origin !== origin && url.protocol !== 'data:') this.foreignRequests.push(r.url());
    });
    // Nothing may leave the machine: requests elsewhere are refused (and recorded above).
    if (options.blockForeign !== false) void page.route((url) => url.origin !== origin && url.protocol !== 'data:', (route) => route.abort('blockedbyclient'));
  }

  /** Runs a navigation that replaces the document (e.g. `() => page.reload()`), forgiving the requests it aborts. */
  async leave<T>(navigation: () => Promise<T>): Promise<T> {
    this.leaving = true;
    try {
      return await navigation();
    } finally {
      this.leaving = false;
    }
  }

  /** Everything that went wrong, one line each (empty when the page behaved). */
  problems(): string[] {
    return [...this.consoleErrors.map((e) => `console ${e}`), ...this.pageErrors.map((e) => `uncaught ${e}`), ...this.failedRequests.map((e) => `request failed ${e}`), ...this.foreignRequests.map((u) => `left the origin: ${u}`)];
  }
}

export interface LoadMetrics {
  firstPaintMs: number | null;
  firstContentfulPaintMs: number | null;
  /** When the first candles were drawn (the page's `candlestack:chart-ready` mark). */
  chartReadyMs: number | null;
  domContentLoadedMs: number;
  loadEventMs: number;
  /** Bytes over the wire (headers included) and bodies as sent (compressed) and decoded, per resource. */
  resources: { path: string; type: string; transferBytes: number; encodedBytes: number; decodedBytes: number }[];
  totalTransferBytes: number;
}

/** Paint and transfer figures of the page's current document, from the Performance API. */
export async function loadMetrics(page: Page): Promise<LoadMetrics> {
  // The callback runs in the page (this project compiles without DOM types, hence the loose typing).
  return page.evaluate(() => {
    const perf = (globalThis as any).performance;
    const nav = perf.getEntriesByType('navigation')[0];
    const paint = (name: string): number | null => perf.getEntriesByName(name)[0]?.startTime ?? null;
    const entries: any[] = [nav, ...perf.getEntriesByType('resource')];
    const resources = entries.map((r) => ({
      path: new URL(r.name).pathname + new URL(r.name).search,
      type: r.initiatorType,
      transferBytes: r.transferSize,
      encodedBytes: r.encodedBodySize,
      decodedBytes: r.decodedBodySize,
    }));
    return {
      firstPaintMs: paint('first-paint'),
      firstContentfulPaintMs: paint('first-contentful-paint'),
      chartReadyMs: paint('candlestack:chart-ready'),
      domContentLoadedMs: nav.domContentLoadedEventEnd,
      loadEventMs: nav.loadEventEnd,
      resources,
      totalTransferBytes: resources.reduce((n, r) => n + r.transferBytes, 0),
    };
  });
}
