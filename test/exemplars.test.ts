/**
 * Exemplars on the latency histograms and the OpenMetrics /metrics that carries them: an observation made
 * inside a sampled span gets `{trace_id=...}` (the trace the local OTLP receiver got from the real SDK), an
 * unsampled or untraced one gets none; /metrics answers OpenMetrics to a scraper that asks for it (as
 * Prometheus does) and the unchanged classic text otherwise; a real Prometheus with exemplar storage, scraping
 * with the project's prometheus.yml settings, stores the exemplar and returns it from /api/v1/query_exemplars.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { defaultConfig } from '../src/config/config.js';
import { systemClock } from '../src/core/clock.js';
import { RoleServer } from '../src/app/role-server.js';
import { HttpClient } from '../src/api/http-client.js';
import { CandleWriter } from '../src/store/candle-writer.js';
import { Tracing, SpanKind } from '../src/telemetry/tracing.js';
import { createMetrics, createRegistry, type Metrics } from '../src/telemetry/metrics.js';
import { CLASSIC_CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE, openMetricsText, prefersOpenMetrics } from '../src/telemetry/exposition.js';
import { TracedHistogram } from '../src/telemetry/exemplars.js';
import type { Store } from '../src/store/store.js';
import type { CandleEvent } from '../src/core/types.js';
import { OtlpReceiver } from './support/otlp-receiver.js';
import { log, skipUnlessAvailable, testMetrics, until } from './support/harness.js';
import { PROMETHEUS_CONFIG, readYaml, Service, toolAvailable } from './support/observability.js';
import { freePort } from './support/net.js';

/** The Accept header Prometheus 2.x sends by default (3.x sends the same types with other q-values). */
const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

function tracingTo(receiver: OtlpReceiver, role: string, sampler: 'parentbased_always_on' | 'always_off' = 'parentbased_always_on'): Tracing {
  return Tracing.fromConfig({ ...defaultConfig().tracing, endpoint: receiver.endpoint, sampler }, { role, version: '9.9.9' });
}

interface ExemplarLine {
  name: string;
  labels: Record<string, string>;
  traceId: string;
  value: number;
}

/** The exemplars of an OpenMetrics text: `name{labels} value # {trace_id="..."} value timestamp`. */
function exemplarsOf(text: string, name: string): ExemplarLine[] {
  const out: ExemplarLine[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\w+)\{([^}]*)\} \S+ # \{trace_id="([0-9a-f]{32})"\} (\S+) \S+$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    out.push({ name: m[1]!, labels, traceId: m[3]!, value: Number(m[4]) });
  }
  return out;
}

function roleServer(metrics: Metrics, tracing: Tracing, routes: ConstructorParameters<typeof RoleServer>[0]['routes'] = {}): RoleServer {
  return new RoleServer({
    host: '127.0.0.1', port: 0, role: 'decide', registry: metrics.registry, metrics: metrics.api, clock: systemClock,
    health: { startedAt: Date.now(), staleAfterMs: 10_000, bus: { kind: 'memory' } }, tracing,
    routes: { '/api/decision': (_u, res) => void res.end('{}'), ...routes },
  });
}

test('Accept negotiation: OpenMetrics when it ranks first (Prometheus), classic for curl, browsers and text/plain first', () => {
  assert.equal(prefersOpenMetrics(PROMETHEUS_ACCEPT), true);
  assert.equal(prefersOpenMetrics('application/openmetrics-text; version=1.0.0; charset=utf-8'), true);
  assert.equal(prefersOpenMetrics('application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2'), true);
  assert.equal(prefersOpenMetrics(undefined), false);
  assert.equal(prefersOpenMetrics('*/*'), false);
  assert.equal(prefersOpenMetrics('text/html,application/xhtml+xml,*/*;q=0.8'), false);
  assert.equal(prefersOpenMetrics('text/plain;version=0.0.4,application/openmetrics-text;q=0.5'), false);
  assert.equal(prefersOpenMetrics('application/openmetrics-text;q=0'), false);
});

