/**
 * Draws indicator values on the candle chart (lightweight-charts v5): price-scale overlays (SMA, EMA,
 * Bollinger, VWAP) as line series on the price pane, RSI and MACD each in a small pane underneath. Only the
 * enabled overlays have series; toggling rebuilds them from the held points (cheap: a few thousand values).
 */
import { HistogramSeries, LineSeries, LineStyle } from 'lightweight-charts';
import type { HistogramData, IChartApi, ISeriesApi, LineData, UTCTimestamp } from 'lightweight-charts';
import type { IndicatorValues } from './api.js';
import { HISTOGRAM_DOWN, HISTOGRAM_UP, type LineSpec, type OverlaySpec } from './indicator-kinds.js';

/** One candle's indicator values; `closed` once the candle closed (forming values are replaced freely). */
export interface HeldPoint {
  openTime: number;
  closed: boolean;
  values: Readonly<Record<string, IndicatorValues>>;
}

type Drawn = { line: LineSpec; series: ISeriesApi<'Line'> | ISeriesApi<'Histogram'> };

/** Height of each lower pane relative to the price pane. */
const LOWER_STRETCH = 0.28;

export class IndicatorOverlays {
  private specs: OverlaySpec[] = [];
  private enabled = new Set<string>();
  private readonly drawn = new Map<string, Drawn[]>();
  private points: readonly HeldPoint[] = [];
  private precision = 2;

  constructor(private readonly chart: IChartApi) {}

  /** The overlays on offer and which of them are on: rebuilds every series. */
  configure(specs: readonly OverlaySpec[], enabled: ReadonlySet<string>): void {
    this.specs = [...specs];
    this.enabled = new Set(enabled);
    this.rebuild();
  }

  setPrecision(precision: number): void {
    this.precision = precision;
    for (const spec of this.specs) {
      if (spec.placement !== 'price') continue;
      for (const d of this.drawn.get(spec.name) ?? []) d.series.applyOptions({ priceFormat: { type: 'price', precision, minMove: 10 ** -precision } });
    }
  }

  /** Replaces every drawn value (first load, older history, corrections). */
  setPoints(points: readonly HeldPoint[]): void {
    this.points = points;
    for (const [name, lines] of this.drawn) for (const d of lines) d.series.setData(toData(points, name, d.line) as never);
  }

  /** Draws the newest point (it is `points`' last one): the forming values move, a close settles them. */
  updateLatest(points: readonly HeldPoint[]): void {
    this.points = points;
    const p = points[points.length - 1];
    if (!p) return;
    for (const [name, lines] of this.drawn) {
      for (const d of lines) {
        const point = toPoint(p, name, d.line);
        const data = d.series.data();
        const lastTime = data.length > 0 ? (data[data.length - 1]!.time as number) : -Infinity;
        if (point && (point.time as number) >= lastTime) d.series.update(point as never);
        else if (!point && lastTime === p.openTime / 1000) d.series.setData(toData(points, name, d.line) as never);
      }
    }
  }

  /** For tests: the drawn lines of indicator `name` (null when it is not drawn) and its pane. */
  series(name: string): { pane: number; lines: Record<string, { time: number; value: number }[]> } | null {
    const lines = this.drawn.get(name);
    if (!lines || lines.length === 0) return null;
    const out: Record<string, { time: number; value: number }[]> = {};
    for (const d of lines) out[d.line.key] = d.series.data().map((b) => ({ time: b.time as number, value: (b as LineData).value }));
    return { pane: lines[0]!.series.getPane().paneIndex(), lines: out };
  }

  paneCount(): number {
    return this.chart.panes().length;
  }

  private rebuild(): void {
    for (const lines of this.drawn.values()) for (const d of lines) this.chart.removeSeries(d.series);
    this.drawn.clear();
    let pane = 0;
    for (const spec of this.specs) {
      if (!this.enabled.has(spec.name)) continue;
      const index = spec.placement === 'price' ? 0 : ++pane;
      const lines = spec.lines.map((line) => ({ line, series: this.add(spec, line, index) }));
      this.drawn.set(spec.name, lines);
      if (index > 0) {
        this.chart.panes()[index]?.setStretchFactor(LOWER_STRETCH);
        for (const g of spec.range?.guides ?? []) (lines[0]!.series as ISeriesApi<'Line'>).createPriceLine({ price: g, color: '#4a4f5c', lineWidth: 1, lineStyle: LineStyle.Dotted, axisLabelVisible: false });
      }
    }
    // Panes left empty by overlays switched off go away, so the price pane gets the room back.
    for (let i = this.chart.panes().length - 1; i > pane; i--) this.chart.removePane(i);
    this.setPoints(this.points);
  }

  private add(spec: OverlaySpec, line: LineSpec, paneIndex: number): ISeriesApi<'Line'> | ISeriesApi<'Histogram'> {
    const common = { lastValueVisible: paneIndex > 0, priceLineVisible: false, title: '' };
    const priceFormat = spec.placement === 'price' ? { type: 'price' as const, precision: this.precision, minMove: 10 ** -this.precision } : { type: 'price' as const, precision: 2, minMove: 0.01 };
    const range = spec.range;
    const autoscaleInfoProvider = range ? () => ({ priceRange: { minValue: range.min, maxValue: range.max } }) : undefined;
    if (line.style === 'histogram') return this.chart.addSeries(HistogramSeries, { ...common, color: line.color, priceFormat, lastValueVisible: false }, paneIndex);
    return this.chart.addSeries(
      LineSeries,
      { ...common, color: line.color, lineWidth: 1, lineStyle: line.style === 'dashed' ? LineStyle.Dashed : LineStyle.Solid, priceFormat, crosshairMarkerVisible: false, autoscaleInfoProvider },
      paneIndex,
    );
  }
}

function toPoint(p: HeldPoint, name: string, line: LineSpec): LineData<UTCTimestamp> | HistogramData<UTCTimestamp> | null {
  const v = p.values[name]?.[line.key];
  if (typeof v !== 'number' || !Number.isFinite(v)) return null;
  const time = (p.openTime / 1000) as UTCTimestamp;
  if (line.style === 'histogram') return { time, value: v, color: v >= 0 ? HISTOGRAM_UP : HISTOGRAM_DOWN };
  return { time, value: v };
}

function toData(points: readonly HeldPoint[], name: string, line: LineSpec): (LineData<UTCTimestamp> | HistogramData<UTCTimestamp>)[] {
  const out: (LineData<UTCTimestamp> | HistogramData<UTCTimestamp>)[] = [];
  for (const p of points) {
    const d = toPoint(p, name, line);
    if (d) out.push(d);
  }
  return out;
}
