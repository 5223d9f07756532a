/**
 * /metrics in the format the scraper asks for: OpenMetrics 1.0 (with exemplars) when the Accept header
 * prefers `application/openmetrics-text` (Prometheus sends it first), else the classic Prometheus text format
 * 0.0.4 (prom-client's own, unchanged: curl, promtool, older scrapers).
 *
 * The OpenMetrics text is rendered here from the metrics' values rather than by switching the registry's
 * content type: prom-client's OpenMetrics `registry.metrics()` renames counters in place (drops `_total`
 * from the metric objects), which would change the classic output of every later scrape, and one registry
 * serves both kinds of scraper at once.
 */
import { Registry } from 'prom-client';

export const CLASSIC_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;
export const OPENMETRICS_CONTENT_TYPE = Registry.OPENMETRICS_CONTENT_TYPE;

/**
 * True when `accept` ranks OpenMetrics text above the classic format: its best q-value is positive and at
 * least that of `text/plain` (and of any wildcard). Absent or unparsable: classic.
 */
export function prefersOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  let om = 0;
  let classic = 0;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    let q = 1;
    for (const p of params) if (p.startsWith('q=')) q = Number(p.slice(2));
    if (!Number.isFinite(q)) continue;
    if (type === 'application/openmetrics-text') om = Math.max(om, q);
    else if (type === 'text/plain' || type === '*/*' || type === 'text/*') classic = Math.max(classic, q);
  }
  return om > 0 && om >= classic;
}

/** The /metrics body and its content type for a request with this Accept header. */
export async function exposition(registry: Registry, accept: string | undefined): Promise<{ contentType: string; body: string }> {
  if (prefersOpenMetrics(accept)) return { contentType: OPENMETRICS_CONTENT_TYPE, body: await openMetricsText(registry) };
  return { contentType: CLASSIC_CONTENT_TYPE, body: await registry.metrics() };
}

/** One sample as prom-client's `get()` (or a histogram's `getForPromString()`) returns it. */
interface Sample {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
  sharedLabels?: Record<string, string | number>;
  exemplar?: { labelSet: Record<string, string | number>; value: number; timestamp?: number } | null;
}

interface Family {
  name: string;
  help: string;
  type: string;
  values: Sample[];
}

interface Collectable {
  get(): Promise<Family> | Family;
  getForPromString?: () => Promise<Family>;
}

/**
 * The registry as OpenMetrics 1.0 text: one family per metric (a counter's family name without `_total`,
 * its sample with it), exemplars on histogram buckets, `# EOF` last.
 */
export async function openMetricsText(registry: Registry): Promise<string> {
  const metrics = registry.getMetricsAsArray() as unknown as Collectable[];
  const families = await Promise.all(metrics.map((m) => (typeof m.getForPromString === 'function' ? m.getForPromString() : m.get())));
  const out: string[] = [];
  for (const f of families) {
    const counter = f.type === 'counter';
    const family = counter ? f.name.replace(/_total$/, '') : f.name;
    out.push(`# HELP ${family} ${escapeText(f.help)}`, `# TYPE ${family} ${f.type}`);
    for (const v of f.values) {
      const name = counter ? `${family}_total` : (v.metricName ?? f.name);
      let line = `${name}${labelText({ ...v.sharedLabels, ...v.labels })} ${numberText(v.value)}`;
      if (v.exemplar) line += ` # ${labelText(v.exemplar.labelSet) || '{}'} ${numberText(v.exemplar.value)}${v.exemplar.timestamp === undefined ? '' : ` ${v.exemplar.timestamp}`}`;
      out.push(line);
    }
  }
  out.push('# EOF', '');
  return out.join('\n');
}

function labelText(labels: Record<string, string | number | undefined>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(labels)) if (v !== undefined) parts.push(`${k}="${escapeText(typeof v === 'number' ? numberText(v) : v)}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function numberText(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** OpenMetrics escapes backslash, double quote and line feed in HELP text and label values. */
function escapeText(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}
