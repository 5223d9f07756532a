/**
 * Redis for the cache and rate-limit tests: the machine's server on 127.0.0.1:6379 (CANDLESTACK_TEST_REDIS to
 * point elsewhere), and a private redis-server on a free port for tests that kill it mid-run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { freePort } from './net.js';
import { until } from './harness.js';

export const REDIS_URL = process.env.CANDLESTACK_TEST_REDIS ?? 'redis://127.0.0.1:6379';

/** Whether a Redis answers PING at `url`. */
export function redisAvailable(url = REDIS_URL): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: u.hostname, port: Number(u.port || 6379) });
    const done = (ok: boolean) => (socket.destroy(), resolve(ok));
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

export const redisServerInstalled = (): boolean => spawnSync('redis-server', ['--version']).status === 0;

/** A redis-server of the test's own on a free port (no persistence); `kill` stops it hard, `restart` brings it back on the same port. */
export class PrivateRedis {
  private child: ChildProcess | null = null;
  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort());
    await r.restart();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async restart(): Promise<void> {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await until(`redis-server on port ${this.port}`, () => redisAvailable(this.url), 10_000, { pollMs: 50 });
  }

  /** SIGKILL: connections drop at once, nothing is flushed. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    this.child = null;
  }
}
