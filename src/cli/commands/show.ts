// `sluice show <asset>` and `sluice versions <asset>`: a table version's schema, size and preview; its history.
import type { Command } from 'commander';
import { globals, parseInteger, withWorkspace } from '../context.ts';
import { formatBytes, printJson, renderTable } from '../render.ts';

export function registerShow(program: Command): void {
  program
    .command('show')
    .description("show an asset's schema, row count, files and first rows (any version: time travel)")
    .argument('<asset>')
    .option('--partition <key>', 'one partition')
    .option('--version <n>', 'a past version (default: the latest)', parseInteger('--version'))
    .option('--limit <n>', 'preview rows', parseInteger('--limit'), 10)
    .action(async (asset: string, options: { partition?: string; version?: number; limit: number }, command: Command) => {
      const g = globals(command);
      await withWorkspace(g, async (ws) => {
        const { showTable } = await import('../../batch/inspect.ts');
        const view = await showTable(ws, asset, {
          limit: options.limit,
          ...(options.version === undefined ? {} : { version: options.version }),
          ...(options.partition === undefined ? {} : { partition: options.partition }),
        });
        if (g.json) return printJson(view);
        const out = process.stdout;
        out.write(`${view.asset} version ${view.version}${view.version === view.latestVersion ? ' (latest)' : ` (latest is ${view.latestVersion})`}, created ${view.createdAt} by run ${view.runId}\n`);
        out.write(`${view.rowCount.toLocaleString('en-US')} rows${view.partition === null ? '' : ` in partition ${view.partition}`}; ${view.partitions} partition(s), ${formatBytes(view.bytes)} in all\n\n`);
        out.write(`${renderTable(view.schema.map((c) => ({ column: c.name, type: c.type, description: c.description ?? '' })))}\n\n`);
        out.write(`${view.preview.length === 0 ? '(no rows)' : renderTable(view.preview)}\n`);
        if (view.checks.length > 0) {
          const failed = view.checks.filter((c) => !c.success);
          out.write(`\nchecks of run ${view.runId}: ${view.checks.length - failed.length}/${view.checks.length} passed\n`);
          if (failed.length > 0) {
            out.write(`${renderTable(failed.map((c) => ({ partition: c.partition, check: c.expectationType, column: c.column ?? '', severity: c.severity, unexpected: c.unexpectedCount ?? '' })))}\n`);
          }
        }
        return undefined;
      });
    });

  program
    .command('versions')
    .description("list an asset's versions, newest first")
    .argument('<asset>')
    .action(async (asset: string, _options: unknown, command: Command) => {
      const g = globals(command);
      await withWorkspace(g, async (ws) => {
        const { listVersions } = await import('../../batch/inspect.ts');
        const versions = await listVersions(ws, asset);
        if (g.json) return printJson(versions);
        const rows = versions.map((v) => ({
          version: v.version, created: v.createdAt, run: v.runId,
          changed: v.changed.length > 3 ? `${v.changed.slice(0, 3).join(', ')} +${v.changed.length - 3}` : v.changed.join(', '),
          partitions: v.partitions, rows: v.rowCount, size: formatBytes(v.bytes),
          pinned: v.pinnedBy.length === 0 ? '' : `by ${v.pinnedBy.length > 2 ? `${v.pinnedBy.slice(0, 2).join(', ')} +${v.pinnedBy.length - 2}` : v.pinnedBy.join(', ')}`,
        }));
        process.stdout.write(`${rows.length === 0 ? 'no versions' : renderTable(rows)}\n`);
        return undefined;
      });
    });
}
