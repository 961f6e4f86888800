// `sluice generate churn`: deterministic synthetic data for the churn example.
import type { Command } from 'commander';
import { generateChurn } from '../../generate/churn.ts';
import { globals, parseInteger } from '../context.ts';
import { formatBytes, formatMs, printJson } from '../render.ts';

export function registerGenerate(program: Command): void {
  const generate = program.command('generate').description('generate example data sets');
  generate
    .command('churn')
    .description('daily Parquet activity logs and a messy users.csv for the churn example')
    .option('--users <n>', 'number of users', parseInteger('--users'), 10_000)
    .option('--days <n>', 'number of log days', parseInteger('--days'), 35)
    .option('--seed <n>', 'random seed (same seed, same bytes)', parseInteger('--seed'), 42)
    .option('--end-date <date>', 'last log day, YYYY-MM-DD', '2026-11-25')
    .option('--out <dir>', 'output directory', 'data')
    .action(async (options: { users: number; days: number; seed: number; endDate: string; out: string }, command: Command) => {
      const g = globals(command);
      const summary = await generateChurn({ users: options.users, days: options.days, seed: options.seed, out: options.out, endDate: options.endDate });
      if (g.json) return printJson(summary);
      process.stdout.write(`wrote ${summary.totalEvents.toLocaleString('en-US')} events over ${summary.eventsPerDay.length} days (${summary.startDate}..${summary.endDate}) and ${summary.userRows.toLocaleString('en-US')} user rows (${summary.duplicateRows} duplicates, ${summary.malformedLines} malformed) to ${summary.out}: ${formatBytes(summary.totalBytes)} in ${formatMs(summary.elapsedMs)}\n`);
      return undefined;
    });
}
