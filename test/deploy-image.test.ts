/**
 * Proof 1 of the deploy pack (issue 17): deploy/Dockerfile builds and its image runs, without a Docker engine.
 * test/support/dockerfile.ts copies exactly what the COPY lines and .dockerignore let through into an empty
 * folder per stage, runs the RUN lines' npm steps there (npm ci from the npm cache first: --prefer-offline;
 * better-sqlite3's prebuilt binary from a local folder, standing in for the download a real build makes),
 * then this test starts the image's ENTRYPOINT from the pruned final stage: --version (the build argument),
 * --help of every role, `job run`, and `demo` until /readyz, probed by the image's own HEALTHCHECK command.
 * What it cannot show: the base image's own contents (node:20-bookworm-slim), apt-get, file owners (the
 * process runs as this machine's user, USER is checked in the Dockerfile), the container's network.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROLE_COMMANDS, ROLE_PORTS } from '../src/cli/role-commands.js';
import { HEALTHCHECK_DEFAULT_PORTS, healthTarget } from '../src/cli/healthcheck.js';
import { DockerIgnore, parseDockerfile, simulateBuild, type SimulatedImage } from './support/dockerfile.js';
import { until } from './support/harness.js';
import { freePort } from './support/net.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCKERFILE = join(ROOT, 'deploy', 'Dockerfile');
const VERSION = '9.8.7-image-test';

/** The environment of the simulated RUN steps and of the image's processes: no npm_* of an outer `npm test`. */
function baseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'npm_config_cache'];
  return { ...Object.fromEntries(keep.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]!])), npm_config_update_notifier: 'false', ...extra };
}

/**
 * better-sqlite3's install step downloads a prebuilt addon (or compiles it from source for minutes). The one
 * already built in this checkout's node_modules, packed under the name prebuild-install asks for, serves as
 * that download. Undefined when there is none: the step then compiles from source.
 */
function localPrebuilds(dir: string): string | undefined {
  const addon = join(ROOT, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
  if (!existsSync(addon)) return undefined;
  const { version } = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'better-sqlite3', 'package.json'), 'utf8')) as { version: string };
  const staging = join(dir, 'staging', 'build', 'Release');
  mkdirSync(staging, { recursive: true });
  copyFileSync(addon, join(staging, 'better_sqlite3.node'));
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  const r = spawnSync('tar', ['czf', join(dir, name), '-C', join(dir, 'staging'), 'build']);
  assert.equal(r.status, 0, `tar: ${r.stderr}`);
  return dir;
}

test('the Dockerfile: multi-stage, non-root, a HEALTHCHECK on /healthz, the version build argument', () => {
  const df = parseDockerfile(readFileSync(DOCKERFILE, 'utf8'));
  assert.ok(df.stages.length >= 2, 'a build stage and a runtime stage');
  const final = df.stages.at(-1)!;
  const ops = (op: string) => final.instructions.filter((i) => i.op === op);
  const user = ops('USER').at(-1)?.args;
  assert.ok(user !== undefined && user !== 'root' && user !== '0', `the runtime stage runs as a non-root USER (got ${user})`);
  assert.ok(ops('HEALTHCHECK').length === 1, 'one HEALTHCHECK');
  assert.ok(ops('ARG').some((a) => /^CANDLESTACK_VERSION\b/.test(a.args)), 'ARG CANDLESTACK_VERSION in the runtime stage (its label)');
  assert.ok(
    ops('COPY').every((c) => c.args.startsWith('--from=')),
    'the runtime stage takes everything from the build stage (no sources, no dev dependencies)',
  );
  // The healthcheck's defaults are the roles' ports.
  for (const role of ROLE_COMMANDS) assert.equal(HEALTHCHECK_DEFAULT_PORTS[role] ?? 9001, ROLE_PORTS[role], `healthcheck default port of ${role}`);
  assert.deepEqual(healthTarget(['node', 'dist/src/cli/main.js', 'collect', '--host', '0.0.0.0'], {}), { host: '127.0.0.1', port: 8000 });
  assert.deepEqual(healthTarget(['node', 'dist/src/cli/main.js', 'serve', '--port=9100'], { CANDLESTACK_PORT: '1' }), { host: '127.0.0.1', port: 9100 });
  assert.deepEqual(healthTarget(['node', 'dist/src/cli/main.js', 'process'], { CANDLESTACK_PORT: '8123', CANDLESTACK_HOST: '10.1.2.3' }), { host: '10.1.2.3', port: 8123 });
});

