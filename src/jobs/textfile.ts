/**
 * node-exporter textfile output of one job (seed 004's cron metrics): `candlestack job run NAME
 * --textfile-dir DIR` writes `DIR/candlestack_<task>.prom` after every run, with the same metric names the
 * in-process jobs expose on /metrics. node-exporter's textfile collector reads every `*.prom` file of the
 * directory whole at each scrape, so the file is written to a temporary name (not ending in .prom) in the
 * same directory and renamed over the old one: a reader sees the old file or the new one, never half.
 *
 * A command run is a fresh process, so what must outlive it (the run counts by result, the last success and
 * the last failure time) is read back from the previous file: a failed run keeps the last success.
 *
 * `candlestack_job_last_duration_seconds` exists only here (a textfile cannot carry a useful histogram: one
 * observation per process); the in-process jobs expose `candlestack_job_duration_seconds` instead.
 */
import { readFile, rename, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { jobMetrics } from '../telemetry/catalogue/jobs.js';
import { JOB_RESULTS, type JobResult } from './job.js';

export const LAST_DURATION_METRIC = 'candlestack_job_last_duration_seconds';

/** What the file holds about one task. Times in epoch ms, durations in ms. */
export interface TextfileState {
  task: string;
  runs: Record<JobResult, number>;
  lastSuccessAt?: number;
  lastFailureAt?: number;
  /** 1 OK, 0 KO; absent before the first run. */
  lastStatus?: 0 | 1;
  lastDurationMs?: number;
}

/** One finished run (result `skipped_overlap` counts but leaves status, times and duration alone, as in recordJobRun). */
export interface TextfileRun {
  result: JobResult;
  at: number;
  durationMs?: number;
}

/** The file node-exporter reads for `task`: `-` becomes `_` in the name (gap-sweep -> candlestack_gap_sweep.prom). */
export function textfilePath(dir: string, task: string): string {
  return join(dir, `candlestack_${task.replace(/-/g, '_')}.prom`);
}

export function emptyState(task: string): TextfileState {
  return { task, runs: Object.fromEntries(JOB_RESULTS.map((r) => [r, 0])) as Record<JobResult, number> };
}

/** The state after `run`, from the state before it. */
export function applyRun(before: TextfileState, run: TextfileRun): TextfileState {
  const next: TextfileState = { ...before, runs: { ...before.runs, [run.result]: before.runs[run.result] + 1 } };
  if (run.result === 'skipped_overlap') return next;
  next.lastStatus = run.result === 'success' ? 1 : 0;
  if (run.result === 'success') next.lastSuccessAt = run.at;
  else next.lastFailureAt = run.at;
  if (run.durationMs !== undefined) next.lastDurationMs = run.durationMs;
  return next;
}

// HELP texts come from the catalogue, so the textfile and /metrics describe a metric the same way
// (node-exporter refuses a family whose HELP differs between files).
const CATALOGUE = jobMetrics(new Registry());
const help = (m: object) => (m as { help: string }).help;
const FAMILIES = {
  lastSuccess: { name: 'candlestack_job_last_success_timestamp_seconds', type: 'gauge', help: help(CATALOGUE.jobLastSuccess) },
  lastFailure: { name: 'candlestack_job_last_failure_timestamp_seconds', type: 'gauge', help: help(CATALOGUE.jobLastFailure) },
  lastStatus: { name: 'candlestack_job_last_run_status', type: 'gauge', help: help(CATALOGUE.jobLastStatus) },
  lastDuration: { name: LAST_DURATION_METRIC, type: 'gauge', help: 'Duration of the last run of the job (textfile output of candlestack job run only).' },
  runs: { name: 'candlestack_job_runs_total', type: 'counter', help: help(CATALOGUE.jobRuns) },
} as const;

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const num = (v: number) => (Number.isInteger(v) ? String(v) : String(Number(v.toFixed(6))));

/** The Prometheus text exposition of `state` (HELP and TYPE for every family, families with no sample left out). */
export function formatTextfile(state: TextfileState): string {
  const task = `task="${escapeLabel(state.task)}"`;
  const lines: string[] = [];
  const family = (f: { name: string; type: string; help: string }, samples: string[]) => {
    if (samples.length === 0) return;
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`, ...samples);
  };
  const one = (f: { name: string }, v: number | undefined) => (v === undefined ? [] : [`${f.name}{${task}} ${num(v)}`]);
  family(FAMILIES.lastSuccess, one(FAMILIES.lastSuccess, state.lastSuccessAt === undefined ? undefined : state.lastSuccessAt / 1000));
  family(FAMILIES.lastFailure, one(FAMILIES.lastFailure, state.lastFailureAt === undefined ? undefined : state.lastFailureAt / 1000));
  family(FAMILIES.lastStatus, one(FAMILIES.lastStatus, state.lastStatus));
  family(FAMILIES.lastDuration, one(FAMILIES.lastDuration, state.lastDurationMs === undefined ? undefined : state.lastDurationMs / 1000));
  family(FAMILIES.runs, JOB_RESULTS.map((r) => `${FAMILIES.runs.name}{${task},result="${r}"} ${num(state.runs[r])}`));
  return lines.join('\n') + '\n';
}

/** Thrown by parseTextfile on text that is not a file this module wrote (a partial read, a foreign file). */
export class TextfileParseError extends Error {
  override name = 'TextfileParseError';
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\} (-?[0-9.e+-]+|NaN|[+-]Inf)$/;

/** Reads back what formatTextfile wrote for `task`; strict (every line must be a comment or a sample, the text must end in a newline). */
export function parseTextfile(text: string, task: string): TextfileState {
  if (!text.endsWith('\n')) throw new TextfileParseError('the file does not end with a newline (partial write?)');
  const state = emptyState(task);
  let samples = 0;
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new TextfileParseError(`not a sample line: ${JSON.stringify(line)}`);
    const labels = Object.fromEntries([...m[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))]));
    const value = Number(m[3]);
    if (labels.task !== task) continue;
    samples++;
    switch (m[1]) {
      case FAMILIES.lastSuccess.name: state.lastSuccessAt = Math.round(value * 1000); break;
      case FAMILIES.lastFailure.name: state.lastFailureAt = Math.round(value * 1000); break;
      case FAMILIES.lastStatus.name: state.lastStatus = value === 1 ? 1 : 0; break;
      case FAMILIES.lastDuration.name: state.lastDurationMs = Math.round(value * 1000); break;
      case FAMILIES.runs.name:
        if ((JOB_RESULTS as readonly string[]).includes(labels.result ?? '')) state.runs[labels.result as JobResult] = value;
        break;
      default: samples--;
    }
  }
  if (samples === 0) throw new TextfileParseError(`no sample of task ${task}`);
  return state;
}

/** The state in `DIR`'s file for `task`, or an empty one when there is no file or it cannot be read back (`warning` says why). */
export async function readTextfile(dir: string, task: string): Promise<{ state: TextfileState; warning?: string }> {
  let text: string;
  try {
    text = await readFile(textfilePath(dir, task), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: emptyState(task) };
    return { state: emptyState(task), warning: `cannot read the previous textfile: ${(err as Error).message}` };
  }
  try {
    return { state: parseTextfile(text, task) };
  } catch (err) {
    return { state: emptyState(task), warning: `previous textfile ignored (counts restart at 0): ${(err as Error).message}` };
  }
}

let sequence = 0;

/** Writes `state` atomically: a temporary file in the same directory (flushed to disk), then rename over the old file. */
export async function writeTextfile(dir: string, state: TextfileState): Promise<string> {
  const target = textfilePath(dir, state.task);
  const tmp = join(dir, `.candlestack_${state.task.replace(/-/g, '_')}.prom.${process.pid}.${sequence++}.tmp`);
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(formatTextfile(state), 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, target);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  return target;
}

/** Reads the previous file, applies `run` and writes the result: what `job run` does after every run. */
export async function recordTextfileRun(dir: string, task: string, run: TextfileRun): Promise<{ path: string; state: TextfileState; warning?: string }> {
  const { state: before, warning } = await readTextfile(dir, task);
  const state = applyRun(before, run);
  return { path: await writeTextfile(dir, state), state, ...(warning ? { warning } : {}) };
}
