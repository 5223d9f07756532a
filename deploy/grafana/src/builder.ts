/**
 * A small, typed builder for the Grafana dashboards of deploy/grafana/dashboards/. Every panel gets the
 * `${datasource}` variable as its data source, a unit, green/orange/red thresholds and its PromQL targets;
 * the layout (rows of panels, 24 columns wide) is computed. Output is plain dashboard JSON (schemaVersion 39),
 * which Grafana's file provisioning loads as is.
 */

export type Color = 'green' | 'orange' | 'red';
export type PanelType = 'timeseries' | 'stat' | 'state-timeline' | 'candlestick' | 'bargauge';

/** Ascending steps: the base color applies below the first value. */
export interface Thresholds {
  base: Color;
  steps: [number, Color][];
}

/** Higher is worse (latency, errors, age): orange from `orange`, red from `red`. */
export const above = (orange: number, red: number): Thresholds => ({ base: 'green', steps: [[orange, 'orange'], [red, 'red']] });
/** Lower is worse (quality score, hit rate, up): red below `orange`, orange below `green`. */
export const below = (orange: number, green: number): Thresholds => ({ base: 'red', steps: [[orange, 'orange'], [green, 'green']] });
/** 0 is bad, 1 is good (up, connected, last run succeeded). */
export const upDown: Thresholds = { base: 'red', steps: [[1, 'green']] };
/** Any value is fine (prices, throughput): green only, no threshold line. */
export const informational: Thresholds = { base: 'green', steps: [] };

export interface Target {
  expr: string;
  legend?: string;
  /** Also query the exemplars of the histogram (Grafana draws them as points linked to their trace in Tempo). */
  exemplar?: boolean;
}

export interface PanelSpec {
  title: string;
  description: string;
  type?: PanelType;
  unit: string;
  thresholds: Thresholds;
  targets: Target[];
  /** Width in grid columns (24 = full width); default 8. */
  w?: number;
  h?: number;
  min?: number;
  max?: number;
  /** Value -> text (and color) for state panels. */
  mappings?: { value: number; text: string; color: Color }[];
  /** Minimum query interval (Grafana's "Min interval"). */
  interval?: string;
  bars?: boolean;
  options?: Record<string, unknown>;
}

export interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

export interface VariableSpec {
  name: string;
  label: string;
  /** A Grafana Prometheus variable query, e.g. label_values(metric{...}, label). */
  query: string;
  multi: boolean;
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  variables: VariableSpec[];
  rows: RowSpec[];
  time?: string;
}

export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;

function thresholdsJson(t: Thresholds) {
  return { mode: 'absolute', steps: [{ color: t.base, value: null }, ...t.steps.map(([value, color]) => ({ color, value }))] };
}

function mappingsJson(mappings: PanelSpec['mappings']) {
  if (!mappings) return [];
  return [{ type: 'value', options: Object.fromEntries(mappings.map((m, i) => [String(m.value), { text: m.text, color: m.color, index: i }])) }];
}

const LEGEND = { displayMode: 'list', placement: 'bottom', showLegend: true };

function panelOptions(p: PanelSpec): Record<string, unknown> {
  const type = p.type ?? 'timeseries';
  switch (type) {
    case 'stat':
      return { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'background', graphMode: 'area', justifyMode: 'auto', orientation: 'auto', textMode: 'auto', ...p.options };
    case 'bargauge':
      return { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, displayMode: 'gradient', orientation: 'horizontal', showUnfilled: true, ...p.options };
    case 'state-timeline':
      return { mergeValues: true, showValue: 'auto', alignValue: 'left', rowHeight: 0.9, legend: LEGEND, tooltip: { mode: 'single', sort: 'none' }, ...p.options };
    case 'candlestick':
      return {
        mode: 'candles+volume',
        candleStyle: 'candles',
        colorStrategy: 'open-close',
        colors: { up: 'green', down: 'red' },
        includeAllFields: false,
        fields: { open: 'open', high: 'high', low: 'low', close: 'close', volume: 'volume' },
        legend: LEGEND,
        ...p.options,
      };
    default:
      return { legend: LEGEND, tooltip: { mode: 'multi', sort: 'desc' }, ...p.options };
  }
}

function fieldCustom(p: PanelSpec): Record<string, unknown> | undefined {
  const type = p.type ?? 'timeseries';
  if (type === 'timeseries' || type === 'candlestick') {
    return {
      drawStyle: p.bars ? 'bars' : 'line',
      lineWidth: 1,
      fillOpacity: p.bars ? 80 : 10,
      showPoints: 'never',
      spanNulls: false,
      stacking: { mode: 'none', group: 'A' },
      thresholdsStyle: { mode: p.thresholds.steps.length > 0 ? 'dashed' : 'off' },
    };
  }
  if (type === 'state-timeline') return { fillOpacity: 80, lineWidth: 0 };
  return undefined;
}

