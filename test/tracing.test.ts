/**
 * Tracing: the OTEL_* configuration, "off" costing nothing, and what the real SDK exports (OTLP/HTTP,
 * protobuf and JSON) to a local receiver: HTTP SERVER spans of the ApiServer and the RoleServer, a CLIENT span
 * from tracedFetch whose trace the server continues, error status, the resource of each role.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig, loadConfig } from '../src/config/config.js';
import { applyOtelEnv, tracesUrl } from '../src/config/tracing-config.js';
import { ConfigError } from '../src/core/errors.js';
import { systemClock } from '../src/core/clock.js';
import { RoleServer } from '../src/app/role-server.js';
import { Tracing, activeSpanIds, SpanKind } from '../src/telemetry/tracing.js';
import { context, trace } from '@opentelemetry/api';
import { tracedFetch } from '../src/telemetry/http-tracing.js';
import { HttpClient } from '../src/api/http-client.js';
import { OtlpReceiver, SPAN_KIND, STATUS_CODE, parentOf, type ReceivedSpan } from './support/otlp-receiver.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CandleWriter } from '../src/store/candle-writer.js';
import { RestClient } from '../src/feed/rest-client.js';
import { runJob } from '../src/jobs/job.js';
import type { Store } from '../src/store/store.js';
import type { CandleEvent } from '../src/core/types.js';
import { startTestApi } from './support/api.js';
import { log, testMetrics, until } from './support/harness.js';
import { roleFoundation } from '../src/app/parts.js';

const SETTINGS = { sampler: 'parentbased_always_on', samplerArg: 1, serviceName: null, resourceAttributes: {} } as const;

function tracingTo(receiver: OtlpReceiver, role: string, protocol: 'http/protobuf' | 'http/json' = 'http/protobuf'): Tracing {
  const config = { ...defaultConfig().tracing, endpoint: receiver.endpoint, protocol };
  return Tracing.fromConfig(config, { role, version: '9.9.9', instanceId: `${role}-1` });
}

test('config: off by default; OTEL_* variables override the file; grpc and bad values name the variable', () => {
  const d = defaultConfig().tracing;
  assert.equal(tracesUrl(d), null);
  assert.equal(d.sampler, 'parentbased_always_on');
  assert.equal(d.protocol, 'http/protobuf');

  const c = loadConfig({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25', OTEL_SERVICE_NAME: 'edge-collect', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,team=market%20data', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, flags: {} });
  assert.equal(tracesUrl(c.tracing), 'http://collector:4318/v1/traces');
  assert.deepEqual([c.tracing.sampler, c.tracing.samplerArg, c.tracing.serviceName, c.tracing.protocol], ['parentbased_traceidratio', 0.25, 'edge-collect', 'http/json']);
  assert.deepEqual(c.tracing.resourceAttributes, { 'deployment.environment.name': 'prod', team: 'market data' });

  const t = { ...d };
  applyOtelEnv(t, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/custom/traces' });
  assert.equal(tracesUrl(t), 'http://b:4318/custom/traces');
  applyOtelEnv(t, { OTEL_SDK_DISABLED: 'true' });
  assert.equal(tracesUrl(t), null);

  assert.throws(() => applyOtelEnv({ ...d }, { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), (e: unknown) => e instanceof ConfigError && /OTEL_EXPORTER_OTLP_PROTOCOL.*http\/protobuf/.test(e.message));
  assert.throws(() => applyOtelEnv({ ...d }, { OTEL_TRACES_SAMPLER: 'sometimes' }), (e: unknown) => e instanceof ConfigError && /OTEL_TRACES_SAMPLER/.test(e.message));
  assert.throws(() => applyOtelEnv({ ...d }, { OTEL_TRACES_SAMPLER_ARG: '2' }), (e: unknown) => e instanceof ConfigError && /OTEL_TRACES_SAMPLER_ARG/.test(e.message));
  assert.throws(() => applyOtelEnv({ ...d }, { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }), (e: unknown) => e instanceof ConfigError && /OTEL_EXPORTER_OTLP_ENDPOINT/.test(e.message));
  assert.throws(() => applyOtelEnv({ ...d }, { OTEL_RESOURCE_ATTRIBUTES: 'novalue' }), (e: unknown) => e instanceof ConfigError && /OTEL_RESOURCE_ATTRIBUTES/.test(e.message));
});

test('off: span() runs the function with a non-recording span, inject writes nothing, no active ids', async () => {
  const off = Tracing.off();
  assert.equal(off.enabled, false);
  const v = await off.span('x', {}, async (span) => {
    assert.equal(span.isRecording(), false);
    assert.equal(activeSpanIds(), undefined);
    return 42;
  });
  assert.equal(v, 42);
  const h: Record<string, string> = {};
  off.inject(h);
  assert.deepEqual(h, {});
  await assert.rejects(off.span('y', {}, async () => Promise.reject(new Error('boom'))), /boom/);
});

for (const protocol of ['http/protobuf', 'http/json'] as const) {
  test(`${protocol}: a tracedFetch CLIENT span is the parent of the RoleServer's SERVER span in one trace; resources per role`, async () => {
    const receiver = await new OtlpReceiver().start();
    const client = tracingTo(receiver, 'notify', protocol);
    const serverTracing = tracingTo(receiver, 'process', protocol);
    const metrics = testMetrics();
    const server = new RoleServer({
      host: '127.0.0.1',
      port: 0,
      role: 'process',
      registry: metrics.registry,
      metrics: metrics.api,
      clock: systemClock,
      health: { startedAt: Date.now(), staleAfterMs: 10_000, bus: { kind: 'memory' } },
      tracing: serverTracing,
      routes: {
        '/api/ok': (_u, res) => {
          // Inside the SERVER span: the active ids are the server span's.
          res.setHeader('x-span', JSON.stringify(activeSpanIds() ?? null));
          res.end('{}');
        },
        '/api/fail': () => {
          throw new Error('route broke');
        },
      },
    });
    await server.start();
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const seen = await client.span('button press', { kind: SpanKind.INTERNAL }, async () => {
        const ok = await tracedFetch(client, `${base}/api/ok?x=1`, {}, { peer: 'process' });
        const ids = JSON.parse(ok.headers.get('x-span') ?? 'null') as { trace_id: string; span_id: string } | null;
        const failed = await tracedFetch(client, `${base}/api/fail`);
        assert.equal(failed.status, 500);
        await fetch(`${base}/metrics`); // untraced
        return ids;
      });
      await Promise.all([client.flush(), serverTracing.flush()]);
      await until('6 spans', () => receiver.spans.length >= 5 && receiver.spans);
      assert.ok(receiver.contentTypes.every((t) => t.includes(protocol === 'http/json' ? 'json' : 'protobuf')), receiver.contentTypes.join());

      const root = receiver.find('button press')!;
      assert.ok(root, 'root span exported');
      assert.equal(root.parentSpanId, '');
      const trace = receiver.trace(root.traceId);
      const clientOk = trace.find((s) => s.name === 'GET process')!;
      const serverOk = trace.find((s) => s.name === 'GET /api/ok')!;
      assert.equal(clientOk.kind, SPAN_KIND.CLIENT);
      assert.equal(serverOk.kind, SPAN_KIND.SERVER);
      assert.equal(parentOf(clientOk, trace), root);
      assert.equal(parentOf(serverOk, trace), clientOk, 'the server continues the caller trace');
      assert.deepEqual(seen, { trace_id: root.traceId, span_id: serverOk.spanId, trace_flags: '01' });
      assert.equal(clientOk.attributes['http.request.method'], 'GET');
      assert.equal(clientOk.attributes['url.full'], `${base}/api/ok?x=1`);
      assert.equal(clientOk.attributes['server.port'], server.port);
      assert.equal(clientOk.attributes['peer.service'], 'process');
      assert.equal(clientOk.attributes['http.response.status_code'], 200);
      assert.equal(serverOk.attributes['http.route'], '/api/ok');
      assert.equal(serverOk.attributes['url.path'], '/api/ok');
      assert.equal(serverOk.attributes['url.query'], 'x=1');
      assert.equal(serverOk.attributes['http.response.status_code'], 200);
      assert.equal(serverOk.status.code, STATUS_CODE.UNSET);

      const clientFail = trace.find((s) => s.kind === SPAN_KIND.CLIENT && s.attributes['url.full'] === `${base}/api/fail`)!;
      const serverFail = trace.find((s) => s.name === 'GET /api/fail')!;
      assert.equal(parentOf(serverFail, trace), clientFail);
      assert.equal(serverFail.status.code, STATUS_CODE.ERROR);
      assert.equal(serverFail.attributes['http.response.status_code'], 500);
      assert.equal(clientFail.status.code, STATUS_CODE.ERROR);
      assert.equal(clientFail.attributes['error.type'], '500');
      assert.equal(receiver.find(/metrics/), undefined, '/metrics is not traced');

      assert.equal(root.resource['service.name'], 'candlestack-notify');
      assert.equal(serverOk.resource['service.name'], 'candlestack-process');
      assert.equal(serverOk.resource['service.version'], '9.9.9');
      assert.equal(serverOk.resource['service.instance.id'], 'process-1');
    } finally {
      await server.stop();
      await Promise.all([client.shutdown(), serverTracing.shutdown()]);
      await receiver.stop();
    }
  });
}

test('ApiServer: a SERVER span per request named by route, unknown paths by method only, a network error on the client is ERROR', async () => {
  const receiver = await new OtlpReceiver().start();
  const tracing = tracingTo(receiver, 'serve');
  const api = await startTestApi({ tracing });
  try {
    assert.equal((await fetch(`${api.url}/api/candles?symbol=BTC-USDT&timeframe=1m`)).status, 200);
    assert.equal((await fetch(`${api.url}/api/candles?timeframe=7m`)).status, 400);
    assert.equal((await fetch(`${api.url}/nope/123`)).status, 404);
    assert.equal((await fetch(`${api.url}/readyz`)).status, 200);
    await assert.rejects(tracedFetch(tracing, 'http://127.0.0.1:1/unreachable'));
    await tracing.flush();
    await until('4 spans', () => receiver.spans.length >= 4 && receiver.spans);
    const candles = receiver.spans.filter((s) => s.name === 'GET /api/candles');
    assert.equal(candles.length, 2);
    assert.deepEqual(candles.map((s) => s.attributes['http.response.status_code']).sort(), [200, 400]);
    assert.ok(candles.every((s) => s.status.code === STATUS_CODE.UNSET), 'a 400 is not a server error');
    const unknown = receiver.find('GET')!;
    assert.equal(unknown.kind, SPAN_KIND.SERVER);
    assert.equal(unknown.attributes['http.route'], undefined);
    assert.equal(unknown.attributes['url.path'], '/nope/123');
    assert.equal(receiver.find(/readyz/), undefined);
    const failed = receiver.find('GET', (s) => s.kind === SPAN_KIND.CLIENT)!;
    assert.equal(failed.status.code, STATUS_CODE.ERROR);
    assert.equal(failed.attributes['error.type'], 'TypeError');
    assert.ok(failed.events.some((e) => e.name === 'exception'));
  } finally {
    await api.close();
    await tracing.shutdown();
    await receiver.stop();
  }
});

test('the resource takes OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; a sampler of always_off exports nothing', async () => {
  const receiver = await new OtlpReceiver().start();
  const on = Tracing.fromConfig({ ...defaultConfig().tracing, ...SETTINGS, endpoint: receiver.endpoint, serviceName: 'edge', resourceAttributes: { 'deployment.environment.name': 'prod' } }, { role: 'collect', version: '1' });
  const off = Tracing.fromConfig({ ...defaultConfig().tracing, endpoint: receiver.endpoint, sampler: 'always_off' }, { role: 'collect', version: '1' });
  try {
    on.span('a', {}, () => undefined);
    off.span('b', {}, () => undefined);
    await Promise.all([on.flush(), off.flush()]);
    const a = await until('span a', () => receiver.find('a'));
    assert.equal(a.resource['service.name'], 'edge');
    assert.equal(a.resource['deployment.environment.name'], 'prod');
    assert.equal(a.resource['candlestack.role'], 'collect');
    assert.equal(receiver.find('b'), undefined);
  } finally {
    await Promise.all([on.shutdown(), off.shutdown()]);
    await receiver.stop();
  }
});

test('roleFoundation: tracing from config.tracing (service.name per role), registered first so its stop flushes the last spans', async () => {
  const receiver = await new OtlpReceiver().start();
  const config = defaultConfig();
  config.tracing.endpoint = receiver.endpoint;
  config.store.url = 'sqlite::memory:';
  const { lifecycle, tracing } = await roleFoundation(config, { clock: systemClock, log, version: '2.0.0' }, 'decide', { store: true, series: false });
  try {
    assert.equal(tracing.enabled, true);
    await lifecycle.start();
    tracing.span('last work', {}, () => undefined);
    await lifecycle.stop(); // the batch processor's delay has not passed: only the stop's flush exports it
    const s = receiver.find('last work');
    assert.ok(s, 'flushed by the lifecycle stop');
    assert.equal(s.resource['service.name'], 'candlestack-decide');
    assert.equal(s.resource['service.version'], '2.0.0');
    assert.match(String(s.resource['service.instance.id']), /^[0-9a-f-]{36}$/);
  } finally {
    await receiver.stop();
  }
  const off = await roleFoundation({ ...defaultConfig(), store: { url: 'sqlite::memory:', flushMs: 1000 } }, { clock: systemClock, log, version: '2.0.0' }, 'decide', { store: false, series: false });
  assert.equal(off.tracing.enabled, false);
});

test('HttpClient (the roles\' outgoing client): each attempt is a CLIENT span with peer.service, continued by the server; retried 5xx attempts are separate spans', async () => {
  const receiver = await new OtlpReceiver().start();
  const client = tracingTo(receiver, 'notify');
  const serverTracing = tracingTo(receiver, 'decide');
  const metrics = testMetrics();
  let calls = 0;
  const server = new RoleServer({
    host: '127.0.0.1', port: 0, role: 'decide', registry: metrics.registry, metrics: metrics.api, clock: systemClock,
    health: { startedAt: Date.now(), staleAfterMs: 10_000, bus: { kind: 'memory' } }, tracing: serverTracing,
    routes: { '/api/decision': (_u, res) => { res.statusCode = ++calls === 1 ? 503 : 200; res.end('{}'); } },
  });
  await server.start();
  try {
    const http = new HttpClient({ target: 'decide', baseUrl: `http://127.0.0.1:${server.port}`, timeoutMs: 2_000, retries: 1, backoffMs: 1, metrics: metrics.api, tracing: client });
    const res = await client.span('decide for BTC-USDT', {}, () => http.get('/api/decision'));
    assert.equal(res.status, 200);
    await Promise.all([client.flush(), serverTracing.flush()]);
    const root = await until('root', () => receiver.find('decide for BTC-USDT'));
    const trace = await until('5 spans', () => receiver.trace(root.traceId).length >= 5 && receiver.trace(root.traceId));
    const attempts = trace.filter((s) => s.name === 'GET decide');
    assert.equal(attempts.length, 2);
    assert.ok(attempts.every((a) => a.kind === SPAN_KIND.CLIENT && parentOf(a, trace) === root && a.attributes['peer.service'] === 'decide'));
    assert.deepEqual(attempts.map((a) => a.status.code).sort(), [STATUS_CODE.UNSET, STATUS_CODE.ERROR]);
    const served = trace.filter((s) => s.name === 'GET /api/decision');
    assert.equal(served.length, 2);
    assert.ok(served.every((s) => attempts.includes(parentOf(s, trace)!)));
    assert.equal(served[0]!.resource['service.name'], 'candlestack-decide');
  } finally {
    await server.stop();
    await Promise.all([client.shutdown(), serverTracing.shutdown()]);
    await receiver.stop();
  }
});

test('jobs and store batches: a job run is a root span `job <name>` parenting its REST calls; a write is `upsert candles` under the context that queued its rows; failures are ERROR', async () => {
  const receiver = await new OtlpReceiver().start();
  const tracing = tracingTo(receiver, 'process');
  const metrics = testMetrics();
  const rest = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('[]'));
  await new Promise<void>((r) => rest.listen(0, '127.0.0.1', r));
  const restUrl = `http://127.0.0.1:${(rest.address() as AddressInfo).port}/api/v3/klines`;
  let failWrite = true;
  const store = { kind: 'sqlite', upsert: async () => { if (failWrite) throw new Error('disk full'); } } as unknown as Store;
  const writer = new CandleWriter({ store, clock: systemClock, metrics: metrics.store, log, flushMs: 60_000, tracing });
  try {
    const client = new RestClient({ exchange: 'binance', clock: systemClock, metrics: metrics.feed, log, tracing, attempts: 1 });
    await runJob('gap-sweep', { clock: systemClock, metrics: metrics.jobs, log, tracing }, async () => {
      await client.getJson(restUrl);
      writer.onEvent({ type: 'candle', kind: 'close', candle: candle() } as unknown as CandleEvent); // queued inside the job's span
    });
    assert.equal(await writer.flush(), false);
    failWrite = false;
    await runJob('report', { clock: systemClock, metrics: metrics.jobs, log, tracing }, async () => Promise.reject(new Error('no data')));
    assert.equal(await writer.flush(), true); // the failed batch, requeued, written now (its rows kept, its trace not)
    await tracing.flush();
    const job = await until('job span', () => receiver.find('job gap-sweep'));
    assert.equal(job.parentSpanId, '');
    assert.equal(job.attributes['candlestack.job.name'], 'gap-sweep');
    assert.equal(job.status.code, STATUS_CODE.UNSET);
    const call = receiver.find('GET binance')!;
    assert.equal(call.kind, SPAN_KIND.CLIENT);
    assert.equal(parentOf(call, receiver.spans), job);
    assert.equal(call.attributes['peer.service'], 'binance');
    const upserts = receiver.spans.filter((s) => s.name === 'upsert candles');
    assert.equal(upserts.length, 2);
    const [failed, ok] = upserts as [ReceivedSpan, ReceivedSpan];
    assert.equal(parentOf(failed, receiver.spans), job, 'the write belongs to the trace that queued its rows');
    assert.equal(failed.status.code, STATUS_CODE.ERROR);
    assert.equal(failed.status.message, 'disk full');
    assert.equal(failed.attributes['db.operation.batch.size'], 1);
    assert.equal(ok.status.code, STATUS_CODE.UNSET);
    const report = receiver.find('job report')!;
    assert.equal(report.status.code, STATUS_CODE.ERROR);
    assert.ok(report.events.some((e) => e.name === 'exception' && e.attributes['exception.message'] === 'no data'));
  } finally {
    rest.close();
    await tracing.shutdown();
    await receiver.stop();
  }
});

test('the candle writer: its upsert span is a child of the first batch span that queued a row, batch after batch (the context is looked at once per batch)', async () => {
  const receiver = await new OtlpReceiver().start();
  const tracing = tracingTo(receiver, 'process');
  const metrics = testMetrics();
  const store = { kind: 'memory', upsert: async () => {} } as unknown as Store;
  const writer = new CandleWriter({ store, clock: systemClock, metrics: metrics.store, log, flushMs: 60_000, tracing });
  const event = (openTime: number) => ({ type: 'candle', kind: 'update', candle: { ...candle(), openTime, closed: false } }) as unknown as CandleEvent;
  try {
    // Batch a queues rows, batch b too, then a again: the write's parent is a.
    const a = tracing.span('batch a', { kind: SpanKind.CONSUMER }, (span) => {
      for (let i = 0; i < 3; i++) writer.onEvent(event(i * 60_000));
      return span;
    });
    tracing.span('batch b', { kind: SpanKind.CONSUMER }, () => writer.onEvent(event(3 * 60_000)));
    writer.onEvent(event(4 * 60_000)); // outside any span: no parent to keep
    const inA = trace.setSpan(context.active(), a);
    tracing.with(inA, () => writer.onEvent(event(5 * 60_000)));
    assert.equal(await writer.flush(), true);
    // The same batch context goes on queuing after the write: the next write is its child again.
    tracing.with(inA, () => writer.onEvent(event(6 * 60_000)));
    assert.equal(await writer.flush(), true);
    await tracing.flush();
    const upserts = await until('two writes', () => { const u = receiver.spans.filter((s) => s.name === 'upsert candles'); return u.length === 2 && u; });
    const batchA = receiver.find('batch a')!;
    for (const u of upserts) assert.equal(parentOf(u, receiver.spans), batchA, 'the upsert is a child of batch a');
  } finally {
    await tracing.shutdown();
    await receiver.stop();
  }
});

function candle() {
  return { exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1m', openTime: 0, open: '1', high: '1', low: '1', close: '1', volume: '0', quoteVolume: '0', takerBuyVolume: '0', trades: 0, closed: true, source: 'trades' };
}
