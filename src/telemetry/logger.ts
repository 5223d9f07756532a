/** Structured JSON logs (pino) to stdout; human-readable when stdout is a terminal. */
import { pino, type Logger, type DestinationStream } from 'pino';
import type { LogFormat, LogLevel } from '../core/choices.js';

export type { Logger };
export { LOG_LEVELS, type LogLevel } from '../core/choices.js';

export interface LoggerOptions {
  level: LogLevel;
  /** `auto`: pretty when stdout is a TTY. */
  format: LogFormat;
  /** Fixed fields on every line (e.g. role). */
  base?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions, destination?: DestinationStream): Logger {
  const pretty = options.format === 'pretty' || (options.format === 'auto' && process.stdout.isTTY === true);
  const base = { name: 'candlestack', ...options.base };
  if (pretty && !destination) {
    return pino({
      level: options.level,
      base,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name' } },
    });
  }
  return pino({ level: options.level, base, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

/** A logger that writes nothing, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
