/**
 * The role commands and the stack wrapper on the command line: field-named config errors, help, and the
 * compose file validated by docker-compose itself (`docker-compose config`), refusing to resolve without
 * its passwords.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { envFileProblem } from '../src/cli/stack-command.js';
import { skipUnlessAvailable } from './support/harness.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const COMPOSE = fileURLToPath(new URL('../../deploy/docker-compose.yml', import.meta.url));
const ENV_EXAMPLE = fileURLToPath(new URL('../../deploy/.env.example', import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, CANDLESTACK_BUS: '' } });

test('role commands: help, default bus refused with the field named, kafka URL validated', () => {
  for (const role of ['collect', 'process', 'serve']) {
    const help = cli(role, '--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, new RegExp(`Usage: candlestack ${role} --bus kafka://`));
  }
  const memory = cli('process', '--port', '0');
  assert.equal(memory.status, 2);
  assert.match(memory.stderr, /^candlestack: --bus: expected kafka:\/\/HOST:PORT for the process role/);
  const bad = cli('collect', '--bus', 'kafka://no-port');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--bus: expected memory or kafka:\/\/HOST:PORT\[,HOST:PORT\]/);
  assert.match(cli('--help').stdout, /collect .*\n.*process .*\n.*serve .*\n.*decide .*\n.*notify .*\n.*stack /);
  const decide = cli('decide', '--help');
  assert.equal(decide.status, 0);
  assert.match(decide.stdout, /Usage: candlestack decide --store URL[\s\S]*GET \/api\/decision[\s\S]*--strategy NAME/);
  const notify = cli('notify', '--help');
  assert.equal(notify.status, 0);
  assert.match(notify.stdout, /Usage: candlestack notify --telegram-allowed-chats[\s\S]*What should I do with crypto\?[\s\S]*--telegram-token-file FILE/);
  const noToken = cli('notify', '--port', '0');
  assert.equal(noToken.status, 2);
  assert.match(noToken.stderr, /^candlestack: telegram.token: expected a bot token for the notify role/);
});

test('stack: refuses to start without an env file or with CHANGE_ME placeholders', () => {
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-stack-'));
  try {
    assert.match(envFileProblem(join(dir, 'missing.env'))!, /does not exist/);
    assert.match(envFileProblem(ENV_EXAMPLE)!, /set POSTGRES_PASSWORD, REDIS_PASSWORD, ALERTS_TOKEN, GRAFANA_ADMIN_PASSWORD, KAFKA_CLUSTER_ID/);
    const good = join(dir, '.env');
    writeFileSync(good, 'POSTGRES_PASSWORD=s3cret-pg\nREDIS_PASSWORD=s3cret-rd\nALERTS_TOKEN=s3cret-at\nGRAFANA_ADMIN_USER=admin\nGRAFANA_ADMIN_PASSWORD=s3cret-gf\nKAFKA_CLUSTER_ID=MkU3OEVBNTcwNTJENDM2Qk\n');
    assert.equal(envFileProblem(good), undefined);
    const r = cli('stack', 'start', '--env-file', ENV_EXAMPLE);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /no default passwords/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('deploy/docker-compose.yml: docker-compose config accepts it with the env set, and fails naming each unset password', (t) => {
  const has = spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;
  const reason = skipUnlessAvailable(has, 'docker-compose is not installed (Debian package docker-compose)');
  if (reason) return t.skip(reason);
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-compose-'));
  const compose = (envFile: string, ...args: string[]) => spawnSync('docker-compose', ['-f', COMPOSE, '--env-file', envFile, ...args, 'config'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
  try {
    const good = join(dir, 'good.env');
    writeFileSync(good, 'POSTGRES_PASSWORD=s3cret-pg\nREDIS_PASSWORD=s3cret-rd\nALERTS_TOKEN=s3cret-at\nGRAFANA_ADMIN_USER=admin\nGRAFANA_ADMIN_PASSWORD=s3cret-gf\nKAFKA_CLUSTER_ID=MkU3OEVBNTcwNTJENDM2Qk\n');
    for (const profile of ['minimal', 'full']) {
      const r = compose(good, '--profile', profile);
      assert.equal(r.status, 0, r.stderr);
      for (const svc of ['kafka', 'postgres', 'redis', 'collect', 'process', 'serve', 'decide', 'prometheus', 'postgres-exporter', 'kafka-exporter', 'redis-exporter']) assert.match(r.stdout, new RegExp(`\\n  ${svc}:\\n`), `${profile}: ${svc}`);
    }
    const full = compose(good, '--profile', 'full').stdout;
    for (const svc of ['alertmanager', 'grafana', 'loki', 'tempo', 'otel-collector', 'node-exporter', 'cadvisor', 'jobs']) assert.match(full, new RegExp(`\\n  ${svc}:\\n`), svc);
    assert.match(full, /CANDLESTACK_BUS: kafka:\/\/kafka:29092/); // containers' listener; 9092 is the host clients'
    const required = ['POSTGRES_PASSWORD=a', 'REDIS_PASSWORD=r', 'ALERTS_TOKEN=t', 'GRAFANA_ADMIN_USER=u', 'GRAFANA_ADMIN_PASSWORD=b', 'KAFKA_CLUSTER_ID=c'];
    for (const missing of required.map((l) => l.split('=')[0]!)) {
      const partial = join(dir, `${missing}.env`);
      writeFileSync(partial, required.filter((l) => !l.startsWith(`${missing}=`)).join('\n') + '\n');
      const r = compose(partial, '--profile', 'full');
      assert.notEqual(r.status, 0, `${missing} unset must fail`);
      assert.match(r.stderr, new RegExp(`set ${missing} in deploy/.env`));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
