/**
 * Proof 2 of the deploy pack (issue 17): the pieces of deploy/ agree with each other and with the code,
 * checked over what docker-compose itself resolves (`docker-compose config`, the real v1 binary, offline):
 * Prometheus' targets are compose services listening on those ports, Grafana's provisioning paths lie in its
 * mounts, mounted sources exist, every CANDLESTACK_* / OTEL_* variable compose sets is read by the code and
 * documented, every dashboard's datasource is provisioned, and every alert's metric is emitted by candlestack
 * or by an exporter the stack deploys. No container runs: that is test/deploy-services.test.ts's part.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SETTINGS, defaultConfig, loadConfig, settingsHelp } from '../src/config/config.js';
import { LAST_DURATION_METRIC } from '../src/jobs/textfile.js';
import { hostPolicy } from '../src/app/parts.js';
import { ALL_PROFILES, candlestackServices, commandOf, commandVariables, composeConfig, dockerComposeAvailable, listenPorts, mounts, serviceEnv, serviceNames, TELEGRAM_SECRET_PATH, type Compose, type ComposeService } from './support/compose.js';
import { skipUnlessAvailable } from './support/harness.js';
import { catalogue, loadDashboards, loadRules, path, readYaml, REPO, PROMETHEUS_CONFIG } from './support/observability.js';
import { metricNames } from './support/promql.js';

/** Which compose service emits the metrics of an exporter's prefix. */
const EXPORTERS: { prefix: string; service: string }[] = [
  { prefix: 'node_', service: 'node-exporter' },
  { prefix: 'container_', service: 'cadvisor' },
  { prefix: 'pg_', service: 'postgres-exporter' },
  { prefix: 'kafka_', service: 'kafka-exporter' },
  { prefix: 'redis_', service: 'redis-exporter' },
  { prefix: 'otelcol_', service: 'otel-collector' },
  { prefix: 'prometheus_', service: 'prometheus' },
  { prefix: 'alertmanager_', service: 'alertmanager' },
];

let full: Compose;
let minimal: Compose;
function load(t: { skip: (r: string) => void }): boolean {
  const reason = skipUnlessAvailable(dockerComposeAvailable(), 'docker-compose is not installed (Debian package docker-compose)');
  if (reason) {
    t.skip(reason);
    return false;
  }
  full ??= composeConfig(ALL_PROFILES); // everything the stack can run, the Telegram bot included
  minimal ??= composeConfig('minimal');
  return true;
}

/** `healthcheck: disable: true` (docker-compose config writes it as test: [NONE]), or none at all. */
const noHealthcheck = (s: ComposeService) => s.healthcheck === undefined || s.healthcheck.disable === true || (Array.isArray(s.healthcheck.test) && s.healthcheck.test[0] === 'NONE');

/** host -> the compose service answering that name. */
function serviceByHost(c: Compose): Map<string, [string, ComposeService]> {
  const m = new Map<string, [string, ComposeService]>();
  for (const [name, s] of Object.entries(c.services)) for (const n of serviceNames(name, s)) m.set(n, [name, s]);
  return m;
}

interface Target {
  job: string;
  host: string;
  port: number;
  dns: boolean;
}

/** Prometheus scraping itself at localhost is the prometheus service. */
const hostOf = (tg: Target) => (tg.host === 'localhost' && tg.job === 'prometheus' ? 'prometheus' : tg.host);

