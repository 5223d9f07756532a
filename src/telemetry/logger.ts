/**
 * Structured JSON logs (pino). Where they go:
 *
 * - stdout: JSON lines (pretty when stdout is a terminal, `log.format`);
 * - `log.file`: every line, in files named by date, rotated at midnight UTC and at `log.maxSize`
 *   (`logs/app.log` -> `logs/app.2026-12-03.1.log`, `.2.log` after a size rotation);
 * - `log.errorFile`: the error and fatal lines only, rotated the same way;
 * - the OpenTelemetry collector over OTLP/HTTP (otlp-logs.ts), or Loki's push API when `log.loki.url` is set
 *   (loki-logs.ts), with the resource attributes of the traces.
 *
 * With a file the stdout and file writers run in pino's worker thread (pino-roll for the files), so writing
 * never blocks the event loop; they are flushed when the process exits (SIGTERM included: the roles return
 * from main, pino's exit hook ends the worker after its last write). Files older than `log.retention` are
 * deleted at start and every hour (log-retention.ts).
 *
 * Every line written inside a span carries `trace_id`, `span_id` and `trace_flags` (the active span's).
 */
import { pino, type Logger, type DestinationStream, type TransportTargetOptions } from 'pino';
import type { LogFormat, LogLevel } from '../core/choices.js';
import { activeSpanIds } from './span-ids.js';

export type { Logger };
export { LOG_LEVELS, type LogLevel } from '../core/choices.js';

/** Rotating files (pino-roll). */
export interface LogFiles {
  /** Every line: `logs/app.log` writes `logs/app.<yyyy-MM-dd>.<n>.log`. */
  file: string | null;
  /** Error and fatal lines only, same naming. */
  errorFile: string | null;
  /** Size at which a file is rotated before the day ends (pino-roll units: `100m`, `1g`, `512k`). */
  maxSize: string;
}

export interface LoggerOptions {
  level: LogLevel;
  /** `auto`: pretty when stdout is a TTY. */
  format: LogFormat;
  /** Fixed fields on every line (e.g. role). */
  base?: Record<string, unknown>;
  /** Rotating log files (none when absent). */
  files?: LogFiles;
  /** More destinations in this thread (the OTLP or Loki log sink), at `level`. */
  extra?: DestinationStream[];
}

/** One day in ms: pino-roll rotates a numeric frequency on epoch multiples, i.e. at midnight UTC. */
const DAY_MS = 86_400_000;

/** The active span's ids on every line logged inside one (nothing outside a span, or with tracing off). */
const traceMixin = (): Record<string, string> => activeSpanIds() ?? {};

export function createLogger(options: LoggerOptions, destination?: DestinationStream): Logger {
  const pretty = options.format === 'pretty' || (options.format === 'auto' && process.stdout.isTTY === true);
  const base = { name: 'candlestack', ...options.base };
  const common = { level: options.level, base, timestamp: pino.stdTimeFunctions.isoTime, mixin: traceMixin };
  const extra = options.extra ?? [];
  const level = options.level === 'silent' ? 'fatal' : options.level;
  if (destination) return extra.length === 0 ? pino(common, destination) : pino(common, pino.multistream([destination, ...extra].map((stream) => ({ level, stream }))));
  const files = options.files;
  if (!files?.file && !files?.errorFile && !pretty && extra.length === 0) return pino(common);
  const targets: TransportTargetOptions[] = [
    pretty
      ? { target: 'pino-pretty', level: options.level, options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name' } }
      : { target: 'pino/file', level: options.level, options: { destination: 1 } },
  ];
  if (files?.file) targets.push({ target: 'pino-roll', level: options.level, options: rollOptions(files.file, files.maxSize) });
  if (files?.errorFile) targets.push({ target: 'pino-roll', level: 'error', options: rollOptions(files.errorFile, files.maxSize) });
  const worker = pino.transport({ targets, worker: { execArgv: preloadFlags(process.execArgv) } });
  if (extra.length === 0) return pino(common, worker);
  return pino(common, pino.multistream([{ level, stream: worker }, ...extra.map((stream) => ({ level, stream }))]));
}

/**
 * The process's preload flags (--require/--import), for the log worker thread: pino gives its worker none when
 * the entry point is an ES module, so a preload (an agent, a CA loader, a test clock) would apply everywhere
 * but there. Other flags are left out (many are invalid in a worker).
 */
export function preloadFlags(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    if ((a === '--require' || a === '-r' || a === '--import') && i + 1 < execArgv.length) out.push(a, execArgv[++i]!);
    else if (/^(--require|-r|--import)=/.test(a)) out.push(a);
  }
  return out;
}

/**
 * pino-roll rotates a numeric frequency on epoch multiples (midnight UTC) but formats the date in a file's name
 * in the process's local time zone: west of UTC the file opened at midnight UTC would carry the previous
 * day's date (`app.2026-12-04.2.log` for the lines of 2026-12-05) and the retention, which reads the date in
 * the name as a UTC day, would be a day off. A role writing log files therefore runs in UTC: this sets TZ
 * before the log worker thread starts (the zone is per process; candlestack's other times are UTC already,
 * only pretty stdout shows UTC then). Called by the composition root, not hidden in createLogger.
 */
export function utcForLogFiles(files: Pick<LogFiles, 'file' | 'errorFile'> | undefined, env: NodeJS.ProcessEnv = process.env): void {
  if ((files?.file || files?.errorFile) && env.TZ !== 'UTC') env.TZ = 'UTC';
}

/** pino-roll options for a `dir/name.ext` path: daily (on UTC midnights) and on size, dated names, directory created. */
export function rollOptions(path: string, maxSize: string): Record<string, unknown> {
  const { stem, extension } = splitLogPath(path);
  return { file: stem, extension, frequency: DAY_MS, size: maxSize, dateFormat: 'yyyy-MM-dd', mkdir: true };
}

/** `logs/app.log` -> stem `logs/app`, extension `.log` (`.log` when the name has none). */
export function splitLogPath(path: string): { stem: string; extension: string } {
  const slash = path.lastIndexOf('/');
  const dot = path.lastIndexOf('.');
  if (dot > slash + 1) return { stem: path.slice(0, dot), extension: path.slice(dot) };
  return { stem: path, extension: '.log' };
}

/** A logger that writes nothing, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
