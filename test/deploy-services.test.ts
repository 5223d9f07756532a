/**
 * Proof 3 of the deploy pack (issue 17): the candlestack services of deploy/docker-compose.yml, run as compose
 * would run them, all come up and Prometheus scrapes every one of them. For each candlestack service of the
 * minimal profile, its `command` and `environment` are taken from `docker-compose config` and only the
 * addresses are mapped, as the compose network would resolve them, to local stand-ins: kafka:29092 -> a
 * librdkafka mock cluster, postgres -> this machine's PostgreSQL (a schema of its own), redis:6379 -> a
 * redis-server started with the compose file's `--requirepass`, otel-collector:4318 -> a local OTLP/HTTP
 * receiver, the exchanges' public URLs -> a simulated Binance, each `--port` -> a free port, 0.0.0.0 ->
 * 127.0.0.1. Each service is started as a process of the image's entrypoint (node dist/src/cli/main.js) with
 * nothing of this test's environment but PATH and HOME, and must answer /readyz. Then a real Prometheus
 * runs deploy/prometheus/prometheus.yml with only the candlestack jobs' targets rewritten to those ports (and
 * the other jobs, whose exporters do not run here, dropped) and must report every candlestack target up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { SimulatedBinance } from '../src/demo/simulated-binance/server.js';
import { DEFAULT_KAFKA_TOPICS } from '../src/bus/kafka-codec.js';
import { candlestackServices, commandOf, composeConfig, dockerComposeAvailable, serviceNames, PLACEHOLDER, type ComposeService } from './support/compose.js';
import { skipUnlessAvailable, until } from './support/harness.js';
import { KafkaMockCluster, kafkaMockUnavailable } from './support/kafka/mock-cluster.js';
import { freePort } from './support/net.js';
import { OtlpReceiver } from './support/otlp-receiver.js';
import { adminPool, pgReachable, PG_URL } from './support/postgres.js';
import { PROMETHEUS_CONFIG, readYaml, toolAvailable } from './support/observability.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

class Proc {
  output = '';
  readonly child: ChildProcess;
  constructor(
    readonly name: string,
    command: string,
    args: string[],
    env: NodeJS.ProcessEnv,
  ) {
    this.child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (b: Buffer) => (this.output = (this.output + b.toString()).slice(-8_000));
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
  }
  get running() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  async stop(): Promise<void> {
    if (!this.running) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
}

test('the compose stack\'s candlestack services, run as compose runs them, are ready and every candlestack target is up in Prometheus', { timeout: 240_000 }, async (t) => {
  const missing = !dockerComposeAvailable()
    ? 'docker-compose is not installed (Debian package docker-compose)'
    : kafkaMockUnavailable() ??
      (!toolAvailable('prometheus') ? 'prometheus is not installed (Debian package prometheus)' : undefined) ??
      (spawnSync('redis-server', ['--version']).status !== 0 ? 'redis-server is not installed (Debian package redis-server)' : undefined) ??
      (!(await pgReachable()) ? 'PostgreSQL is not reachable (CANDLESTACK_TEST_PG_URL)' : undefined);
  const reason = skipUnlessAvailable(missing === undefined, missing ?? '');
  if (reason) return t.skip(reason);

  const compose = composeConfig('minimal');
  const services = candlestackServices(compose).filter(([, s]) => !(s.healthcheck?.test?.[0] === 'NONE'));
  assert.ok(services.length >= 3, 'collect, process, serve at least');
  const stops: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  });
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-deploy-'));
  stops.push(async () => rmSync(dir, { recursive: true, force: true }));

  // The stand-ins for the compose network's hosts.
  const cluster = await KafkaMockCluster.start(1);
  stops.push(() => cluster.stop());
  for (const name of Object.values(DEFAULT_KAFKA_TOPICS)) await cluster.createTopic(name, 6);
  const redisPort = await freePort();
  const redisCmd = compose.services.redis ? commandOf(compose.services.redis) : [];
  // Redis as compose starts it (its password, memory limit, no persistence), on a free loopback port.
  const redis = new Proc('redis', 'redis-server', [...redisCmd.slice(1), '--port', String(redisPort), '--bind', '127.0.0.1'], { PATH: process.env.PATH });
  stops.push(() => redis.stop());
  assert.ok(redisCmd.includes('--requirepass') && redisCmd[redisCmd.indexOf('--requirepass') + 1] === PLACEHOLDER, 'compose starts Redis with the password of deploy/.env');
  const otlp = await new OtlpReceiver().start();
  stops.push(() => otlp.stop());
  const sim = new SimulatedBinance({ seed: 17, tradesPerSecond: 40, symbols: ['BTC-USDT', 'ETH-USDT'] });
  const { wsBaseUrl, restBaseUrl } = await sim.start();
  stops.push(() => sim.stop());
  const admin = adminPool();
  const schema = `candlestack_deploy_${process.pid}_${Date.now().toString(36)}`;
  stops.push(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await admin.end();
  });
  const pgUrl = new URL(PG_URL);
  pgUrl.searchParams.set('schema', schema);
  const hostMap = new Map<string, string>([
    ['kafka:29092', cluster.bootstrap],
    ['redis:6379', `127.0.0.1:${redisPort}`],
    ['otel-collector:4318', otlp.endpoint.replace(/^http:\/\//, '')],
  ]);
  const localValue = (key: string, value: string): string => {
    if (key === 'CANDLESTACK_STORE') {
      assert.match(value, /^postgres:\/\/candlestack:[^@]+@postgres:5432\/candlestack$/, 'the store is the compose PostgreSQL');
      return pgUrl.toString(); // this machine's PostgreSQL (trust auth): same store for every service, like the stack's
    }
    if (key === 'CANDLESTACK_HOST') return '127.0.0.1';
    let v = value;
    for (const [from, to] of hostMap) v = v.replaceAll(from, to);
    const left = /(?:\/\/|@|^)([a-z][a-z0-9-]*):\d+/.exec(v);
    if (left && compose.services[left[1]!]) assert.fail(`${key}=${value}: no local stand-in for ${left[1]}`);
    return v;
  };

  // Each candlestack service, as its container would run it.
  const ports = new Map<string, { local: number; container: number }>();
  const procs: Proc[] = [];
  for (const [name, svc] of services) {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
    for (const [k, v] of Object.entries(svc.environment ?? {})) env[k] = localValue(k, v ?? '');
    // The exchanges' public endpoints -> the simulated Binance (the only exchange compose lists by default).
    assert.equal(env.CANDLESTACK_EXCHANGES, 'binance', `${name}: the default exchanges`);
    env.CANDLESTACK_WS_URL = wsBaseUrl;
    env.CANDLESTACK_REST_URL = restBaseUrl;
    const command = [...commandOf(svc)];
    const at = command.indexOf('--port');
    assert.ok(at >= 0, `${name}: its command states --port`);
    const local = await freePort();
    ports.set(name, { local, container: Number(command[at + 1]) });
    command[at + 1] = String(local);
    const proc = new Proc(name, process.execPath, [CLI, ...command], env);
    procs.push(proc);
    stops.push(() => proc.stop());
  }
  for (const proc of procs) {
    const { local } = ports.get(proc.name)!;
    try {
      await until(`${proc.name} /readyz`, async () => {
        if (!proc.running) throw new Error(`exited ${proc.child.exitCode}`);
        return fetch(`http://127.0.0.1:${local}/readyz`).then((r) => r.status === 200, () => false);
      }, 90_000, { pollMs: 250 });
    } catch (err) {
      assert.fail(`${proc.name} (${commandOf(services.find(([n]) => n === proc.name)![1]).join(' ')}): ${(err as Error).message}\n${proc.output.slice(-3000)}`);
    }
  }

  // Inside the stack the services are reached by name (Prometheus, Alertmanager -> candlestack:9001, notify ->
  // serve, decide): each answers its names, and refuses a name it does not know (DNS-rebinding protection).
  const withHost = (port: number, path: string, host: string) =>
    new Promise<number>((resolve, reject) => {
      const req = httpGet({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
    });
  for (const [name, svc] of services) {
    const { local, container } = ports.get(name)!;
    for (const host of serviceNames(name, svc)) {
      assert.equal(await withHost(local, '/api/health', `${host}:${container}`), 200, `${name} answers Host ${host}:${container}`);
      assert.equal(await withHost(local, '/metrics', `${host}:${container}`), 200, `${name} /metrics for Host ${host}:${container}`);
    }
    assert.equal(await withHost(local, '/api/health', 'rebind.attacker.example'), 403, `${name} refuses an unknown Host`);
  }

  // The Redis URL compose gives serve (CANDLESTACK_CACHE, with REDIS_PASSWORD) opens the Redis compose starts
  // (--requirepass REDIS_PASSWORD); a wrong password would be refused.
  const cacheUrl = localValue('CANDLESTACK_CACHE', compose.services.serve?.environment?.CANDLESTACK_CACHE ?? '');
  assert.match(cacheUrl, /^redis:\/\/default:[^@]+@127\.0\.0\.1:\d+$/, 'serve is given the Redis cache');
  const ping = spawnSync('redis-cli', ['-u', cacheUrl, '--no-auth-warning', 'ping'], { encoding: 'utf8' });
  assert.equal(ping.stdout.trim(), 'PONG', `serve's cache URL authenticates: ${ping.stdout} ${ping.stderr}`);
  const wrong = spawnSync('redis-cli', ['-u', cacheUrl.replace(/:[^:@/]+@/, ':wrong@'), '--no-auth-warning', 'ping'], { encoding: 'utf8' });
  assert.doesNotMatch(wrong.stdout, /PONG/, 'a wrong password is refused');
  // And serve itself connects its read cache with it.
  const serveProc = procs.find((p) => p.name === 'serve')!;
  try {
    await until('serve connected to Redis', () => /cache connected to Redis/.test(serveProc.output), 20_000, { pollMs: 250 });
  } catch (err) {
    assert.fail(`${(err as Error).message}\nserve:\n${serveProc.output.slice(-2000)}`);
  }

  // The retention job runs in the roles: process schedules it.
  const jobs = (await (await fetch(`http://127.0.0.1:${ports.get('process')!.local}/api/jobs`)).json()) as { jobs: { name: string }[] };
  assert.ok(jobs.jobs.some((j) => j.name === 'retention'), `process schedules retention: ${JSON.stringify(jobs).slice(0, 300)}`);

  // A real Prometheus with the project's prometheus.yml: the candlestack jobs' targets point at the local ports.
  const byHost = new Map<string, [string, ComposeService]>();
  for (const [name, s] of Object.entries(compose.services)) for (const h of serviceNames(name, s)) byHost.set(h, [name, s]);
  const prom = readYaml(PROMETHEUS_CONFIG);
  const kept: any[] = [];
  const expected = new Set<string>();
  for (const job of prom.scrape_configs as any[]) {
    const addrs: string[] = [
      ...(job.static_configs ?? []).flatMap((s: any) => s.targets as string[]),
      ...(job.dns_sd_configs ?? []).flatMap((d: any) => (d.names as string[]).map((n) => `${n}:${d.port}`)),
    ];
    const local = addrs.flatMap((a) => {
      const [host, port] = a.split(':') as [string, string];
      const svc = byHost.get(host)?.[0];
      const p = svc ? ports.get(svc) : undefined;
      if (!p) return [];
      assert.equal(Number(port), p.container, `${job.job_name}: scrapes ${svc} on the port its command listens on`);
      return [`127.0.0.1:${p.local}`];
    });
    if (local.length === 0) continue; // an exporter or platform job: not run here (see test/observability-proof.test.ts)
    for (const key of Object.keys(job)) if (key === 'static_configs' || key.endsWith('_sd_configs')) delete job[key];
    job.static_configs = [{ targets: local }];
    kept.push(job);
    for (const l of local) expected.add(`${job.job_name} ${l}`);
  }
  const scrapedServices = new Set(kept.flatMap((j) => (j.static_configs[0].targets as string[]).map((tg) => [...ports].find(([, p]) => `127.0.0.1:${p.local}` === tg)?.[0])));
  for (const [name] of services) assert.ok(scrapedServices.has(name), `prometheus.yml scrapes ${name}`);
  prom.scrape_configs = kept;
  prom.global = { ...prom.global, scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' };
  delete prom.rule_files;
  delete prom.alerting;
  writeFileSync(join(dir, 'prometheus.yml'), toYaml(prom));
  const promPort = await freePort();
  const prometheus = new Proc('prometheus', 'prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`], { PATH: process.env.PATH });
  stops.push(() => prometheus.stop());
  let last = '';
  try {
    await until('every candlestack target up', async () => {
      if (!prometheus.running) throw new Error(`prometheus exited: ${prometheus.output.slice(-1000)}`);
      const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/targets`).then((x) => x.json() as Promise<any>, () => undefined);
      const active = (r?.data?.activeTargets ?? []) as { labels: { job: string; instance: string }; health: string; lastError: string }[];
      last = active.map((a) => `${a.labels.job} ${a.labels.instance} ${a.health} ${a.lastError}`).join('; ');
      const up = new Set(active.filter((a) => a.health === 'up').map((a) => `${a.labels.job} ${a.labels.instance}`));
      return active.length === expected.size && [...expected].every((e) => up.has(e));
    }, 60_000, { pollMs: 500, retryOnThrow: true });
  } catch (err) {
    assert.fail(`${(err as Error).message}; targets: ${last}`);
  }
  t.diagnostic(`up: ${[...expected].join(', ')}`);
  // The OTEL_EXPORTER_OTLP_ENDPOINT compose sets is where the services' spans go.
  await until('spans at the OTLP endpoint', () => otlp.spans.length > 0, 30_000, { pollMs: 250 });
  const names = new Set(otlp.spans.map((s) => String(s.resource['service.name'])));
  t.diagnostic(`spans from: ${[...names].join(', ')}`);
  for (const p of procs) assert.ok(p.running, `${p.name} still runs`);
});
