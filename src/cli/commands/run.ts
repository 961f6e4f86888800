// `sluice run [asset...]`: build assets (and what they need) for a partition or a range of partitions.
import type { Command } from 'commander';
import { checkRequestedKey, rangeKeys } from '../../define/partitions.ts';
import { SluiceError } from '../../errors.ts';
import { globals, parseInteger, withWorkspace } from '../context.ts';
import { progressReporter } from '../progress.ts';
import { formatBytes, formatMs, printJson, renderTable } from '../render.ts';

interface RunOptions {
  partition?: string;
  from?: string;
  to?: string;
  force?: boolean;
  allowSchemaChange?: boolean;
  concurrency?: number;
  resume?: string;
}

export function partitionsFrom(options: { partition?: string | undefined; from?: string | undefined; to?: string | undefined }): string[] {
  if (options.partition !== undefined && (options.from !== undefined || options.to !== undefined)) {
    throw new SluiceError('INVALID_PARTITION', 'use either --partition or --from/--to, not both');
  }
  if (options.partition !== undefined) {
    const keys = options.partition.split(',');
    for (const key of keys) checkRequestedKey(key);
    return keys;
  }
  if (options.from !== undefined || options.to !== undefined) {
    if (options.from === undefined || options.to === undefined) throw new SluiceError('INVALID_PARTITION', '--from and --to go together');
    return rangeKeys(options.from, options.to);
  }
  return [];
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('build assets: plan the graph, skip unchanged partitions, run the rest in DuckDB and commit new versions')
    .argument('[assets...]', 'assets to build (with the upstream steps they need); all when omitted')
    .option('--partition <key>', 'partitions: a date YYYY-MM-DD, an hour YYYY-MM-DDTHH, or static keys (comma-separated)')
    .option('--from <key>', 'first partition of a range (a date, or an hour)')
    .option('--to <key>', 'last partition of a range (inclusive)')
    .option('--force', 'rebuild the selected partitions even when their inputs and SQL are unchanged')
    .option('--allow-schema-change', "accept schema changes the assets' policies refuse (a removed or retyped column), recorded as breaking")
    .option('--concurrency <n>', 'steps running (or queued for workers) at once', parseInteger('--concurrency'))
    .option('--resume <run-id>', "rerun only the steps of that run that failed or did not run (its selection and partitions); the others' outputs are kept")
    .action(async (assets: string[], options: RunOptions, command: Command) => {
      const g = globals(command);
      const partitions = partitionsFrom(options);
      if (options.resume !== undefined && (assets.length > 0 || partitions.length > 0 || options.force === true)) {
        throw new SluiceError('CONFIG_INVALID', `--resume ${options.resume} reruns that run's own selection: drop the assets, --partition/--from/--to and --force`);
      }
      const common = {
        ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
        ...(g.json ? {} : { onEvent: progressReporter() }),
      };
      const [{ resumeRun }, { runAssets }] = await Promise.all([import('../../batch/resume.ts'), import('../../batch/runner.ts')]);
      const summary = await withWorkspace(g, (ws) => options.resume !== undefined ? resumeRun(ws, options.resume, common) : runAssets(ws, {
        ...common,
        assets,
        partitions,
        force: options.force ?? false,
        ...(options.allowSchemaChange === true ? { allowSchemaChange: true } : {}),
        args: { command: 'run', assets, partitions: partitions.length > 2 ? [partitions[0], '..', partitions.at(-1)] : partitions, force: options.force ?? false },
      }));
      if (g.json) printJson(summary);
      else {
        const byAsset = new Map<string, { asset: string; built: number; skipped: number; failed: number; rows: number; bytes: number; ms: number }>();
        for (const step of summary.steps) {
          const row = byAsset.get(step.asset) ?? { asset: step.asset, built: 0, skipped: 0, failed: 0, rows: 0, bytes: 0, ms: 0 };
          if (step.status === 'success') row.built++;
          else if (step.status === 'skipped') row.skipped++;
          else row.failed++;
          if (step.status === 'success') { row.rows += step.outcome?.rowsOut ?? 0; row.bytes += step.outcome?.bytesWritten ?? 0; }
          row.ms += step.ms;
          byAsset.set(step.asset, row);
        }
        process.stdout.write(`${renderTable([...byAsset.values()].map((r) => ({ ...r, bytes: formatBytes(r.bytes), ms: formatMs(r.ms) })), ['asset', 'built', 'skipped', 'failed', 'rows', 'bytes', 'ms'])}\n`);
        for (const step of summary.steps.filter((s) => s.status === 'failed')) process.stdout.write(`\nfailed ${step.key}: ${step.error ?? ''}\n`);
        process.stdout.write(`\nrun ${summary.runId} ${summary.status} in ${formatMs(summary.ms)}\n`);
      }
      if (summary.status !== 'success') process.exitCode = 1;
    });
}
