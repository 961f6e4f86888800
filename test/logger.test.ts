// Logs a person reads on a terminal are lines, warnings and errors only; pipes, files and --json get JSON lines.
import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';

describe('logs', () => {
  it('on a terminal: readable lines from warnings up; elsewhere and with --json: JSON from info up', () => {
    expect(resolveSettings('/p', {}, {}, true)).toMatchObject({ logFormat: 'human', logLevel: 'warn' });
    expect(resolveSettings('/p', {}, {}, false)).toMatchObject({ logFormat: 'json', logLevel: 'info' });
    expect(resolveSettings('/p', { logFormat: 'json' }, {}, true)).toMatchObject({ logFormat: 'json', logLevel: 'info' });
    expect(resolveSettings('/p', {}, { SLUICE_LOG_FORMAT: 'json', SLUICE_LOG_LEVEL: 'debug' }, true)).toMatchObject({ logFormat: 'json', logLevel: 'debug' });
  });

  it('writes one line per entry in the human format, fields after the message', () => {
    const lines: string[] = [];
    const logger = createLogger('warn', 'human', { write: (text: string) => lines.push(text) });
    logger.info({ view: 'v' }, 'materialised feature view');
    logger.warn({ run: 'r1', owner: 'h:1', attempts: 2 }, 'marked an abandoned run failed');
    expect(lines).toEqual(['warning: marked an abandoned run failed (run=r1, owner=h:1, attempts=2)\n']);
    const json: string[] = [];
    createLogger('info', 'json', { write: (text: string) => json.push(text) }).info({ view: 'v' }, 'materialised');
    expect(JSON.parse(json[0] ?? '{}')).toMatchObject({ level: 30, view: 'v', msg: 'materialised' });
  });
});