test('.dockerignore: only what the image needs enters the build context', () => {
  const ignore = new DockerIgnore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
  for (const p of ['node_modules/pg/package.json', 'dist/src/cli/main.js', 'deploy/.env', 'data/candlestack.db', '.git/HEAD', 'test/cli.test.ts', 'bench/run.ts', 'src/x.db', 'web/node_modules/a.js'])
    assert.ok(ignore.excluded(p), `${p} stays out of the context`);
  for (const p of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src/cli/main.ts', 'web/index.html', 'web/src/main.ts']) assert.ok(!ignore.excluded(p), `${p} is in the context`);
  // A COPY of something .dockerignore leaves out fails the simulated build as it fails `docker build`.
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-image-'));
  try {
    const df = join(dir, 'Dockerfile');
    writeFileSync(df, 'FROM node:20-bookworm-slim\nWORKDIR /app\nCOPY deploy/grafana/src ./deploy/grafana/src\n');
    assert.throws(() => simulateBuild({ context: ROOT, dockerfile: df, out: join(dir, 'out'), env: baseEnv() }), /COPY deploy\/grafana\/src: not found in the build context/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the image, built without Docker: npm steps pass on exactly the copied files; the pruned result runs every role and demo until /readyz', { timeout: 600_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-image-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const prebuilds = localPrebuilds(join(dir, 'prebuilds'));
  let image: SimulatedImage;
  try {
    image = simulateBuild({
      context: ROOT,
      dockerfile: DOCKERFILE,
      out: join(dir, 'image'),
      buildArgs: { CANDLESTACK_VERSION: VERSION },
      env: baseEnv(prebuilds ? { npm_config_better_sqlite3_local_prebuilds: prebuilds } : {}),
      rewriteStep: (s) => s.replace(/\bnpm ci\b/, 'npm ci --prefer-offline'),
    });
  } catch (err) {
    assert.fail(`the simulated image build failed: ${(err as Error).message}`);
  }
  t.diagnostic(`RUN steps: ${image.steps.map((s) => `${s.ran ? 'ran' : 'skipped'} [${s.stage}] ${s.step}${s.why ? ` (${s.why})` : ''}${s.ms !== undefined ? ` ${s.ms} ms` : ''}`).join('; ')}`);
  assert.ok(image.steps.some((s) => s.ran && /npm ci/.test(s.step)), 'npm ci ran');
  const app = image.workdirPath;

  // Production dependencies only; no sources, tests or secrets.
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const installed = readdirSync(join(app, 'node_modules')).filter((n) => !n.startsWith('.')).flatMap((n) => (n.startsWith('@') ? readdirSync(join(app, 'node_modules', n)).map((m) => `${n}/${m}`) : [n]));
  const dev = installed.filter((n) => lock.packages[`node_modules/${n}`]?.dev === true);
  assert.deepEqual(dev, [], 'no devDependency in the image');
  for (const n of ['typescript', 'esbuild', 'playwright-core', 'ccxt']) assert.ok(!installed.includes(n), `${n} is not in the image`);
  for (const n of ['better-sqlite3', 'pg', 'kafkajs', 'prom-client', 'ws']) assert.ok(installed.includes(n), `${n} is in the image`);
  for (const p of ['src', 'test', 'bench', 'web', 'deploy', 'tsconfig.json', 'dist/test', 'dist/bench']) assert.ok(!existsSync(join(app, p)), `${p} is not in the image`);
  assert.ok(existsSync(join(app, 'dist', 'web', 'index.html')), 'the web dashboard is built into the image');

  const env = { ...baseEnv(), ...image.env };
  const entry = (...args: string[]) => spawnSync(image.entrypoint[0]!, [...image.entrypoint.slice(1), ...args], { cwd: app, env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(env.NODE_ENV, 'production');
  assert.equal(image.labels['org.opencontainers.image.version'], VERSION);

  const version = entry('--version');
  assert.equal(version.status, 0, version.stderr);
  assert.equal(version.stdout.trim(), VERSION, 'the image reports the build argument as its version');
  for (const role of ['run', 'demo', ...ROLE_COMMANDS]) {
    const help = entry(role, '--help');
    assert.equal(help.status, 0, `${role} --help: ${help.stderr}`);
    assert.match(help.stdout, new RegExp(`Usage: candlestack ${role}`));
  }
  const job = entry('job', 'run', '--help');
  assert.equal(job.status, 0, `job run --help: ${job.stderr}`);
  // The CMD is a role the entrypoint knows.
  assert.equal(entry(...image.cmd, '--help').status, 0, `CMD ${image.cmd.join(' ')} --help`);

  // The demo, as the image would start it, ready; the image's HEALTHCHECK command sees it healthy.
  const port = await freePort();
  const demo = spawn(image.entrypoint[0]!, [...image.entrypoint.slice(1), 'demo', '--port', String(port), '--host', '127.0.0.1', '--log-format', 'json'], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  demo.stdout.on('data', (b: Buffer) => (output += b.toString()));
  demo.stderr.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
  t.after(() => demo.kill('SIGKILL'));
  try {
    await until('demo /readyz', async () => demo.exitCode === null && (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false)), 60_000, { pollMs: 250 });
  } catch (err) {
    assert.fail(`${(err as Error).message}; demo exit ${demo.exitCode}; output:\n${output.slice(-3000)}`);
  }
  const page = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<script[^>]+\/assets\/app-/, 'the dashboard page and its assets');
  const health = image.healthcheck!;
  assert.ok(health, 'HEALTHCHECK CMD');
  const healthy = spawnSync(health[0]!, [...health.slice(1), '--pid', String(demo.pid)], { cwd: app, env, encoding: 'utf8', timeout: 20_000 });
  assert.equal(healthy.status, 0, `healthcheck on the running demo: ${healthy.stderr}`);
  demo.kill('SIGTERM');
  assert.equal(await exited, 0, `the demo stops cleanly on SIGTERM:\n${output.slice(-2000)}`);
  const unhealthy = spawnSync(health[0]!, [...health.slice(1), '--pid', String(demo.pid)], { cwd: app, env: { ...env, CANDLESTACK_PORT: String(port) }, encoding: 'utf8', timeout: 20_000 });
  assert.equal(unhealthy.status, 1, 'healthcheck fails once the process is gone');
  assert.match(unhealthy.stderr, new RegExp(`healthcheck: http://127\\.0\\.0\\.1:${port}/healthz: `));
});
