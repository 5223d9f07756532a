/**
 * A real Kafka-protocol broker for tests: librdkafka's mock cluster, compiled from mock-cluster.c on first
 * use (into the OS temp dir, keyed by the source's hash) and driven over the helper's stdin.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';

// The C source sits next to the TypeScript source; from dist/test/support/kafka, that is four levels up.
const SOURCE = fileURLToPath(new URL('../../../../test/support/kafka/mock-cluster.c', import.meta.url));

/** Why the mock cluster cannot run here, or undefined when it can. */
export function kafkaMockUnavailable(): string | undefined {
  if (!existsSync('/usr/include/librdkafka/rdkafka_mock.h')) return 'librdkafka-dev is not installed (Debian package librdkafka-dev)';
  if (spawnSync('cc', ['--version']).status !== 0) return 'no C compiler (cc) to build the mock cluster';
  return undefined;
}

export function kcatUnavailable(): string | undefined {
  return spawnSync('kcat', ['-V']).status === 0 ? undefined : 'kcat is not installed (Debian package kcat)';
}

function build(): string {
  const source = readFileSync(SOURCE);
  const binary = join(tmpdir(), `candlestack-kafka-mock-${createHash('sha256').update(source).digest('hex').slice(0, 12)}`);
  if (!existsSync(binary)) {
    const r = spawnSync('cc', ['-O2', '-o', binary, SOURCE, '-lrdkafka'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`building the Kafka mock cluster failed: ${r.stderr}`);
  }
  return binary;
}

export class KafkaMockCluster {
  private readonly replies: ((line: string) => void)[] = [];

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly lines: Interface,
    readonly bootstrap: string,
  ) {
    lines.on('line', (line) => this.replies.shift()?.(line));
  }

  static async start(brokers = 3): Promise<KafkaMockCluster> {
    const child = spawn(build(), [String(brokers)], { stdio: ['pipe', 'pipe', 'pipe'] });
    const lines = createInterface({ input: child.stdout });
    const bootstrap = await new Promise<string>((resolve, reject) => {
      lines.once('line', resolve);
      child.once('exit', (code) => reject(new Error(`mock cluster exited with ${code}`)));
    });
    return new KafkaMockCluster(child, lines, bootstrap);
  }

  get brokers(): string[] {
    return this.bootstrap.split(',');
  }

  createTopic(name: string, partitions: number): Promise<void> {
    return this.command(`topic ${name} ${partitions}`);
  }

  brokerDown(id: number): Promise<void> {
    return this.command(`down ${id}`);
  }

  brokerUp(id: number): Promise<void> {
    return this.command(`up ${id}`);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  private command(line: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.replies.push((reply) => (reply === 'ok' ? resolve() : reject(new Error(`mock cluster: ${line}: ${reply}`))));
      this.child.stdin.write(`${line}\n`);
    });
  }
}
