/**
 * deploy/alertmanager: amtool check-config, the routing cases of tests/routes.yml, and one routing case per
 * alert rule (its severity decides the receiver). Inhibition and delivery run for real in
 * alerts-webhook.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { skipUnlessAvailable } from './support/harness.js';
import { ALERTMANAGER_CONFIG, loadRules, path, readYaml, toolAvailable } from './support/observability.js';

const amtool = toolAvailable('amtool');
const AMTOOL_MISSING = 'amtool not installed (Debian package prometheus-alertmanager)';

/** Which receiver an alert of each severity must reach. */
const RECEIVER_BY_SEVERITY: Record<string, string> = { critical: 'critical', warning: 'warning', info: 'warning', none: 'deadmansswitch' };

function routesTest(labels: Record<string, string>, receivers: string[]) {
  const args = ['config', 'routes', 'test', `--config.file=${path(ALERTMANAGER_CONFIG)}`, `--verify.receivers=${receivers.join(',')}`, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)];
  return spawnSync('amtool', args, { encoding: 'utf8' });
}

test('amtool check-config: alertmanager.yml is valid', (t) => {
  const missing = skipUnlessAvailable(amtool, AMTOOL_MISSING);
  if (missing) return t.skip(missing);
  const r = spawnSync('amtool', ['check-config', path(ALERTMANAGER_CONFIG)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /SUCCESS/);
});

test('amtool config routes test: the cases of deploy/alertmanager/tests/routes.yml', (t) => {
  const missing = skipUnlessAvailable(amtool, AMTOOL_MISSING);
  if (missing) return t.skip(missing);
  const cases = readYaml('deploy/alertmanager/tests/routes.yml') as { name: string; labels: Record<string, string>; receivers: string[] }[];
  assert.ok(cases.length >= 5);
  for (const c of cases) {
    const r = routesTest(c.labels, c.receivers);
    assert.equal(r.status, 0, `${c.name}: expected ${c.receivers.join(',')}, amtool resolved ${r.stdout.trim()} ${r.stderr.trim()}`);
  }
});

test('amtool config routes test: every alert rule reaches the receiver of its severity', (t) => {
  const missing = skipUnlessAvailable(amtool, AMTOOL_MISSING);
  if (missing) return t.skip(missing);
  const alerts = new Map(loadRules().filter((r) => r.kind === 'alert').map((r) => [`${r.name}/${r.labels.severity}`, r]));
  for (const a of alerts.values()) {
    const expected = RECEIVER_BY_SEVERITY[a.labels.severity!];
    assert.ok(expected, `${a.name}: severity ${a.labels.severity} has a receiver`);
    const r = routesTest({ alertname: a.name, severity: a.labels.severity!, exchange: 'binance', instance: 'candlestack:9001' }, [expected]);
    assert.equal(r.status, 0, `${a.name} (${a.labels.severity}) must reach ${expected}; amtool resolved ${r.stdout.trim()}`);
  }
  // A negative control, so a broken amtool invocation cannot pass silently.
  assert.notEqual(routesTest({ alertname: 'FeedDown', severity: 'critical' }, ['warning']).status, 0);
});

test('every receiver delivers to candlestack POST /api/alerts; FeedDown inhibits FeedStale of the same feed', () => {
  const config = readYaml(ALERTMANAGER_CONFIG);
  for (const receiver of config.receivers as any[]) {
    const urls = (receiver.webhook_configs ?? []).map((w: any) => w.url as string);
    assert.ok(urls.length > 0 && urls.every((u: string) => u.endsWith('/api/alerts')), `${receiver.name} posts to /api/alerts`);
  }
  const inhibit = (config.inhibit_rules as any[]).find((r) => r.source_matchers.includes('alertname="FeedDown"'));
  assert.deepEqual(inhibit?.target_matchers, ['alertname="FeedStale"']);
  for (const label of ['exchange', 'connection']) assert.ok(inhibit.equal.includes(label), `the inhibition is per feed (${label})`);
});
