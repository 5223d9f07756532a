/**
 * Market view: exchange / symbol / timeframe pickers, last price and 24 h change, and the candle chart fed
 * by /api/candles (history, paged backwards as the user scrolls) and /ws (the forming candle and closes),
 * the indicator overlays, and the assistant's decision on the market (decision-panel.ts).
 */
import { candlesPath, getJson, sameKey } from './api.js';
import type { Candle, CandleEvent, CandlesResponse, IndicatorEvent, MarketKey, SymbolInfo } from './api.js';
import { CandleChart } from './candle-chart.js';
import { DecisionPanel } from './decision-panel.js';
import { IndicatorLayer } from './indicator-layer.js';
import { IndicatorOverlays } from './indicator-overlays.js';
import { byId, h } from './dom.js';
import * as fmt from './format.js';
import { TIMEFRAMES, timeframeMs } from '../../src/core/timeframe.js';

/** Candles per request: the first screen and every page of older history. */
export const PAGE = 500;
const DAY_MS = 86_400_000;
/** Performance mark set when the first candles are drawn (read by the Chromium tests and bench/dashboard). */
const CHART_READY_MARK = 'candlestack:chart-ready';

/** Which of two snapshots of the same candle is the later one (events and REST answers can cross). */
function newer(a: Candle, b: Candle): boolean {
  if (a.closed !== b.closed) return a.closed;
  if (a.revision !== b.revision) return a.revision > b.revision;
  return a.tradeCount >= b.tradeCount;
}

export class MarketView {
  private readonly chart: CandleChart;
  private readonly overlays: IndicatorOverlays;
  private readonly indicators: IndicatorLayer;
  private readonly decision = new DecisionPanel();
  private key: MarketKey | null = null;
  /** Bumped on every switch: answers for an older selection are dropped. */
  private generation = 0;
  private candles: Candle[] = [];
  private loading = true;
  private buffered: Candle[] = [];
  private loadingOlder = false;
  private exhausted = false;
  private precision = 2;
  private reference: { open: number; openTime: number } | null = null;
  private referenceTimer: number | null = null;

  constructor(
    private readonly markets: readonly SymbolInfo[],
    private readonly navigate: (key: MarketKey) => void,
    private readonly subscribe: (key: MarketKey) => void,
    private readonly report: (message: string | null) => void,
  ) {
    this.chart = new CandleChart(byId('chart'), () => void this.loadOlder());
    this.overlays = new IndicatorOverlays(this.chart.api);
    this.indicators = new IndicatorLayer(this.overlays, report);
    for (const id of ['pick-exchange', 'pick-symbol', 'pick-timeframe']) {
      byId<HTMLSelectElement>(id).addEventListener('change', () => this.onPick());
    }
    byId('latest').addEventListener('click', () => this.chart.scrollToLatest());
  }

  get current(): MarketKey | null {
    return this.key;
  }

  /** The selection that `partial` (from the URL) resolves to: unknown parts fall back to the first choice. */
  resolve(partial: Partial<MarketKey>): MarketKey {
    const exchanges = [...new Set(this.markets.map((m) => m.exchange))];
    const exchange = exchanges.includes(partial.exchange ?? '') ? partial.exchange! : exchanges[0]!;
    const symbols = this.markets.filter((m) => m.exchange === exchange);
    const market = symbols.find((m) => m.symbol === partial.symbol) ?? symbols[0]!;
    const tfs = market.timeframes;
    const timeframe = tfs.find((tf) => tf === partial.timeframe) ?? (tfs.includes('1m') ? '1m' : tfs[0]!);
    return { exchange, symbol: market.symbol, timeframe };
  }

  show(key: MarketKey): void {
    if (sameKey(key, this.key)) return;
    this.key = key;
    const gen = ++this.generation;
    this.fillPickers(key);
    this.candles = [];
    this.buffered = [];
    this.loading = true;
    this.exhausted = false;
    this.reference = null;
    this.indicators.reset(key);
    this.decision.show(key);
    this.renderStats();
    byId('chart').dataset.ready = 'false';
    byId('chart').setAttribute('aria-label', `Candlestick chart of ${key.symbol} on ${key.exchange}, ${key.timeframe} candles. Arrow keys scroll, plus and minus zoom, Home loads older candles, End returns to the latest.`);
    this.subscribe(key);
    void this.loadLatest(gen, key);
    if (this.referenceTimer !== null) window.clearInterval(this.referenceTimer);
    void this.loadReference(gen, key);
    this.referenceTimer = window.setInterval(() => void this.loadReference(gen, key), 60_000);
  }

