/**
 * The candlestack dashboard: a market view (candles, live) and a health view (feeds, pipeline), switched by
 * tabs and addressable by URL: #/market/<exchange>/<symbol>/<timeframe> and #/health.
 */
import './style.css';
import { getJson } from './api.js';
import type { ApiIndex, Health, MarketKey, SymbolInfo } from './api.js';
import { byId } from './dom.js';
import { HealthView, pill } from './health-view.js';
import { LiveFeed } from './live.js';
import { MarketView } from './market-view.js';

type View = 'market' | 'health';
const POLL_MS = 1_000;

interface Route {
  view: View;
  market: Partial<MarketKey>;
}

function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  if (parts[0] === 'health') return { view: 'health', market: {} };
  return { view: 'market', market: { exchange: parts[1], symbol: parts[2], timeframe: parts[3] as MarketKey['timeframe'] } };
}

function marketHash(k: MarketKey): string {
  return `#/market/${[k.exchange, k.symbol, k.timeframe].map(encodeURIComponent).join('/')}`;
}

function banner(message: string | null): void {
  const el = byId('banner');
  el.hidden = message === null;
  el.textContent = message ?? '';
}

async function start(): Promise<void> {
  let symbols: SymbolInfo[];
  let index: ApiIndex;
  for (;;) {
    try {
      [symbols, index] = await Promise.all([getJson<{ symbols: SymbolInfo[] }>('/api/symbols').then((r) => r.symbols), getJson<ApiIndex>('/api')]);
      if (symbols.length === 0) throw new Error('candlestack serves no symbols');
      break;
    } catch (err) {
      banner(`${(err as Error).message}; retrying`);
      await new Promise((r) => setTimeout(r, 2_000));
    }
  }
  banner(null);
  byId('version').textContent = `v${index.version}`;

  const liveEl = byId('live');
  const live = new LiveFeed({
    onEvent: (e) => market.onEvent(e),
    onIndicator: (e) => market.onIndicator(e),
    onStatus: (status, detail) => {
      liveEl.dataset.status = status;
      liveEl.textContent = status;
      liveEl.title = detail;
    },
    onResync: () => market.resync(),
  });
  const market: MarketView = new MarketView(symbols, (key) => (location.hash = marketHash(key)), (key) => live.setSubscription(key), banner);
  const health = new HealthView();

  const tabs = { market: byId('tab-market'), health: byId('tab-health') };
  const panels = { market: byId('market-view'), health: byId('health-view') };
  let view: View = 'market';
  const route = (): void => {
    const r = parseRoute(location.hash);
    view = r.view;
    for (const v of ['market', 'health'] as const) {
      panels[v].hidden = v !== view;
      tabs[v].setAttribute('aria-selected', String(v === view));
      tabs[v].tabIndex = v === view ? 0 : -1;
    }
    if (view === 'market') {
      const key = market.resolve(r.market);
      const wanted = marketHash(key);
      if (location.hash !== wanted) history.replaceState(null, '', wanted);
      market.show(key);
    } else if (!market.current) {
      market.show(market.resolve({}));
    }
    tabs.market.setAttribute('href', market.current ? marketHash(market.current) : '#/market');
  };
  window.addEventListener('hashchange', route);
  // Tabs: arrow keys move between them (WAI-ARIA tabs pattern); Enter/click follows the link.
  byId('tabs').addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
    const next = document.activeElement === tabs.market ? tabs.health : tabs.market;
    next.focus();
    next.click();
    e.preventDefault();
  });

  route();
  live.start();

  // Health: polled every second for the header pill and the health view.
  const statusEl = byId('status');
  const poll = async (): Promise<void> => {
    try {
      const h = await getJson<Health>('/api/health');
      health.update(h, performance.now());
      statusEl.replaceChildren(pill(h.level, h.status));
    } catch (err) {
      health.unreachable((err as Error).message);
      statusEl.replaceChildren(pill('critical', 'unreachable'));
    }
    window.setTimeout(() => void poll(), POLL_MS);
  };
  void poll();
  window.setInterval(() => health.tick(performance.now()), 200);

  // For tests and the curious: what the chart holds right now.
  Object.defineProperty(window, 'candlestackDashboard', {
    value: Object.freeze({ chartData: () => market.chartData(), indicatorSeries: (name: string) => market.indicatorSeries(name), indicatorState: () => market.indicatorState(), decisionState: () => market.decisionState() }),
  });
}

void start();
