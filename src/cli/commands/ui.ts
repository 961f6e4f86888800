// `sluice ui`: the web UI and its JSON API over the project's catalog and tables, until SIGINT or SIGTERM.
// `sluice dev`: the same, plus the scheduler and the feature server in one process, for local work.
import type { Command } from 'commander';
import type { KeyRing } from '../../access/key-ring.ts';
import type { OnlineStore } from '../../store/online/online-store.ts';
import type { Workspace } from '../../workspace.ts';
import { globals, parseInteger, waitForSignal, withWorkspace } from '../context.ts';
import { withOnlineStore } from './features.ts';

interface UiOptions {
  host: string;
  port: number;
}

interface DevOptions extends UiOptions {
  servePort: number;
  pollMs?: number;
}

export function registerUi(program: Command): void {
  program
    .command('ui')
    .description('serve the web UI (asset graph, partitions, runs, checks, features, streams, schedules) and its JSON API under /api')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0: any free port)', parseInteger('--port'), 3000)
    .action(async (options: UiOptions, command: Command) => {
      await serveUi(command, options, async () => waitForSignal());
    });

  program
    .command('dev')
    .description('local development: the web UI, the scheduler and the feature server in one process')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'the UI\'s port (0: any free port)', parseInteger('--port'), 3000)
    .option('--serve-port <port>', 'the feature server\'s port (0: any free port)', parseInteger('--serve-port'), 8080)
    .option('--poll-ms <ms>', 'how often the scheduler evaluates schedules and sensors', parseInteger('--poll-ms'))
    .action(async (options: DevOptions, command: Command) => {
      const [{ Scheduler }, { startServer }] = await Promise.all([import('../../orchestrate/scheduler.ts'), import('../../server/server.ts')]);
      await serveUi(command, options, async ({ ws, store, access }) => {
        const serving = await startServer({ project: ws.project, store, access, audit: ws.catalog, logger: ws.logger, host: options.host, port: options.servePort });
        process.stdout.write(`features on ${serving.url}/v1/features\n`);
        const controller = new AbortController();
        const scheduler = new Scheduler(ws, {
          ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
          onEvent: (event) => {
            if (event.type === 'launch') process.stdout.write(`${new Date().toISOString()} scheduler launched ${event.launch.job} ${event.launch.partition}\n`);
          },
        });
        const loop = scheduler.run(controller.signal);
        try {
          await waitForSignal();
        } finally {
          controller.abort();
          await loop;
          await serving.close();
        }
      });
    });
}

interface Opened {
  readonly ws: Workspace;
  readonly store: OnlineStore;
  readonly access: KeyRing;
}

async function serveUi(command: Command, options: UiOptions, body: (opened: Opened) => Promise<void>): Promise<void> {
  const g = globals(command);
  const [{ startUiServer }, { openServingKeyRing }] = await Promise.all([import('../../server/ui-server.ts'), import('../../access/serving-access.ts')]);
  await withWorkspace(g, async (ws) => withOnlineStore(ws, async (store) => {
    const access = openServingKeyRing(ws.project, ws.settings, ws.logger);
    try {
      const server = await startUiServer({ ws, access, store, logger: ws.logger, host: options.host, port: options.port });
      process.stdout.write(`ui on ${server.url}\n`);
      try {
        await body({ ws, store, access });
      } finally {
        // Closing waits for backfills and resumed runs started from the UI.
        await server.close();
      }
    } finally {
      access.close();
    }
  }));
}

