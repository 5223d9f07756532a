/**
 * A rotating log file, as a pino transport target (pino loads this module in its worker thread; the default
 * export builds the stream). `logs/app.log` writes `logs/app.<yyyy-MM-dd>.<n>.log`: the date is the UTC day,
 * a new file (`.1`) at each midnight UTC and the next number of the day each time the file reaches
 * `maxSize`. At start it continues the highest number of today, or the next one when that file is full.
 * Deleting old files is not done here: log-retention.ts does it from the role's thread.
 *
 * Writing is sonic-boom's (asynchronous `fs.write`, lines buffered while a write is under way). A rotation asks
 * sonic-boom to reopen on the new name: it finishes the write under way on the old file, then opens the new
 * one and writes every buffered line there, so no line is lost, doubled or split across two files. pino-roll,
 * which this replaces, waited for sonic-boom's 'drain' before reopening; 'drain' comes only when the buffer
 * is empty, which a steady stream of lines never lets happen, so under load it rotated on size once (at the
 * first pause), then never again (and a size rotation still pending held off the next).
 *
 * Times come from a Clock (the system clock in the worker thread; a fake one in tests).
 */
import sonicBoom from 'sonic-boom';
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { systemClock, type Clock, type Timer } from '../core/clock.js';
import { logFileName, parseLogSize, splitLogPath, utcDay } from './log-file-names.js';

const DAY_MS = 86_400_000;
const SonicBoom = sonicBoom.default;
export type RollingFileStream = InstanceType<typeof SonicBoom>;

export interface RollingFileOptions {
  /** The configured path (`logs/app.log`); the files written carry the day and a number. */
  path: string;
  /** A file is rotated once it has this many bytes: a number of bytes, or `512k`, `100m`, `1g`. */
  maxSize: string | number;
}

/** The transport target pino's worker thread calls: the stream it writes the lines to. */
export default async function rollingFileTarget(options: RollingFileOptions): Promise<RollingFileStream> {
  return openRollingFile(options, systemClock);
}

export function openRollingFile(options: RollingFileOptions, clock: Clock): RollingFileStream {
  const maxBytes = typeof options.maxSize === 'number' ? options.maxSize : parseLogSize(options.maxSize);
  if (!(maxBytes > 0)) throw new Error(`rolling file ${options.path}: maxSize must be positive, got ${options.maxSize}`);
  let day = utcDay(clock.now());
  let number = firstNumber(options.path, day, maxBytes);
  let current = logFileName(options.path, day, number);
  let size = fileSize(current);
  /** False from a rotation until the new file is open: the bytes written meanwhile end the old file. */
  let counting = true;
  const dest = new SonicBoom({ dest: current, mkdir: true, append: true });

  const rotate = (toDay: string, n: number) => {
    day = toDay;
    number = n;
    current = logFileName(options.path, day, number);
    size = 0;
    counting = false;
    dest.reopen(current);
  };
  dest.on('ready', () => {
    if ((dest as unknown as { file: string }).file === current) counting = true; // the file sonic-boom just opened (not in its types)
  });
  dest.on('write', (n: number) => {
    if (!counting) return;
    size += n;
    if (size >= maxBytes) rotate(day, number + 1);
  });

  let timer: Timer | null = null;
  const scheduleMidnight = (from: number) => {
    const midnight = Math.floor(from / DAY_MS) * DAY_MS + DAY_MS;
    timer = clock.setTimeout(() => {
      const at = Math.max(midnight, clock.now()); // a timer may fire a little early: the new day is the scheduled one
      rotate(utcDay(at), firstNumber(options.path, utcDay(at), maxBytes));
      scheduleMidnight(at);
    }, midnight - from);
  };
  scheduleMidnight(clock.now());
  dest.once('close', () => timer?.cancel());
  return dest;
}

/** The number to write on `day`: the highest existing one while it is below `maxBytes`, else the next; 1 when none. */
function firstNumber(path: string, day: string, maxBytes: number): number {
  const { stem, extension } = splitLogPath(path);
  const prefix = `${basename(stem)}.${day}.`;
  let names: string[];
  try {
    names = readdirSync(dirname(stem));
  } catch {
    return 1; // the directory is created when the file is opened
  }
  let highest = 0;
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith(extension)) continue;
    const n = name.slice(prefix.length, name.length - extension.length);
    if (/^\d+$/.test(n)) highest = Math.max(highest, Number(n));
  }
  if (highest === 0) return 1;
  return fileSize(logFileName(path, day, highest)) < maxBytes ? highest : highest + 1;
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
