// `sluice backfill <job> --from D1 --to D2`: one run per partition, at most K at once, with a progress bar and an
// ETA; the same command again continues where it stopped.
import type { Command } from 'commander';
import type { BackfillProgress } from '../../orchestrate/backfill.ts';
import { SluiceError } from '../../errors.ts';
import { globals, parseInteger, withWorkspace } from '../context.ts';
import { formatMs, printJson, renderTable } from '../render.ts';

interface BackfillCliOptions {
  from?: string;
  to?: string;
  maxParallel?: number;
  dryRun?: boolean;
  force?: boolean;
  allowSchemaChange?: boolean;
  rerun?: boolean;
}

const BAR_WIDTH = 24;

/** A progress bar on a TTY (redrawn), one line per finished partition otherwise. */
export function backfillProgress(stream: NodeJS.WriteStream = process.stderr): (p: BackfillProgress) => void {
  const tty = stream.isTTY === true;
  return (p) => {
    const finished = p.succeeded + p.failed;
    const line = (): string => {
      const filled = Math.round((finished / Math.max(1, p.total)) * BAR_WIDTH);
      const eta = p.etaMs === null ? 'ETA --' : `ETA ${formatMs(p.etaMs)}`;
      return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${finished}/${p.total} partitions` +
        `${p.failed > 0 ? ` · ${p.failed} failed` : ''} · ${p.running.length} running · ${formatMs(p.elapsedMs)} · ${eta}`;
    };
    if (p.finished !== null && (!tty || p.finished.status === 'failed')) {
      if (tty) stream.write('\r\x1b[2K');
      const detail = p.finished.error === null ? `run ${p.finished.runId}` : p.finished.error;
      stream.write(`${p.finished.status.padEnd(8)} ${p.finished.partition} ${formatMs(p.finished.ms)} ${detail}\n`);
      if (!tty) stream.write(`${line()}\n`);
    }
    if (tty) stream.write(`\r\x1b[2K${line().slice(0, (stream.columns ?? 120) - 1)}`);
    if (tty && p.remaining === 0 && p.running.length === 0) stream.write('\n');
  };
}

export function registerBackfill(program: Command): void {
  program
    .command('backfill')
    .description('run a job once per partition of a range, K at once; invoking it again continues where it stopped')
    .argument('<job>', 'a job of the project')
    .requiredOption('--from <key>', 'first partition: a date YYYY-MM-DD (for hourly jobs, its first hour), an hour YYYY-MM-DDTHH, or a static key')
    .requiredOption('--to <key>', 'last partition (inclusive; for hourly jobs a date means its last hour)')
    .option('--max-parallel <k>', 'partition runs at once', parseInteger('--max-parallel'), 2)
    .option('--dry-run', 'show the partitions and steps that would run; change nothing')
    .option('--force', 'rebuild partitions even when their inputs are unchanged')
    .option('--allow-schema-change', "accept schema changes the assets' policies refuse (a removed or retyped column), recorded as breaking")
    .option('--rerun', 'also run partitions that already succeeded in this backfill')
    .action(async (jobName: string, options: BackfillCliOptions, command: Command) => {
      const g = globals(command);
      if (options.maxParallel === 0) throw new SluiceError('CONFIG_INVALID', '--max-parallel must be at least 1');
      const { backfill } = await import('../../orchestrate/backfill.ts');
      const summary = await withWorkspace(g, (ws) => backfill(ws, {
        job: jobName, from: options.from ?? '', to: options.to ?? '',
        ...(options.maxParallel === undefined ? {} : { maxParallel: options.maxParallel }),
        dryRun: options.dryRun ?? false, force: options.force ?? false, allowSchemaChange: options.allowSchemaChange ?? false, rerunSucceeded: options.rerun ?? false,
        ...(g.json || options.dryRun === true ? {} : { onProgress: backfillProgress() }),
      }));
      if (g.json) printJson(summary);
      else if (summary.dryRun) {
        process.stdout.write(`${renderTable(summary.partitions.map((p) => ({ partition: p.partition, action: p.status === 'done-before' ? 'done (skip)' : p.status === 'up-to-date' ? 'up to date (skip)' : 'run', steps: p.steps, previous_run: p.runId ?? '' })), ['partition', 'action', 'steps', 'previous_run'])}\n`);
        const toRun = summary.partitions.filter((p) => p.status === 'planned').length;
        const current = summary.partitions.filter((p) => p.status === 'up-to-date').length;
        process.stdout.write(`\nbackfill ${summary.backfillId}: dry run, ${toRun} of ${summary.partitions.length} partition(s) would run${current > 0 ? `, ${current} up to date` : ''}${summary.outOfRange.length > 0 ? `; ${summary.outOfRange.length} outside the assets' partitions` : ''}\n`);
      } else {
        const count = (status: string): number => summary.partitions.filter((p) => p.status === status).length;
        for (const p of summary.partitions.filter((r) => r.status === 'failed')) process.stdout.write(`failed ${p.partition} (run ${p.runId ?? '-'}): ${p.error ?? ''}\n`);
        const steps = (field: 'built' | 'skipped' | 'failed'): number => summary.partitions.reduce((n, p) => n + p[field], 0);
        process.stdout.write(`backfill ${summary.backfillId} ${summary.status}: ${count('success') + count('failed')} partition run(s) (${count('success')} succeeded, ${count('failed')} failed), ${count('up-to-date')} up to date (no run), ${count('done-before')} done before; steps: ${steps('built')} built, ${steps('skipped')} skipped, ${steps('failed')} failed; in ${formatMs(summary.ms)}\n`);
        if (summary.status !== 'success') process.stdout.write(`run the same command again to retry the failed partitions\n`);
      }
      if (summary.status !== 'success') process.exitCode = 1;
    });
}
