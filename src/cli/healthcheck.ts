/**
 * The image's HEALTHCHECK (deploy/Dockerfile): GET /healthz of the candlestack process in the same container,
 * exit 0 when it answers 200, else 1 with one line on stderr. It runs every 15 s, so it imports nothing of the
 * application: the address comes from the command line of the container's main process (/proc/1/cmdline:
 * `--port N`, `--host A`), else CANDLESTACK_PORT / CANDLESTACK_HOST, else the role's default port.
 *
 *   node dist/src/cli/healthcheck.js [--pid N] [--timeout-ms N]
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';

/** The roles' default ports (src/cli/role-commands.ts ROLE_PORTS; test/deploy-image.test.ts checks they agree); others 9001. */
export const HEALTHCHECK_DEFAULT_PORTS: Readonly<Record<string, number>> = { collect: 8000, process: 8001, decide: 8002, notify: 8003, serve: 9001 };
const FALLBACK_PORT = 9001;

export interface Target {
  host: string;
  port: number;
}

/** Where the process started with `argv` (node, main.js, role, flags...) serves /healthz. */
export function healthTarget(argv: readonly string[], env: NodeJS.ProcessEnv): Target {
  const flag = (name: string): string | undefined => {
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      if (a === `--${name}`) return argv[i + 1];
      if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
    }
    return undefined;
  };
  const main = argv.findIndex((a) => /main\.js$/.test(a));
  const role = main >= 0 ? argv[main + 1] : undefined;
  const rawPort = flag('port') ?? (env.CANDLESTACK_PORT || undefined);
  const port = rawPort !== undefined ? Number(rawPort) : (role !== undefined ? HEALTHCHECK_DEFAULT_PORTS[role] : undefined) ?? FALLBACK_PORT;
  const listen = flag('host') ?? (env.CANDLESTACK_HOST || '127.0.0.1');
  // A wildcard listen address is reached on loopback.
  const host = listen === '0.0.0.0' || listen === '::' || listen === '[::]' ? '127.0.0.1' : listen.replace(/^\[|\]$/g, '');
  return { host, port };
}

/** One GET /healthz; resolves with the status code, or an error message. */
export function probe(target: Target, timeoutMs: number): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ host: target.host, port: target.port, path: '/healthz', method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', (err) => resolve(err.message));
    req.end();
  });
}

function cmdline(pid: string): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  } catch {
    return [];
  }
}

async function main(argv: string[]): Promise<number> {
  const opt = (name: string, fallback: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
  };
  const target = healthTarget(cmdline(opt('pid', '1')), process.env);
  if (!Number.isInteger(target.port) || target.port <= 0 || target.port > 65535) {
    process.stderr.write(`healthcheck: no valid port (got ${target.port}): set --port on the command or CANDLESTACK_PORT\n`);
    return 1;
  }
  const result = await probe(target, Number(opt('timeout-ms', '4000')));
  if (result === 200) return 0;
  process.stderr.write(`healthcheck: http://${target.host}:${target.port}/healthz: ${typeof result === 'number' ? `HTTP ${result}` : result}\n`);
  return 1;
}

if (process.argv[1] !== undefined && /healthcheck\.js$/.test(process.argv[1])) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
