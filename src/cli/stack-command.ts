/**
 * `candlestack stack start|status|logs|restart|stop|config`: wraps docker compose over deploy/docker-compose.yml
 * (as the seed's deploy-monitoring.sh did), refusing to start while deploy/.env is missing or still holds a
 * CHANGE_ME placeholder: the stack has no default passwords. `status` lists every service of the profile with
 * its state, health and URL (published port on the host, or its address inside the stack).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { CandlestackError } from '../core/errors.js';

export const STACK_ACTIONS = ['start', 'status', 'logs', 'restart', 'stop', 'config'] as const;
export type StackAction = (typeof STACK_ACTIONS)[number];

export const STACK_HELP = `Usage: candlestack stack <start|status|logs|restart|stop|config> [--full] [--telegram] [--env-file FILE] [-f] [SERVICE...]

Runs the full stack with docker compose (deploy/docker-compose.yml): Kafka (KRaft), PostgreSQL/TimescaleDB,
Redis, candlestack collect/process/serve/decide, Prometheus and the PostgreSQL, Kafka and Redis exporters;
--full adds Alertmanager, Grafana, Loki, Tempo, the OpenTelemetry Collector, node-exporter, cAdvisor and the
cron-style jobs service. --telegram adds the Telegram bot (the notify role, port 8003), with its token from
deploy/secrets/telegram-bot-token (README "Telegram bot": BotFather's token, one line).

  start     build the image and start in the background (docker compose up -d --build)
  status    every service: state, health, URL (Grafana http://127.0.0.1:3000, Prometheus :9090, API :9001,
            Kafka 127.0.0.1:9092 for host clients; deploy/README.md lists every port)
  logs      the last 200 log lines (of SERVICE... if given); -f / --follow keeps following
  restart   restart the services (or SERVICE...)
  stop      stop and remove the containers (volumes are kept)
  config    validate and print the resolved compose file

First: cp deploy/.env.example deploy/.env and set every CHANGE_ME (passwords, Kafka cluster id).
`;

export class StackError extends CandlestackError {
  override name = 'StackError';
  constructor(message: string) {
    super('stack', message);
  }
}

export interface StackArgs {
  action: StackAction;
  full: boolean;
  /** Adds the profile `telegram` (the notify service). */
  telegram: boolean;
  follow: boolean;
  envFile: string;
  services: string[];
}

const DEPLOY = fileURLToPath(new URL('../../../deploy/', import.meta.url));
export const COMPOSE_FILE = `${DEPLOY}docker-compose.yml`;
/** The notify service's bot token, mounted as the compose secret telegram_bot_token. */
export const TELEGRAM_TOKEN_FILE = `${DEPLOY}secrets/telegram-bot-token`;

export function parseStackArgs(argv: string[]): StackArgs | 'help' {
  const [action, ...rest] = argv;
  if (action === undefined || action === '-h' || action === '--help') return 'help';
  if (!(STACK_ACTIONS as readonly string[]).includes(action)) throw new StackError(`unknown stack action ${JSON.stringify(action)}; expected ${STACK_ACTIONS.join(', ')}`);
  const args: StackArgs = { action: action as StackAction, full: false, telegram: false, follow: false, envFile: `${DEPLOY}.env`, services: [] };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--full') args.full = true;
    else if (a === '--telegram') args.telegram = true;
    else if (a === '-f' || a === '--follow') args.follow = true;
    else if (a === '--env-file') {
      const file = rest[++i];
      if (file === undefined || file === '') throw new StackError('--env-file: expected a file path');
      args.envFile = file;
    } else if (a === '-h' || a === '--help') return 'help';
    else if (a.startsWith('-')) throw new StackError(`unknown flag ${a} (see candlestack stack --help)`);
    else args.services.push(a);
  }
  if (args.follow && args.action !== 'logs') throw new StackError(`-f/--follow: only with logs (got stack ${args.action})`);
  if (args.services.length > 0 && (args.action === 'stop' || args.action === 'config')) throw new StackError(`stack ${args.action} takes no SERVICE (got ${args.services.join(' ')})`);
  return args;
}

