// `sluice serve`: the HTTP API over the online store until SIGINT or SIGTERM.
import type { Command } from 'commander';
import { startServer } from '../../server/server.ts';
import { globals, parseInteger, withWorkspace } from '../context.ts';
import { withOnlineStore } from './features.ts';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve features over HTTP: POST /v1/features, GET /health, GET /metrics (API keys: SLUICE_API_KEYS)')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0: any free port)', parseInteger('--port'), 8080)
    .action(async (options: { host: string; port: number }, command: Command) => {
      const g = globals(command);
      await withWorkspace(g, async (ws) => withOnlineStore(ws, async (store) => {
        const fromProject = Object.entries(ws.project.settings.apiKeys ?? {}).map(([key, services]) => `${key}=${services === '*' ? '*' : services.join('|')}`);
        const apiKeys = [ws.settings.apiKeys ?? '', ...fromProject].filter((part) => part.trim() !== '').join(',');
        const server = await startServer({ project: ws.project, store, apiKeys, logger: ws.logger, host: options.host, port: options.port });
        process.stdout.write(`listening on ${server.url} (online store: ${store.location})\n`);
        await new Promise<void>((resolve) => {
          const stop = (): void => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            resolve();
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
        await server.close();
      }));
    });
}
