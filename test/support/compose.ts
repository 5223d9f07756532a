/**
 * deploy/docker-compose.yml as docker-compose itself resolves it (`docker-compose config`, v1, offline), for
 * test/deploy-compose.test.ts (cross-references) and test/deploy-services.test.ts (the services run as
 * compose would run them). The env file is deploy/.env.example with every CHANGE_ME filled in.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { REPO } from './observability.js';

export const COMPOSE_FILE = join(REPO, 'deploy', 'docker-compose.yml');
export const ENV_EXAMPLE = join(REPO, 'deploy', '.env.example');
/** Every service compose can run: the full profile and the Telegram bot's (notify) on top of it. */
export const ALL_PROFILES = ['full', 'telegram'] as const;

export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string; args?: Record<string, string> };
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | null>;
  ports?: (string | { target: number; published?: number })[];
  expose?: (string | number)[];
  volumes?: (string | { type: string; source?: string; target: string })[];
  networks?: Record<string, { aliases?: string[] } | null>;
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  profiles?: string[];
}

export interface Compose {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export const PLACEHOLDER = 'ci-placeholder-secret';

export function dockerComposeAvailable(): boolean {
  return spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;
}

/** The resolved compose file of `profile` (every service of it, or of any of several), with the example env and `extraEnv` lines. */
export function composeConfig(profile: string | readonly string[] = 'full', extraEnv: Record<string, string> = {}): Compose {
  const profiles = typeof profile === 'string' ? [profile] : profile;
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-compose-'));
  try {
    const env = join(dir, '.env');
    const example = readFileSync(ENV_EXAMPLE, 'utf8').replace(/CHANGE_ME/g, PLACEHOLDER);
    writeFileSync(env, example + Object.entries(extraEnv).map(([k, v]) => `${k}=${v}\n`).join(''));
    const r = spawnSync('docker-compose', ['-f', COMPOSE_FILE, '--env-file', env, ...profiles.flatMap((p) => ['--profile', p]), 'config'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    if (r.status !== 0) throw new Error(`docker-compose config failed: ${r.stderr}`);
    const c = parseYaml(r.stdout) as Compose;
    // docker-compose v1's `config` prints every service whatever --profile says: keep the profile's own.
    c.services = Object.fromEntries(Object.entries(c.services).filter(([, svc]) => profiles.some((p) => inProfile(svc, p))));
    return c;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A service without `profiles` is in every profile. */
export const inProfile = (s: ComposeService, profile: string) => s.profiles === undefined || s.profiles.includes(profile);

/** The services that run the candlestack image (built from deploy/Dockerfile). */
export function candlestackServices(c: Compose): [string, ComposeService][] {
  return Object.entries(c.services).filter(([, s]) => s.build?.dockerfile === 'deploy/Dockerfile' || /^candlestack:/.test(s.image ?? ''));
}

const argv = (v: string[] | string | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : v.split(/\s+/));
export const commandOf = (s: ComposeService): string[] => argv(s.command);

/** The names a service answers to on the compose network: its name and its aliases. */
export function serviceNames(name: string, s: ComposeService): string[] {
  return [name, ...Object.values(s.networks ?? {}).flatMap((n) => n?.aliases ?? [])];
}

/** The container ports a service listens on, as the compose file states them: `expose`, `ports`, `--port N` of a candlestack command. */
export function listenPorts(s: ComposeService): number[] {
  const out = new Set<number>();
  for (const e of s.expose ?? []) out.add(Number(String(e).split('/')[0]));
  for (const p of s.ports ?? []) {
    if (typeof p === 'object') out.add(p.target);
    else out.add(Number(p.replace(/\/.*$/, '').split(':').at(-1)));
  }
  const cmd = commandOf(s);
  const i = cmd.indexOf('--port');
  if (i >= 0) out.add(Number(cmd[i + 1]));
  return [...out];
}

export interface Mount {
  source: string;
  target: string;
  bind: boolean;
}

export function mounts(s: ComposeService): Mount[] {
  return (s.volumes ?? []).map((v) => {
    if (typeof v === 'object') return { source: v.source ?? '', target: v.target, bind: v.type === 'bind' };
    const [source, target] = v.split(':') as [string, string];
    return { source, target, bind: source.startsWith('/') || source.startsWith('.') };
  });
}

/** The variables a service's own shell command reads (`$NAME`, `${NAME}` after compose's `$$` unescaping). */
export function commandVariables(s: ComposeService): Set<string> {
  const text = [...argv(s.entrypoint), ...commandOf(s)].join(' ');
  return new Set([...text.matchAll(/\$\{?([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1]!));
}

/** Where compose mounts the notify service's token (the secret telegram_bot_token). */
export const TELEGRAM_SECRET_PATH = '/run/secrets/telegram_bot_token';
let secretFile: string | null = null;

/**
 * A service's environment as its process reads it, with the secret compose would mount mapped to a local
 * file holding a well-formed placeholder token (the config checks the file at load).
 */
export function serviceEnv(s: ComposeService): Record<string, string> {
  const env = Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, v ?? '']));
  if (env.CANDLESTACK_TELEGRAM_TOKEN_FILE === TELEGRAM_SECRET_PATH) {
    if (secretFile === null) {
      const dir = mkdtempSync(join(tmpdir(), 'candlestack-secret-'));
      secretFile = join(dir, 'telegram_bot_token');
      writeFileSync(secretFile, '123456789:AAplaceholderTokenOfTheComposeTests_x\n');
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    }
    env.CANDLESTACK_TELEGRAM_TOKEN_FILE = secretFile;
  }
  return env;
}
