/**
 * `candlestack stack` (issue 17): the arguments, the compose command each action runs, and `status` over the
 * real resolved compose file: every service with its state, health and URL, the seed's ports (Grafana 3000,
 * Prometheus 9090, API 9001, Kafka 9092) published and in deploy/README.md's ports table. Without a Docker
 * engine here, `status` is run for real and must say that it could not ask the engine (exit 1), not fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { COMPOSE_FILE, composeArgs, parseStackArgs, profilesOf, statusTable, telegramTokenProblem, type StackArgs } from '../src/cli/stack-command.js';
import { composeConfig, dockerComposeAvailable, ENV_EXAMPLE, PLACEHOLDER } from './support/compose.js';
import { skipUnlessAvailable } from './support/harness.js';
import { path } from './support/observability.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

test('stack arguments: logs [-f] [SERVICE], restart [SERVICE], refusals naming the flag', () => {
  const logs = parseStackArgs(['logs', '-f', 'serve', '--full']) as StackArgs;
  assert.deepEqual({ ...logs, envFile: undefined }, { action: 'logs', full: true, telegram: false, follow: true, envFile: undefined, services: ['serve'] });
  assert.deepEqual(composeArgs(logs, true).slice(-4), ['logs', '--tail=200', '--follow', 'serve']);
  assert.deepEqual(composeArgs(parseStackArgs(['logs']) as StackArgs, true).slice(-2), ['logs', '--tail=200']);
  assert.deepEqual(composeArgs(parseStackArgs(['restart', 'process']) as StackArgs, true).slice(-2), ['restart', 'process']);
  assert.deepEqual(composeArgs(parseStackArgs(['start']) as StackArgs, true).slice(-3), ['up', '-d', '--build']);
  assert.deepEqual(composeArgs(parseStackArgs(['stop']) as StackArgs, true).slice(-1), ['down']);
  const start = composeArgs(parseStackArgs(['start', '--env-file', '/x/.env']) as StackArgs, true);
  assert.deepEqual(start.slice(0, 6), ['-f', COMPOSE_FILE, '--env-file', '/x/.env', '--profile', 'minimal']);
  // --telegram adds the notify service's profile to either.
  const bot = composeArgs(parseStackArgs(['start', '--full', '--telegram', '--env-file', '/x/.env']) as StackArgs, true);
  assert.deepEqual(bot.slice(4, 8), ['--profile', 'full', '--profile', 'telegram']);
  assert.deepEqual(profilesOf({ full: false, telegram: true }), ['minimal', 'telegram']);
  assert.equal(parseStackArgs(['--help']), 'help');
  assert.equal(parseStackArgs(['logs', '--help']), 'help');
  assert.throws(() => parseStackArgs(['status', '-f']), /-f\/--follow: only with logs/);
  assert.throws(() => parseStackArgs(['logs', '--tail']), /unknown flag --tail/);
  assert.throws(() => parseStackArgs(['start', '--env-file']), /--env-file: expected a file path/);
  assert.throws(() => parseStackArgs(['stop', 'serve']), /stack stop takes no SERVICE/);
  assert.throws(() => parseStackArgs(['launch']), /unknown stack action "launch"; expected start, status, logs, restart, stop, config/);
});

test('stack status: each service of the profile with state, health and URL; the seed ports published and documented', (t) => {
  const reason = skipUnlessAvailable(dockerComposeAvailable(), 'docker-compose is not installed (Debian package docker-compose)');
  if (reason) return t.skip(reason);
  const resolved = composeConfig('full');
  const table = statusTable(stringify(resolved), new Map([
    ['serve', { state: 'running', health: 'healthy' }],
    ['kafka', { state: 'running', health: 'starting' }],
  ]));
  const rows = new Map(table.trim().split('\n').slice(1).map((l) => [l.split(/\s+/)[0]!, l] as const));
  assert.deepEqual([...rows.keys()].sort(), Object.keys(resolved.services).sort(), 'one row per service');
  assert.match(rows.get('serve')!, /running\s+healthy\s+http:\/\/127\.0\.0\.1:9001\/$/);
  assert.match(rows.get('kafka')!, /running\s+starting\s+kafka:\/\/127\.0\.0\.1:9092$/);
  assert.match(rows.get('grafana')!, /not created\s+-\s+http:\/\/127\.0\.0\.1:3000\/$/);
  assert.match(rows.get('prometheus')!, /http:\/\/127\.0\.0\.1:9090\/targets$/);
  assert.match(rows.get('collect')!, /http:\/\/127\.0\.0\.1:8000\/metrics$/);
  assert.match(rows.get('postgres-exporter')!, /\(in the stack\) postgres-exporter:9187$/);
  // The seed's ports, in one table of deploy/README.md.
  const readme = readFileSync(path('deploy/README.md'), 'utf8');
  const ports = readme.slice(readme.indexOf('### Ports'), readme.indexOf('### Environment'));
  for (const [name, port] of [['Grafana', 3000], ['Prometheus', 9090], ['serve (API)', 9001], ['Kafka', 9092]] as const) assert.match(ports, new RegExp(`\\| ${name.replace(/[()]/g, '\\$&')} \\| ${port} \\|`), `${name} ${port} in the ports table`);
});

test('stack status on the command line, without a Docker engine: the table, then exit 1 saying the engine could not be asked', (t) => {
  const reason = skipUnlessAvailable(dockerComposeAvailable(), 'docker-compose is not installed (Debian package docker-compose)');
  if (reason) return t.skip(reason);
  const engine = spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;
  if (engine) return t.skip('a Docker engine answers here: the no-engine path is not reachable');
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-stack-'));
  try {
    const env = join(dir, '.env');
    writeFileSync(env, readFileSync(ENV_EXAMPLE, 'utf8').replace(/CHANGE_ME/g, PLACEHOLDER));
    const r = spawnSync(process.execPath, [CLI, 'stack', 'status', '--env-file', env, 'serve'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^SERVICE\s+STATE\s+HEALTH\s+URL\nserve\s+unknown\s+-\s+http:\/\/127\.0\.0\.1:9001\/\n$/);
    assert.match(r.stderr, /docker compose ps failed \(is the Docker engine running\?\)/);
    const bad = spawnSync(process.execPath, [CLI, 'stack', 'status', '--env-file', env, 'grafana'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /unknown service "grafana" in the minimal profile \(--full for every service\); expected one of .*serve/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stack start --telegram refuses without the bot token file, naming it; an empty file too', () => {
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-stack-token-'));
  try {
    const file = join(dir, 'telegram-bot-token');
    assert.match(telegramTokenProblem(file) ?? '', /^--telegram: .*telegram-bot-token does not exist: put the bot token BotFather gave you in it/);
    writeFileSync(file, '\n');
    assert.match(telegramTokenProblem(file) ?? '', /is empty/);
    writeFileSync(file, '123456789:AAtestTokenForTheLocalBotApiServer_-42\n');
    assert.equal(telegramTokenProblem(file), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
