/**
 * The candlestick chart (TradingView lightweight-charts v5): candles with volume underneath. The forming
 * candle is drawn translucent and settles to solid colours when it closes. Scrolling near the oldest loaded
 * candle asks for older history. Keyboard: arrows scroll, Shift+arrows scroll faster, + / - zoom, Home goes
 * to the oldest loaded candle (loading more), End back to the latest.
 */
import { CandlestickSeries, ColorType, CrosshairMode, HistogramSeries, createChart } from 'lightweight-charts';
import type { CandlestickData, HistogramData, IChartApi, ISeriesApi, UTCTimestamp } from 'lightweight-charts';
import type { Candle } from './api.js';

const UP = '#26a69a';
const DOWN = '#ef5350';
const UP_FORMING = 'rgba(38, 166, 154, 0.45)';
const DOWN_FORMING = 'rgba(239, 83, 80, 0.45)';
const UP_VOLUME = 'rgba(38, 166, 154, 0.4)';
const DOWN_VOLUME = 'rgba(239, 83, 80, 0.4)';

/** Ask for older candles when fewer than this many bars are left of the visible range. */
const NEAR_START_BARS = 15;

export function toBar(c: Candle): CandlestickData<UTCTimestamp> {
  const bar: CandlestickData<UTCTimestamp> = { time: (c.openTime / 1000) as UTCTimestamp, open: Number(c.open), high: Number(c.high), low: Number(c.low), close: Number(c.close) };
  if (!c.closed) {
    const color = bar.close >= bar.open ? UP_FORMING : DOWN_FORMING;
    bar.color = color;
    bar.borderColor = color;
    bar.wickColor = color;
  }
  return bar;
}

function toVolume(c: Candle): HistogramData<UTCTimestamp> {
  return { time: (c.openTime / 1000) as UTCTimestamp, value: Number(c.volume), color: Number(c.close) >= Number(c.open) ? UP_VOLUME : DOWN_VOLUME };
}

export class CandleChart {
  private readonly chart: IChartApi;
  private readonly candles: ISeriesApi<'Candlestick'>;
  private readonly volume: ISeriesApi<'Histogram'>;

  constructor(
    private readonly container: HTMLElement,
    private readonly onNearStart: () => void,
  ) {
    this.chart = createChart(container, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: '#131722' }, textColor: '#b2b5be', fontSize: 12, attributionLogo: false },
      grid: { vertLines: { color: '#1e222d' }, horzLines: { color: '#1e222d' } },
      crosshair: { mode: CrosshairMode.Normal },
      rightPriceScale: { borderColor: '#2a2e39' },
      timeScale: { borderColor: '#2a2e39', timeVisible: true, secondsVisible: false, rightOffset: 4 },
      localization: { locale: 'en-US' },
    });
    this.candles = this.chart.addSeries(CandlestickSeries, { upColor: UP, downColor: DOWN, borderUpColor: UP, borderDownColor: DOWN, wickUpColor: UP, wickDownColor: DOWN });
    this.volume = this.chart.addSeries(HistogramSeries, { priceScaleId: 'volume', priceFormat: { type: 'volume' }, lastValueVisible: false, priceLineVisible: false });
    this.chart.priceScale('volume').applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    this.candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.25 } });
    this.chart.timeScale().subscribeVisibleLogicalRangeChange((range) => {
      if (range && range.from < NEAR_START_BARS) this.onNearStart();
    });
    container.addEventListener('keydown', (e) => this.onKey(e));
  }

  /** Replaces everything (first load, older history prepended). Keeps the view where it is. */
  setCandles(candles: readonly Candle[], precision: number, secondsVisible: boolean): void {
    this.candles.applyOptions({ priceFormat: { type: 'price', precision, minMove: 10 ** -precision } });
    this.chart.applyOptions({ timeScale: { secondsVisible } });
    this.candles.setData(candles.map(toBar));
    this.volume.setData(candles.map(toVolume));
    this.describe(candles);
  }

  /** Applies one candle: `last` when it is (or becomes) the newest one. */
  update(c: Candle, all: readonly Candle[]): void {
    const newest = all[all.length - 1];
    if (newest && newest.openTime === c.openTime) {
      this.candles.update(toBar(c));
      this.volume.update(toVolume(c));
    } else {
      // An older candle was amended (late trade, backfill): rare, so redraw from the full list.
      this.candles.setData(all.map(toBar));
      this.volume.setData(all.map(toVolume));
    }
    this.describe(all);
  }

  /** The chart itself, for layers drawn over it (indicator overlays). */
  get api(): IChartApi {
    return this.chart;
  }

  scrollToLatest(): void {
    this.chart.timeScale().scrollToRealTime();
  }

  /** The bars the chart holds (what is drawn), for tests and for the page's own checks. */
  data(): { time: number; open: number; high: number; low: number; close: number }[] {
    return this.candles.data().map((b) => {
      const c = b as CandlestickData<UTCTimestamp>;
      return { time: c.time, open: c.open, high: c.high, low: c.low, close: c.close };
    });
  }

  volumes(): { time: number; value: number }[] {
    return this.volume.data().map((b) => {
      const v = b as HistogramData<UTCTimestamp>;
      return { time: v.time, value: v.value };
    });
  }

  private describe(candles: readonly Candle[]): void {
    const d = this.container.dataset;
    d.bars = String(candles.length);
    d.first = String(candles[0]?.openTime ?? '');
    d.last = String(candles[candles.length - 1]?.openTime ?? '');
  }

  private onKey(e: KeyboardEvent): void {
    const ts = this.chart.timeScale();
    const visible = ts.getVisibleLogicalRange();
    const width = visible ? Math.max(1, Math.round(visible.to - visible.from)) : 50;
    const step = e.shiftKey ? Math.max(10, Math.round(width / 2)) : 5;
    const spacing = ts.options().barSpacing;
    switch (e.key) {
      case 'ArrowLeft':
        ts.scrollToPosition(ts.scrollPosition() - step, false);
        break;
      case 'ArrowRight':
        ts.scrollToPosition(Math.min(ts.scrollPosition() + step, 4), false);
        break;
      case 'PageUp':
        ts.scrollToPosition(ts.scrollPosition() - width, false);
        break;
      case 'PageDown':
        ts.scrollToPosition(Math.min(ts.scrollPosition() + width, 4), false);
        break;
      case '+':
      case '=':
        ts.applyOptions({ barSpacing: Math.min(50, spacing * 1.25) });
        break;
      case '-':
        ts.applyOptions({ barSpacing: Math.max(1, spacing / 1.25) });
        break;
      case 'Home':
        ts.scrollToPosition(-(this.candles.data().length - width), false);
        break;
      case 'End':
        ts.scrollToRealTime();
        break;
      default:
        return;
    }
    e.preventDefault();
  }
}
