/** The local stack's own log lines (stderr, so stdout keeps only the URLs `npm start` prints). */
import { redactForLog } from '#shared/log-hygiene';

export const logLevels = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'] as const;

export type LogLevel = (typeof logLevels)[number];

export interface LocalLogger {
  debug(message: string, details?: Record<string, unknown>): void;
  info(message: string, details?: Record<string, unknown>): void;
  warn(message: string, details?: Record<string, unknown>): void;
  error(message: string, details?: Record<string, unknown>): void;
}

export function parseLogLevel(value: string | undefined, fallback: LogLevel): LogLevel {
  if (value === undefined || value === '') return fallback;
  const upper = value.toUpperCase();
  const level = logLevels.find((candidate) => candidate === upper);
  if (level === undefined) throw new Error(`Unknown log level "${value}"; use one of ${logLevels.join(', ')}`);
  return level;
}

export function createLocalLogger(level: LogLevel, write: (line: string) => void = writeToStderr): LocalLogger {
  const threshold = logLevels.indexOf(level);
  const emit = (lineLevel: LogLevel, message: string, details?: Record<string, unknown>): void => {
    if (logLevels.indexOf(lineLevel) < threshold) return;
    const suffix = details === undefined ? '' : ` ${JSON.stringify(details, errorReplacer)}`;
    write(`[parley-local] ${lineLevel} ${message}${suffix}`);
  };
  return {
    debug: (message, details) => emit('DEBUG', message, details),
    info: (message, details) => emit('INFO', message, details),
    warn: (message, details) => emit('WARN', message, details),
    error: (message, details) => emit('ERROR', message, details),
  };
}

/**
 * Errors stringify to `{}` by default: keep their name, message and stack. Everything passes the
 * handlers' redaction too: a gateway logging a failed request's URL must not log its token or signature.
 */
function errorReplacer(key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return redactForLog(key, value);
}

function writeToStderr(line: string): void {
  process.stderr.write(`${line}\n`);
}
