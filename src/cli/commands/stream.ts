// `sluice stream <stream>`: run a stream job that keeps the stream's windowed feature views up to date in the
// online store. Embedded form: events as NDJSON from a file or stdin, checkpointed in the catalog.
import fs from 'node:fs';
import readline from 'node:readline';
import type { Command } from 'commander';
import { SluiceError } from '../../errors.ts';
import type { runStreamJetStream } from '../../stream/run-jetstream.ts';
import type { StreamRunSummary } from '../../stream/run.ts';
import { globals, parseInteger, withWorkspace } from '../context.ts';
import { printJson } from '../render.ts';
import { withOnlineStore } from './features.ts';

export function registerStream(program: Command): void {
  program
    .command('stream')
    .description("run a stream job: events in, the stream's windowed features out to the online store (checkpointed; a restart resumes)")
    .argument('<stream>', 'an event stream of the project')
    .option('--input <file>', 'NDJSON events from a file, or - for stdin', '-')
    .option('--nats', 'consume the stream from NATS JetStream (SLUICE_NATS_URL) instead, until SIGINT/SIGTERM')
    .option('--partition <i/n>', 'with --nats: the key partition this worker owns, e.g. 0/2')
    .option('--idle-stop <ms>', 'with --nats: stop after this long without events', parseInteger('--idle-stop'))
    .option('--job <name>', 'checkpoint name (default: the stream name)')
    .option('--flush-events <n>', 'write and checkpoint every n events', parseInteger('--flush-events'), 1000)
    .option('--flush-ms <ms>', '... or every ms milliseconds', parseInteger('--flush-ms'), 200)
    .option('--checkpoint-ms <ms>', 'checkpoint position and state at most this often', parseInteger('--checkpoint-ms'), 1000)
    .option('--limit <n>', 'stop after n new events', parseInteger('--limit'))
    .action(async (name: string, options: { input: string; nats?: boolean; partition?: string; idleStop?: number; job?: string; flushEvents: number; flushMs: number; checkpointMs: number; limit?: number }, command: Command) => {
      const g = globals(command);
      const { getEventStream, runStreamLines } = await import('../../stream/run.ts');
      await withWorkspace(g, async (ws) => withOnlineStore(ws, async (store) => {
        const stream = getEventStream(ws, name);
        if (options.nats === true) {
          const summary = await consumeNats(ws.settings.natsUrl, { ws, store, stream, options });
          if (g.json) return printJson(summary);
          process.stdout.write(describe(name, summary, store.location));
          return undefined;
        }
        const input = options.input === '-' ? process.stdin : fs.createReadStream(options.input);
        const lines = readline.createInterface({ input, crlfDelay: Infinity });
        const summary = await runStreamLines(ws, store, stream, lines, {
          flushEvents: options.flushEvents,
          checkpointMs: options.checkpointMs,
          flushMs: options.flushMs,
          file: options.input,
          ...(options.job === undefined ? {} : { job: options.job }),
          ...(options.limit === undefined ? {} : { limit: options.limit }),
        });
        lines.close();
        if (g.json) return printJson(summary);
        process.stdout.write(describe(name, summary, store.location));
        return undefined;
      }));
    });

  program
    .command('publish')
    .description("publish NDJSON events to an event stream's NATS JetStream subjects (by key partition)")
    .argument('<stream>', 'an event stream of the project')
    .option('--input <file>', 'NDJSON events from a file, or - for stdin', '-')
    .action(async (name: string, options: { input: string }, command: Command) => {
      const g = globals(command);
      const [{ getEventStream }, { openJetStream }, { publishToStream }] = await Promise.all([import('../../stream/run.ts'), import('../../connectors/nats.ts'), import('../../stream/publish.ts')]);
      await withWorkspace(g, async (ws) => {
        const stream = getEventStream(ws, name);
        const handle = await openJetStream(ws.settings.natsUrl);
        try {
          const input = options.input === '-' ? process.stdin : fs.createReadStream(options.input);
          let batch: string[] = [];
          let published = 0;
          for await (const line of readline.createInterface({ input, crlfDelay: Infinity })) {
            if (line.trim() === '') continue;
            batch.push(line);
            if (batch.length >= 5000) {
              published += await publishToStream(handle, stream, batch);
              batch = [];
            }
          }
          published += await publishToStream(handle, stream, batch);
          if (g.json) return printJson({ stream: name, published });
          process.stdout.write(`published ${published.toLocaleString('en-US')} event(s) to ${stream.jetStream.subject}${stream.partitions > 1 ? `.<0..${stream.partitions - 1}>` : ''} at ${handle.url}\n`);
          return undefined;
        } finally {
          await handle.close();
        }
      });
    });
}

function describe(name: string, summary: StreamRunSummary, location: string): string {
  const c = summary.counts;
  return `stream ${name}: events ${summary.resumedFrom + 1}..${summary.position}: ${c.applied} applied, ${c.duplicate} duplicate, ${c.late} late, ${c.invalid} invalid, ${c.expired} expired; ${summary.written} values written to ${location} in ${summary.flushes} flush(es)${summary.deadLetters > 0 ? `; ${summary.deadLetters} rejected event(s) in the dead-letter store` : ''}\n`;
}

async function consumeNats(
  url: string,
  { ws, store, stream, options }: { ws: Parameters<typeof runStreamJetStream>[0]; store: Parameters<typeof runStreamJetStream>[1]; stream: Parameters<typeof runStreamJetStream>[2]; options: { partition?: string; idleStop?: number; job?: string; flushEvents: number; checkpointMs: number } },
): Promise<StreamRunSummary> {
  let partition: { index: number; count: number } | undefined;
  if (options.partition !== undefined) {
    const match = /^(\d+)\/(\d+)$/.exec(options.partition);
    if (match === null || Number(match[1]) >= Number(match[2])) throw new SluiceError('CONFIG_INVALID', `--partition must be i/n with 0 <= i < n, e.g. 0/2; got ${JSON.stringify(options.partition)}`);
    partition = { index: Number(match[1]), count: Number(match[2]) };
  }
  const [{ openJetStream }, { runStreamJetStream }] = await Promise.all([import('../../connectors/nats.ts'), import('../../stream/run-jetstream.ts')]);
  const handle = await openJetStream(url);
  const abort = new AbortController();
  const stop = (): void => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await runStreamJetStream(ws, store, stream, handle, {
      signal: abort.signal,
      flushEvents: options.flushEvents,
      checkpointMs: options.checkpointMs,
      ...(partition === undefined ? {} : { partition }),
      ...(options.job === undefined ? {} : { job: options.job }),
      ...(options.idleStop === undefined ? {} : { idleStopMs: options.idleStop }),
    });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await handle.close();
  }
}