function scrapeTargets(): Target[] {
  const prom = readYaml(PROMETHEUS_CONFIG);
  const out: Target[] = [];
  const hostPort = (job: string, t: string, dns: boolean) => {
    const [host, port] = t.split(':') as [string, string];
    out.push({ job, host, port: Number(port), dns });
  };
  for (const job of prom.scrape_configs as any[]) {
    for (const sc of job.static_configs ?? []) for (const t of sc.targets ?? []) hostPort(job.job_name, t, false);
    for (const d of job.dns_sd_configs ?? []) for (const n of d.names ?? []) out.push({ job: job.job_name, host: n, port: d.port, dns: true });
    for (const key of Object.keys(job)) if (key.endsWith('_sd_configs') && key !== 'dns_sd_configs') assert.fail(`${job.job_name}: ${key} is not checked here`);
  }
  for (const am of prom.alerting?.alertmanagers ?? []) {
    for (const sc of am.static_configs ?? []) for (const t of sc.targets ?? []) hostPort('(alerting)', t, false);
    for (const d of am.dns_sd_configs ?? []) for (const n of d.names ?? []) out.push({ job: '(alerting)', host: n, port: d.port, dns: true });
  }
  return out;
}

test('prometheus.yml: every scrape target is a compose service (or alias) listening on that port, in the profiles where Prometheus runs', (t) => {
  if (!load(t)) return;
  const hosts = serviceByHost(full);
  const minimalNames = new Set(Object.entries(minimal.services).flatMap(([n, s]) => serviceNames(n, s)));
  const problems: string[] = [];
  for (const tg of scrapeTargets()) {
    const host = hostOf(tg);
    const found = hosts.get(host);
    if (!found) {
      problems.push(`${tg.job}: ${tg.host}:${tg.port} is no compose service or alias`);
      continue;
    }
    const [name, svc] = found;
    if (!listenPorts(svc).includes(tg.port)) problems.push(`${tg.job}: service ${name} does not state port ${tg.port} (expose/ports/--port: ${listenPorts(svc).join(', ') || 'none'})`);
    // A static target absent from a profile Prometheus runs in would be down forever there (TargetDown).
    if (!tg.dns && !minimalNames.has(host)) problems.push(`${tg.job}: ${tg.host} is not in the minimal profile, where Prometheus runs: find it through DNS (dns_sd_configs) instead`);
  }
  assert.deepEqual(problems, []);
  // Every candlestack service that serves /metrics is scraped.
  const scraped = new Set(scrapeTargets().map((tg) => hosts.get(hostOf(tg))?.[0]));
  for (const [name, s] of candlestackServices(full)) if (!noHealthcheck(s)) assert.ok(scraped.has(name), `candlestack service ${name} is scraped by some job of prometheus.yml`);
  for (const { service } of EXPORTERS) if (full.services[service] && service !== 'otel-collector') assert.ok(scraped.has(service), `${service} is scraped`);
});

test('compose: every bind-mounted source exists in the repository; named volumes are declared', (t) => {
  if (!load(t)) return;
  const host: string[] = [];
  for (const [name, s] of Object.entries(full.services)) {
    for (const m of mounts(s)) {
      if (!m.bind) {
        assert.ok(full.volumes && m.source in full.volumes, `${name}: volume ${m.source} is declared`);
        continue;
      }
      const rel = relative(REPO, m.source);
      if (rel.startsWith('..') || rel === '') {
        host.push(`${name}: ${m.source}`); // the Docker host's own paths (node-exporter, cAdvisor)
        continue;
      }
      assert.ok(existsSync(m.source), `${name}: mounted source ${rel} exists`);
    }
  }
  t.diagnostic(`host paths (exist on a Docker host, not checked here): ${host.join('; ')}`);
});

/** The host folder that is `containerPath` inside the service, through its bind mounts (longest target wins). */
function hostPathOf(s: ComposeService, containerPath: string): string | undefined {
  const m = mounts(s)
    .filter((v) => containerPath === v.target || containerPath.startsWith(`${v.target}/`))
    .sort((a, b) => b.target.length - a.target.length)[0];
  if (!m || !m.bind) return undefined;
  return join(m.source, containerPath.slice(m.target.length));
}

