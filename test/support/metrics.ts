/**
 * Reading metric values in tests, one way for every source: a Metrics catalogue or a prom-client Registry in
 * process, or the Prometheus text a running /metrics serves. A name is a sample name as Prometheus shows it:
 * a counter or gauge by its name, a histogram by name_count, name_sum or name_bucket. Labels select the
 * series that carry them (a subset: { exchange: 'binance' } matches every binance series).
 */
import assert from 'node:assert/strict';
import type { Registry } from 'prom-client';
import type { Metrics } from '../../src/telemetry/metrics.js';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Samples parsed from the text format, with the metric families its # TYPE lines declare (name -> type). */
export type Scrape = Sample[] & { families: ReadonlyMap<string, string> };

/** In-process metrics, or a scrape (scrapeMetrics, parseExposition) to read several values from one snapshot. */
export type MetricSource = Metrics | Registry | Scrape;

const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];

/** The family a sample name belongs to, when it is not a family itself (name_count -> name). */
const histogramFamily = (name: string): string | undefined => {
  const suffix = HISTOGRAM_SUFFIXES.find((s) => name.endsWith(s));
  return suffix ? name.slice(0, -suffix.length) : undefined;
};

async function registrySamples(registry: Registry, name: string): Promise<Sample[]> {
  const family = histogramFamily(name);
  const metric = registry.getSingleMetric(name) ?? (family ? registry.getSingleMetric(family) : undefined);
  assert.ok(metric, `no metric ${name} is registered`);
  const data = await metric.get();
  if (String(data.type) === 'histogram' && data.name === name) assert.fail(`${name} is a histogram: read ${name}_count, ${name}_sum or ${name}_bucket`);
  return data.values.map((v) => ({
    name: (v as { metricName?: string }).metricName ?? data.name,
    labels: Object.fromEntries(Object.entries(v.labels).map(([k, x]) => [k, String(x)])),
    value: v.value,
  }));
}

const matches = (s: Sample, name: string, labels: Record<string, string>): boolean => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v);

/** The series of `name` whose labels include `labels` (to check a series is there, or to see its labels). */
export async function metricSeries(source: MetricSource, name: string, labels: Record<string, string> = {}): Promise<Sample[]> {
  let samples: readonly Sample[];
  if (Array.isArray(source)) {
    const { families } = source as Scrape;
    const family = histogramFamily(name);
    assert.ok(families.has(name) || (family !== undefined && families.has(family)), `no metric ${name} in the scrape`);
    if (families.get(name) === 'histogram') assert.fail(`${name} is a histogram: read ${name}_count, ${name}_sum or ${name}_bucket`);
    samples = source;
  } else {
    samples = await registrySamples('registry' in source ? (source as Metrics).registry : (source as Registry), name);
  }
  return samples.filter((s) => matches(s, name, labels));
}

/** The sum of the series of `name` whose labels include `labels`; 0 when there is none (a counter not counted yet). */
export async function metricValue(source: MetricSource, name: string, labels: Record<string, string> = {}): Promise<number> {
  return (await metricSeries(source, name, labels)).reduce((n, s) => n + s.value, 0);
}

// ── the text format a running /metrics serves ────────────────────────────────────────────────────

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/y;

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

/** The samples of a Prometheus text exposition (label values unescaped) and the families it declares. */
export function parseExposition(text: string): Scrape {
  const out: Sample[] = [];
  const families = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) families.set(type[1]!, type[2]!);
    if (line.trim() === '' || line.startsWith('#')) continue;
    const m = SAMPLE_LINE.exec(line.trim());
    assert.ok(m, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < body.length) {
      const l = LABEL.exec(body);
      assert.ok(l, `bad labels in: ${line}`);
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    out.push({ name: m[1]!, labels, value: parseValue(m[3]!) });
  }
  return Object.assign(out, { families });
}

/** GET `${baseUrl}/metrics`, parsed: pass it to metricValue / metricSeries to read one consistent snapshot. */
export async function scrapeMetrics(baseUrl: string): Promise<Scrape> {
  const res = await fetch(`${baseUrl}/metrics`);
  assert.equal(res.status, 200, `GET ${baseUrl}/metrics`);
  return parseExposition(await res.text());
}

/** metricValue of a running server's /metrics. */
export async function scrapeMetric(baseUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricValue(await scrapeMetrics(baseUrl), name, labels);
}
