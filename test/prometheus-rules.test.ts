/**
 * deploy/prometheus: promtool check config / check rules / test rules (the unit tests of every alert), and
 * the conventions promtool does not check: every alert of the issue exists, is CamelCase, has a severity, a
 * `for:`, a summary and description quoting the value and labels, a runbook line, a commented threshold,
 * and a promtool test where it fires and one where it stays silent; every metric a rule reads exists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument, isMap, isSeq, type YAMLMap } from 'yaml';
import { skipUnlessAvailable } from './support/harness.js';
import { catalogue, loadRules, path, PROMETHEUS_CONFIG, readYaml, RULE_TESTS_DIR, RULES_DIR, toolAvailable, unknownMetric, yamlFiles } from './support/observability.js';
import { metricNames } from './support/promql.js';

const REQUIRED_ALERTS = [
  'ServiceAvailabilityLow',
  'ServiceTrafficDropped',
  'FeedStale',
  'FeedDown',
  'ReconnectStorm',
  'TradeIdGaps',
  'CandleReconciliationMismatch',
  'CandleCloseLatencyHigh',
  'HighErrorRate',
  'CircuitBreakerOpen',
  'LowDataQuality',
  'CrossExchangeDivergence',
  'ConsumerLagHigh',
  'ConsumerLagGrowing',
  'StoreWriteErrors',
  'ApiErrorRateHigh',
  'ApiLatencyHigh',
  'JobFailed',
  'JobNotSucceededRecently',
  'JobTimedOut',
  'SchedulerHeartbeatMissing',
  'JobTextfileStale',
  'TargetDown',
  'Watchdog',
  'NotifierDeliveryFailing',
  'NotifierUnauthorizedSpike',
  'DecisionServiceDown',
  'DecisionHitRatioCollapse',
  'LokiLogsDropped',
];
const SEVERITIES = ['critical', 'warning', 'info', 'none'];

const promtool = toolAvailable('promtool');
const run = (args: string[]) => spawnSync('promtool', args, { cwd: path(''), encoding: 'utf8' });

test('promtool check config: prometheus.yml and the rule files it loads', (t) => {
  const missing = skipUnlessAvailable(promtool, 'promtool not installed (Debian package prometheus)');
  if (missing) return t.skip(missing);
  const r = run(['check', 'config', PROMETHEUS_CONFIG]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`SUCCESS: ${yamlFiles(RULES_DIR).length} rule files found`));
});

test('promtool check rules: every rule file is valid and lint-clean', (t) => {
  const missing = skipUnlessAvailable(promtool, 'promtool not installed (Debian package prometheus)');
  if (missing) return t.skip(missing);
  const r = run(['check', 'rules', ...yamlFiles(RULES_DIR)]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('promtool test rules: every alert fires and stays silent where its unit tests say', (t) => {
  const missing = skipUnlessAvailable(promtool, 'promtool not installed (Debian package prometheus)');
  if (missing) return t.skip(missing);
  const r = run(['test', 'rules', ...yamlFiles(RULE_TESTS_DIR)]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('the rule unit tests catch a changed alert: FeedDown with a longer for: fails them', (t) => {
  const missing = skipUnlessAvailable(promtool, 'promtool not installed (Debian package prometheus)');
  if (missing) return t.skip(missing);
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-rules-'));
  try {
    cpSync(path('deploy/prometheus'), dir, { recursive: true });
    const alerts = join(dir, 'rules/candlestack-alerts.yml');
    const text = readFileSync(alerts, 'utf8');
    const mutated = text.replace(/(alert: FeedDown\n\s+expr: [^\n]+\n\s+)for: 2m/, '$1for: 5m');
    assert.notEqual(mutated, text, 'the mutation applies');
    writeFileSync(alerts, mutated);
    const r = spawnSync('promtool', ['test', 'rules', join(dir, 'tests/feed_test.yml')], { encoding: 'utf8' });
    assert.notEqual(r.status, 0, 'promtool test rules must fail');
    assert.match(r.stdout + r.stderr, /alertname: FeedDown/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every alert of the issue exists, named in CamelCase, with severity, for:, summary, description, runbook', () => {
  const alerts = loadRules().filter((r) => r.kind === 'alert');
  assert.deepEqual([...new Set(alerts.map((a) => a.name))].sort(), [...REQUIRED_ALERTS].sort());
  for (const a of alerts) {
    assert.match(a.name, /^[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)*$/, `${a.name} is CamelCase`);
    assert.ok(SEVERITIES.includes(a.labels.severity ?? ''), `${a.name} has a severity (${SEVERITIES.join(', ')})`);
    assert.equal(typeof a.for, 'string', `${a.name} has for:`);
    for (const key of ['summary', 'description', 'runbook']) assert.ok((a.annotations[key] ?? '').length > 10, `${a.name} has a ${key}`);
    assert.match(a.annotations.description!, /\$value/, `${a.name}: the description quotes the value`);
    if (a.expr !== 'vector(1)') assert.match(a.annotations.description!, /\$labels\./, `${a.name}: the description quotes labels`);
  }
});

test('every alert has a comment explaining its threshold', () => {
  for (const file of yamlFiles(RULES_DIR)) {
    const doc = parseDocument(readFileSync(path(file), 'utf8'));
    const groups = doc.get('groups');
    assert.ok(isSeq(groups));
    for (const g of groups.items as YAMLMap[]) {
      const rules = g.get('rules');
      assert.ok(isSeq(rules));
      rules.items.forEach((r, i) => {
        assert.ok(isMap(r));
        const name = r.get('alert');
        if (typeof name !== 'string') return;
        // The yaml parser attaches the comment above the first item of a sequence to the sequence itself.
        const comment = r.commentBefore ?? (i === 0 ? rules.commentBefore : undefined) ?? '';
        assert.ok(comment.trim().length > 10, `${file}: ${name} has a comment above it explaining its threshold`);
      });
    }
  }
});

test('every alert has a promtool case where it fires and one where it stays silent', () => {
  const firing = new Set<string>();
  const silent = new Set<string>();
  for (const file of yamlFiles(RULE_TESTS_DIR)) {
    for (const tc of readYaml(file).tests as any[]) {
      for (const a of (tc.alert_rule_test ?? []) as any[]) {
        if ((a.exp_alerts ?? []).length > 0) {
          firing.add(a.alertname);
          for (const e of a.exp_alerts) {
            assert.ok(e.exp_labels?.severity, `${file}: ${a.alertname} expects its labels`);
            assert.ok(e.exp_annotations?.summary && e.exp_annotations?.description && e.exp_annotations?.runbook, `${file}: ${a.alertname} expects its annotations`);
          }
        } else silent.add(a.alertname);
      }
    }
  }
  for (const name of REQUIRED_ALERTS) {
    assert.ok(firing.has(name), `${name} has a test case where it fires`);
    // The dead man's switch is the one alert that must never be silent.
    if (name !== 'Watchdog') assert.ok(silent.has(name), `${name} has a test case where it stays silent`);
  }
});

test('recording rules follow level:metric:operations and every rule reads metrics that exist', () => {
  const rules = loadRules();
  const recorded = new Set(rules.filter((r) => r.kind === 'record').map((r) => r.name));
  const families = catalogue();
  for (const r of rules) {
    if (r.kind === 'record') assert.match(r.name, /^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$/, `${r.name} is level:metric:operations`);
    for (const name of metricNames(r.expr)) {
      const problem = unknownMetric(name, families, recorded);
      assert.equal(problem, undefined, `${r.name}: ${problem}`);
    }
  }
});
