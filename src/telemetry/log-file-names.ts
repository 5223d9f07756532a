/**
 * The names of the rotated log files, shared by the writer (rolling-file.ts, in pino's worker thread) and the
 * retention sweep (log-retention.ts): `logs/app.log` -> `logs/app.<yyyy-MM-dd>.<n>.log`, the date a UTC day.
 */

/** `logs/app.log` -> stem `logs/app`, extension `.log` (`.log` when the name has none). */
export function splitLogPath(path: string): { stem: string; extension: string } {
  const slash = path.lastIndexOf('/');
  const dot = path.lastIndexOf('.');
  if (dot > slash + 1) return { stem: path.slice(0, dot), extension: path.slice(dot) };
  return { stem: path, extension: '.log' };
}

/** The file `path` writes on `day` (`yyyy-MM-dd`) with number `n`: `logs/app.2026-12-03.2.log`. */
export function logFileName(path: string, day: string, n: number): string {
  const { stem, extension } = splitLogPath(path);
  return `${stem}.${day}.${n}${extension}`;
}

/** The UTC day of `ms` as `yyyy-MM-dd`. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

const UNITS: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** `512k`, `100m`, `1g` (binary units, as `log.maxSize` is written) -> bytes. */
export function parseLogSize(size: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmg])$/i.exec(size.trim());
  if (!m) throw new Error(`a log file size like 512k, 100m or 1g, got ${JSON.stringify(size)}`);
  return Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
}
