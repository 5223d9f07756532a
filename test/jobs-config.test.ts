/** The `jobs:` config section: defaults per job, cron validated by croner, errors naming jobs.<name>.<field>. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig, loadConfig } from '../src/config/config.js';
import { JOB_NAMES } from '../src/config/jobs-config.js';
import { ConfigError } from '../src/core/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'candlestack-jobs-config-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function fromYaml(text: string) {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return loadConfig({ file, env: {}, flags: {} });
}

const M = 60_000;

test('every job has its default schedule and timeout, no jitter, enabled', () => {
  assert.deepEqual(Object.keys(defaultConfig().jobs), [...JOB_NAMES]);
  assert.deepEqual(defaultConfig().jobs, {
    retention: { schedule: '17 * * * *', timeoutMs: 10 * M, jitterMs: 0, enabled: true, atStart: true },
    'gap-sweep': { schedule: '*/15 * * * *', timeoutMs: 10 * M, jitterMs: 0, enabled: true, atStart: false },
    integrity: { schedule: '30 0 * * *', timeoutMs: 30 * M, jitterMs: 0, enabled: true, atStart: false },
    report: { schedule: '5 0 * * *', timeoutMs: 10 * M, jitterMs: 0, enabled: true, atStart: false },
    vacuum: { schedule: '45 3 * * 0', timeoutMs: 60 * M, jitterMs: 0, enabled: true, atStart: false },
  });
});

test('a file sets some fields of some jobs; the rest keep their defaults', () => {
  const c = fromYaml('jobs:\n  retention: { schedule: "5 */2 * * *", jitter: 30s }\n  vacuum: { enabled: false, timeout: 2h, atStart: true }\n');
  assert.deepEqual(c.jobs.retention, { schedule: '5 */2 * * *', timeoutMs: 10 * M, jitterMs: 30_000, enabled: true, atStart: true });
  assert.deepEqual(c.jobs.vacuum, { schedule: '45 3 * * 0', timeoutMs: 120 * M, jitterMs: 0, enabled: false, atStart: true });
  assert.deepEqual(c.jobs.report, defaultConfig().jobs.report);
});

test('a bad schedule is one ConfigError line naming jobs.<name>.schedule', () => {
  for (const [schedule, why] of [
    ['61 * * * *', /Invalid value for minute/],
    ['every hour', /five, six, or seven/],
    ['0 17 * * * *', /5 parts/], // seconds are not a field here
    ['0 0 31 2 *', /that fires at some time/], // February 31st never comes
  ] as const) {
    assert.throws(
      () => fromYaml(`jobs:\n  gap-sweep:\n    schedule: "${schedule}"\n`),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.field, 'jobs.gap-sweep.schedule');
        assert.match(err.message, /^jobs\.gap-sweep\.schedule: expected a cron expression of 5 fields in UTC .+, got "/);
        assert.match(err.message, why);
        assert.equal(err.message.split('\n').length, 1);
        return true;
      },
      schedule,
    );
  }
  assert.throws(() => fromYaml('jobs:\n  retention:\n    schedule: 17\n'), { name: 'ConfigError', message: /^jobs\.retention\.schedule: expected a cron expression .+, got 17$/ });
});

test('timeout, jitter, enabled and unknown names are checked too', () => {
  assert.throws(() => fromYaml('jobs:\n  report: { timeout: soon }\n'), { message: /^jobs\.report\.timeout: expected a duration/ });
  assert.throws(() => fromYaml('jobs:\n  report: { jitter: -1s }\n'), { message: /^jobs\.report\.jitter: expected a duration/ });
  assert.throws(() => fromYaml('jobs:\n  report: { enabled: "yes" }\n'), { message: 'jobs.report.enabled: expected true or false, got "yes"' });
  assert.throws(() => fromYaml('jobs:\n  backup: {}\n'), { message: 'jobs.backup: expected no such field (known: retention, gap-sweep, integrity, report, vacuum), got {}' });
  assert.throws(() => fromYaml('jobs:\n  retention: { every: 1h }\n'), { message: 'jobs.retention.every: expected no such field (known: schedule, timeout, jitter, enabled, atStart), got "1h"' });
});