test('Grafana: provisioning is mounted where Grafana reads it; the dashboard provider path holds the dashboards; datasource URLs are services', (t) => {
  if (!load(t)) return;
  const grafana = full.services.grafana!;
  const provisioning = hostPathOf(grafana, '/etc/grafana/provisioning');
  assert.ok(provisioning && existsSync(join(provisioning, 'dashboards')), '/etc/grafana/provisioning is a bind mount of deploy/grafana/provisioning');
  const dashboards = readdirSync(path('deploy/grafana/dashboards')).filter((f) => f.endsWith('.json'));
  for (const f of readdirSync(join(provisioning, 'dashboards')).filter((f) => f.endsWith('.yml'))) {
    for (const p of (parseYaml(readFileSync(join(provisioning, 'dashboards', f), 'utf8')).providers ?? []) as any[]) {
      const where = hostPathOf(grafana, p.options.path);
      assert.ok(where !== undefined, `provider ${p.name}: ${p.options.path} lies in a bind mount of the grafana service`);
      assert.ok(existsSync(where) && statSync(where).isDirectory(), `provider ${p.name}: ${p.options.path} is ${where}, which exists`);
      assert.deepEqual(readdirSync(where).filter((x) => x.endsWith('.json')).sort(), dashboards.sort(), `provider ${p.name} sees every dashboard`);
    }
  }
  const hosts = serviceByHost(full);
  for (const ds of provisionedDatasources()) {
    const u = new URL(ds.url);
    const svc = hosts.get(u.hostname);
    assert.ok(svc, `datasource ${ds.uid}: ${u.hostname} is a compose service`);
    assert.ok(listenPorts(svc[1]).includes(Number(u.port)), `datasource ${ds.uid}: ${svc[0]} states port ${u.port}`);
  }
});

function provisionedDatasources(): { uid: string; type: string; url: string; jsonData?: unknown }[] {
  const dir = path('deploy/grafana/provisioning/datasources');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yml'))
    .flatMap((f) => (parseYaml(readFileSync(join(dir, f), 'utf8')).datasources ?? []) as any[]);
}

test('dashboards: every datasource reference (uid, ${datasource} variable, linked datasourceUid) is provisioned', () => {
  const sources = provisionedDatasources();
  const uids = new Set(sources.map((d) => d.uid));
  const types = new Set(sources.map((d) => d.type));
  for (const d of sources) {
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object')
        for (const [k, x] of Object.entries(v)) {
          if (k === 'datasourceUid') assert.ok(uids.has(x as string), `datasource ${d.uid} links to ${x}, which is provisioned`);
          walk(x);
        }
    };
    walk(d.jsonData);
  }
  for (const { file, json } of loadDashboards()) {
    const vars = new Map<string, any>(((json.templating?.list ?? []) as any[]).map((v) => [v.name, v]));
    const refs: unknown[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object')
        for (const [k, x] of Object.entries(v)) {
          if (k === 'datasource') refs.push(x);
          walk(x);
        }
    };
    walk(json);
    assert.ok(refs.length > 0, `${file} has datasource references`);
    for (const ref of refs) {
      const uid = typeof ref === 'string' ? ref : (ref as { uid?: string }).uid;
      if (uid === undefined || uid === '-- Grafana --') continue;
      const v = /^\$\{?(\w+)\}?$/.exec(uid);
      if (v) {
        const variable = vars.get(v[1]!);
        assert.equal(variable?.type, 'datasource', `${file}: ${uid} is a datasource variable`);
        assert.ok(types.has(variable.query), `${file}: a ${variable.query} datasource is provisioned for ${uid}`);
      } else assert.ok(uids.has(uid), `${file}: datasource uid ${uid} is provisioned`);
    }
  }
});

