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
 * With a file the stdout and file writers run in pino's worker thread (rolling-file.ts for the files), so
 * writing never blocks the event loop; they are flushed when the process exits (SIGTERM included: the roles return
 * from main, pino's exit hook ends the worker after its last write). Files older than `log.retention` are
 * deleted at start and every hour (log-retention.ts).
 *
 * Every line written inside a span carries `trace_id`, `span_id` and `trace_flags` (the active span's).
 */
import { fileURLToPath } from 'node:url';
import { pino, type Logger, type DestinationStream, type TransportTargetOptions } from 'pino';
import type { LogFormat, LogLevel } from '../core/choices.js';
import { activeSpanIds } from './span-ids.js';
import type { RollingFileOptions } from './rolling-file.js';

export type { Logger };
export { LOG_LEVELS, type LogLevel } from '../core/choices.js';

/** Rotating files (rolling-file.ts). */
export interface LogFiles {
  /** Every line: `logs/app.log` writes `logs/app.<yyyy-MM-dd>.<n>.log`. */
  file: string | null;
  /** Error and fatal lines only, same naming. */
  errorFile: string | null;
  /** Size at which a file is rotated before the day ends (`100m`, `1g`, `512k`). */
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

/** The transport target of the log files, loaded by pino's worker thread. */
const ROLLING_FILE = fileURLToPath(new URL('./rolling-file.js', import.meta.url));

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
  if (files?.file) targets.push({ target: ROLLING_FILE, level: options.level, options: { path: files.file, maxSize: files.maxSize } satisfies RollingFileOptions });
  if (files?.errorFile) targets.push({ target: ROLLING_FILE, level: 'error', options: { path: files.errorFile, maxSize: files.maxSize } satisfies RollingFileOptions });
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

/** A logger that writes nothing, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