function panelJson(p: PanelSpec, id: number, gridPos: { x: number; y: number; w: number; h: number }) {
  const type = p.type ?? 'timeseries';
  const colorByThresholds = type !== 'timeseries' && type !== 'candlestick';
  const custom = fieldCustom(p);
  return {
    id,
    type,
    title: p.title,
    description: p.description,
    datasource: DATASOURCE,
    gridPos,
    ...(p.interval ? { interval: p.interval } : {}),
    targets: p.targets.map((t, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: DATASOURCE,
      editorMode: 'code',
      expr: t.expr,
      legendFormat: t.legend ?? '__auto',
      range: true,
      ...(t.exemplar ? { exemplar: true } : {}),
    })),
    fieldConfig: {
      defaults: {
        unit: p.unit,
        color: { mode: colorByThresholds ? 'thresholds' : 'palette-classic' },
        thresholds: thresholdsJson(p.thresholds),
        mappings: mappingsJson(p.mappings),
        ...(p.min !== undefined ? { min: p.min } : {}),
        ...(p.max !== undefined ? { max: p.max } : {}),
        ...(custom ? { custom } : {}),
      },
      overrides: [],
    },
    options: panelOptions(p),
  };
}

function variableJson(v: VariableSpec) {
  return {
    name: v.name,
    label: v.label,
    type: 'query',
    datasource: DATASOURCE,
    query: v.query,
    definition: v.query,
    refresh: 2,
    sort: 1,
    multi: v.multi,
    includeAll: v.multi,
    ...(v.multi ? { allValue: '.*', current: { text: 'All', value: '$__all' } } : { current: {} }),
    hide: 0,
    regex: '',
    options: [],
  };
}

export function buildDashboard(spec: DashboardSpec) {
  const panels: unknown[] = [];
  let id = 1;
  let y = 0;
  for (const row of spec.rows) {
    panels.push({ id: id++, type: 'row', title: row.title, collapsed: false, gridPos: { x: 0, y, w: 24, h: 1 }, panels: [] });
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const p of row.panels) {
      const w = p.w ?? 8;
      const h = p.h ?? 8;
      if (x + w > 24) {
        y += rowHeight;
        x = 0;
        rowHeight = 0;
      }
      panels.push(panelJson(p, id++, { x, y, w, h }));
      x += w;
      rowHeight = Math.max(rowHeight, h);
    }
    y += rowHeight;
  }
  return {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: ['candlestack', ...spec.tags],
    timezone: 'utc',
    editable: true,
    graphTooltip: 1,
    fiscalYearStartMonth: 0,
    liveNow: false,
    refresh: '30s',
    schemaVersion: 39,
    version: 1,
    time: { from: spec.time ?? 'now-3h', to: 'now' },
    timepicker: {},
    links: [{ title: 'candlestack', type: 'dashboards', tags: ['candlestack'], asDropdown: true, includeVars: true, keepTime: true, icon: 'external link', targetBlank: false, tooltip: '', url: '' }],
    annotations: {
      list: [{ builtIn: 1, datasource: { type: 'grafana', uid: '-- Grafana --' }, enable: true, hide: true, iconColor: 'rgba(0, 211, 255, 1)', name: 'Annotations & Alerts', type: 'dashboard' }],
    },
    templating: {
      list: [
        { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0, refresh: 1, regex: '', includeAll: false, multi: false, options: [] },
        ...spec.variables.map(variableJson),
      ],
    },
    panels,
  };
}

export type DashboardJson = ReturnType<typeof buildDashboard>;

/** The common variables: exchange, symbol (filtered by exchange) and timeframe, all from candlestack's own series. */
export const vars = {
  exchange: (multi = true): VariableSpec => ({ name: 'exchange', label: 'Exchange', query: 'label_values(candlestack_trades_received_total, exchange)', multi }),
  symbol: (multi = true): VariableSpec => ({ name: 'symbol', label: 'Symbol', query: 'label_values(candlestack_trades_received_total{exchange=~"$exchange"}, symbol)', multi }),
  timeframe: (multi = true): VariableSpec => ({ name: 'timeframe', label: 'Timeframe', query: 'label_values(candlestack_candles_completed_total{exchange=~"$exchange"}, timeframe)', multi }),
};