  onEvent(e: CandleEvent): void {
    this.decision.onCandle(e);
    const c = e.candle;
    if (!this.key || c.exchange !== this.key.exchange || c.symbol !== this.key.symbol || c.timeframe !== this.key.timeframe) return;
    if (this.loading) this.buffered.push(c);
    else this.apply(c);
  }

  onIndicator(e: IndicatorEvent): void {
    this.indicators.onEvent(e);
  }

  /** After the live connection came back: fetch what was missed while it was down. */
  resync(): void {
    const key = this.key;
    const last = this.candles[this.candles.length - 1];
    if (!key || this.loading || !last) return;
    const gen = this.generation;
    void this.indicators.resync(last.openTime);
    void getJson<CandlesResponse>(candlesPath(key, { from: last.openTime, limit: 5000 })).then(
      (r) => {
        if (gen === this.generation) for (const c of r.candles) this.apply(c);
      },
      (err: Error) => this.report(err.message),
    );
  }

  /** What the chart holds, for tests: the drawn bars and volumes. */
  chartData() {
    return { key: this.key, bars: this.chart.data(), volumes: this.chart.volumes() };
  }

  /** For tests: what is drawn of indicator `name` (null when not drawn), and the indicators on offer. */
  indicatorSeries(name: string) {
    return this.overlays.series(name);
  }

  /** For tests: what the assistant panel shows. */
  decisionState() {
    return this.decision.state();
  }

  indicatorState() {
    return { ...this.indicators.state(), panes: this.overlays.paneCount(), key: this.key };
  }

  private async loadLatest(gen: number, key: MarketKey): Promise<void> {
    try {
      const r = await getJson<CandlesResponse>(candlesPath(key, { limit: PAGE }));
      if (gen !== this.generation) return;
      this.candles = r.candles;
      this.exhausted = r.candles.length < PAGE;
      this.precision = precisionOf(r.candles);
      this.chart.setCandles(this.candles, this.precision, key.timeframe.endsWith('s'));
      this.indicators.setPrecision(this.precision);
      void this.indicators.loadFrom(this.candles[0]?.openTime ?? null);
      this.loading = false;
      for (const c of this.buffered) this.apply(c);
      this.buffered = [];
      this.chart.scrollToLatest();
      this.renderStats();
      byId('chart').dataset.market = `${key.exchange}/${key.symbol}/${key.timeframe}`;
      byId('chart').dataset.ready = 'true';
      if (performance.getEntriesByName(CHART_READY_MARK).length === 0) performance.mark(CHART_READY_MARK);
      this.report(null);
    } catch (err) {
      if (gen === this.generation) this.report((err as Error).message);
    }
  }

  private async loadOlder(): Promise<void> {
    const key = this.key;
    const first = this.candles[0];
    if (!key || !first || this.loading || this.loadingOlder || this.exhausted) return;
    const gen = this.generation;
    this.loadingOlder = true;
    byId('history').textContent = 'loading older candles…';
    try {
      const r = await getJson<CandlesResponse>(candlesPath(key, { to: first.openTime - 1, limit: PAGE }));
      if (gen !== this.generation) return;
      const older = r.candles.filter((c) => c.openTime < first.openTime);
      if (r.candles.length < PAGE) this.exhausted = true;
      if (older.length > 0) {
        this.candles = [...older, ...this.candles];
        this.chart.setCandles(this.candles, this.precision, key.timeframe.endsWith('s'));
        await this.indicators.loadOlder(older[0]!.openTime, first.openTime);
      }
      byId('history').textContent = this.exhausted ? `history starts ${fmt.utcTime(this.candles[0]!.openTime)}` : '';
    } catch (err) {
      if (gen === this.generation) this.report((err as Error).message);
    } finally {
      this.loadingOlder = false;
    }
  }

