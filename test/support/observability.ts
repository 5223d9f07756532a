/**
 * Shared by the observability tests: the deploy/ files (rules, rule tests, dashboards), the metric names
 * they may use, the metrics that cannot have data here (listed with the reason), and helpers to run the
 * real Prometheus, Alertmanager and node-exporter binaries on free loopback ports (test/support/net.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { createMetrics, createRegistry } from '../../src/telemetry/metrics.js';
import { sleep } from './harness.js';

/** The repository root (this file runs from dist/test/support/). */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const path = (p: string) => REPO + p;

export const PROMETHEUS_CONFIG = 'deploy/prometheus/prometheus.yml';
export const RULES_DIR = 'deploy/prometheus/rules';
export const RULE_TESTS_DIR = 'deploy/prometheus/tests';
export const ALERTMANAGER_CONFIG = 'deploy/alertmanager/alertmanager.yml';

/** Where compose's Alertmanager finds the bearer token its webhooks send (its entrypoint writes ALERTS_TOKEN there). */
export const ALERTS_TOKEN_FILE = '/alertmanager/alerts-token';

/**
 * Points the webhooks of a parsed alertmanager.yml at the roles running here: `targets` maps each host:port the
 * project's config posts to (candlestack:9001 = serve, notifier:8003 = notify) to a base URL here, or to null
 * when that role does not run here (its webhooks are dropped). Their bearer-token file becomes one written in
 * `dir` (the project's config names compose's path). Throws if a webhook does not send the shared secret, or
 * posts somewhere `targets` does not name.
 */
export function deliverWebhooksTo(config: any, targets: Record<string, string | null>, dir: string): void {
  const tokenFile = join(dir, 'alerts-token');
  writeFileSync(tokenFile, ALERTS_TOKEN_FOR_TESTS);
  for (const r of config.receivers) {
    const kept: any[] = [];
    for (const w of r.webhook_configs ?? []) {
      if (w.http_config?.authorization?.credentials_file !== ALERTS_TOKEN_FILE) throw new Error(`alertmanager.yml receiver ${r.name}: its webhook does not send the shared secret from ${ALERTS_TOKEN_FILE}`);
      const url = new URL(w.url);
      if (!(url.host in targets)) throw new Error(`alertmanager.yml receiver ${r.name}: posts to ${url.host}, which the test does not map (${Object.keys(targets).join(', ')})`);
      const base = targets[url.host];
      if (base === null) continue;
      w.url = `${base}${url.pathname}`;
      w.http_config.authorization.credentials_file = tokenFile;
      kept.push(w);
    }
    if (r.webhook_configs) r.webhook_configs = kept;
  }
}

/** The shared secret deliverWebhooksTo has Alertmanager send (a role under test sets CANDLESTACK_ALERTS_TOKEN to it). */
export const ALERTS_TOKEN_FOR_TESTS = 'test-alerts-token';

export const DASHBOARDS_DIR = 'deploy/grafana/dashboards';

export const yamlFiles = (dir: string) => readdirSync(path(dir)).filter((f) => f.endsWith('.yml')).sort().map((f) => `${dir}/${f}`);
export const readYaml = (file: string): any => parseYaml(readFileSync(path(file), 'utf8'));

export interface Rule {
  file: string;
  group: string;
  kind: 'record' | 'alert';
  name: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export function loadRules(): Rule[] {
  return yamlFiles(RULES_DIR).flatMap((file) =>
    (readYaml(file).groups as any[]).flatMap((g) =>
      (g.rules as any[]).map((r): Rule => ({
        file,
        group: g.name,
        kind: r.alert ? 'alert' : 'record',
        name: r.alert ?? r.record,
        expr: String(r.expr).trim(),
        for: r.for,
        labels: r.labels ?? {},
        annotations: r.annotations ?? {},
      })),
    ),
  );
}

export interface DashboardQuery {
  dashboard: string;
  panel: string;
  expr: string;
}

export function loadDashboards(): { file: string; json: any }[] {
  return readdirSync(path(DASHBOARDS_DIR))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, json: JSON.parse(readFileSync(path(`${DASHBOARDS_DIR}/${file}`), 'utf8')) }));
}

export const dataPanels = (dashboard: any): any[] => (dashboard.panels as any[]).filter((p) => p.type !== 'row');

