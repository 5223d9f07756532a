/**
 * Logs straight to Loki's push API (`log.loki.url`), against a local Loki speaking its wire format
 * (test/support/loki-server.ts): the resource attributes as labels, the line kept whole with trace_id and
 * span_id, batches, failures counted and retried (never thrown), a full queue dropping the oldest, and a
 * role process whose lines are flushed at SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultConfig, loadConfig } from '../src/config/config.js';
import { lokiPushUrl } from '../src/config/loki-config.js';
import { ConfigError } from '../src/core/errors.js';
import { createLogger } from '../src/telemetry/logger.js';
import { createMetrics, createRegistry } from '../src/telemetry/metrics.js';
import { LokiLogSink, lokiLabels } from '../src/telemetry/loki-logs.js';
import { Tracing } from '../src/telemetry/tracing.js';
import { FakeLoki } from './support/loki-server.js';
import { OtlpReceiver } from './support/otlp-receiver.js';
import { freePort } from './support/net.js';
import { Service } from './support/observability.js';
import { until } from './support/harness.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

const nowhere = () => new Writable({ write: (_c, _e, done) => done() });

/** The sink's counts as a role's /metrics shows them: a registry built after the sink, the counts bound to it. */
async function lokiSeries(sink: LokiLogSink): Promise<Record<string, number>> {
  const registry = createRegistry({ defaults: false });
  sink.countInto(createMetrics(registry).logs);
  const out: Record<string, number> = {};
  for (const m of await registry.getMetricsAsJSON()) {
    if (!m.name.startsWith('candlestack_loki_')) continue;
    for (const v of m.values) out[`${m.name}${Object.entries(v.labels).map(([k, l]) => `{${k}="${l}"}`).join('')}`] = v.value;
  }
  return out;
}

test('config: log.loki.url from the file, CANDLESTACK_LOKI_URL or --loki-url; /loki/api/v1/push appended; a bad URL names the field', () => {
  assert.equal(lokiPushUrl(defaultConfig().log.loki), null, 'off by default');
  const c = loadConfig({ env: { CANDLESTACK_LOKI_URL: 'http://loki:3100/' }, flags: {} });
  assert.equal(lokiPushUrl(c.log.loki), 'http://loki:3100/loki/api/v1/push');
  assert.equal(lokiPushUrl({ ...c.log.loki, url: 'https://logs.example/loki/api/v1/push' }), 'https://logs.example/loki/api/v1/push', 'a full push URL is used as is');
  assert.throws(() => loadConfig({ env: { CANDLESTACK_LOKI_URL: 'loki:3100' }, flags: {} }), (e: unknown) => e instanceof ConfigError && /CANDLESTACK_LOKI_URL|log\.loki\.url/.test(e.message) && /http or https URL/.test(e.message));
  assert.deepEqual(lokiLabels({ 'service.name': 'candlestack-serve', 'deployment.environment.name': 'prod', '9lives': 'x' }), { service_name: 'candlestack-serve', deployment_environment_name: 'prod', _9lives: 'x' });
});