  /** The price 24 h ago: the open of the first candle since then, on the finest timeframe of at least 1m. */
  private async loadReference(gen: number, key: MarketKey): Promise<void> {
    const market = this.markets.find((m) => m.exchange === key.exchange && m.symbol === key.symbol);
    const tfs = [...(market?.timeframes ?? [key.timeframe])].sort((a, b) => timeframeMs(a) - timeframeMs(b));
    const timeframe = tfs.find((tf) => timeframeMs(tf) >= 60_000) ?? tfs[0]!;
    try {
      const r = await getJson<CandlesResponse>(candlesPath({ ...key, timeframe }, { from: Date.now() - DAY_MS, limit: 1 }));
      if (gen !== this.generation) return;
      const c = r.candles[0];
      this.reference = c ? { open: Number(c.open), openTime: c.openTime } : null;
      this.renderStats();
    } catch {
      // The change simply stays unknown; the chart reports API failures.
    }
  }

  private apply(c: Candle): void {
    const list = this.candles;
    const last = list[list.length - 1];
    if (!last || c.openTime > last.openTime) {
      list.push(c);
    } else {
      const i = indexOf(list, c.openTime);
      if (i < 0) {
        if (c.openTime < list[0]!.openTime) return; // before the loaded history: nothing on screen to amend
        list.splice(~i, 0, c);
      } else if (newer(c, list[i]!)) {
        list[i] = c;
      } else {
        return;
      }
    }
    this.chart.update(c, list);
    if (c.openTime === list[list.length - 1]!.openTime) this.renderStats();
  }

  private renderStats(): void {
    const key = this.key;
    const last = this.candles[this.candles.length - 1];
    const priceEl = byId('last-price');
    const changeEl = byId('change');
    byId('market-title').textContent = key ? `${key.symbol} · ${key.exchange}` : '';
    if (!key || !last) {
      priceEl.textContent = '—';
      changeEl.textContent = '';
      return;
    }
    const close = Number(last.close);
    priceEl.textContent = fmt.price(close, this.precision);
    document.title = `${key.symbol} ${fmt.price(close, this.precision)} · candlestack`;
    const ref = this.reference;
    if (!ref || ref.open === 0) {
      changeEl.textContent = '';
      return;
    }
    const diff = close - ref.open;
    const partial = ref.openTime > Date.now() - DAY_MS + 2 * 60_000;
    changeEl.dataset.direction = diff > 0 ? 'up' : diff < 0 ? 'down' : 'flat';
    changeEl.replaceChildren(
      h('span', { class: 'change-value' }, `${fmt.signed(diff, this.precision)} (${fmt.percent((diff / ref.open) * 100)})`),
      h('span', { class: 'muted' }, partial ? ` since ${fmt.utcTime(ref.openTime)}` : ' 24 h'),
    );
  }

  private fillPickers(key: MarketKey): void {
    const exchanges = [...new Set(this.markets.map((m) => m.exchange))];
    const market = this.markets.find((m) => m.exchange === key.exchange && m.symbol === key.symbol)!;
    setOptions(byId('pick-exchange'), exchanges, key.exchange);
    setOptions(byId('pick-symbol'), this.markets.filter((m) => m.exchange === key.exchange).map((m) => m.symbol), key.symbol);
    setOptions(byId('pick-timeframe'), TIMEFRAMES.filter((tf) => market.timeframes.includes(tf)), key.timeframe);
  }

  private onPick(): void {
    const value = (sel: string) => byId<HTMLSelectElement>(sel).value;
    // Symbols are canonical across exchanges: switching exchange keeps BTC-USDT when the new one lists it.
    const partial: Partial<MarketKey> = { exchange: value('pick-exchange'), symbol: value('pick-symbol') };
    partial.timeframe = value('pick-timeframe') as MarketKey['timeframe'];
    this.navigate(this.resolve(partial));
  }
}

function setOptions(select: HTMLSelectElement, values: readonly string[], selected: string): void {
  select.replaceChildren(...values.map((v) => h('option', { value: v, selected: v === selected }, v)));
  select.value = selected;
}

/** Binary search by openTime: the index, or ~insertionPoint when absent. */
function indexOf(list: readonly Candle[], openTime: number): number {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const t = list[mid]!.openTime;
    if (t === openTime) return mid;
    if (t < openTime) lo = mid + 1;
    else hi = mid - 1;
  }
  return ~lo;
}

/** Display precision: the most decimals the exchange's prices actually use (2 to 8). */
function precisionOf(candles: readonly Candle[]): number {
  let p = 2;
  for (const c of candles.slice(-200)) for (const s of [c.open, c.high, c.low, c.close]) p = Math.max(p, fmt.decimalsOf(s));
  return Math.min(8, p);
}
