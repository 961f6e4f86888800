// `sluice runs [run-id]`: the run history, or one run's steps.
import type { Command } from 'commander';
import { SluiceError } from '../../errors.ts';
import { globals, parseInteger, withWorkspace } from '../context.ts';
import { formatBytes, formatMs, printJson, renderTable } from '../render.ts';

function duration(start: string | null, end: string | null): string {
  if (start === null || end === null) return '';
  return formatMs(Date.parse(end) - Date.parse(start));
}

export function registerRuns(program: Command): void {
  program
    .command('runs')
    .description('list runs, newest first, or show one run with its steps')
    .argument('[run-id]', 'a run to show in detail')
    .option('--limit <n>', 'how many runs', parseInteger('--limit'), 20)
    .action(async (runId: string | undefined, options: { limit: number }, command: Command) => {
      const g = globals(command);
      await withWorkspace(g, async (ws) => {
        if (runId === undefined) {
          const runs = await ws.catalog.listRuns({ limit: options.limit });
          if (g.json) return printJson(runs);
          const rows = runs.map((r) => ({ run: r.id, status: r.status, started: r.startedAt, took: duration(r.startedAt, r.endedAt), args: r.args, error: r.error ?? '' }));
          process.stdout.write(`${rows.length === 0 ? 'no runs yet' : renderTable(rows)}\n`);
          return undefined;
        }
        const run = await ws.catalog.getRun(runId);
        if (run === undefined) throw new SluiceError('CONFIG_INVALID', `no run ${runId}; \`sluice runs\` lists them`);
        const steps = await ws.catalog.listSteps(runId);
        const checks = await ws.catalog.listChecks({ runId });
        if (g.json) return printJson({ run, steps, checks });
        process.stdout.write(`run ${run.id}: ${run.status}, started ${run.startedAt}, took ${duration(run.startedAt, run.endedAt)}\n${run.error === null ? '' : `error: ${run.error}\n`}\n`);
        const rows = steps.map((s) => ({
          asset: s.asset, partition: s.partition, status: s.status, attempts: s.attempts, took: duration(s.startedAt, s.endedAt),
          rows_in: s.rowsIn, rows_out: s.rowsOut, written: s.bytesWritten === null ? '' : formatBytes(s.bytesWritten), bad: s.badRecords, version: s.version, error: s.error ?? '',
        }));
        process.stdout.write(`${renderTable(rows)}\n`);
        if (checks.length > 0) {
          const checkRows = [...checks].sort((a, b) => a.target.localeCompare(b.target) || a.partition.localeCompare(b.partition) || a.index - b.index).map((c) => ({
            asset: c.target, partition: c.partition, check: c.expectationType, column: c.column ?? '', severity: c.severity,
            result: c.success ? 'pass' : 'FAIL', unexpected: c.unexpectedCount ?? '', observed: c.result['observed_value'] ?? c.result['exception_message'] ?? '',
          }));
          const failedChecks = checks.filter((c) => !c.success).length;
          process.stdout.write(`\nchecks: ${checks.length - failedChecks}/${checks.length} passed\n${renderTable(checkRows)}\n`);
        }
        return undefined;
      });
    });
}
