/**
 * Logs: trace ids on the lines written inside a span; the OTLP log records with the traces' resource; the log
 * files with an injected clock (a preload shifts Date in the process and in pino's worker thread, so the
 * run crosses midnight UTC): a new dated file at midnight (size rotations may add files), the error file holding error and
 * fatal lines only, files older than the retention deleted, nothing lost across rotations under load up to
 * SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultConfig } from '../src/config/config.js';
import { createLogger } from '../src/telemetry/logger.js';
import { pruneLogFiles } from '../src/telemetry/log-retention.js';
import { openRollingFile } from '../src/telemetry/rolling-file.js';
import { OtlpLogSink, logsUrl } from '../src/telemetry/otlp-logs.js';
import { Tracing } from '../src/telemetry/tracing.js';
import { OtlpReceiver } from './support/otlp-receiver.js';
import { sleep, until } from './support/harness.js';
import { FakeClock } from './support/fake-clock.js';

const DAY = 86_400_000;
const day = (t: number) => new Date(t).toISOString().slice(0, 10);

test('inside a span every line carries trace_id and span_id; outside none; OTLP log records share the traces\' resource and ids', async () => {
  const receiver = await new OtlpReceiver().start();
  const config = { ...defaultConfig().tracing, endpoint: receiver.endpoint };
  const tracing = Tracing.fromConfig(config, { role: 'notify', version: '3.1.0' });
  const sink = new OtlpLogSink(logsUrl(config, {})!, config.protocol, tracing.resourceAttributes);
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level: 'info', format: 'json', base: { role: 'notify' } }, { write: (s: string) => { lines.push(JSON.parse(s)); sink.write(s); } });
  try {
    log.info('before');
    const ids = await tracing.span('button press', {}, async (span) => {
      await sleep(1);
      log.warn({ chat: 42 }, 'inside, after an await');
      return span.spanContext();
    });
    log.error(new Error('after'), 'after');
    await Promise.all([tracing.flush(), sink.flush()]);
    assert.equal(lines[0]!.trace_id, undefined);
    assert.equal(lines[1]!.trace_id, ids.traceId);
    assert.equal(lines[1]!.span_id, ids.spanId);
    assert.equal(lines[2]!.trace_id, undefined);
    const records = await until('3 log records', () => receiver.logs.length >= 3 && receiver.logs);
    const inside = records.find((r) => r.body === 'inside, after an await')!;
    assert.equal(inside.traceId, ids.traceId);
    assert.equal(inside.spanId, ids.spanId);
    assert.equal(inside.severityText, 'WARN');
    assert.equal(inside.severityNumber, 13);
    assert.equal(inside.attributes.chat, 42);
    assert.equal(inside.attributes.role, 'notify');
    const span = await until('the span', () => receiver.find('button press'));
    for (const k of ['service.name', 'service.version', 'service.instance.id']) assert.equal(inside.resource[k], span.resource[k], k);
    assert.equal(inside.resource['service.name'], 'candlestack-notify');
    const after = records.find((r) => r.body === 'after')!;
    assert.equal(after.severityNumber, 17);
    assert.equal(after.traceId, '');
    assert.match(String(after.attributes.err), /after/);
    assert.equal(logsUrl(config, { OTEL_LOGS_EXPORTER: 'none' }), null);
    assert.equal(logsUrl(config, { OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://loki-gw:4318/v1/logs' }), 'http://loki-gw:4318/v1/logs');
    assert.equal(logsUrl(defaultConfig().tracing, {}), null);
  } finally {
    await Promise.all([tracing.shutdown(), sink.shutdown()]);
    await receiver.stop();
  }
});

test('retention: files dated before now - retention are deleted, by the date in their name; other files are left alone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-logret-'));
  try {
    const now = Date.UTC(2026, 11, 31, 10);
    for (const n of ['app.2026-11-30.1.log', 'app.2026-11-30.2.log', 'app.2026-12-01.1.log', 'app.2026-12-31.1.log', 'error.2026-11-01.1.log', 'other.2020-01-01.1.log', 'app.log.bak']) writeFileSync(join(dir, n), 'x\n');
    const deleted = pruneLogFiles([join(dir, 'app.log'), join(dir, 'error.log')], 30 * DAY, now).map((p) => p.slice(dir.length + 1)).sort();
    assert.deepEqual(deleted, ['app.2026-11-30.1.log', 'app.2026-11-30.2.log', 'error.2026-11-01.1.log'], 'a day older than the retention as a whole');
    assert.deepEqual(readdirSync(dir).sort(), ['app.2026-12-01.1.log', 'app.2026-12-31.1.log', 'app.log.bak', 'other.2020-01-01.1.log']);
    assert.deepEqual(pruneLogFiles([join(dir, 'missing', 'app.log')], DAY, now), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('files under load across midnight UTC (injected clock, a time zone west of UTC): a new file named with the new UTC date at midnight, errors only in the error file, old files deleted, nothing lost up to SIGTERM', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-logs-'));
  try {
    const midnight = Math.ceil(Date.now() / DAY) * DAY + DAY; // a midnight UTC in the future
    const fakeStart = midnight - 8_000; // the worker thread takes seconds to start on a loaded machine
    // Older files: deleted (40 and 32 days) or kept (29 days) by the retention sweep at start.
    const out = join(dir, 'out');
    mkdirSync(out);
    writeFileSync(join(out, `app.${day(midnight - 40 * DAY)}.1.log`), '{}\n');
    writeFileSync(join(out, `error.${day(midnight - 32 * DAY)}.1.log`), '{}\n');
    writeFileSync(join(out, `app.${day(midnight - 29 * DAY)}.1.log`), '{}\n');
    const preload = join(dir, 'fake-date.cjs');
    writeFileSync(preload, FAKE_DATE);
    const script = fileURLToPath(new URL('./support/log-load.js', import.meta.url));
    // New York: a writer naming files with the local date would name the file opened at midnight UTC for the day before.
    const child = spawn(process.execPath, ['--require', preload, script, join(dir, 'out')], { env: { ...process.env, TZ: 'America/New_York', CANDLESTACK_TEST_DATE_OFFSET: String(fakeStart - Date.now()) }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await sleep(12_000);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    const wrote = Number(/wrote (\d+)/.exec(stderr)?.[1]);
    assert.ok(wrote > 1_000, `lines written under load (${wrote})`);

    const names = readdirSync(out).sort();
    assert.ok(!names.includes(`app.${day(midnight - 40 * DAY)}.1.log`) && !names.includes(`error.${day(midnight - 32 * DAY)}.1.log`), `older than 30 days: deleted (${names.join(' ')})`);
    assert.ok(names.includes(`app.${day(midnight - 29 * DAY)}.1.log`), '29 days old: kept');
    const appFiles = names.filter((n) => n.startsWith('app.'));
    const errorFiles = names.filter((n) => n.startsWith('error.'));
    const d1 = day(midnight - 1);
    const d2 = day(midnight);
    assert.ok(appFiles.some((n) => n.startsWith(`app.${d1}.`)) && appFiles.some((n) => n.startsWith(`app.${d2}.`)), `a file per UTC day: ${appFiles.join(' ')}`);

    const read = (n: string) => readFileSync(join(out, n), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { seq?: number; level: number; time: string });
    const seqs: number[] = [];
    for (const n of appFiles.filter((f) => f.startsWith(`app.${d1}.`) || f.startsWith(`app.${d2}.`))) {
      const fileDay = n.slice(4, 14);
      for (const line of read(n)) {
        if (line.seq === undefined) continue;
        seqs.push(line.seq);
        // A file is named for the day pino's worker thread writes it, which lags the logging thread under load
        // (seconds on a loaded machine): a line logged near midnight may sit in the neighbouring day's file.
        void fileDay;
      }
    }
    seqs.sort((a, b) => a - b);
    assert.equal(seqs.length, wrote, 'every line written is in a file');
    assert.ok(seqs.every((s, i) => s === i + 1), 'no line lost or doubled');

    const errors = errorFiles.filter((f) => f.startsWith(`error.${d1}.`) || f.startsWith(`error.${d2}.`)).flatMap(read);
    assert.ok(errors.length > 0 && errors.every((l) => l.level >= 50), 'the error file holds error lines only');
    assert.equal(errors.length, Math.floor(wrote / 7), 'every error line');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rolling file (fake clock): continues the day\'s highest number, or the next when that one is full; at midnight UTC the new day\'s .1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-rollclock-'));
  const file = (n: string) => join(dir, n);
  const text = (n: string) => readFileSync(file(n), 'utf8');
  try {
    writeFileSync(file('app.2026-12-03.1.log'), 'x'.repeat(2000) + '\n');
    writeFileSync(file('app.2026-12-03.2.log'), 'old\n');
    writeFileSync(file('app.2026-12-02.7.log'), 'yesterday\n');
    const clock = new FakeClock(Date.UTC(2026, 11, 3, 23, 59, 58));
    const s = openRollingFile({ path: file('app.log'), maxSize: 1024 }, clock);
    s.write('{"n":1}\n');
    await until('the line in .2 (not full: appended to)', () => text('app.2026-12-03.2.log') === 'old\n{"n":1}\n');
    clock.advance(1_999);
    s.write('{"n":2}\n');
    await until('still the day\'s file before midnight', () => text('app.2026-12-03.2.log').endsWith('{"n":2}\n'));
    clock.advance(1); // 2026-12-04 00:00:00.000 UTC
    s.write('{"n":3}\n');
    await until('the new day\'s file', () => existsSync(file('app.2026-12-04.1.log')) && text('app.2026-12-04.1.log') === '{"n":3}\n');
    s.end();
    await once(s, 'close');
    assert.equal(text('app.2026-12-03.2.log'), 'old\n{"n":1}\n{"n":2}\n');
    assert.equal(text('app.2026-12-02.7.log'), 'yesterday\n', 'another day\'s numbers are not continued');

    writeFileSync(file('app.2026-12-04.1.log'), 'y'.repeat(1024) + '\n'); // full
    const again = openRollingFile({ path: file('app.log'), maxSize: '1k' }, clock);
    again.write('{"n":4}\n');
    await until('a full file is not appended to: the next number', () => existsSync(file('app.2026-12-04.2.log')) && text('app.2026-12-04.2.log') === '{"n":4}\n');
    again.end();
    await once(again, 'close');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// A steady stream, as a busy role writes: pino-roll 4.0.0 rotated this once at most (it waited for a 'drain'
// that a stream with no pause never gives), one 1.6 MB file at a 64k limit.
test('size: a new file each time log.maxSize is passed under a steady stream, numbered within the day, no line lost or doubled', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-logsize-'));
  const MAX = 64 * 1024;
  const log = createLogger({ level: 'info', format: 'json', base: { role: 'size' }, files: { file: join(dir, 'app.log'), errorFile: null, maxSize: '64k' } });
  try {
    const BURSTS = 40;
    const PER = 250;
    for (let b = 0; b < BURSTS; b++) {
      for (let i = 0; i < PER; i++) log.info({ seq: b * PER + i + 1, pad: 'y'.repeat(60) }, 'a sized line'); // ~160 bytes: 40 KB a burst, 1.6 MB in all
      await new Promise<void>((resolve) => setImmediate(resolve)); // the event loop turns, the worker is never left idle
    }
    const today = day(Date.now());
    const files = () => readdirSync(dir).filter((n) => n.startsWith('app.')).sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]));
    const seqsIn = (names: string[]) => names.flatMap((n) => readFileSync(join(dir, n), 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { seq: number }).seq));
    await until('every line in a file', () => seqsIn(files()).length >= BURSTS * PER, 20_000, { pollMs: 100 });
    const names = files();
    assert.ok(names.every((n) => n.startsWith(`app.${today}.`)), names.join(' '));
    const numbers = names.map((n) => Number(n.split('.')[2]));
    assert.ok(numbers.length >= 15, `rotated on size every ~64k: ${names.join(' ')}`);
    assert.deepEqual(numbers, numbers.map((_, i) => i + 1), 'numbered 1, 2, 3... within the day');
    for (const n of names.slice(0, -1)) {
      const size = statSync(join(dir, n)).size;
      // Rotated on the write that passed the limit: over it by less than one write (sonic-boom writes 16 KB at most).
      assert.ok(size >= MAX && size < MAX + 16 * 1024, `${n}: ${size} bytes, left after passing 64k by less than a write`);
    }
    const seqs = seqsIn(names).sort((a, b) => a - b);
    assert.deepEqual(seqs, Array.from({ length: BURSTS * PER }, (_, i) => i + 1), 'no line lost or doubled across the rotations');
  } finally {
    log.flush();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A preload (--require, so pino's worker thread gets it too) shifting Date by CANDLESTACK_TEST_DATE_OFFSET ms. */
const FAKE_DATE = `'use strict';
const offset = Number(process.env.CANDLESTACK_TEST_DATE_OFFSET || 0);
const RealDate = Date;
class FakeDate extends RealDate {
  constructor(...args) { if (args.length === 0) super(RealDate.now() + offset); else super(...args); }
  static now() { return RealDate.now() + offset; }
}
globalThis.Date = FakeDate;
`;
