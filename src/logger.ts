// Logs to stderr, pino underneath; the CLI's human output goes to stdout and is separate. JSON lines for
// machines (pipes, files, --json), or one readable line per entry on a terminal.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warning', 50: 'error', 60: 'fatal' };

/** `warning: marked an abandoned run failed (run=..., owner=...)`: pino's JSON line, rewritten for people. */
export function humanLine(json: string): string {
  try {
    const { level, time: _time, msg, ...fields } = JSON.parse(json) as Record<string, unknown>;
    const extras = Object.entries(fields).map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`).join(', ');
    return `${LEVEL_NAMES[Number(level)] ?? 'log'}: ${typeof msg === 'string' ? msg : ''}${extras === '' ? '' : ` (${extras})`}\n`;
  } catch {
    return json;
  }
}

export function createLogger(level: string, format: 'json' | 'human' = 'json', sink: { write(text: string): unknown } = process.stderr): Logger {
  const destination: DestinationStream = format === 'human' ? { write: (line: string) => { sink.write(humanLine(line)); } } : sink === process.stderr ? pino.destination(2) : { write: (line: string) => { sink.write(line); } };
  return pino({ level, base: null }, destination);
}