/** Why the env file cannot start the stack, or undefined when it can. */
export function envFileProblem(path: string): string | undefined {
  if (!existsSync(path)) return `${path} does not exist: cp deploy/.env.example deploy/.env and set every CHANGE_ME`;
  const text = readFileSync(path, 'utf8');
  const unset = text.split('\n').filter((l) => /^\s*[A-Z0-9_]+\s*=\s*(CHANGE_ME)?\s*$/.test(l) && !/^\s*#/.test(l)).map((l) => l.split('=')[0]!.trim());
  if (unset.length > 0) return `${path}: set ${unset.join(', ')} (no default passwords)`;
  return undefined;
}

/** Why the notify service cannot start (no token file), or undefined when it can. */
export function telegramTokenProblem(path: string = TELEGRAM_TOKEN_FILE): string | undefined {
  if (!existsSync(path) || !statSync(path).isFile()) return `--telegram: ${path} does not exist: put the bot token BotFather gave you in it, one line (README "Telegram bot")`;
  if (readFileSync(path, 'utf8').trim() === '') return `--telegram: ${path} is empty: put the bot token BotFather gave you in it, one line`;
  return undefined;
}

/** The profiles of an invocation: minimal or full, plus telegram with --telegram. */
export const profilesOf = (args: Pick<StackArgs, 'full' | 'telegram'>): string[] => [args.full ? 'full' : 'minimal', ...(args.telegram ? ['telegram'] : [])];

/** The compose arguments (after the compose binary) of an action: base (file, env file, profiles), then the action's own. */
export function composeArgs(args: StackArgs, envFileUsable: boolean): string[] {
  const base = ['-f', COMPOSE_FILE, ...(envFileUsable ? ['--env-file', args.envFile] : []), ...profilesOf(args).flatMap((p) => ['--profile', p])];
  const tail: Record<StackAction, string[]> = {
    start: ['up', '-d', '--build', ...args.services],
    status: ['config'],
    logs: ['logs', '--tail=200', ...(args.follow ? ['--follow'] : []), ...args.services],
    restart: ['restart', ...args.services],
    stop: ['down'],
    config: ['config'],
  };
  return [...base, ...tail[args.action]];
}

interface ResolvedService {
  ports?: (string | { published?: number | string; target: number; host_ip?: string })[];
  expose?: (string | number)[];
  command?: string[] | string;
}

export interface ServiceState {
  /** running, exited, restarting ... or `not created`. */
  state: string;
  /** healthy, unhealthy, starting, or `-` when the service has no healthcheck. */
  health: string;
}

/** Where a user reaches a service: its published host port, else its address inside the stack. */
export function serviceUrl(name: string, s: ResolvedService): string {
  const scheme = name === 'kafka' ? 'kafka' : name === 'postgres' ? 'postgres' : name === 'redis' ? 'redis' : 'http';
  const path = scheme !== 'http' ? '' : name === 'prometheus' ? '/targets' : name === 'grafana' || name === 'serve' || name === 'alertmanager' ? '/' : '/metrics';
  for (const p of s.ports ?? []) {
    if (typeof p === 'object') {
      if (p.published !== undefined) return `${scheme}://${p.host_ip || '127.0.0.1'}:${p.published}${path}`;
      continue;
    }
    const parts = p.replace(/\/\w+$/, '').split(':');
    if (parts.length >= 2) return `${scheme}://${parts.length === 3 ? parts[0] : '127.0.0.1'}:${parts.at(-2)}${path}`;
  }
  const cmd = Array.isArray(s.command) ? s.command : [];
  const port = (s.expose ?? [])[0] ?? cmd[cmd.indexOf('--port') + 1];
  return port !== undefined && (s.expose?.length || cmd.includes('--port')) ? `(in the stack) ${name}:${String(port).replace(/\/\w+$/, '')}` : '-';
}

/** The `status` table: one row per service of the resolved compose file, in its order. */
export function statusTable(resolvedCompose: string, states: ReadonlyMap<string, ServiceState>): string {
  const services = (parseYaml(resolvedCompose) as { services?: Record<string, ResolvedService> }).services ?? {};
  const rows = [['SERVICE', 'STATE', 'HEALTH', 'URL']];
  for (const [name, s] of Object.entries(services).sort(([a], [b]) => a.localeCompare(b))) {
    const st = states.get(name) ?? { state: 'not created', health: '-' };
    rows.push([name, st.state, st.health, serviceUrl(name, s)]);
  }
  const widths = rows[0]!.map((_c, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 2))).join('').trimEnd()).join('\n') + '\n';
}

