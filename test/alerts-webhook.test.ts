/**
 * POST /api/alerts, the Alertmanager webhook receiver: the payload exactly as Alertmanager documents it is
 * accepted, logged and counted; bad bodies are 400s naming the field and count nothing; then a real
 * Alertmanager with the project's alertmanager.yml (only the webhook URL and group timings rewritten)
 * delivers to it: routing by severity, the dead man's switch, FeedDown inhibiting FeedStale, resolution.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { MAX_ALERTS_BODY_BYTES } from '../src/api/alerts-webhook.js';
import { createLogger } from '../src/telemetry/logger.js';
import { initializeSeries } from '../src/telemetry/initial-series.js';
import { createMetrics, createRegistry, type Metrics } from '../src/telemetry/metrics.js';
import { skipUnlessAvailable, until } from './support/harness.js';
import { startTestApi, type TestApi } from './support/api.js';
import { ALERTMANAGER_CONFIG, deliverWebhooksTo, readYaml, Service, toolAvailable } from './support/observability.js';
import { freePort } from './support/net.js';
import { metricValue, scrapeMetrics } from './support/metrics.js';

/** The example body of Alertmanager's webhook_config documentation (version 4). */
function documentedPayload() {
  return {
    version: '4',
    groupKey: '{}/{severity="critical"}:{alertname="FeedDown"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'critical',
    groupLabels: { alertname: 'FeedDown' },
    commonLabels: { alertname: 'FeedDown', severity: 'critical', exchange: 'binance', connection: '0' },
    commonAnnotations: { summary: 'Feed binance shard 0 is down' },
    externalURL: 'http://alertmanager:9093',
    alerts: [
      {
        status: 'firing',
        labels: { alertname: 'FeedDown', severity: 'critical', exchange: 'binance', connection: '0', instance: 'candlestack:9001', job: 'candlestack' },
        annotations: { summary: 'Feed binance shard 0 is down', description: 'no connection', runbook: 'check' },
        startsAt: '2024-05-01T10:00:00.000Z',
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus:9090/graph?g0.expr=candlestack_collector_status+%3D%3D+0',
        fingerprint: '1a30ba71cca2921f',
      },
    ],
  };
}

interface LogLine {
  level: number;
  msg: string;
  alertname?: string;
  status?: string;
  severity?: string | null;
  labels?: Record<string, string>;
  receiver?: string;
  alerts?: LogLine[];
}