export function dashboardQueries(): DashboardQuery[] {
  return loadDashboards().flatMap(({ json }) => dataPanels(json).flatMap((p) => (p.targets as any[]).map((t) => ({ dashboard: json.uid, panel: p.title, expr: t.expr as string }))));
}

/**
 * Metrics the rules and panels read that the all-in-one proof cannot produce (the split roles' Kafka series)
 * or that belong to work not built yet (the cache): their expressions must parse and may be empty. Remove an
 * entry when the proof can produce its series.
 */
export const PENDING_METRICS: Record<string, { labels: string[]; reason: string }> = {
  candlestack_decision_hit_ratio: { labels: ['strategy', 'horizon'], reason: 'set once recorded decisions are scored, 15 min after them at the earliest: longer than the proof\'s demo (test/decision-api.test.ts scores them on a fake clock)' },
  candlestack_kafka_consumer_lag: { labels: ['topic', 'partition'], reason: 'Kafka bus: the proof runs the all-in-one demo on the in-process bus; these series come from the collect/process roles (test/kafka-bus.test.ts, test/roles.test.ts)' },
  candlestack_kafka_messages_produced_total: { labels: ['topic'], reason: 'Kafka bus: the proof runs the all-in-one demo on the in-process bus; these series come from the collect/process roles (test/kafka-bus.test.ts, test/roles.test.ts)' },
  candlestack_kafka_messages_consumed_total: { labels: ['topic'], reason: 'Kafka bus: the proof runs the all-in-one demo on the in-process bus; these series come from the collect/process roles (test/kafka-bus.test.ts, test/roles.test.ts)' },
  candlestack_cache_hits_total: { labels: ['route'], reason: 'the proof sends no cacheable read (a closed range with to=); test/read-cache.test.ts and test/serve-scale.test.ts count hits and misses' },
  candlestack_cache_misses_total: { labels: ['route'], reason: 'the proof sends no cacheable read (a closed range with to=); test/read-cache.test.ts and test/serve-scale.test.ts count hits and misses' },
  candlestack_cache_errors_total: { labels: ['operation'], reason: 'the demo uses the in-process cache, which cannot fail; test/read-cache.test.ts kills Redis to count errors' },
  candlestack_cache_operation_duration_seconds: { labels: ['operation'], reason: 'the proof sends no cacheable read; test/read-cache.test.ts times them' },
  candlestack_rate_limit_exceeded_total: { labels: ['route'], reason: 'no client of the proof goes over its budget (a dashboard pace is far below it); test/rate-limit.test.ts drives 429s' },
  candlestack_websocket_refused_total: { labels: ['reason'], reason: 'the proof opens no /ws connection over the caps; test/live-ws-limits.test.ts does' },
  candlestack_websocket_dropped_total: { labels: ['reason'], reason: 'the proof has no slow /ws reader; test/live-ws-limits.test.ts does' },
  candlestack_loki_pushes_total: { labels: ['outcome'], reason: 'the proof\'s demo pushes no logs to Loki (log.loki.url unset: its lines go nowhere but stdout); test/loki-logs.test.ts counts them against a local Loki' },
  candlestack_loki_lines_sent_total: { labels: [], reason: 'the proof\'s demo pushes no logs to Loki (log.loki.url unset); test/loki-logs.test.ts counts them against a local Loki' },
  candlestack_loki_lines_dropped_total: { labels: ['reason'], reason: 'the proof\'s demo pushes no logs to Loki (log.loki.url unset); test/loki-logs.test.ts counts them against a local Loki' },
};

/**
 * Series that exist in the product but not within the proof's few seconds of demo, named by the label
 * selector an expression uses for them: an expression containing the selector may be empty.
 */
export const RARE_SERIES: { selector: string; reason: string }[] = [
  { selector: 'job="candlestack-decide"', reason: 'the decide role\'s scrape job: the proof scrapes the all-in-one demo, where the decision service answers in-process (compose runs the role; test/decision-api.test.ts runs it)' },
  { selector: 'task=~"integrity|report"', reason: 'the daily jobs (integrity, report) have not run in the proof\'s short demo' },
  { selector: 'task="vacuum"', reason: 'the weekly vacuum has not run in the proof\'s short demo' },
  { selector: 'component="cache"', reason: 'the cache breaker guards Redis; the demo uses the in-process cache (test/read-cache.test.ts opens and closes it)' },
];