test('Loki sink: resource attributes as labels, a stream per level, the line whole with trace_id/span_id, batches of 1,000, in order, everything pushed at shutdown', async () => {
  const loki = await new FakeLoki().start();
  const receiver = await new OtlpReceiver().start();
  const tracing = Tracing.fromConfig({ ...defaultConfig().tracing, endpoint: receiver.endpoint, resourceAttributes: { 'deployment.environment.name': 'test' } }, { role: 'serve', version: '1.2.3', instanceId: 'serve-1' });
  // flushMs far away: only a full batch or the shutdown sends.
  const sink = new LokiLogSink({ url: lokiPushUrl({ url: loki.url, tenant: null, flushMs: 60_000 })!, resourceAttributes: tracing.resourceAttributes, tenant: 'team-a', flushMs: 60_000 });
  const log = createLogger({ level: 'info', format: 'json', base: { role: 'serve' }, extra: [sink] }, nowhere());
  try {
    const N = 2_500;
    log.info({ component: 'test' }, 'outside any span');
    const ids = tracing.span('GET /api/candles', {}, (span) => {
      log.info({ component: 'api' }, 'inside the span');
      return span.spanContext();
    });
    for (let i = 0; i < N; i++) log.info({ i }, 'line');
    log.error({ component: 'store' }, 'a write failed');
    await sink.shutdown();

    const total = N + 3;
    assert.equal(loki.entries.length, total, 'every line, once');
    assert.equal(loki.requests.length, Math.ceil(total / 1_000), 'batches of 1,000 lines');
    assert.ok(loki.requests.every((r) => r.status === 204 && r.headers['x-scope-orgid'] === 'team-a'));
    assert.deepEqual(sink.stats, { sentLines: total, failedPushes: 0, droppedLines: 0 });
    assert.deepEqual(await lokiSeries(sink), {
      'candlestack_loki_pushes_total{outcome="sent"}': 3,
      'candlestack_loki_pushes_total{outcome="failed"}': 0,
      candlestack_loki_lines_sent_total: total,
      'candlestack_loki_lines_dropped_total{reason="refused"}': 0,
      'candlestack_loki_lines_dropped_total{reason="queue_full"}': 0,
      'candlestack_loki_lines_dropped_total{reason="shutdown"}': 0,
    }, 'the metrics: every series at its count (0 included, so increase() sees the first)');

    const info = loki.entries.find((e) => e.labels.level === 'info')!;
    assert.deepEqual(info.labels, { service_namespace: 'candlestack', deployment_environment_name: 'test', service_name: 'candlestack-serve', service_version: '1.2.3', service_instance_id: 'serve-1', candlestack_role: 'serve', level: 'info' });
    const errors = loki.entries.filter((e) => e.labels.level === 'error');
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.line, /"msg":"a write failed"/);

    const lines = loki.lines();
    const inSpan = lines.find((l) => l.msg === 'inside the span')!;
    assert.equal(inSpan.trace_id, ids.traceId);
    assert.equal(inSpan.span_id, ids.spanId);
    assert.equal(lines.find((l) => l.msg === 'outside any span')!.trace_id, undefined);

    // In write order: timestamps strictly increase with the lines' own order.
    const numbered = loki.entries.map((e) => ({ ns: e.ns, i: (JSON.parse(e.line) as { i?: number }).i })).filter((e) => e.i !== undefined).sort((a, b) => (a.ns < b.ns ? -1 : 1));
    assert.deepEqual(numbered.map((e) => e.i), Array.from({ length: N }, (_, i) => i));
    const first = loki.entries[0]!.ns;
    assert.ok(first > BigInt(Date.now() - 60_000) * 1_000_000n && first <= BigInt(Date.now()) * 1_000_000n, 'unix epoch nanoseconds');
  } finally {
    await tracing.shutdown();
    await receiver.stop();
    await loki.stop();
  }
});

