/**
 * deploy/grafana: the committed dashboard JSON is exactly what the TypeScript generator produces, and every
 * dashboard is well formed: stable unique uids, a datasource variable used by every panel and target, a unit
 * and green/orange/red thresholds on every panel, at least one query per panel, $__rate_interval in every
 * rate()/increase(), defined variables only, exchange/symbol/timeframe variables wherever the metrics carry
 * those labels, and only metrics that exist. The provisioning files point at what exists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderDashboards } from '../deploy/grafana/src/generate.js';
import { catalogue, dataPanels, DASHBOARDS_DIR, loadDashboards, loadRules, path, readYaml, recordingLevelLabels, unknownMetric, yamlFiles } from './support/observability.js';
import { metricNames, rateWindows, variablesOf } from './support/promql.js';
import { readFileSync } from 'node:fs';

const BUILTIN_VARIABLES = ['__rate_interval', '__interval', '__range'];
const FILTER_LABELS = ['exchange', 'symbol', 'timeframe'];
const COLORS = ['green', 'orange', 'red'];

const dashboards = loadDashboards();

test('the committed dashboards are exactly the generator output (npm run dashboards)', () => {
  const generated = renderDashboards();
  assert.deepEqual(dashboards.map((d) => d.file), [...generated.keys()], `the files in ${DASHBOARDS_DIR}`);
  for (const [file, text] of generated) assert.equal(readFileSync(path(`${DASHBOARDS_DIR}/${file}`), 'utf8'), text, `${file} is stale: run npm run dashboards`);
});

test('ten dashboards with stable, unique uids and titles', () => {
  assert.equal(dashboards.length, 10);
  const uids = dashboards.map((d) => d.json.uid as string);
  assert.equal(new Set(uids).size, uids.length, 'unique uids');
  assert.equal(new Set(dashboards.map((d) => d.json.title)).size, uids.length, 'unique titles');
  for (const uid of uids) assert.match(uid, /^candlestack-[a-z0-9-]{1,28}$/, `${uid}: stable, readable and within Grafana's 40 characters`);
  assert.deepEqual(uids.slice(0, 8), [
    'candlestack-market',
    'candlestack-pipeline',
    'candlestack-data-quality',
    'candlestack-circuit-breakers',
    'candlestack-storage',
    'candlestack-jobs',
    'candlestack-host',
    'candlestack-nodejs',
  ]);
  assert.ok(uids.includes('candlestack-assistant'), 'the Assistant dashboard (seed 003)');
  assert.ok(uids.includes('candlestack-services'), 'the Services dashboard (seed 003\'s SLA goals)');
});

for (const { file, json } of dashboards) {
  test(`${file}: datasource variable, units, thresholds, targets, $__rate_interval, variables`, () => {
    const vars = json.templating.list as any[];
    const ds = vars.find((v) => v.type === 'datasource');
    assert.equal(ds?.name, 'datasource', 'a datasource variable');
    assert.equal(ds.query, 'prometheus');
    const defined = new Set(vars.map((v) => v.name as string));
    for (const v of vars.filter((x) => x.type === 'query')) {
      assert.equal(v.datasource.uid, '${datasource}', `variable ${v.name} queries the selected datasource`);
      for (const used of variablesOf(v.query)) assert.ok(defined.has(used), `variable ${v.name} uses defined $${used}`);
    }

    const panels = dataPanels(json);
    assert.ok(panels.length >= 3, 'a few panels');
    assert.equal(new Set((json.panels as any[]).map((p) => p.id)).size, json.panels.length, 'unique panel ids');
    const used = new Set<string>();
    const labelsRead = new Set<string>();
    const families = catalogue();
    const recorded = new Set(loadRules().filter((r) => r.kind === 'record').map((r) => r.name));
    for (const p of panels) {
      const where = `${file} / ${p.title}`;
      assert.equal(p.datasource?.uid, '${datasource}', `${where}: uses the datasource variable`);
      assert.ok(typeof p.fieldConfig?.defaults?.unit === 'string' && p.fieldConfig.defaults.unit.length > 0, `${where}: has a unit`);
      assert.ok(p.description?.length > 10, `${where}: says what it shows`);
      assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${where}: fits the grid`);
      const t = p.fieldConfig.defaults.thresholds;
      assert.equal(t?.mode, 'absolute', `${where}: thresholds`);
      assert.equal(t.steps[0].value, null, `${where}: a base threshold color`);
      for (const s of t.steps) assert.ok(COLORS.includes(s.color), `${where}: threshold color ${s.color} is green, orange or red`);
      const values = t.steps.slice(1).map((s: any) => s.value as number);
      assert.deepEqual(values, [...values].sort((a, b) => a - b), `${where}: ascending thresholds`);
      assert.ok(p.targets.length >= 1, `${where}: at least one target`);
      for (const target of p.targets) {
        assert.equal(target.datasource?.uid, '${datasource}', `${where}: target uses the datasource variable`);
        assert.ok(typeof target.expr === 'string' && target.expr.trim().length > 0, `${where}: target has a query`);
        for (const w of rateWindows(target.expr)) assert.equal(w, '$__rate_interval', `${where}: rate()/increase() over $__rate_interval, not [${w}]`);
        for (const v of variablesOf(target.expr)) {
          assert.ok(defined.has(v) || BUILTIN_VARIABLES.includes(v), `${where}: $${v} is defined`);
          used.add(v);
        }
        for (const name of metricNames(target.expr)) {
          const problem = unknownMetric(name, families, recorded);
          assert.equal(problem, undefined, `${where}: ${problem}`);
          for (const l of families.get(name) ?? (recorded.has(name) ? recordingLevelLabels(name) : [])) labelsRead.add(l);
        }
      }
    }
    // Filter variables where they apply: a dashboard over metrics carrying exchange/symbol/timeframe offers them.
    for (const label of FILTER_LABELS) {
      if (!labelsRead.has(label)) continue;
      assert.ok(defined.has(label), `${file}: reads metrics with a ${label} label, so it has a $${label} variable`);
      assert.ok(used.has(label), `${file}: the $${label} variable filters at least one panel`);
    }
    for (const v of defined) if (v !== 'datasource') assert.ok(used.has(v) || vars.some((x) => variablesOf(x.query ?? '').includes(v)), `${file}: variable $${v} is used`);
  });
}

test('the market dashboard has a candlestick, volume and cross-exchange spread; the timeframe picks the candles', () => {
  const market = dashboards.find((d) => d.json.uid === 'candlestack-market')!.json;
  const panels = dataPanels(market);
  const candle = panels.find((p) => p.type === 'candlestick');
  assert.deepEqual(candle.targets.map((t: any) => t.legendFormat), ['open', 'high', 'low', 'close', 'volume']);
  assert.ok(panels.some((p) => /volume/i.test(p.title)));
  assert.ok(panels.some((p) => /spread/i.test(p.title) && p.fieldConfig.defaults.unit === 'percentunit'));
});

test('Services dashboard: the four SLA goals per service with the alert thresholds, exemplars on the latency panels; the Assistant shares the panels', () => {
  const services = dashboards.find((d) => d.json.uid === 'candlestack-services')!.json;
  const panels = dataPanels(services);
  const byTitle = (t: string) => panels.find((p) => p.title === t);
  const latency = byTitle('Latency p95 by service');
  assert.match(latency.targets[0].expr, /histogram_quantile\(0\.95, sum by \(job, le\)/);
  assert.equal(latency.targets[0].exemplar, true, 'exemplars on the latency panel');
  assert.equal(latency.fieldConfig.defaults.thresholds.steps.at(-1).value, 0.5, 'red at the 500 ms SLA (ApiLatencyHigh)');
  assert.equal(byTitle('Error rate by service').fieldConfig.defaults.thresholds.steps.at(-1).value, 0.01, 'red at 1% (ApiErrorRateHigh)');
  assert.match(byTitle('Requests per second by service').targets[0].expr, /sum by \(job\) \(rate\(candlestack_http_requests_total/);
  const availability = byTitle('Availability by service');
  assert.match(availability.targets[0].expr, /avg_over_time\(up\{job=~"\$job"\}/);
  assert.equal(availability.fieldConfig.defaults.thresholds.steps[1].value, 0.99, 'red below 99% (ServiceAvailabilityLow)');
  for (const p of panels) for (const t of p.targets) assert.match(t.expr, /job=~"\$job"/, `${p.title}: filtered by the $job variable`);
  const alerts = new Map(loadRules().filter((r) => r.kind === 'alert').map((r) => [r.name, r.expr]));
  assert.match(alerts.get('ApiLatencyHigh')!, /> 0\.5$/);
  assert.match(alerts.get('ApiErrorRateHigh')!, /> 0\.01$/);
  assert.match(alerts.get('ServiceAvailabilityLow')!, /< 0\.99$/);
  const assistant = dataPanels(dashboards.find((d) => d.json.uid === 'candlestack-assistant')!.json);
  const shared = assistant.find((p) => p.title === 'Latency p95 by service');
  assert.equal(shared.targets[0].expr, latency.targets[0].expr.replace('job=~"$job"', 'job=~"candlestack|candlestack-decide|candlestack-notify"'), 'the same panel (deploy/grafana/src/sla.ts), scoped to the services behind the bot');
});

test('Grafana provisioning: datasources with trace-to-logs links, and a provider for every dashboard', () => {
  const datasources = yamlFiles('deploy/grafana/provisioning/datasources').flatMap((f) => readYaml(f).datasources as any[]);
  const byUid = new Map(datasources.map((d) => [d.uid, d]));
  assert.equal(byUid.get('prometheus')?.type, 'prometheus');
  assert.equal(byUid.get('prometheus').isDefault, true);
  assert.equal(byUid.get('prometheus').jsonData.timeInterval, '15s', 'matches the scrape interval');
  assert.equal(byUid.get('loki')?.type, 'loki');
  assert.equal(byUid.get('tempo')?.type, 'tempo');
  assert.equal(byUid.get(byUid.get('tempo').jsonData.tracesToLogsV2.datasourceUid)?.type, 'loki', 'traces link to logs');
  assert.equal(byUid.get(byUid.get('loki').jsonData.derivedFields[0].datasourceUid)?.type, 'tempo', 'logs link to traces');
  const exemplars = byUid.get('prometheus').jsonData.exemplarTraceIdDestinations;
  assert.deepEqual(exemplars, [{ name: 'trace_id', datasourceUid: 'tempo' }], 'an exemplar\'s trace_id (src/telemetry/exemplars.ts) opens the trace in Tempo');
  assert.equal(byUid.get('tempo').jsonData.tracesToLogsV2.filterByTraceID, true, 'a trace opens the logs of that trace');
  const providers = readYaml('deploy/grafana/provisioning/dashboards/candlestack.yml').providers as any[];
  assert.equal(providers.length, 1);
  assert.equal(providers[0].type, 'file');
  assert.ok(providers[0].options.path.length > 0);
});