/** Exporters the stack scrapes that cannot run on a CI machine: their metrics may be empty in the proof. */
export const UNAVAILABLE_EXPORTERS: { prefix: string; reason: string }[] = [
  { prefix: 'container_', reason: 'cAdvisor (needs the Docker daemon and the host cgroups)' },
  { prefix: 'pg_', reason: 'postgres-exporter (not run by the proof: its demo stores in SQLite; Debian has prometheus-postgres-exporter for a later proof over PostgreSQL)' },
  { prefix: 'node_textfile_mtime_seconds', reason: 'node-exporter textfile of `candlestack job run --textfile-dir` (cron jobs): the proof runs no cron job; test/job-textfile-exporter.test.ts reads such a file with a real node-exporter' },
  { prefix: 'kafka_', reason: 'kafka-exporter (needs a real Kafka broker; the tests run librdkafka mock cluster, which it cannot scrape)' },
  { prefix: 'redis_', reason: 'redis_exporter (compose; not installed here, Debian has prometheus-redis-exporter): the demo uses the in-process cache' },
];

/** Exporters whose metrics the rules and dashboards may read: node-exporter runs in the proof, the others above. */
const EXPORTER_PREFIXES = ['node_', 'container_', 'pg_', 'kafka_', 'redis_'];

const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];

/** Metric families candlestack exposes, with their label names (the catalogue plus prom-client defaults). */
export function catalogue(): Map<string, string[]> {
  const families = new Map<string, string[]>();
  const add = (registry: ReturnType<typeof createRegistry>) => {
    for (const m of registry.getMetricsAsArray() as any[]) {
      const labels: string[] = m.labelNames ?? [];
      families.set(m.name, labels);
      if (m.constructor?.name === 'Histogram') for (const s of HISTOGRAM_SUFFIXES) families.set(m.name + s, labels.concat(s === '_bucket' ? ['le'] : []));
    }
  };
  add(createMetrics(createRegistry({ defaults: false })).registry);
  add(createRegistry());
  for (const [name, { labels }] of Object.entries(PENDING_METRICS)) {
    families.set(name, labels);
    for (const s of HISTOGRAM_SUFFIXES) families.set(name + s, labels.concat(s === '_bucket' ? ['le'] : []));
  }
  return families;
}

/** The labels a recording rule keeps, from its level prefix (exchange_symbol:... -> exchange, symbol). */
export function recordingLevelLabels(name: string): string[] {
  const level = name.split(':')[0]!;
  return level === 'candlestack' ? [] : level.split('_');
}

/** Why a metric name is unknown (undefined when it is known). */
export function unknownMetric(name: string, families: Map<string, string[]>, recorded: Set<string>): string | undefined {
  if (families.has(name) || recorded.has(name) || name === 'up') return undefined;
  if (EXPORTER_PREFIXES.some((p) => name.startsWith(p))) return undefined;
  return `${name} is neither in src/telemetry/metrics.ts, the prom-client defaults, PENDING_METRICS, a recording rule, nor an exporter's`;
}

export function toolAvailable(command: string): boolean {
  return spawnSync(command, ['--version'], { encoding: 'utf8' }).status === 0;
}

/** A child process with its output kept (the tail goes into assertion messages) and a clean stop. */
export class Service {
  private output = '';
  readonly proc: ChildProcess;
  private exited = false;

  constructor(
    readonly name: string,
    command: string,
    args: string[],
    /** The child's environment (default this process's). */
    env?: NodeJS.ProcessEnv,
  ) {
    this.proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
    const keep = (b: Buffer) => {
      this.output = (this.output + b.toString()).slice(-20_000);
    };
    this.proc.stdout!.on('data', keep);
    this.proc.stderr!.on('data', keep);
    this.proc.on('exit', () => (this.exited = true));
  }

  tail(lines = 30): string {
    return this.output.split('\n').slice(-lines).join('\n');
  }

  /** Polls url until it answers 2xx; fails with the process output if it exits or times out. */
  async waitReady(url: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exited) throw new Error(`${this.name} exited (code ${this.proc.exitCode}):\n${this.tail()}`);
      try {
        if ((await fetch(url)).ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${this.name} not ready at ${url} after ${timeoutMs} ms:\n${this.tail()}`);
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5_000);
    await done;
    clearTimeout(timer);
  }
}