test('Loki sink: failures are counted, never thrown; no answer, 5xx and 429 are retried in order, a 400 drops the batch, a full queue drops the oldest', async () => {
  const loki = await new FakeLoki().start();
  const warnings: string[] = [];
  const sink = new LokiLogSink({ url: `${loki.url}/loki/api/v1/push`, resourceAttributes: { 'service.name': 'candlestack-process' }, flushMs: 60_000, capacity: 20, warn: (m) => warnings.push(m) });
  const log = createLogger({ level: 'info', format: 'json', extra: [sink] }, nowhere());
  try {
    loki.fail(1, 500);
    loki.fail(1, 429);
    loki.fail(1, 0);
    for (let i = 0; i < 10; i++) log.info({ i }, 'kept');
    for (let attempt = 1; attempt <= 3; attempt++) {
      await sink.flush();
      assert.equal(sink.stats.failedPushes, attempt);
      assert.equal(loki.entries.length, 0);
    }
    await sink.flush();
    assert.deepEqual(loki.lines().map((l) => l.i), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'delivered once, in order, after the failures');
    assert.equal(warnings.length, 1, `one notice per failing streak: ${warnings.join(' | ')}`);
    assert.match(warnings[0]!, /pushing 10 log lines to Loki failed \(HTTP 500\); retrying/);

    loki.fail(1, 400);
    for (let i = 0; i < 5; i++) log.info({ i }, 'refused');
    await sink.flush();
    assert.equal(sink.stats.droppedLines, 5, 'a 400 cannot be fixed by retrying: dropped, counted');
    assert.equal(warnings.length, 2);

    await loki.stop(); // Loki gone
    for (let i = 0; i < 50; i++) log.warn({ i }, 'while Loki is down');
    await sink.flush();
    assert.equal(sink.stats.droppedLines, 5 + 30, 'the queue keeps the newest 20 lines');
    await sink.shutdown();
    assert.equal(sink.stats.droppedLines, 5 + 50, 'what could not be sent by shutdown is counted');
    assert.equal(sink.stats.sentLines, 10);
    assert.deepEqual(await lokiSeries(sink), {
      'candlestack_loki_pushes_total{outcome="sent"}': 1,
      'candlestack_loki_pushes_total{outcome="failed"}': 6, // 500, 429, no answer, 400, Loki gone (flush and shutdown)
      candlestack_loki_lines_sent_total: 10,
      'candlestack_loki_lines_dropped_total{reason="refused"}': 5,
      'candlestack_loki_lines_dropped_total{reason="queue_full"}': 30,
      'candlestack_loki_lines_dropped_total{reason="shutdown"}': 20,
    }, 'the metrics count from the start, though the registry came later');
    log.info('after shutdown: ignored, no throw');
  } finally {
    await loki.stop().catch(() => undefined);
  }
});

test('a role process with CANDLESTACK_LOKI_URL: its lines reach Loki labelled with its service.name, flushed at SIGTERM', { timeout: 60_000 }, async () => {
  const loki = await new FakeLoki().start();
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-loki-'));
  const configFile = join(dir, 'candlestack.yaml');
  writeFileSync(configFile, 'log:\n  loki:\n    tenant: ops\n    flushInterval: 60s\n'); // only the shutdown flush can deliver
  const port = await freePort();
  const decide = new Service('decide', process.execPath, [MAIN, 'decide', '--config', configFile, '--store', `sqlite:${join(dir, 'c.db')}`, '--port', String(port), '--log-format', 'json', '--log-level', 'info'], { ...process.env, CANDLESTACK_LOKI_URL: loki.url });
  try {
    await decide.waitReady(`http://127.0.0.1:${port}/readyz`);
    assert.equal(loki.entries.length, 0, 'nothing sent before the batch interval');
    const exposed = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const series of ['candlestack_loki_pushes_total{outcome="sent"}', 'candlestack_loki_pushes_total{outcome="failed"}', 'candlestack_loki_lines_sent_total', 'candlestack_loki_lines_dropped_total{reason="queue_full"}']) {
      assert.ok(exposed.split('\n').includes(`${series} 0`), `the role's /metrics has ${series} at 0 before the first push`);
    }
    await decide.stop();
    await until('the lines at Loki', () => loki.entries.length > 0, 5_000);
    const started = loki.entries.find((e) => /listening on http/.test(e.line));
    assert.ok(started, `the start line: ${loki.entries.map((e) => e.line.slice(0, 120)).join('\n')}`);
    assert.equal(started.labels.service_name, 'candlestack-decide');
    assert.equal(started.labels.level, 'info');
    assert.match(started.labels.service_instance_id ?? '', /^[0-9a-f-]{36}$/);
    assert.ok(loki.requests.every((r) => r.headers['x-scope-orgid'] === 'ops'));
  } finally {
    await decide.stop();
    await loki.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