test('alert rules: every metric is emitted by candlestack (the catalogue, the job textfile), a recording rule, or an exporter compose deploys; every job="" is a scrape job', (t) => {
  if (!load(t)) return;
  const families = catalogue();
  const rules = loadRules();
  const recorded = new Set(rules.filter((r) => r.kind === 'record').map((r) => r.name));
  const jobs = new Set((readYaml(PROMETHEUS_CONFIG).scrape_configs as any[]).map((j) => j.job_name));
  const problems: string[] = [];
  for (const r of rules) {
    const name = r.name;
    for (const m of metricNames(r.expr)) {
      if (families.has(m) || recorded.has(m) || m === LAST_DURATION_METRIC || m === 'up' || m === 'ALERTS' || m === 'ALERTS_FOR_STATE') continue;
      const exporter = EXPORTERS.find((e) => m.startsWith(e.prefix));
      if (!exporter) problems.push(`${name}: ${m} is emitted by nothing candlestack or the stack runs`);
      else if (!full.services[exporter.service]) problems.push(`${name}: ${m} comes from ${exporter.service}, which docker-compose.yml does not run`);
    }
    for (const j of r.expr.matchAll(/\bjob\s*=~?\s*"([^"]+)"/g)) for (const one of j[1]!.split('|')) if (!/[.*+]/.test(one) && !jobs.has(one)) problems.push(`${name}: job="${one}" is no scrape job of prometheus.yml`);
  }
  assert.deepEqual(problems, []);
});

