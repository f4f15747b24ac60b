import { pino, type Logger } from 'pino';

export type { Logger };

// Paths that may carry an address or a secret are redacted wherever they appear in a log record.
const REDACT = ['email', 'to', 'token', 'authorization', 'password', 'secret', '*.email', '*.to', '*.token', '*.authorization', 'req.headers.authorization', 'req.headers.cookie'];

export function createLogger(level: string, name = 'tocsin'): Logger {
  return pino({ name, level, redact: { paths: REDACT, censor: '[redacted]' } });
}