test('OpenMetrics text: counter families without _total and samples with it, histograms whole, # EOF last; the classic text is the same before and after', async () => {
  const metrics = createMetrics(createRegistry());
  metrics.api.httpRequests.labels('GET', '/api/candles', '200').inc(3);
  metrics.api.httpRequestDuration.labels('GET', '/api/candles').observe(0.02);
  const classicBefore = await metrics.registry.metrics();
  const om = await openMetricsText(metrics.registry);
  const classicAfter = await metrics.registry.metrics();
  const strip = (s: string) => s.replace(/^(process|nodejs)_.*$/gm, ''); // default metrics move between scrapes
  assert.equal(strip(classicAfter), strip(classicBefore), 'rendering OpenMetrics leaves the classic exposition as it was');
  assert.match(classicAfter, /^candlestack_http_requests_total\{method="GET",route="\/api\/candles",status="200"\} 3$/m);
  assert.match(om, /^# TYPE candlestack_http_requests counter$/m);
  assert.match(om, /^candlestack_http_requests_total\{method="GET",route="\/api\/candles",status="200"\} 3$/m);
  assert.match(om, /^# TYPE process_cpu_seconds counter$/m);
  assert.match(om, /^candlestack_http_request_duration_seconds_bucket\{method="GET",route="\/api\/candles",le="0\.025"\} 1$/m);
  assert.match(om, /^candlestack_http_request_duration_seconds_bucket\{method="GET",route="\/api\/candles",le="\+Inf"\} 1$/m);
  assert.match(om, /^candlestack_http_request_duration_seconds_count\{method="GET",route="\/api\/candles"\} 1$/m);
  assert.ok(om.endsWith('\n# EOF\n'), 'ends with # EOF');
  assert.equal(om.match(/# EOF/g)!.length, 1);
  assert.doesNotMatch(om, /_total_total/);
  assert.doesNotMatch(om, / # \{/, 'no exemplar without a span');
});

test('served, outgoing and store-write durations carry the trace id of their sampled span; unsampled and untraced ones none; /metrics negotiates', async () => {
  const receiver = await new OtlpReceiver().start();
  const client = tracingTo(receiver, 'notify');
  const serverTracing = tracingTo(receiver, 'decide');
  const metrics = testMetrics();
  const server = roleServer(metrics, serverTracing);
  const store = { kind: 'sqlite', upsert: async () => {} } as unknown as Store;
  const writer = new CandleWriter({ store, clock: systemClock, metrics: metrics.store, log, flushMs: 60_000, tracing: serverTracing });
  await server.start();
  try {
    const base = `http://127.0.0.1:${server.port}`;
    const http = new HttpClient({ target: 'decide', baseUrl: base, timeoutMs: 2_000, metrics: metrics.api, tracing: client });
    const rootTrace = await client.span('button press', { kind: SpanKind.INTERNAL }, async (span) => {
      assert.equal((await http.get('/api/decision')).status, 200);
      return span.spanContext().traceId;
    });
    // A caller that did not sample: the server continues its trace id, unsampled, so no exemplar names it.
    const unsampled = '0af7651916cd43dd8448eb211c80319c';
    assert.equal((await fetch(`${base}/api/decision`, { headers: { traceparent: `00-${unsampled}-b7ad6b7169203331-00` } })).status, 200);
    await fetch(`${base}/api/decision`); // no caller span: the server's own root trace
    await serverTracing.span('batch', {}, async () => writer.onEvent({ type: 'candle', kind: 'close', candle: candle() } as unknown as CandleEvent));
    assert.equal(await writer.flush(), true);

    const classic = await fetch(`${base}/metrics`);
    assert.equal(classic.headers.get('content-type'), CLASSIC_CONTENT_TYPE);
    assert.equal(classic.headers.get('vary'), 'accept');
    const classicText = await classic.text();
    assert.doesNotMatch(classicText, /trace_id/, 'the classic format has no exemplars');
    assert.match(classicText, /^candlestack_http_request_duration_seconds_count\{method="GET",route="\/api\/decision"\} 3$/m);

    const om = await fetch(`${base}/metrics`, { headers: { accept: PROMETHEUS_ACCEPT } });
    assert.equal(om.headers.get('content-type'), OPENMETRICS_CONTENT_TYPE);
    const text = await om.text();
    await Promise.all([client.flush(), serverTracing.flush()]);
    const spans = await until('the spans', () => receiver.spans.length >= 6 && receiver.spans);
    const served = spans.filter((s) => s.name === 'GET /api/decision').map((s) => s.traceId);
    assert.equal(served.length, 2, 'two sampled SERVER spans (the unsampled caller\'s request is not exported)');
    assert.ok(served.includes(rootTrace));

    const server_ = exemplarsOf(text, 'candlestack_http_request_duration_seconds_bucket');
    assert.ok(server_.length >= 1, `served-request exemplars in:\n${text}`);
    for (const e of server_) {
      assert.ok(served.includes(e.traceId), `exemplar ${e.traceId} is the trace of a served request the receiver got`);
      assert.equal(e.labels.route, '/api/decision');
      assert.ok(e.value > 0 && e.value < 2);
    }
    assert.ok(!server_.some((e) => e.traceId === unsampled), 'no exemplar for an unsampled trace');
    assert.ok(!text.includes(unsampled));

    const outgoing = exemplarsOf(text, 'candlestack_http_client_request_duration_seconds_bucket');
    assert.equal(outgoing.length, 1);
    assert.equal(outgoing[0]!.traceId, rootTrace, 'the outgoing call is in the button press trace');
    assert.equal(outgoing[0]!.labels.target, 'decide');
    assert.ok(spans.some((s) => s.name === 'GET decide' && s.traceId === rootTrace));

    const writes = exemplarsOf(text, 'candlestack_store_write_duration_seconds_bucket');
    const upsert = spans.find((s) => s.name === 'upsert candles')!;
    assert.ok(upsert, 'the store write span');
    assert.deepEqual(writes.map((w) => w.traceId), [upsert.traceId], 'the write duration names the write span\'s trace');
    assert.equal(spans.find((s) => s.name === 'batch')!.traceId, upsert.traceId);
  } finally {
    await server.stop();
    await Promise.all([client.shutdown(), serverTracing.shutdown()]);
    await receiver.stop();
  }
});

test('tracing off or a sampler that drops everything: observations counted, no exemplar', async () => {
  const receiver = await new OtlpReceiver().start();
  const dropping = tracingTo(receiver, 'decide', 'always_off');
  try {
    for (const tracing of [Tracing.off(), dropping]) {
      const metrics = testMetrics();
      const server = roleServer(metrics, tracing);
      await server.start();
      try {
        await fetch(`http://127.0.0.1:${server.port}/api/decision`);
        const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`, { headers: { accept: PROMETHEUS_ACCEPT } })).text();
        assert.match(text, /^candlestack_http_request_duration_seconds_count\{method="GET",route="\/api\/decision"\} 1$/m);
        assert.doesNotMatch(text, /trace_id/);
      } finally {
        await server.stop();
      }
    }
    const metrics = testMetrics();
    const h = new TracedHistogram(metrics.candles.candleCloseLatency, { timeframe: '1m' });
    h.observe(0.3);
    await dropping.span('dropped', {}, () => h.observe(0.4));
    const text = await openMetricsText(metrics.registry);
    assert.match(text, /^candlestack_candle_close_latency_seconds_count\{timeframe="1m"\} 2$/m);
    assert.doesNotMatch(text, /trace_id/);
  } finally {
    await dropping.shutdown();
    await receiver.stop();
  }
});

test('a real Prometheus with exemplar storage, scraping with prometheus.yml\'s settings, stores the trace id: /api/v1/query_exemplars', { timeout: 90_000 }, async (t) => {
  const missing = skipUnlessAvailable(toolAvailable('prometheus'), 'prometheus (Debian package prometheus) not installed');
  if (missing) return t.skip(missing);
  const receiver = await new OtlpReceiver().start();
  const client = tracingTo(receiver, 'notify');
  const serverTracing = tracingTo(receiver, 'decide');
  const metrics = createMetrics(createRegistry()); // the whole catalogue and the defaults: every family goes through Prometheus' OpenMetrics parser
  const server = roleServer(metrics, serverTracing);
  await server.start();
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-exemplars-'));
  let prometheus: Service | undefined;
  try {
    const project = readYaml(PROMETHEUS_CONFIG);
    const job = (project.scrape_configs as any[]).find((j) => j.job_name === 'candlestack-decide');
    for (const key of Object.keys(job)) if (key === 'static_configs' || key.endsWith('_sd_configs')) delete job[key];
    job.static_configs = [{ targets: [`127.0.0.1:${server.port}`] }];
    const config = { global: { ...project.global, scrape_interval: '1s', scrape_timeout: '1s' }, scrape_configs: [job] };
    writeFileSync(join(dir, 'prometheus.yml'), toYaml(config));
    const promPort = await freePort();
    prometheus = new Service('prometheus', 'prometheus', [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--enable-feature=exemplar-storage',
      '--log.level=warn',
    ]);
    const promUrl = `http://127.0.0.1:${promPort}`;
    await prometheus.waitReady(`${promUrl}/-/ready`);
    const traceId = await client.span('button press', {}, async (span) => {
      await tracedGet(client, `http://127.0.0.1:${server.port}/api/decision`, metrics);
      return span.spanContext().traceId;
    });
    const query = encodeURIComponent('candlestack_http_request_duration_seconds_bucket{job="candlestack-decide"}');
    const found = await until(
      'the exemplar in Prometheus',
      async () => {
        const targets = (await (await fetch(`${promUrl}/api/v1/targets`)).json()) as any;
        const target = targets.data.activeTargets[0];
        if (target?.health === 'down') throw new Error(`scrape failed: ${target.lastError}`);
        const now = Date.now() / 1000;
        const body = (await (await fetch(`${promUrl}/api/v1/query_exemplars?query=${query}&start=${now - 300}&end=${now + 60}`)).json()) as any;
        const exemplars = (body.data as any[]).flatMap((s) => s.exemplars.map((e: any) => ({ series: s.seriesLabels, ...e })));
        return exemplars.length > 0 && exemplars;
      },
      30_000,
      { pollMs: 500 },
    );
    await serverTracing.flush();
    const served = await until('the server span', () => receiver.spans.find((s) => s.name === 'GET /api/decision'));
    assert.equal(served.traceId, traceId, 'the server continued the caller trace');
    assert.deepEqual(found.map((e: any) => e.labels.trace_id), [traceId], 'Prometheus holds the trace id the receiver got');
    assert.equal(found[0].series.route, '/api/decision');
    assert.equal(found[0].series.job, 'candlestack-decide');
    // The counters kept their names through OpenMetrics (family without _total, sample with it).
    const count = (await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent('candlestack_http_requests_total{route="/api/decision"}')}`)).json()) as any;
    assert.equal(count.data.result.length, 1, JSON.stringify(count));
  } finally {
    await prometheus?.stop();
    await server.stop();
    await Promise.all([client.shutdown(), serverTracing.shutdown()]);
    await receiver.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

async function tracedGet(tracing: Tracing, url: string, metrics: Metrics): Promise<void> {
  const http = new HttpClient({ target: 'decide', baseUrl: new URL(url).origin, timeoutMs: 2_000, metrics: metrics.api, tracing });
  assert.equal((await http.get(new URL(url).pathname)).status, 200);
}

function candle() {
  return { exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', openTime: 0, open: '1', high: '1', low: '1', close: '1', volume: '0', quoteVolume: '0', takerBuyVolume: '0', trades: 0, closed: true, source: 'trades' };
}