describe('POST /api/alerts', () => {
  let server: TestApi;
  let metrics: Metrics;
  let base = '';
  const lines: LogLine[] = [];
  // One line per notification: its alerts are in `alerts` (the first one's fields also at the top level).
  const alertLines = (name: string) =>
    lines.flatMap((l) => (l.alerts ? l.alerts.map((a) => ({ ...a, level: l.level, msg: l.msg, receiver: l.receiver })) : [l])).filter((l) => l.alertname === name);

  before(async () => {
    metrics = createMetrics(createRegistry({ defaults: false }));
    initializeSeries(metrics, { exchanges: [], timeframes: [], store: 'sqlite', bus: 'memory' });
    const log = createLogger({ level: 'debug', format: 'json' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    server = await startTestApi({ metrics, log, health: { staleAfterMs: 30_000 } });
    base = server.url;
  });

  after(async () => {
    await server.close();
  });

  const post = (body: string, type = 'application/json') => fetch(`${base}/api/alerts`, { method: 'POST', headers: { 'content-type': type }, body });

  test('the documented Alertmanager payload is accepted, logged with its labels and counted', async () => {
    const before = await metricValue(metrics, 'candlestack_alerts_received_total', { status: 'firing', severity: 'critical' });
    const res = await post(JSON.stringify(documentedPayload()));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok', received: 1 });
    assert.equal(await metricValue(metrics, 'candlestack_alerts_received_total', { status: 'firing', severity: 'critical' }), before + 1);
    const line = alertLines('FeedDown').at(-1)!;
    assert.equal(line.status, 'firing');
    assert.equal(line.severity, 'critical');
    assert.equal(line.receiver, 'critical');
    assert.equal(line.labels?.connection, '0');
    assert.equal(line.level, 40, 'a firing alert is a warning in the log');
    assert.match(line.msg, /FeedDown - Feed binance shard 0 is down/);
    const scraped = await scrapeMetrics(base);
    assert.equal(await metricValue(scraped, 'candlestack_alerts_received_total', { status: 'firing', severity: 'critical' }), 1);
    assert.equal(await metricValue(scraped, 'candlestack_http_requests_total', { method: 'POST', route: '/api/alerts', status: '200' }), 1);
  });

  test('a severity outside the known set is counted as other, so the label stays bounded', async () => {
    const body = documentedPayload();
    body.alerts[0]!.labels.severity = 'page-the-ceo';
    assert.equal((await post(JSON.stringify(body))).status, 200);
    assert.equal(await metricValue(metrics, 'candlestack_alerts_received_total', { status: 'firing', severity: 'other' }), 1);
  });

  const bad: [string, (b: any) => unknown, string][] = [
    ['not JSON', () => '{"version": "4", ', 'body'],
    ['a JSON array', () => [], 'body'],
    ['another payload version', (b) => ({ ...b, version: '3' }), 'version'],
    ['alerts not an array', (b) => ({ ...b, alerts: {} }), 'alerts'],
    ['an unknown group status', (b) => ({ ...b, status: 'pending' }), 'status'],
    ['an unknown alert status', (b) => ({ ...b, alerts: [b.alerts[0], { ...b.alerts[0], status: 'pending' }] }), 'alerts[1].status'],
    ['a label that is not a string', (b) => ({ ...b, alerts: [{ ...b.alerts[0], labels: { alertname: 'X', count: 3 } }] }), 'alerts[0].labels.count'],
    ['no labels', (b) => ({ ...b, alerts: [{ ...b.alerts[0], labels: undefined }] }), 'alerts[0].labels'],
    ['a startsAt that is not a time', (b) => ({ ...b, alerts: [{ ...b.alerts[0], startsAt: 'yesterday' }] }), 'alerts[0].startsAt'],
    ['a negative truncatedAlerts', (b) => ({ ...b, truncatedAlerts: -1 }), 'truncatedAlerts'],
  ];
  for (const [what, mutate, parameter] of bad) {
    test(`400 naming ${parameter} for ${what}; nothing is counted`, async () => {
      const countedBefore = await metricValue(metrics, 'candlestack_alerts_received_total', { status: 'firing', severity: 'critical' });
      const body = mutate(documentedPayload());
      const res = await post(typeof body === 'string' ? body : JSON.stringify(body));
      assert.equal(res.status, 400);
      const json = (await res.json()) as { error: { code: string; message: string; parameter: string } };
      assert.equal(json.error.code, 'bad_parameter');
      assert.equal(json.error.parameter, parameter);
      assert.ok(json.error.message.startsWith(`${parameter}: expected`), json.error.message);
      assert.equal(await metricValue(metrics, 'candlestack_alerts_received_total', { status: 'firing', severity: 'critical' }), countedBefore, 'a rejected payload counts no alert');
    });
  }

  test('413 over the size limit, 415 for another content type', async () => {
    const big = JSON.stringify({ ...documentedPayload(), padding: 'x'.repeat(MAX_ALERTS_BODY_BYTES) });
    const tooLarge = await post(big);
    assert.equal(tooLarge.status, 413);
    assert.equal(((await tooLarge.json()) as any).error.code, 'payload_too_large');
    const text = await post('alert!', 'text/plain');
    assert.equal(text.status, 415);
    assert.equal(((await text.json()) as any).error.code, 'unsupported_media_type');
  });

  test('method-aware routing: GET /api/alerts is a 405 allowing POST; POST on a GET route stays a 405 allowing GET', async () => {
    const get = await fetch(`${base}/api/alerts`);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    assert.equal(((await get.json()) as any).error.code, 'method_not_allowed');
    const postCandles = await fetch(`${base}/api/candles`, { method: 'POST', body: '{}' });
    assert.equal(postCandles.status, 405);
    assert.equal(postCandles.headers.get('allow'), 'GET, HEAD');
    assert.equal((await fetch(`${base}/api/nope`, { method: 'POST', body: '{}' })).status, 404);
  });

  const alertmanager = toolAvailable('prometheus-alertmanager');

  test('a real Alertmanager with the project config routes, inhibits and resolves through this endpoint', { timeout: 60_000 }, async (t) => {
    const missing = skipUnlessAvailable(alertmanager, 'prometheus-alertmanager not installed (Debian package prometheus-alertmanager)');
    if (missing) return t.skip(missing);
    const dir = mkdtempSync(join(tmpdir(), 'candlestack-am-'));
    // The project's routes, receivers and inhibitions; only where to deliver and how long to wait change.
    const config = readYaml(ALERTMANAGER_CONFIG);
    deliverWebhooksTo(config, { 'candlestack:9001': base, 'notifier:8003': null }, dir); // compose writes ALERTS_TOKEN to the file the config names
    const fast = (route: any) => {
      route.group_wait = '1s';
      route.group_interval = '1s';
      for (const child of route.routes ?? []) fast(child);
    };
    fast(config.route);
    writeFileSync(join(dir, 'alertmanager.yml'), toYaml(config));
    const amPort = await freePort();
    const am = new Service('alertmanager', 'prometheus-alertmanager', [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${amPort}`,
      '--cluster.listen-address=',
    ]);
    try {
      const amUrl = `http://127.0.0.1:${amPort}`;
      await am.waitReady(`${amUrl}/-/ready`);
      const feed = { exchange: 'binance', instance: 'candlestack:9001', job: 'candlestack' };
      const alert = (labels: Record<string, string>, endsAt?: string) => ({ labels: { ...feed, ...labels }, annotations: { summary: `${labels.alertname} ${labels.connection ?? ''}`.trim() }, ...(endsAt ? { endsAt } : {}) });
      const send = async (alerts: unknown[]) => {
        const res = await fetch(`${amUrl}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alerts) });
        assert.equal(res.status, 200, await res.text());
      };
      const firing = [
        alert({ alertname: 'FeedDown', severity: 'critical', connection: '0' }),
        alert({ alertname: 'FeedStale', severity: 'warning', connection: '0' }),
        alert({ alertname: 'FeedStale', severity: 'warning', connection: '1' }),
        { labels: { alertname: 'Watchdog', severity: 'none' }, annotations: { summary: 'Alerting pipeline heartbeat' } },
      ];
      await send(firing);
      const seen = (name: string, pred: (l: LogLine) => boolean) => until(`${name} delivered`, async () => alertLines(name).find(pred), 15_000, { pollMs: 250 });

      const down = await seen('FeedDown', (l) => l.status === 'firing' && l.labels?.connection === '0');
      assert.equal(down.receiver, 'critical');
      const stale1 = await seen('FeedStale', (l) => l.labels?.connection === '1');
      assert.equal(stale1.receiver, 'warning');
      // Shard 0's FeedStale is in the same group as shard 1's: had it not been inhibited, it would have come in the same request.
      assert.equal(alertLines('FeedStale').filter((l) => l.labels?.connection === '0').length, 0, 'FeedDown inhibits FeedStale of the same feed');
      const watchdog = await seen('Watchdog', () => true);
      assert.equal(watchdog.receiver, 'deadmansswitch');
      assert.equal(watchdog.level, 20, 'the heartbeat is logged at debug');

      // FeedDown resolves: the resolution is delivered, and shard 0's FeedStale is no longer inhibited.
      await send([alert({ alertname: 'FeedDown', severity: 'critical', connection: '0' }, new Date(Date.now() - 1000).toISOString()), ...firing.slice(1)]);
      const resolved = await seen('FeedDown', (l) => l.status === 'resolved');
      assert.equal(resolved.level, 30, 'a resolution is logged at info');
      assert.ok((await metricValue(metrics, 'candlestack_alerts_received_total', { status: 'resolved', severity: 'critical' })) >= 1);
      await seen('FeedStale', (l) => l.labels?.connection === '0' && l.status === 'firing');
      assert.ok((await metricValue(metrics, 'candlestack_alerts_received_total', { status: 'firing', severity: 'none' })) >= 1);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nalertmanager output:\n${am.tail()}`, { cause: err });
    } finally {
      await am.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
