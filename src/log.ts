import { pino, destination, type Logger } from 'pino';

export type { Logger };

// Paths that may carry an address or a secret are redacted wherever they appear in a log record.
const REDACT = [
  'email',
  'to',
  'token',
  'authorization',
  'password',
  'secret',
  '*.email',
  '*.to',
  '*.token',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
];

/** Services log JSON to stdout; CLI commands pass `toStderr` so their output stays clean for pipes. */
export function createLogger(level: string, options: { name?: string; toStderr?: boolean } = {}): Logger {
  const config = { name: options.name ?? 'tocsin', level, redact: { paths: REDACT, censor: '[redacted]' } };
  return options.toStderr ? pino(config, destination(2)) : pino(config);
}
