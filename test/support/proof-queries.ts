/**
 * The expressions the proof runs (every recording and alerting rule, the signal of every alert, every
 * dashboard panel and variable query with Grafana's variables substituted), why one may be empty here, and
 * how one is run through Prometheus' HTTP API.
 */
import { dataPanels, loadDashboards, loadRules, PENDING_METRICS, RARE_SERIES, UNAVAILABLE_EXPORTERS } from './observability.js';
import { alertSignals, labelValuesQuery, metricNames, substituteVariables } from './promql.js';

/** What Grafana would substitute, with values that exist in the demo (1 s scrapes, 1s candles). */
export const GRAFANA_VALUES: Record<string, string> = {
  __rate_interval: '15s',
  __interval: '5s',
  __range: '30s',
  exchange: 'binance',
  symbol: 'BTC-USDT',
  timeframe: '1s',
  component: '.*',
  batch_job: '.*',
  instance: '.*',
  container: '.*',
  job: '.*',
};

export interface Query {
  source: string;
  expr: string;
  /** Parse-only: an alert expression whose threshold is (rightly) not crossed here. */
  parseOnly?: boolean;
}

const PENDING_SUFFIXES = ['', '_bucket', '_sum', '_count'];

/** Why an expression may be empty here, or [] when it must return data. */
export function emptyReasons(expr: string, recorded: Map<string, string>): string[] {
  const reasons = new Set<string>();
  for (const r of RARE_SERIES) if (expr.includes(r.selector)) reasons.add(r.reason);
  for (const name of metricNames(expr)) {
    const pending = Object.entries(PENDING_METRICS).find(([m]) => PENDING_SUFFIXES.some((s) => name === m + s));
    if (pending) reasons.add(`${pending[0]}: ${pending[1].reason}`);
    const exporter = UNAVAILABLE_EXPORTERS.find((e) => name.startsWith(e.prefix));
    if (exporter) reasons.add(exporter.reason);
    const rule = recorded.get(name);
    if (rule) for (const r of emptyReasons(rule, recorded)) reasons.add(r);
  }
  return [...reasons];
}

export function allQueries(): Query[] {
  const queries: Query[] = [];
  for (const r of loadRules()) {
    if (r.kind === 'record') {
      queries.push({ source: `recording rule ${r.name} (expression)`, expr: r.expr });
      queries.push({ source: `recording rule ${r.name} (recorded series)`, expr: r.name });
    } else {
      queries.push({ source: `alert ${r.name} (full expression)`, expr: r.expr, parseOnly: r.expr !== 'vector(1)' });
      alertSignals(r.expr).forEach((s, i) => queries.push({ source: `alert ${r.name} (signal ${i + 1})`, expr: s }));
    }
  }
  for (const { json } of loadDashboards()) {
    for (const v of json.templating.list as any[]) {
      if (v.type === 'query') queries.push({ source: `${json.uid} variable $${v.name}`, expr: substituteVariables(labelValuesQuery(v.query), GRAFANA_VALUES) });
    }
    for (const p of dataPanels(json)) {
      for (const target of p.targets) queries.push({ source: `${json.uid} / ${p.title} / ${target.refId}`, expr: substituteVariables(target.expr, GRAFANA_VALUES) });
    }
  }
  return queries;
}

export async function promQuery(base: string, expr: string): Promise<{ ok: boolean; error?: string; series: number }> {
  const res = await fetch(`${base}/api/v1/query`, { method: 'POST', body: new URLSearchParams({ query: expr }) });
  const body = (await res.json()) as any;
  if (body.status !== 'success') return { ok: false, error: `${body.errorType}: ${body.error}`, series: 0 };
  const { resultType, result } = body.data;
  return { ok: true, series: resultType === 'scalar' || resultType === 'string' ? 1 : result.length };
}
