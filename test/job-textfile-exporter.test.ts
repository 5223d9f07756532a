/**
 * The textfile output read by the real node-exporter (Debian's prometheus-node-exporter): after
 * `candlestack job run retention --textfile-dir DIR` its /metrics exposes our job series with the run's
 * values and node_textfile_mtime_seconds for the file; and the file is replaced atomically: a reader in
 * another process, and node-exporter itself, read it while it is rewritten 1,000 times and never see a
 * partial file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyRun, emptyState, textfilePath, writeTextfile } from '../src/jobs/textfile.js';
import { skipUnlessAvailable, until } from './support/harness.js';
import { freePort } from './support/net.js';

const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';
const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const TEXTFILE_MODULE = fileURLToPath(new URL('../src/jobs/textfile.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The value of the one sample of `name` whose labels include every `labels` pair, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

async function startNodeExporter(dir: string): Promise<{ url: string; proc: ChildProcess; output: () => string }> {
  const port = await freePort();
  const proc = spawn(NODE_EXPORTER, ['--collector.disable-defaults', '--collector.textfile', `--collector.textfile.directory=${dir}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.on('data', (d) => (output += d));
  proc.stderr!.on('data', (d) => (output += d));
  const url = `http://127.0.0.1:${port}/metrics`;
  await until('node-exporter answers /metrics', async () => (await fetch(url)).ok, 15_000, { retryOnThrow: true });
  return { url, proc, output: () => output };
}

const scrape = async (url: string) => (await fetch(url)).text();

test('node-exporter exposes the series candlestack job run wrote, with the run\'s values and the file\'s mtime', async (t) => {
  const missing = skipUnlessAvailable(existsSync(NODE_EXPORTER), `${NODE_EXPORTER} not installed (Debian package prometheus-node-exporter)`);
  if (missing) return t.skip(missing);
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-textfile-'));
  const exporter = await startNodeExporter(dir);
  t.after(() => {
    exporter.proc.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  const before = Date.now() / 1000;
  const run = spawnSync(process.execPath, [MAIN, 'job', 'run', 'retention', '--store', `sqlite:${join(dir, 'store.db')}`, '--textfile-dir', dir], { encoding: 'utf8', cwd: ROOT, timeout: 30_000 });
  assert.equal(run.status, 0, run.stderr + run.stdout);
  const after = Date.now() / 1000;

  const text = await scrape(exporter.url);
  const task = { task: 'retention' };
  assert.equal(sample(text, 'node_textfile_scrape_error'), 0, `node-exporter read the directory without error:\n${exporter.output()}`);
  assert.equal(sample(text, 'candlestack_job_last_run_status', task), 1);
  const success = sample(text, 'candlestack_job_last_success_timestamp_seconds', task)!;
  assert.ok(success >= Math.floor(before) && success <= after + 1, `last success ${success} within the run (${before}..${after})`);
  assert.equal(sample(text, 'candlestack_job_runs_total', { ...task, result: 'success' }), 1);
  assert.equal(sample(text, 'candlestack_job_runs_total', { ...task, result: 'failure' }), 0);
  assert.ok(sample(text, 'candlestack_job_last_duration_seconds', task)! >= 0);
  assert.equal(sample(text, 'candlestack_job_last_failure_timestamp_seconds', task), undefined, 'no failure yet');
  assert.match(text, /# TYPE candlestack_job_runs_total counter/);
  const mtime = sample(text, 'node_textfile_mtime_seconds', { file: textfilePath(dir, 'retention') }) ?? sample(text, 'node_textfile_mtime_seconds', { file: 'candlestack_retention.prom' });
  assert.ok(mtime !== undefined && mtime >= Math.floor(before) - 1 && mtime <= after + 1, `node_textfile_mtime_seconds of the file: ${mtime}`);

  // a failing run (the store's directory is a file): KO, the success time and count kept
  writeFileSync(join(dir, 'blocker'), '');
  const failed = spawnSync(process.execPath, [MAIN, 'job', 'run', 'retention', '--store', `sqlite:${join(dir, 'blocker', 'x.db')}`, '--textfile-dir', dir], { encoding: 'utf8', cwd: ROOT, timeout: 30_000 });
  assert.equal(failed.status, 1, failed.stderr);
  const ko = await scrape(exporter.url);
  assert.equal(sample(ko, 'candlestack_job_last_run_status', task), 0);
  assert.equal(sample(ko, 'candlestack_job_last_success_timestamp_seconds', task), success);
  assert.equal(sample(ko, 'candlestack_job_runs_total', { ...task, result: 'failure' }), 1);
  assert.equal(sample(ko, 'candlestack_job_runs_total', { ...task, result: 'success' }), 1);
  assert.ok(sample(ko, 'candlestack_job_last_failure_timestamp_seconds', task)! >= success);
});

// The reader runs in its own process so it reads truly concurrently with the writer; it parses every read
// strictly (parseTextfile refuses a file cut short) until the stop file appears.
const READER = `
import { readFileSync, existsSync } from 'node:fs';
const { parseTextfile } = await import(process.argv[1]);
const [file, stop] = process.argv.slice(2);
let reads = 0, bad = 0, last = -1, backwards = 0, firstBad = '';
while (!existsSync(stop)) {
  let text;
  try { text = readFileSync(file, 'utf8'); } catch (err) { bad++; firstBad ||= String(err); continue; }
  reads++;
  try {
    const n = parseTextfile(text, 'gap-sweep').runs.success;
    if (n < last) backwards++;
    last = n;
  } catch (err) { bad++; firstBad ||= err.message + ' in ' + JSON.stringify(text.slice(-80)); }
}
process.stdout.write(JSON.stringify({ reads, bad, last, backwards, firstBad }));
`;

test('atomic rewrite: 1,000 rewrites while another process and node-exporter read the file never give a partial file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-textfile-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const stop = join(dir, 'stop');
  let state = applyRun(emptyState('gap-sweep'), { result: 'success', at: Date.now(), durationMs: 1 });
  await writeTextfile(dir, state);

  const exporterAvailable = existsSync(NODE_EXPORTER);
  const exporter = exporterAvailable ? await startNodeExporter(dir) : undefined;
  t.after(() => exporter?.proc.kill('SIGTERM'));

  const reader = spawn(process.execPath, ['--input-type=module', '-e', READER, TEXTFILE_MODULE, textfilePath(dir, 'gap-sweep'), stop], { stdio: ['ignore', 'pipe', 'inherit'] });
  let readerOut = '';
  reader.stdout!.on('data', (d) => (readerOut += d));
  const readerDone = new Promise<void>((resolve) => reader.on('exit', () => resolve()));

  let scrapes = 0;
  let scrapeErrors = 0;
  let writing = true;
  const scraper = (async () => {
    while (exporter && writing) {
      const text = await scrape(exporter.url);
      scrapes++;
      if (sample(text, 'node_textfile_scrape_error') !== 0 || sample(text, 'candlestack_job_runs_total', { task: 'gap-sweep', result: 'success' }) === undefined) scrapeErrors++;
    }
  })();

  for (let i = 0; i < 1_000; i++) {
    state = applyRun(state, { result: i % 7 === 0 ? 'failure' : 'success', at: Date.now(), durationMs: i });
    await writeTextfile(dir, { ...state, task: 'gap-sweep' });
  }
  writing = false;
  await scraper;
  writeFileSync(stop, '');
  await readerDone;
  const r = JSON.parse(readerOut) as { reads: number; bad: number; last: number; backwards: number; firstBad: string };
  assert.equal(r.bad, 0, `partial or unreadable reads: ${r.firstBad}`);
  assert.ok(r.reads >= 100, `the reader read the file while it was rewritten (${r.reads} reads)`);
  assert.equal(r.backwards, 0, 'the success count never goes back');
  assert.equal(r.last, state.runs.success, 'the last read is the last write');
  if (exporter) {
    assert.equal(scrapeErrors, 0, `node-exporter saw a bad file in ${scrapeErrors} of ${scrapes} scrapes:\n${exporter.output()}`);
    assert.ok(scrapes > 0);
  } else {
    const missing = skipUnlessAvailable(false, `${NODE_EXPORTER} not installed: only the reader process checked the rewrites`);
    if (missing) t.diagnostic(missing);
  }
});