/** Names the code reads directly (outside the config schema): `env.NAME`, `env['NAME']`, a quoted 'NAME' in a non-comment line. */
function namesInCode(): Set<string> {
  const out = new Set<string>();
  const walk = (dir: string) => {
    for (const f of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, f.name);
      if (f.isDirectory()) walk(p);
      else if (f.name.endsWith('.ts'))
        for (const line of readFileSync(p, 'utf8').split('\n')) {
          if (/^\s*(\*|\/\/|\/\*)/.test(line)) continue;
          for (const m of line.matchAll(/(?:\.|\[\s*['"`]|['"`])((?:CANDLESTACK|OTEL)_[A-Z0-9_]+)\b(?:['"`]|(?![A-Z0-9_]))/g)) out.add(m[1]!);
        }
    }
  };
  walk(path('src'));
  return out;
}

const DOCS = ['README.md', 'deploy/README.md', 'ARCHITECTURE.md'].map((f) => readFileSync(path(f), 'utf8')).join('\n') + settingsHelp();

test('compose environment: every CANDLESTACK_* / OTEL_* variable a candlestack service gets is read (by the config or the code, or its own command) and documented', (t) => {
  if (!load(t)) return;
  const inCode = namesInCode();
  const settings = new Set(SETTINGS.map((s) => s.env));
  const problems: string[] = [];
  for (const [name, s] of candlestackServices(full)) {
    const env = serviceEnv(s);
    const own = commandVariables(s);
    for (const key of Object.keys(env).filter((k) => /^(CANDLESTACK|OTEL)_/.test(k))) {
      // Read: the config changes with it (the value compose gives, against the config without it), or the code names it.
      let changes = false;
      try {
        const without = { ...env };
        delete without[key];
        changes = JSON.stringify(loadConfig({ env, flags: {} })) !== JSON.stringify(loadConfig({ env: without, flags: {} }));
      } catch (err) {
        problems.push(`${name}: ${key}=${env[key]}: the config refuses it (${(err as Error).message})`);
      }
      if (!changes && !settings.has(key) && !inCode.has(key) && !own.has(key)) problems.push(`${name}: ${key} is read by nothing (config, code, or the service's command)`);
      if (!DOCS.includes(key)) problems.push(`${name}: ${key} is documented nowhere (README.md, deploy/README.md, ARCHITECTURE.md, --help)`);
    }
  }
  for (const key of inCode) if (!DOCS.includes(key)) problems.push(`${key} (read in src/) is documented nowhere`);
  assert.deepEqual(problems, []);
  assert.ok(defaultConfig(), 'config loads');
});

test('compose: every candlestack service takes exchanges, symbols and timeframes from the env file; healthchecks gate depends_on', (t) => {
  if (!load(t)) return;
  const custom = composeConfig(ALL_PROFILES, { CANDLESTACK_EXCHANGES: 'binance,okx', CANDLESTACK_SYMBOLS: 'SOL-USDT', CANDLESTACK_TIMEFRAMES: '1m,1h' });
  for (const [name, s] of candlestackServices(custom)) {
    const env = serviceEnv(s);
    assert.equal(env.CANDLESTACK_EXCHANGES, 'binance,okx', `${name}: exchanges from .env`);
    assert.equal(env.CANDLESTACK_SYMBOLS, 'SOL-USDT', `${name}: symbols from .env`);
    assert.equal(env.CANDLESTACK_TIMEFRAMES, '1m,1h', `${name}: timeframes from .env`);
    const config = loadConfig({ env, flags: {} });
    assert.deepEqual(config.exchanges.map((e) => e.id), ['binance', 'okx'], `${name}: the config has both exchanges`);
    assert.deepEqual(config.timeframes, ['1m', '1h']);
  }
  for (const [name, s] of Object.entries(full.services)) {
    const deps = s.depends_on;
    if (!deps || Array.isArray(deps)) continue;
    for (const [dep, { condition }] of Object.entries(deps)) {
      if (condition !== 'service_healthy') continue;
      const target = full.services[dep];
      assert.ok(target && !noHealthcheck(target), `${name} waits for ${dep} to be healthy: ${dep} has a healthcheck`);
    }
  }
  for (const [name, s] of candlestackServices(full)) {
    if (noHealthcheck(s)) continue;
    assert.deepEqual(s.healthcheck?.test, ['CMD', 'node', 'dist/src/cli/healthcheck.js'], `${name}: the image's healthcheck`);
    for (const dep of ['kafka', 'postgres']) if (full.services[name]!.depends_on && !Array.isArray(s.depends_on) && s.depends_on?.[dep]) assert.equal(s.depends_on[dep]!.condition, 'service_healthy');
  }
});

test('compose: no credential has a default; each comes from the env file', (t) => {
  if (!load(t)) return;
  const text = readFileSync(path('deploy/docker-compose.yml'), 'utf8');
  for (const m of text.matchAll(/\$\{([A-Z_]*(PASSWORD|PASS|SECRET|TOKEN|KEY|USER)[A-Z_]*)([^}]*)\}/g)) assert.match(m[3]!, /^:\?/, `\${${m[1]}} has no default (\${${m[1]}:?...})`);
  for (const [svc, key, want] of [
    ['postgres-exporter', 'DATA_SOURCE_PASS', 'POSTGRES_PASSWORD'],
    ['redis-exporter', 'REDIS_PASSWORD', 'REDIS_PASSWORD'],
  ] as const) {
    assert.ok(full.services[svc], `${svc} is deployed`);
    assert.match(text, new RegExp(`${key}: \\$\\{${want}:\\?`), `${svc}: ${key} from ${want} in deploy/.env`);
  }
  // Kafka answers host clients on the seed's 9092.
  assert.ok((full.services.kafka!.ports ?? []).some((p) => (typeof p === 'string' ? p : `${p.published}:${p.target}`).includes('9092:9092')), 'Kafka published on 127.0.0.1:9092');
});

test('compose: notify (the Telegram bot) runs only with --profile telegram, its token from a secret file; minimal and full need no Telegram setting', (t) => {
  if (!load(t)) return;
  assert.equal(minimal.services.notify, undefined, 'not in minimal');
  assert.equal(composeConfig('full').services.notify, undefined, 'not in full: a stack without a bot token resolves and starts');
  const notify = full.services.notify!;
  assert.deepEqual(notify.profiles, ['telegram']);
  assert.deepEqual(commandOf(notify), ['notify', '--port', '8003']);
  const composed = notify.environment ?? {};
  assert.equal(composed.CANDLESTACK_TELEGRAM_TOKEN, undefined, 'the token is never a variable (docker inspect shows those)');
  assert.equal(composed.CANDLESTACK_TELEGRAM_TOKEN_FILE, TELEGRAM_SECRET_PATH);
  const env = serviceEnv(notify);
  const text = readFileSync(path('deploy/docker-compose.yml'), 'utf8');
  const secrets = (parseYaml(text) as { secrets?: Record<string, { file?: string }> }).secrets ?? {};
  assert.equal(secrets.telegram_bot_token?.file, './secrets/telegram-bot-token', 'the compose secret holding the token');
  assert.deepEqual(((notify as { secrets?: unknown[] }).secrets ?? []).map((x) => (typeof x === 'string' ? x : (x as { source: string }).source)), ['telegram_bot_token'], 'notify mounts it (at /run/secrets/telegram_bot_token)');
  assert.match(readFileSync(path('.gitignore'), 'utf8'), /^deploy\/secrets\/$/m, 'the token file is never committed');
  // The services it calls, by the names compose gives them, and the shared secret Alertmanager sends.
  const hosts = serviceByHost(full);
  for (const [key, service, port] of [['CANDLESTACK_MARKET_DATA_URL', 'serve', 9001], ['CANDLESTACK_DECISION_URL', 'decide', 8002]] as const) {
    const u = new URL(env[key]!);
    assert.equal(hosts.get(u.hostname)?.[0], service, `${key} names ${service}`);
    assert.equal(Number(u.port), port);
  }
  assert.equal(env.CANDLESTACK_ALERTS_TOKEN, full.services.serve!.environment!.CANDLESTACK_ALERTS_TOKEN, 'the same shared secret as serve');
  // serve answers the dashboard's assistant panel from the same decide service.
  const serveDecision = new URL(loadConfig({ env: serviceEnv(full.services.serve!), flags: {} }).http.decisionUrl!);
  assert.deepEqual([hosts.get(serveDecision.hostname)?.[0], Number(serveDecision.port)], ['decide', 8002], 'serve asks decide for /api/decision');
  const config = loadConfig({ env, flags: {} });
  assert.equal(config.telegram.tokenFile, env.CANDLESTACK_TELEGRAM_TOKEN_FILE, 'the mounted secret');
  assert.deepEqual(config.telegram.allowedChats, [], 'an empty TELEGRAM_ALLOWED_CHATS leaves the allow-list empty (the bot tells each chat its id)');
  const chats = composeConfig(ALL_PROFILES, { TELEGRAM_ALLOWED_CHATS: '123456789,-1001234567890', TELEGRAM_DEFAULT_MARKET: 'binance:ETH-USDT' }).services.notify!;
  const set = loadConfig({ env: serviceEnv(chats), flags: {} });
  assert.deepEqual(set.telegram.allowedChats, [123456789, -1001234567890]);
  assert.deepEqual(set.telegram.defaultMarket, { exchange: 'binance', symbol: 'ETH-USDT' });
  // Alertmanager posts to it at the alias it answers.
  const am = readYaml('deploy/alertmanager/alertmanager.yml');
  const urls = (am.receivers as any[]).flatMap((r) => (r.webhook_configs ?? []).map((w: any) => new URL(w.url)));
  const toNotify = urls.filter((u) => hosts.get(u.hostname)?.[0] === 'notify');
  assert.ok(toNotify.length >= 2 && toNotify.every((u) => u.port === '8003' && u.pathname === '/api/alerts'), 'critical and warning alerts reach notify:8003/api/alerts');
});

test('compose: every candlestack service answers the names the stack reaches it by (service name, aliases) on its ports, and no other name', (t) => {
  if (!load(t)) return;
  const problems: string[] = [];
  for (const [name, s] of candlestackServices(full)) {
    const config = loadConfig({ env: serviceEnv(s), flags: {} });
    const policy = hostPolicy(config);
    // Alertmanager posts to http://candlestack:9001/api/alerts, notify calls serve and decide, Prometheus scrapes by these names
    for (const host of serviceNames(name, s)) for (const port of listenPorts(s)) if (!policy.hostAllowed(`${host}:${port}`)) problems.push(`${name}: Host ${host}:${port} refused`);
    if (policy.hostAllowed('rebind.attacker.example')) problems.push(`${name}: answers any Host (no DNS-rebinding protection)`);
  }
  assert.deepEqual(problems, []);
});
