// `sluice worker [--concurrency N]`: run step jobs from the project's queue (SLUICE_QUEUE_URL) until SIGTERM or
// SIGINT; then finish the running steps (a second signal leaves them to another worker) and exit.
import type { Command } from 'commander';
import { globals, parseInteger, withWorkspace } from '../context.ts';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run the steps that `sluice run` puts on the step queue (SLUICE_QUEUE_URL), on this machine, until stopped')
    .option('--concurrency <n>', 'steps this worker runs at once', parseInteger('--concurrency'), 1)
    .action(async (options: { concurrency: number }, command: Command) => {
      const g = globals(command);
      await withWorkspace(g, async (ws) => {
        const { startStepWorker } = await import('../../orchestrate/worker.ts');
        const worker = await startStepWorker(ws, { concurrency: Math.max(1, options.concurrency) });
        process.stderr.write(`worker ${worker.id} ready: ${worker.queue}, concurrency ${Math.max(1, options.concurrency)}\n`);
        let signals = 0;
        let stopped: () => void = () => undefined;
        const stopping = new Promise<void>((resolve) => { stopped = resolve; });
        const onSignal = (): void => {
          signals++;
          if (signals > 1) {
            // A forced stop: the running jobs' locks lapse and another worker takes them (as after a crash).
            process.stderr.write(`worker ${worker.id}: stopped without finishing; its running steps go to another worker\n`);
            process.exit(130);
          }
          process.stderr.write(`worker ${worker.id}: finishing the running steps (signal again to hand them to another worker)\n`);
          stopped();
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        try {
          await stopping;
          await worker.close();
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
        process.stderr.write(`worker ${worker.id} stopped\n`);
      });
    });
}
