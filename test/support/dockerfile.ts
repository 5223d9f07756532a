/**
 * A Docker image build without a Docker engine, for test/deploy-image.test.ts: parses deploy/Dockerfile and the
 * context's .dockerignore, lays each stage's filesystem out under a temporary folder, copies exactly what the
 * COPY lines and .dockerignore let through (from the context or from an earlier stage), and runs the npm/node
 * steps of the RUN lines there with the stage's ARG/ENV values. What cannot run here (apt-get: the packages it
 * installs are on this machine already; chown: no users) is skipped by name, and any other step is an error,
 * so a new kind of RUN step makes the simulation fail instead of passing silently.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';

export interface Instruction {
  op: string;
  args: string;
  line: number;
}

export interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM (usable in FROM lines). */
  globalArgs: Map<string, string>;
  stages: Stage[];
}

/** Splits a Dockerfile into instructions (continuation lines joined, comments dropped) grouped by stage. */
export function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!;
    if (/^\s*(#|$)/.test(line)) continue;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      line = line.replace(/\\\s*$/, ' ');
      i++;
      if (!/^\s*#/.test(lines[i]!)) line += lines[i]!.trim();
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile line ${start + 1}: cannot parse ${JSON.stringify(line)}`);
    instructions.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start + 1 });
  }
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`Dockerfile line ${ins.line}: FROM ${ins.args}`);
      stages.push({ name: m[2] ?? String(stages.length), from: m[1]!, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.op !== 'ARG') throw new Error(`Dockerfile line ${ins.line}: ${ins.op} before FROM`);
      const [k, v = ''] = splitAssign(ins.args);
      globalArgs.set(k, v);
    } else stages.at(-1)!.instructions.push(ins);
  }
  if (stages.length === 0) throw new Error('Dockerfile: no FROM');
  return { globalArgs, stages };
}

function splitAssign(s: string): [string, string | undefined] {
  const i = s.indexOf('=');
  if (i < 0) return [s.trim(), undefined];
  return [s.slice(0, i).trim(), unquote(s.slice(i + 1).trim())];
}

const unquote = (s: string) => (/^".*"$/.test(s) || /^'.*'$/.test(s) ? s.slice(1, -1) : s);

/** `["a", "b"]` (exec form) or a shell string -> argv. */
export function execForm(args: string): string[] {
  if (args.trimStart().startsWith('[')) return JSON.parse(args) as string[];
  return ['/bin/sh', '-c', args];
}

/** `KEY=value KEY2="v 2"` (ENV, LABEL). */
function assignments(s: string): [string, string][] {
  const out: [string, string][] = [];
  const re = /([A-Za-z_][A-Za-z0-9_.-]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  for (let m; (m = re.exec(s)); ) out.push([m[1]!, unquote(m[2]!)]);
  return out;
}

const expand = (s: string, vars: Map<string, string>) =>
  s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, a: string | undefined, def: string | undefined, b: string | undefined) => {
    const v = vars.get((a ?? b)!);
    return v !== undefined && v !== '' ? v : (def ?? '');
  });

// ---- .dockerignore ----

interface IgnoreRule {
  negate: boolean;
  re: RegExp;
  pattern: string;
}

/** Docker's .dockerignore rules: patterns relative to the context root, `*`, `?`, `**`, `!` exceptions, the last match wins. */
export class DockerIgnore {
  private readonly rules: IgnoreRule[];

  constructor(text: string) {
    this.rules = text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => {
        const negate = l.startsWith('!');
        const pattern = posix.normalize((negate ? l.slice(1) : l).trim().replace(/^\/+/, '')).replace(/\/+$/, '');
        return { negate, pattern, re: globToRegExp(pattern) };
      });
  }

  /** Whether the context path (posix, relative to the root) is left out of the build context. */
  excluded(path: string): boolean {
    const parts = path.split('/');
    const prefixes = parts.map((_p, i) => parts.slice(0, i + 1).join('/'));
    let out = false;
    for (const r of this.rules) if (prefixes.some((p) => r.re.test(p))) out = !r.negate;
    return out;
  }

  /** Whether an excluded directory may still hold an included file (an exception pattern reaches into it). */
  mayIncludeUnder(dir: string): boolean {
    return this.rules.some((r) => r.negate && (r.pattern.startsWith('**') || r.pattern.startsWith(`${dir}/`)));
  }
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      // `**/` any number of folders (none included), `**` elsewhere anything
      if (glob[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        re += '.*';
        i++;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Every file of the build context that .dockerignore lets through (posix paths relative to the root). */
export function contextFiles(root: string, ignore: DockerIgnore): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(join(root, dir)).sort()) {
      const rel = dir === '' ? name : `${dir}/${name}`;
      const st = lstatSync(join(root, rel));
      if (st.isDirectory()) {
        if (!ignore.excluded(rel) || ignore.mayIncludeUnder(rel)) walk(rel);
      } else if (!ignore.excluded(rel)) out.push(rel);
    }
  };
  walk('');
  return out;
}

// ---- the build ----

export interface SimulatedImage {
  /** The final stage's root filesystem. */
  root: string;
  /** Its WORKDIR inside root (absolute path in the image, e.g. /app). */
  workdir: string;
  /** The folder on this machine that is WORKDIR in the image. */
  workdirPath: string;
  user: string;
  env: Record<string, string>;
  entrypoint: string[];
  cmd: string[];
  /** The HEALTHCHECK's command (exec form), or undefined. */
  healthcheck: string[] | undefined;
  expose: number[];
  labels: Record<string, string>;
  /** Every RUN step, with what was done with it. */
  steps: { stage: string; step: string; ran: boolean; why?: string; ms?: number }[];
}

export interface BuildOptions {
  /** The build context (the repository root). */
  context: string;
  dockerfile: string;
  /** An empty folder for the stages' filesystems. */
  out: string;
  buildArgs?: Record<string, string>;
  /** The environment npm steps run with (PATH, HOME, the npm cache ...); ARG and ENV values are added. */
  env: NodeJS.ProcessEnv;
  /** Rewrites a RUN npm step before it runs (e.g. adds --prefer-offline); default unchanged. */
  rewriteStep?: (step: string) => string;
  /** Time limit of one RUN step. */
  stepTimeoutMs?: number;
}

/** RUN steps that cannot run here and need not: their effect is on this machine already or does not matter to a process. */
const SKIPPED: [RegExp, string][] = [
  [/^apt-get\s/, 'system packages: installed on this machine (.ci/run)'],
  [/^rm -rf \/var\/lib\/apt\/lists\/\*$/, 'apt cache cleanup'],
  [/^chown\s/, 'file owners: the simulated image runs as this user'],
];

export function simulateBuild(o: BuildOptions): SimulatedImage {
  const df = parseDockerfile(readFileSync(o.dockerfile, 'utf8'));
  const ignoreFile = join(o.context, '.dockerignore');
  const ignore = new DockerIgnore(existsSync(ignoreFile) ? readFileSync(ignoreFile, 'utf8') : '');
  const files = contextFiles(o.context, ignore);
  const stageRoots = new Map<string, { root: string; index: number }>();
  const steps: SimulatedImage['steps'] = [];
  let image: SimulatedImage | undefined;

  df.stages.forEach((stage, index) => {
    const root = join(o.out, `stage-${index}-${stage.name}`);
    mkdirSync(root, { recursive: true });
    stageRoots.set(stage.name, { root, index });
    const vars = new Map<string, string>();
    const env: Record<string, string> = {};
    const labels: Record<string, string> = {};
    let workdir = '/';
    let user = 'root';
    let entrypoint: string[] = [];
    let cmd: string[] = [];
    let healthcheck: string[] | undefined;
    const expose: number[] = [];
    const inImage = (p: string) => join(root, posix.resolve(workdir, p));
    for (const ins of stage.instructions) {
      const args = ins.args;
      const where = `Dockerfile line ${ins.line} (${stage.name})`;
      switch (ins.op) {
        case 'ARG': {
          const [k, def] = splitAssign(args);
          vars.set(k, o.buildArgs?.[k] ?? def ?? df.globalArgs.get(k) ?? '');
          break;
        }
        case 'ENV':
          for (const [k, v] of assignments(args)) {
            env[k] = expand(v, vars);
            vars.set(k, env[k]!);
          }
          break;
        case 'LABEL':
          for (const [k, v] of assignments(args)) labels[k] = expand(v, vars);
          break;
        case 'WORKDIR':
          workdir = posix.resolve(workdir, expand(args, vars));
          mkdirSync(join(root, workdir), { recursive: true });
          break;
        case 'USER':
          user = expand(args, vars);
          break;
        case 'EXPOSE':
          expose.push(...args.split(/\s+/).map((p) => Number(p.replace(/\/.*/, ''))));
          break;
        case 'ENTRYPOINT':
          entrypoint = execForm(args);
          break;
        case 'CMD':
          cmd = execForm(args);
          break;
        case 'HEALTHCHECK': {
          const m = /CMD\s+(.*)$/.exec(args);
          healthcheck = m ? execForm(m[1]!) : undefined;
          break;
        }
        case 'COPY':
          copy(args, where);
          break;
        case 'RUN':
          run(args, where); // the shell expands $VARS from the ARG/ENV values in its environment
          break;
        default:
          throw new Error(`${where}: the simulation does not know ${ins.op}`);
      }
    }
    image = { root, workdir, workdirPath: join(root, workdir), user, env, entrypoint, cmd, healthcheck, expose, labels, steps };

    function copy(raw: string, where: string) {
      const words = raw.split(/\s+/);
      let from: string | undefined;
      while (words[0]?.startsWith('--')) {
        const flag = words.shift()!;
        if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
        else if (!/^--(chown|chmod|link)/.test(flag)) throw new Error(`${where}: COPY ${flag} is not simulated`);
      }
      const dest = expand(words.pop()!, vars);
      const sources = words.map((w) => expand(w, vars));
      const destIsDir = dest.endsWith('/') || sources.length > 1;
      for (const src of sources) {
        if (from !== undefined) {
          const other = stageRoots.get(from);
          if (!other) throw new Error(`${where}: COPY --from=${from}: no earlier stage of that name`);
          const path = join(other.root, posix.resolve('/', src));
          if (!existsSync(path)) throw new Error(`${where}: COPY --from=${from} ${src}: not found in that stage`);
          const target = destIsDir && !statSync(path).isDirectory() ? join(inImage(dest), posix.basename(src)) : inImage(dest);
          mkdirSync(dirname(target), { recursive: true });
          // Hard links where the file system allows (node_modules is large; nothing writes into a copied tree).
          if (spawnSync('cp', ['-al', path, target]).status !== 0) cpSync(path, target, { recursive: true, verbatimSymlinks: true });
          continue;
        }
        const norm = posix.normalize(src).replace(/^\.\/?|\/$/g, '');
        const matched = files.filter((f) => norm === '' || f === norm || f.startsWith(`${norm}/`));
        if (matched.length === 0) throw new Error(`${where}: COPY ${src}: not found in the build context (absent, or left out by .dockerignore)`);
        for (const f of matched) {
          const isDirSource = f !== norm;
          const target = isDirSource ? join(inImage(dest), relative(norm, f)) : destIsDir ? join(inImage(dest), posix.basename(f)) : inImage(dest);
          mkdirSync(dirname(target), { recursive: true });
          copyFileSync(join(o.context, f), target);
        }
      }
    }

    function run(raw: string, where: string) {
      if (raw.trimStart().startsWith('[')) throw new Error(`${where}: exec-form RUN is not simulated`);
      for (const part of raw.split(/\s*&&\s*/)) {
        const step = part.trim();
        const skip = SKIPPED.find(([re]) => re.test(step));
        if (skip) {
          steps.push({ stage: stage.name, step, ran: false, why: skip[1] });
          continue;
        }
        const mkdir = /^mkdir -p ((?:\/\S+\s*)+)$/.exec(step);
        if (mkdir) {
          for (const d of mkdir[1]!.trim().split(/\s+/)) mkdirSync(join(root, d), { recursive: true });
          steps.push({ stage: stage.name, step, ran: true });
          continue;
        }
        if (!/(^|\s|\|\|\s*)(npm|node)\s/.test(step)) throw new Error(`${where}: the simulation does not know the RUN step ${JSON.stringify(step)}`);
        const command = o.rewriteStep ? o.rewriteStep(step) : step;
        const started = Date.now();
        const r = spawnSync('/bin/sh', ['-c', command], {
          cwd: join(root, workdir),
          env: { ...o.env, ...Object.fromEntries(vars), ...env },
          encoding: 'utf8',
          timeout: o.stepTimeoutMs ?? 300_000,
          maxBuffer: 64 * 1024 * 1024,
        });
        if (r.status !== 0) {
          const tail = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.trim().split('\n').slice(-25).join('\n');
          throw new Error(`${where}: RUN ${command} failed (${r.error?.message ?? `exit ${r.status}`}):\n${tail}`);
        }
        steps.push({ stage: stage.name, step: command, ran: true, ms: Date.now() - started });
      }
    }
  });
  return image!;
}
