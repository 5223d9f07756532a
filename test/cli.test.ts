/**
 * The command line as a user meets it: help, version, one-line errors with exit code 2, the offline demo
 * serving candles, and `run` outliving an unreachable exchange.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, until } from './support/harness.js';
import { freePort } from './support/net.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, cwd: ROOT, timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}


function stopChild(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

test('--help on the command and every subcommand, --version', () => {
  const main = cli(['--help']);
  assert.equal(main.code, 0);
  for (const c of ['run', 'demo', 'candles']) assert.match(main.stdout, new RegExp(`\\b${c}\\b`));
  for (const c of ['run', 'demo', 'candles']) {
    const r = cli([c, '--help']);
    assert.equal(r.code, 0, `${c} --help`);
    assert.match(r.stdout, new RegExp(`Usage: candlestack ${c}`));
  }
  assert.match(cli(['run', '--help']).stdout, /--port PORT/);
  assert.match(cli(['demo', '--help']).stdout, /--rate N/);
  const v = cli(['--version']);
  assert.equal(v.code, 0);
  assert.equal(v.stdout.trim(), VERSION);
});

test('usage and config errors are one line naming the field, exit code 2', () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['nope'], {}, /unknown command "nope"/],
    [['run', '--bogus'], {}, /--bogus/],
    [['run', '--port', 'abc'], {}, /--port: expected a port number from 0 to 65535, got "abc"/],
    [['run', '--timeframes', '1m,7m'], {}, /--timeframes: expected timeframes from .*got "7m"/],
    [['run', '--late-policy', 'keep'], {}, /--late-policy: expected one of drop, amend/],
    [['run', '--symbols', 'BTC USDT!'], {}, /--symbols: expected symbols as BASE-QUOTE \(BTC-USDT\) or binance.s native form/],
    [['run'], { CANDLESTACK_GRACE: 'soon' }, /CANDLESTACK_GRACE: expected a duration/],
    [['demo', '--rate', '-5'], {}, /--rate/],
  ];
  for (const [args, env, pattern] of cases) {
    const r = cli(args, env);
    assert.equal(r.code, 2, `${args.join(' ')} exits 2 (stderr: ${r.stderr})`);
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
});

test('config file fields are validated by name (YAML and JSON)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-cli-'));
  try {
    const yaml = join(dir, 'bad.yaml');
    writeFileSync(yaml, 'exchanges:\n  - id: binance\n    symbols: [BTCUSDT]\n    tradeStream: quotes\n');
    let r = cli(['run', '--config', yaml]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /exchanges\[0\]\.tradeStream: expected one of trade, aggTrade, got "quotes"/);
    const json = join(dir, 'bad.json');
    writeFileSync(json, JSON.stringify({ http: { prot: 9001 } }));
    r = cli(['run', '--config', json]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /http\.prot: expected no such field/);
    r = cli(['run', '--config', join(dir, 'missing.yaml')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--config: expected a readable YAML or JSON file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('demo serves live candles, health and metrics offline, and stops cleanly on SIGTERM', { timeout: 60_000 }, async () => {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-demo-'));
  const child = spawn(process.execPath, [MAIN, 'demo', '--port', String(port), '--rate', '100', '--store', `sqlite:${join(dir, 'demo.db')}`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  try {
    const api = `http://127.0.0.1:${port}`;
    await until('/healthz', async () => (await fetch(`${api}/healthz`)).ok, 20_000, { pollMs: 200, retryOnThrow: true });
    const candles = await until('a candle from /api/candles', async () => {
      const b = (await (await fetch(`${api}/api/candles?limit=3`)).json()) as { symbol: string; candles: { volume: string }[] };
      return b.candles.length > 0 ? b : undefined;
    }, 15_000, { pollMs: 200, retryOnThrow: true });
    assert.equal(candles.symbol, 'BTC-USDT');
    const ready = await until('/readyz 200', async () => (await fetch(`${api}/readyz`)).status === 200, 10_000, { pollMs: 200, retryOnThrow: true });
    assert.ok(ready);
    const metrics = await (await fetch(`${api}/metrics`)).text();
    for (const family of ['candlestack_trades_received_total', 'candlestack_collector_status', 'candlestack_last_trade_timestamp_seconds', 'process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds']) {
      assert.match(metrics, new RegExp(`^${family}`, 'm'), family);
    }
    const lines = output.trim().split('\n');
    assert.ok(lines.every((l) => l.startsWith('{')), 'JSON log lines when stdout is not a terminal');
    assert.ok(lines.some((l) => (JSON.parse(l) as { component?: string }).component === 'collector'), 'lines carry their component');
    assert.equal(await stopChild(child), 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('run with the exchange unreachable: one clear line pointing to the demo, keeps retrying, health shows the feed down', { timeout: 30_000 }, async () => {
  const port = await freePort();
  const dead = await freePort();
  const child = spawn(process.execPath, [MAIN, 'run', '--port', String(port), '--store', 'sqlite::memory:', '--ws-url', `ws://127.0.0.1:${dead}`, '--rest-url', `http://127.0.0.1:${dead}`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  try {
    const api = `http://127.0.0.1:${port}`;
    await until('/healthz', async () => (await fetch(`${api}/healthz`)).ok, 15_000, { pollMs: 200, retryOnThrow: true });
    await sleep(4_000); // several backoff rounds
    const health = (await (await fetch(`${api}/api/health`)).json()) as { status: string; feeds: { state: string; lastError: string }[] };
    assert.equal(health.status, 'down');
    assert.equal(health.feeds[0]!.state, 'down');
    assert.match(health.feeds[0]!.lastError, /ECONNREFUSED/);
    assert.equal((await fetch(`${api}/readyz`)).status, 503);
    const errors = output.split('\n').filter((l) => l.includes('cannot connect'));
    assert.equal(errors.length, 1, 'one line per outage, not one per attempt');
    assert.match(errors[0]!, /npm run demo/);
    assert.equal(child.exitCode, null, 'still running');
    assert.equal(await stopChild(child), 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
