// Structured logs (pino) to stderr; the CLI's human output goes to stdout and is separate.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({ level, base: null }, pino.destination(2));
}
