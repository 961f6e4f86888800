// `sluice scheduler`: the long-running scheduler (cron schedules, sensors, freshness alerts) with optional
// /metrics and /health; `sluice status`: each asset's latest version, freshness and the latest outcome of every partition.
import type { Command } from 'commander';
import type { createPipelineMetrics } from '../../orchestrate/metrics.ts';
import type { SchedulerEvent } from '../../orchestrate/scheduler.ts';
import type { Workspace } from '../../workspace.ts';
import { globals, parseInteger, withWorkspace } from '../context.ts';
import { formatMs, printJson } from '../render.ts';

interface SchedulerCliOptions {
  pollMs: number;
  maxRuns: number;
  once?: boolean;
  host: string;
  port?: number;
}

function describeEvent(event: SchedulerEvent): string | null {
  switch (event.type) {
    case 'launch':
      return `launch ${event.launch.job}${event.launch.partition === '' ? '' : ` ${event.launch.partition}`} as run ${event.launch.runId} (${event.launch.origin}: ${event.launch.reason})`;
    case 'run-end':
      return `${event.status.padEnd(7)} run ${event.launch.runId} of ${event.launch.job}${event.launch.partition === '' ? '' : ` ${event.launch.partition}`} in ${formatMs(event.ms)}${event.error === null ? '' : `: ${event.error}`}`;
    case 'missed-ticks':
      return `job ${event.job}: ${event.missed} missed tick(s); catch-up launches ${event.launched} of them besides the latest`;
    case 'sensor-error':
      return `sensor ${event.sensor} failed: ${event.error}`;
    case 'freshness-breach':
      return `asset ${event.asset} is stale: ${event.lagMs === null ? 'never built' : `last updated ${formatMs(event.lagMs)} ago`}, SLA ${formatMs(event.maxLagMs)}`;
    case 'standby':
      return `standby: another scheduler is active (${event.holder ?? 'unknown'})`;
    case 'active':
      return `active as ${event.holder}`;
    case 'already-launched':
      return null;
  }
}

async function serveMetrics(ws: Workspace, host: string, port: number, scheduler: () => { active: boolean }, metrics: ReturnType<typeof createPipelineMetrics>): Promise<{ url: string; close(): Promise<void> }> {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  app.get('/health', () => Promise.resolve({ status: 'ok', project: ws.project.name, scheduler: scheduler().active ? 'active' : 'standby' }));
  app.get('/metrics', async (_request, reply) => {
    void reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  const url = await app.listen({ host, port });
  return { url, close: () => app.close() };
}

export function registerScheduler(program: Command): void {
  program
    .command('scheduler')
    .description('run cron schedules and sensors until SIGINT/SIGTERM: each launch claims a run key, so nothing runs twice')
    .option('--poll-ms <ms>', 'evaluation period', parseInteger('--poll-ms'), 1000)
    .option('--max-runs <n>', 'runs at once', parseInteger('--max-runs'), 2)
    .option('--once', 'evaluate once, wait for the launched runs, and exit')
    .option('--host <host>', 'interface of /metrics and /health', '127.0.0.1')
    .option('--port <port>', 'serve /metrics (Prometheus) and /health on this port (0: any free port)', parseInteger('--port'))
    .action(async (options: SchedulerCliOptions, command: Command) => {
      const g = globals(command);
      const [{ createPipelineMetrics }, { Scheduler }] = await Promise.all([import('../../orchestrate/metrics.ts'), import('../../orchestrate/scheduler.ts')]);
      await withWorkspace(g, async (ws) => {
        let active = false;
        const metrics = createPipelineMetrics(ws);
        const scheduler = new Scheduler(ws, {
          pollMs: options.pollMs, maxConcurrentRuns: Math.max(1, options.maxRuns),
          onEvent: (event) => {
            if (event.type === 'active') active = true;
            if (event.type === 'standby') active = false;
            if (event.type === 'launch') metrics.countLaunch(event.launch.job, event.launch.origin);
            if (event.type === 'run-end') metrics.observeRun(event.launch.job, event.launch.origin, event.status, event.ms / 1000, event.summary);
            const line = describeEvent(event);
            if (line === null) return;
            if (g.json) process.stdout.write(`${JSON.stringify({ ...event, at: new Date().toISOString(), ...(event.type === 'run-end' ? { summary: undefined } : {}) })}\n`);
            else process.stdout.write(`${new Date().toISOString()} ${line}\n`);
          },
        });
        const server = options.port === undefined ? undefined : await serveMetrics(ws, options.host, options.port, () => ({ active }), metrics);
        if (server !== undefined) process.stdout.write(`metrics on ${server.url}/metrics\n`);
        try {
          if (options.once === true) {
            await scheduler.evaluate();
            await scheduler.idle();
            return;
          }
          const controller = new AbortController();
          const stop = (): void => controller.abort();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
          process.stdout.write(`scheduler for project ${ws.project.name}: ${ws.project.jobs.size} job(s), ${ws.project.sensors.size} sensor(s)\n`);
          await scheduler.run(controller.signal);
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        } finally {
          await server?.close();
        }
      });
    });

  program
    .command('status')
    .description('each asset: latest version, freshness against its SLA, and the latest outcome of every partition (blocked by which checks, warnings, stale, missing)')
    .option('--no-fail-on-blocked', 'exit 0 even when the latest build of some partition was blocked (still exit 1 for a stale or never-built asset with an SLA)')
    .action(async (options: { failOnBlocked: boolean }, command: Command) => {
      const g = globals(command);
      const { assetStatuses } = await import('../../orchestrate/status.ts');
      const statuses = await withWorkspace(g, (ws) => assetStatuses(ws));
      const stale = statuses.some((s) => s.freshness === 'stale' || s.freshness === 'never-built');
      const blocked = statuses.some((s) => s.partitions.blocked.count > 0);
      if (stale || (blocked && options.failOnBlocked)) process.exitCode = 1;
      if (g.json) return printJson(statuses);
      const { renderStatus } = await import('../render-status.ts');
      process.stdout.write(renderStatus(statuses));
      if (blocked && options.failOnBlocked) process.stdout.write('\nexit 1: some partitions are blocked (sluice status --no-fail-on-blocked exits 0 for them)\n');
      return undefined;
    });
}
