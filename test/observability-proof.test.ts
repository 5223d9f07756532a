/**
 * The proof on a real Prometheus: candlestack demo runs in-process (with the failures a feed meets injected
 * through the simulated exchange), a real Prometheus scrapes it with the project's prometheus.yml and rules,
 * next to a real node-exporter and Alertmanager (the project's alertmanager.yml, delivering to candlestack's
 * POST /api/alerts). The demo runs its Telegram notifier too (a bot token and a local server speaking the Bot
 * API's wire format, test/support/telegram-bot-api.ts): a chat presses the button and subscribes. Then every PromQL expression of every dashboard panel and variable and of every
 * recording and alerting rule goes through Prometheus' HTTP API: all must parse, and every expression over
 * metrics that can exist here must return data. Rewritten for the test: targets, rule paths, the
 * Alertmanager address and the intervals (1 s instead of 15 s); nothing else.
 *
 * Allowed to be empty, explicitly: the contract metrics of unmerged work (PENDING_METRICS) and the
 * exporters that cannot run on a CI machine (UNAVAILABLE_EXPORTERS), and series the short demo does not
 * produce (RARE_SERIES), in test/support/observability.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { WebSocket } from 'ws';
import { systemClock } from '../src/core/clock.js';
import { defaultConfig } from '../src/config/config.js';
import { startDemo, type Demo } from '../src/demo/demo.js';
import { BUTTON_TEXT } from '../src/assistant/notifier/format.js';
import { log, skipUnlessAvailable, sleep, until } from './support/harness.js';
import { ALERTMANAGER_CONFIG, deliverWebhooksTo, loadRules, path, PENDING_METRICS, PROMETHEUS_CONFIG, RARE_SERIES, readYaml, RULES_DIR, Service, toolAvailable, UNAVAILABLE_EXPORTERS, yamlFiles } from './support/observability.js';
import { freePort } from './support/net.js';
import { allQueries, emptyReasons, promQuery } from './support/proof-queries.js';
import { metricNames } from './support/promql.js';
import { TelegramBotApiServer } from './support/telegram-bot-api.js';
import { TOKEN } from './support/notifier-rig.js';

/** The chat that talks to the demo's bot (the only one on its allow-list). */
const CHAT = 7001;

const TOOLS = [
  ['prometheus', 'prometheus (Debian package prometheus)'],
  ['prometheus-alertmanager', 'prometheus-alertmanager (Debian package prometheus-alertmanager)'],
  ['prometheus-node-exporter', 'prometheus-node-exporter (Debian package prometheus-node-exporter)'],
  ['promtool', 'promtool (Debian package prometheus)'],
] as const;