function composeCommand(): string[] {
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose'];
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose'];
  throw new StackError('neither docker-compose nor docker compose is installed');
}

/** State and health of each service's container (docker inspect), by service name. */
function containerStates(bin: string, pre: string[], base: string[], names: string[], err: NodeJS.WritableStream): Map<string, ServiceState> {
  const out = new Map<string, ServiceState>();
  // One call first: without a reachable Docker engine every service is `unknown`, said once.
  const probe = spawnSync(bin, [...pre, ...base, 'ps', '-q'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    const why = probe.stderr.trim().split('\n').filter((l) => l.trim() !== '').at(-1) ?? `exit ${probe.status}`;
    err.write(`candlestack: docker compose ps failed (is the Docker engine running?): ${why}\n`);
    for (const name of names) out.set(name, { state: 'unknown', health: '-' });
    return out;
  }
  for (const name of names) {
    const ids = spawnSync(bin, [...pre, ...base, 'ps', '-q', name], { encoding: 'utf8' });
    const id = ids.status === 0 ? ids.stdout.trim().split('\n')[0] : undefined;
    if (!id) continue;
    const r = spawnSync('docker', ['inspect', '--format', '{{.State.Status}}|{{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}}', id], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    const [state = '?', health = '-'] = r.stdout.trim().split('|');
    out.set(name, { state, health });
  }
  return out;
}

export function stackCommand(args: StackArgs, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): number {
  const problem = envFileProblem(args.envFile);
  if (problem && args.action !== 'status' && args.action !== 'logs' && args.action !== 'stop') throw new StackError(problem);
  const tokenProblem = args.telegram && (args.action === 'start' || args.action === 'restart') ? telegramTokenProblem() : undefined;
  if (tokenProblem) throw new StackError(tokenProblem);
  const [bin, ...pre] = composeCommand();
  const all = composeArgs(args, !problem);
  if (args.action !== 'status') {
    const code = spawnSync(bin!, [...pre, ...all], { stdio: 'inherit' }).status ?? 1;
    if (code === 0 && args.action === 'start') out.write('started; `candlestack stack status` shows each service\'s health and URL\n');
    return code;
  }
  const config = spawnSync(bin!, [...pre, ...all], { encoding: 'utf8' });
  if (config.status !== 0) throw new StackError(`docker compose config failed: ${config.stderr.trim().split('\n')[0]}`);
  // docker-compose v1's `config` prints every service whatever --profile says: keep the profile's own.
  const profiles = profilesOf(args);
  const resolved = parseYaml(config.stdout) as { services: Record<string, { profiles?: string[] }> };
  resolved.services = Object.fromEntries(Object.entries(resolved.services ?? {}).filter(([, s]) => s.profiles === undefined || s.profiles.some((p) => profiles.includes(p))));
  const names = Object.keys(resolved.services);
  const wanted = args.services.length > 0 ? args.services : names;
  for (const s of wanted) if (!names.includes(s)) throw new StackError(`unknown service ${JSON.stringify(s)} in the ${args.full ? 'full' : 'minimal'} profile${s === 'notify' && !args.telegram ? ' (--telegram adds notify)' : args.full ? '' : ' (--full for every service)'}; expected one of ${names.join(', ')}`);
  const base = all.slice(0, all.length - 1);
  const states = containerStates(bin!, pre, base, wanted, err);
  resolved.services = Object.fromEntries(Object.entries(resolved.services).filter(([n]) => wanted.includes(n)));
  out.write(statusTable(JSON.stringify(resolved), states));
  // No engine to ask: the table shows where each service would be, but not its state.
  return [...states.values()].some((s) => s.state === 'unknown') ? 1 : 0;
}
