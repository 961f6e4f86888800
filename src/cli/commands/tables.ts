// `sluice delete`, `sluice vacuum` and `sluice schema`: thin shells over batch/table-admin.ts.
import type { Command } from 'commander';
import { parseDuration } from '../../define/duration.ts';
import { collect, globals, parseInteger, withWorkspace } from '../context.ts';
import { formatBytes, printJson, renderTable } from '../render.ts';
import { partitionsFrom } from './run.ts';

/** A duration, or 0 (no grace at all: only for tables nobody reads meanwhile). */
function durationFlag(flag: string): (value: string) => number {
  return (value: string) => (value === '0' ? 0 : parseDuration(value, flag));
}

export function registerTables(program: Command): void {
  program
    .command('delete')
    .description('publish a new version of an asset without the given partitions; downstream steps see them gone on their next run')
    .argument('<asset>')
    .option('--partition <key>', 'a partition to delete (repeatable)', collect)
    .option('--from <date>', 'first partition of a range to delete')
    .option('--to <date>', 'last partition of a range to delete (inclusive)')
    .action(async (asset: string, options: { partition?: string[]; from?: string; to?: string }, command: Command) => {
      const g = globals(command);
      const keys = [...(options.partition ?? []), ...partitionsFrom({ from: options.from, to: options.to })];
      await withWorkspace(g, async (ws) => {
        const { deletePartitions } = await import('../../batch/table-admin.ts');
        const result = await deletePartitions(ws, asset, keys);
        if (g.json) return printJson(result);
        process.stdout.write(`deleted ${result.deleted.length} partition(s) of ${asset}: version ${result.version} has ${result.partitions} partition(s), ${result.rowCount.toLocaleString('en-US')} rows (run ${result.runId})\n`);
        return undefined;
      });
    });

  program
    .command('vacuum')
    .description('remove old table versions and the files only they reference (never the current or a pinned version)')
    .argument('[assets...]', 'assets to vacuum (all tables when omitted)')
    .option('--keep-versions <n>', 'keep the last N versions', parseInteger('--keep-versions'))
    .option('--older-than <duration>', 'remove versions superseded longer ago than this, e.g. 30d (default 7d without --keep-versions)', durationFlag('--older-than'))
    .option('--grace <duration>', 'never remove what was superseded or written less than this ago (a reader may be opening it), default 1h', durationFlag('--grace'))
    .option('--dry-run', 'say what would be removed, remove nothing')
    .option('--unpin <training-set-id>', 'release a training set first, so the versions only it pinned may go (repeatable; see sluice training-sets)', collect)
    .action(async (assets: string[], options: { keepVersions?: number; olderThan?: number; grace?: number; dryRun?: boolean; unpin?: string[] }, command: Command) => {
      const g = globals(command);
      await withWorkspace(g, async (ws) => {
        const { vacuum } = await import('../../batch/table-admin.ts');
        const reports = await vacuum(ws, assets, { keepVersions: options.keepVersions, olderThanMs: options.olderThan, graceMs: options.grace, dryRun: options.dryRun, unpin: options.unpin ?? [] });
        if (g.json) return printJson(reports);
        const verb = options.dryRun === true ? 'would remove' : 'removed';
        process.stdout.write(`${renderTable(reports.map((r) => ({
          asset: r.asset, kept: r.kept.length, [`${verb} versions`]: r.removed.length, [`${verb} files`]: r.files.length, bytes: formatBytes(r.bytes),
        })))}\n`);
        return undefined;
      });
    });

  program
    .command('schema')
    .description("an asset's schema history: each version that changed its columns, and how")
    .argument('<asset>')
    .option('--diff <versions...>', 'compare two versions, e.g. --diff 3 7')
    .action(async (asset: string, options: { diff?: string[] }, command: Command) => {
      const g = globals(command);
      const [{ schemaDiff, schemaHistory }, { describeChange }] = await Promise.all([import('../../batch/table-admin.ts'), import('../../store/tables/schema-evolution.ts')]);
      await withWorkspace(g, async (ws) => {
        if (options.diff !== undefined) {
          const [from, to] = options.diff.map((v) => parseInteger('--diff')(v));
          if (from === undefined || to === undefined || options.diff.length !== 2) throw new Error('--diff takes two versions, e.g. --diff 3 7');
          const changes = await schemaDiff(ws, asset, from, to);
          if (g.json) return printJson(changes);
          process.stdout.write(changes.length === 0 ? `no schema change between versions ${from} and ${to}\n` : `${changes.map(describeChange).join('\n')}\n`);
          return undefined;
        }
        const history = await schemaHistory(ws, asset);
        if (g.json) return printJson(history);
        for (const entry of history) {
          const what = entry.changes.length === 0 ? 'first version' : entry.changes.map((c) => `${describeChange(c)}${c.breaking ? ' [breaking]' : ''}`).join('; ');
          process.stdout.write(`version ${entry.version} (${entry.createdAt}, run ${entry.runId}): ${what}\n`);
        }
        const current = history.at(-1);
        if (current !== undefined) process.stdout.write(`\n${renderTable(current.schema.map((c) => ({ column: c.name, type: c.type })))}\n`);
        return undefined;
      });
    });
}
