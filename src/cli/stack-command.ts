/**
 * `candlestack stack start|status|logs|restart|stop`: wraps docker compose over deploy/docker-compose.yml
 * (as the seed's deploy-monitoring.sh did), refusing to start while deploy/.env is missing or still holds a
 * CHANGE_ME placeholder: the stack has no default passwords.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CandlestackError } from '../core/errors.js';

export const STACK_ACTIONS = ['start', 'status', 'logs', 'restart', 'stop', 'config'] as const;
export type StackAction = (typeof STACK_ACTIONS)[number];

export const STACK_HELP = `Usage: candlestack stack <start|status|logs|restart|stop|config> [--full] [--env-file FILE] [SERVICE...]

Runs the full stack with docker compose (deploy/docker-compose.yml): Kafka (KRaft), PostgreSQL/TimescaleDB,
candlestack collect/process/serve, Prometheus; --full adds Alertmanager, Grafana, Loki, Tempo, the
OpenTelemetry Collector, node-exporter and cAdvisor.

  start     build and start in the background (docker compose up -d --build)
  status    list the services and their state (ps)
  logs      the last 200 log lines (of SERVICE... if given)
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
  envFile: string;
  services: string[];
}

const DEPLOY = fileURLToPath(new URL('../../../deploy/', import.meta.url));

export function parseStackArgs(argv: string[]): StackArgs | 'help' {
  const [action, ...rest] = argv;
  if (action === undefined || action === '-h' || action === '--help') return 'help';
  if (!(STACK_ACTIONS as readonly string[]).includes(action)) throw new StackError(`unknown stack action ${JSON.stringify(action)}; expected ${STACK_ACTIONS.join(', ')}`);
  const args: StackArgs = { action: action as StackAction, full: false, envFile: `${DEPLOY}.env`, services: [] };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--full') args.full = true;
    else if (a === '--env-file') args.envFile = rest[++i] ?? '';
    else if (a.startsWith('-')) throw new StackError(`unknown flag ${a} (see candlestack stack --help)`);
    else args.services.push(a);
  }
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

function composeCommand(): string[] {
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose'];
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose'];
  throw new StackError('neither docker-compose nor docker compose is installed');
}

export function stackCommand(args: StackArgs): number {
  const problem = envFileProblem(args.envFile);
  if (problem && args.action !== 'status' && args.action !== 'logs' && args.action !== 'stop') throw new StackError(problem);
  const [bin, ...pre] = composeCommand();
  const base = [...pre, '-f', `${DEPLOY}docker-compose.yml`, ...(problem ? [] : ['--env-file', args.envFile]), '--profile', args.full ? 'full' : 'minimal'];
  const tail: Record<StackAction, string[]> = {
    start: ['up', '-d', '--build', ...args.services],
    status: ['ps', ...args.services],
    logs: ['logs', '--tail=200', ...args.services],
    restart: ['restart', ...args.services],
    stop: ['down'],
    config: ['config'],
  };
  return spawnSync(bin!, [...base, ...tail[args.action]], { stdio: 'inherit' }).status ?? 1;
}
