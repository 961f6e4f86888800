// `sluice serve`: the HTTP(S) API over the online store until SIGINT or SIGTERM.
import path from 'node:path';
import type { Command } from 'commander';
import type { EventStream } from '../../define/stream.ts';
import { globals, parseInteger, waitForSignal, withWorkspace } from '../context.ts';
import { withOnlineStore } from './features.ts';

interface ServeOptions {
  host: string;
  port: number;
  asOf?: string;
  ingest?: boolean;
  tlsCert?: string;
  tlsKey?: string;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve features over HTTP(S): POST /v1/features, GET /health, GET /metrics (keys: the principals file, SLUICE_API_KEYS)')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0: any free port)', parseInteger('--port'), 8080)
    .option('--as-of <time>', 'answer lookups as of this time (an ISO date or timestamp) unless a request gives asOf; default: settings.servingAsOf, else now')
    .option('--ingest', 'also accept events at POST /v1/events/<stream> and publish them to NATS JetStream (SLUICE_NATS_URL)')
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (chain); default: settings.tls.cert')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert; default: settings.tls.key')
    .action(async (options: ServeOptions, command: Command) => {
      const g = globals(command);
      const [{ openJetStream }, { readTlsFiles, startServer }, { publishToStream }, { openServingKeyRing }] = await Promise.all([
        import('../../connectors/nats.ts'), import('../../server/server.ts'), import('../../stream/publish.ts'), import('../../access/serving-access.ts'),
      ]);
      await withWorkspace(g, async (ws) => withOnlineStore(ws, async (store) => {
        const { checkPiiRules } = await import('../../batch/pii-inventory.ts');
        await checkPiiRules(ws);
        const fromSettings = ws.project.settings.tls;
        const inProject = (file: string | undefined): string | undefined => (file === undefined ? undefined : path.resolve(ws.projectDir, file));
        const tls = readTlsFiles(options.tlsCert ?? inProject(fromSettings?.cert), options.tlsKey ?? inProject(fromSettings?.key));
        const access = openServingKeyRing(ws.project, ws.settings, ws.logger);
        const nats = options.ingest === true ? await openJetStream(ws.settings.natsUrl) : undefined;
        try {
          const ingest = nats === undefined ? undefined : (stream: EventStream, events: readonly string[]) => publishToStream(nats, stream, events);
          const asOf = options.asOf ?? ws.project.settings.servingAsOf;
          // The broker answers when a round trip to it completes (flush); a closed connection does not.
          const ingestHealth = nats === undefined ? undefined : async () => {
            if (nats.connection.isClosed()) throw new Error(`NATS at ${nats.url} is closed`);
            await nats.connection.flush();
          };
          const server = await startServer({ project: ws.project, store, access, audit: ws.catalog, tls, logger: ws.logger, host: options.host, port: options.port, ingest, ingestHealth, asOf });
          process.stdout.write(`listening on ${server.url} (online store: ${store.location}${asOf === undefined ? '' : `; answering as of ${asOf}`})\n`);
          await waitForSignal();
          // Closing the server flushes the audit counts into the catalog, which the workspace closes after.
          await server.close();
        } finally {
          access.close();
          await nats?.close();
        }
      }));
    });
}
