// `sluice stream <stream>`: run a stream job that keeps the stream's windowed feature views up to date in the
// online store. Embedded form: events as NDJSON from a file or stdin, checkpointed in the catalog.
import fs from 'node:fs';
import readline from 'node:readline';
import type { Command } from 'commander';
import { getEventStream, runStreamLines } from '../../stream/run.ts';
import { globals, parseInteger, withWorkspace } from '../context.ts';
import { printJson } from '../render.ts';
import { withOnlineStore } from './features.ts';

export function registerStream(program: Command): void {
  program
    .command('stream')
    .description("run a stream job: events in, the stream's windowed features out to the online store (checkpointed; a restart resumes)")
    .argument('<stream>', 'an event stream of the project')
    .option('--input <file>', 'NDJSON events from a file, or - for stdin', '-')
    .option('--job <name>', 'checkpoint name (default: the stream name)')
    .option('--flush-events <n>', 'write and checkpoint every n events', parseInteger('--flush-events'), 1000)
    .option('--flush-ms <ms>', '... or every ms milliseconds', parseInteger('--flush-ms'), 200)
    .option('--limit <n>', 'stop after n new events', parseInteger('--limit'))
    .action(async (name: string, options: { input: string; job?: string; flushEvents: number; flushMs: number; limit?: number }, command: Command) => {
      const g = globals(command);
      await withWorkspace(g, async (ws) => withOnlineStore(ws, async (store) => {
        const stream = getEventStream(ws, name);
        const input = options.input === '-' ? process.stdin : fs.createReadStream(options.input);
        const lines = readline.createInterface({ input, crlfDelay: Infinity });
        const summary = await runStreamLines(ws, store, stream, lines, {
          flushEvents: options.flushEvents,
          flushMs: options.flushMs,
          ...(options.job === undefined ? {} : { job: options.job }),
          ...(options.limit === undefined ? {} : { limit: options.limit }),
        });
        lines.close();
        if (g.json) return printJson(summary);
        const c = summary.counts;
        process.stdout.write(`stream ${name}: events ${summary.resumedFrom + 1}..${summary.position}: ${c.applied} applied, ${c.duplicate} duplicate, ${c.late} late, ${c.invalid} invalid, ${c.expired} expired; ${summary.written} values written to ${store.location} in ${summary.flushes} flush(es)${summary.deadLetters > 0 ? `; ${summary.deadLetters} rejected event(s) in the dead-letter store` : ''}\n`);
        return undefined;
      }));
    });
}
