/**
 * `log.retention`: log files older than the retention are deleted, at start and every hour. A file's age is
 * the date in its name (rolling-file.ts's `<stem>.<yyyy-MM-dd>.<n><ext>`, the UTC day it was opened), so the rule
 * does not depend on mtimes a copy or a backup restore would change. A day's file goes once all of its day
 * is older than the retention: with 30 days, at 2026-12-31 10:00 UTC the files of 2026-11-30 and before are
 * deleted, those of 2026-12-01 (lines from 2026-12-01 10:00 on are younger than 30 days) are kept.
 */
import { readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Clock } from '../core/clock.js';
import { splitLogPath } from './log-file-names.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** Deletes the rotated files of `paths` (log.file, log.errorFile) dated more than `retentionMs` before `now`; returns the deleted paths. */
export function pruneLogFiles(paths: readonly string[], retentionMs: number, now: number): string[] {
  const deleted: string[] = [];
  const keepFrom = Math.floor((now - retentionMs) / DAY_MS) * DAY_MS; // the oldest UTC day still kept starts here
  for (const path of paths) {
    const { stem, extension } = splitLogPath(path);
    const dir = dirname(stem);
    const prefix = `${basename(stem)}.`;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue; // not created yet
    }
    for (const name of names) {
      if (!name.startsWith(prefix) || !name.endsWith(extension)) continue;
      const m = /^(\d{4})-(\d{2})-(\d{2})\.\d+$/.exec(name.slice(prefix.length, name.length - extension.length));
      if (!m) continue;
      const day = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
      if (day < keepFrom) {
        rmSync(join(dir, name), { force: true });
        deleted.push(join(dir, name));
      }
    }
  }
  return deleted;
}

/** Prunes now and every hour (an unref'd timer); returns the stop function. */
export function startLogRetention(paths: readonly string[], retentionMs: number, clock: Clock): () => void {
  if (paths.length === 0) return () => {};
  pruneLogFiles(paths, retentionMs, clock.now());
  const timer = clock.setInterval(() => void pruneLogFiles(paths, retentionMs, clock.now()), HOUR_MS);
  return () => timer.cancel();
}