test('every dashboard and rule expression runs on a real Prometheus scraping candlestack demo', { timeout: 180_000 }, async (t) => {
  for (const [tool, pkg] of TOOLS) {
    const missing = skipUnlessAvailable(toolAvailable(tool), `${pkg} not installed`);
    if (missing) return t.skip(missing);
  }
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-proof-'));
  const services: Service[] = [];
  let demo: Demo | null = null;
  let ws: WebSocket | null = null;
  let botApi: TelegramBotApiServer | null = null;
  try {
    // The Telegram Bot API is unreachable from here: a local server speaking its wire format stands in, so the
    // demo starts its notifier (it does with a bot token) and the notifier's series are real.
    botApi = await new TelegramBotApiServer(TOKEN).start();
    // ── candlestack demo, in process ───────────────────────────────────────────────────────────
    const config = defaultConfig();
    config.http = { host: '127.0.0.1', port: 0 };
    config.timeframes = ['1s', '1m'];
    config.candles = { ...config.candles, graceMs: 200, tickMs: 50 };
    config.feed = { staleAfterMs: 1_500, backoffInitialMs: 100, backoffMaxMs: 500 };
    config.store = { url: 'sqlite::memory:', flushMs: 100 };
    // A second exchange on the same price path: the cross-exchange spread and its alert have data.
    config.exchanges = [config.exchanges[0]!, { ...config.exchanges[0]!, id: 'okx' }];
    config.telegram = { ...config.telegram, token: TOKEN, apiUrl: botApi.url, allowedChats: [CHAT], defaultMarket: { exchange: 'binance', symbol: 'BTC-USDT' }, timeframe: '1s', stateFile: join(dir, 'notifier-state.json') };
    demo = await startDemo(config, { rate: 200, seed: 5, chaos: false, symbolsGiven: false, storeGiven: true }, { clock: systemClock, log, version: 'test' });
    const api = `http://127.0.0.1:${demo.port}`;

    // ── node-exporter, Alertmanager, Prometheus on free loopback ports ───────────────────────────
    const [promPort, amPort, nePort] = await Promise.all([freePort(), freePort(), freePort()]);
    const ne = new Service('node-exporter', 'prometheus-node-exporter', [`--web.listen-address=127.0.0.1:${nePort}`, '--no-collector.systemd']);
    services.push(ne);

    const am = readYaml(ALERTMANAGER_CONFIG);
    deliverWebhooksTo(am, { 'candlestack:9001': api, 'notifier:8003': null }, dir); // the demo's /api/alerts hands alerts to its own bot
    writeFileSync(join(dir, 'alertmanager.yml'), toYaml(am));
    const alertmanager = new Service('alertmanager', 'prometheus-alertmanager', [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'am')}`,
      `--web.listen-address=127.0.0.1:${amPort}`,
      '--cluster.listen-address=',
    ]);
    services.push(alertmanager);

    // Where each job of prometheus.yml runs here; [] = cannot run here (listed, with why, in the test output).
    const targets: Record<string, string[]> = {
      prometheus: [`127.0.0.1:${promPort}`],
      alertmanager: [`127.0.0.1:${amPort}`],
      candlestack: [`127.0.0.1:${demo.port}`],
      'candlestack-collect': [],
      'candlestack-process': [],
      'candlestack-decide': [],
      'candlestack-notify': [],
      'node-exporter': [`127.0.0.1:${nePort}`],
      cadvisor: [],
      'postgres-exporter': [],
      'kafka-exporter': [],
      'redis-exporter': [],
    };
    const prom = readYaml(PROMETHEUS_CONFIG);
    prom.global = { ...prom.global, scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' };
    prom.rule_files = yamlFiles(RULES_DIR).map(path);
    prom.alerting.alertmanagers = [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }];
    for (const job of prom.scrape_configs as any[]) {
      assert.ok(job.job_name in targets, `the proof knows where scrape job ${job.job_name} runs, or that it cannot`);
      assert.equal(job.scrape_interval, undefined, `${job.job_name} uses the global interval`);
      for (const key of Object.keys(job)) if (key === 'static_configs' || key.endsWith('_sd_configs')) delete job[key];
      job.static_configs = [{ targets: targets[job.job_name] }];
    }
    writeFileSync(join(dir, 'prometheus.yml'), toYaml(prom));
    const prometheus = new Service('prometheus', 'prometheus', [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      // Alerts evaluated before the Alertmanager is discovered are dropped, then resent after this delay (1 min by default).
      '--rules.alert.resend-delay=2s',
      '--log.level=warn',
    ]);
    services.push(prometheus);
    const promUrl = `http://127.0.0.1:${promPort}`;
    await Promise.all([ne.waitReady(`http://127.0.0.1:${nePort}/metrics`), alertmanager.waitReady(`http://127.0.0.1:${amPort}/-/ready`), prometheus.waitReady(`${promUrl}/-/ready`)]);
    const runningJobs = Object.entries(targets).filter(([, v]) => v.length > 0).map(([k]) => k);
    await until(
      'every runnable target up',
      async () => {
        const body = (await (await fetch(`${promUrl}/api/v1/targets`)).json()) as any;
        const up = new Set((body.data.activeTargets as any[]).filter((x) => x.health === 'up').map((x) => x.labels.job));
        return runningJobs.every((j) => up.has(j));
      },
      20_000,
      { pollMs: 250 },
    );

    // ── traffic and the failures a feed meets, so every signal has data ─────────────────────────
    await fetch(`${api}/api/candles?symbol=BTCUSDT&timeframe=1s&limit=10`);
    await fetch(`${api}/api/health`);
    await fetch(`${api}/api/symbols`);
    await fetch(`${api}/api/candles?timeframe=7m`); // 400
    await fetch(`${api}/api/nope`); // 404
    await fetch(`${api}/api/decision?symbol=BTC-USDT&timeframe=1s`); // the in-process decision service
    await fetch(`${api}/api/features?symbol=BTC-USDT&timeframe=1s&limit=5`);
    ws = new WebSocket(`${api.replace('http', 'ws')}/ws`);
    await new Promise((resolve, reject) => ws!.once('open', resolve).once('error', reject));
    ws.send(JSON.stringify({ op: 'subscribe', exchange: 'binance', symbol: 'BTC-USDT', timeframe: '1s' }));
    // The bot: a chat presses the button (the notifier asks the demo's API over HTTP, as notify asks serve and
    // decide) and subscribes to alerts.
    const bot = botApi;
    await until('the bot polling', () => bot.calls.some((c) => c.method === 'getUpdates'), 10_000);
    let from = bot.sent.length;
    bot.message(CHAT, BUTTON_TEXT);
    await bot.waitForMessage((m) => m.chatId === CHAT, 10_000, from);
    from = bot.sent.length;
    bot.message(CHAT, '/subscribe');
    await bot.waitForMessage((m) => m.chatId === CHAT, 10_000, from);
    demo.sim!.sendUnknownEvent(); // rejected frame
    demo.sim!.rateLimitRest(1); // the next REST call gets a 429 with Retry-After
    demo.sim!.skipTradeIds('BTC-USDT', 3); // a trade-id gap, backfilled over REST
    await sleep(1_500);
    demo.sim!.dropConnections(); // reconnection
    await sleep(1_500);
    demo.sim!.pauseStreams(2_500); // silent longer than staleAfter: recycled as stale
    const witnesses = [
      'candlestack_feed_stale_total > 0',
      'candlestack_rest_rate_limited_total > 0',
      'candlestack_messages_rejected_total{reason="unknown_event"} > 0',
      'candlestack_trade_id_gaps_total{cause="stream"} > 0',
      'candlestack_alerts_received_total{status="firing",severity="none"} > 0',
      'candlestack_websocket_messages_sent_total > 0',
      'candlestack_notifier_reply_duration_seconds_count > 0',
      'candlestack_http_client_requests_total > 0',
    ];
    let notYet: string[] = witnesses;
    await until(
      'the failures to reach Prometheus and the Watchdog to travel Prometheus -> Alertmanager -> POST /api/alerts',
      async () => {
        const pending: string[] = [];
        for (const w of witnesses) if ((await promQuery(promUrl, w)).series === 0) pending.push(w);
        notYet = pending;
        return pending.length === 0;
      },
      30_000,
      { pollMs: 250 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; still empty: ${notYet.join(', ')}`);
    });
    await sleep(4_000); // a few more scrapes and rule evaluations over the new series

    // ── every expression through the HTTP API ──────────────────────────────────────────────────
    const rules = loadRules();
    const recorded = new Map(rules.filter((r) => r.kind === 'record').map((r) => [r.name, r.expr]));
    const queries = allQueries();
    const parseErrors: string[] = [];
    const missingData: string[] = [];
    const allowedEmpty = new Map<string, string[]>();
    let proven = 0;
    let parseOnly = 0;
    const crossed: string[] = [];
    for (const q of queries) {
      const r = await promQuery(promUrl, q.expr);
      if (!r.ok) {
        parseErrors.push(`${q.source}: ${r.error}\n    ${q.expr}`);
        continue;
      }
      if (r.series > 0) {
        proven++;
        if (q.parseOnly) crossed.push(q.source);
      }
      else if (q.parseOnly) parseOnly++;
      else {
        const reasons = emptyReasons(q.expr, recorded);
        if (reasons.length > 0) allowedEmpty.set(q.source, reasons);
        else missingData.push(`${q.source}\n    ${q.expr}`);
      }
    }
    t.diagnostic(`${queries.length} PromQL expressions run on Prometheus: all parse; ${proven} returned data; ${parseOnly} alert expressions below their threshold (their signals are proven); ${allowedEmpty.size} allowed empty:`);
    for (const [source, reasons] of allowedEmpty) t.diagnostic(`  empty, allowed: ${source} -- ${reasons.join('; ')}`);
    if (crossed.length > 0) t.diagnostic(`alert expressions past their threshold during this run (the injected failures): ${crossed.join(', ')}`);
    t.diagnostic(`scrape jobs without a target here: ${Object.entries(targets).filter(([, v]) => v.length === 0).map(([k]) => k).join(', ')}`);
    assert.deepEqual(parseErrors, [], 'every expression parses');
    assert.deepEqual(missingData, [], 'every expression over metrics that exist here returns data');

    // The lists of what may be empty stay honest: every entry is still read by some expression.
    const everything = queries.map((q) => q.expr).join('\n');
    for (const name of Object.keys(PENDING_METRICS)) assert.ok(everything.includes(name), `PENDING_METRICS.${name} is used by a rule or panel`);
    for (const r of RARE_SERIES) assert.ok(everything.includes(r.selector), `RARE_SERIES ${r.selector} is used by a rule or panel`);
    for (const e of UNAVAILABLE_EXPORTERS) assert.ok(queries.some((q) => metricNames(q.expr).some((n) => n.startsWith(e.prefix))), `${e.reason} is used by a rule or panel`);

    // Every rule evaluated without error on the real data.
    const ruleGroups = ((await (await fetch(`${promUrl}/api/v1/rules`)).json()) as any).data.groups as any[];
    const evaluated = ruleGroups.flatMap((g) => g.rules as any[]);
    assert.equal(evaluated.length, rules.length, 'Prometheus loaded every rule');
    for (const r of evaluated) assert.equal(r.health, 'ok', `rule ${r.name}: ${r.lastError ?? r.health}`);
    const firing = ((await (await fetch(`${promUrl}/api/v1/alerts`)).json()) as any).data.alerts as any[];
    assert.ok(firing.some((a) => a.labels.alertname === 'Watchdog' && a.state === 'firing'), 'the dead man\'s switch fires');

    // promtool check metrics on candlestack's /metrics, with every series of this run present.
    const text = await (await fetch(`${api}/metrics`)).text();
    const ours = text.split('\n').filter((l) => !/nodejs_active_(handles|requests|resources)_total/.test(l)).join('\n');
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: ours, encoding: 'utf8' });
    assert.equal(lint.status, 0, `promtool check metrics: ${lint.stdout}${lint.stderr}`);
    assert.ok(proven >= 140, `most expressions are proven with data (${proven})`);
  } catch (err) {
    const tails = services.map((s) => `--- ${s.name}:\n${s.tail(15)}`).join('\n');
    throw new Error(`${(err as Error).message}\n${tails}`, { cause: err });
  } finally {
    ws?.terminate();
    for (const s of services.reverse()) await s.stop();
    await demo?.stop();
    await botApi?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
