// `sluice report [--out <file>] [--since <date|duration>] [--runs N] [--failures N]`: writes the HTML data-quality
// report (every check result in the range, runs and backfills over time, latest failures, column profiles) and
// prints its path.
import type { Command } from 'commander';
import { SluiceError } from '../../errors.ts';
import { globals, parseInteger, withWorkspace } from '../context.ts';
import { printJson } from '../render.ts';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('write a self-contained HTML data-quality report: check results per run, latest failures with samples, column profiles')
    .option('--out <file>', 'where to write it (default: <state dir>/reports/report-<timestamp>.html)')
    .option('--asset <name...>', 'only these assets (default: all)')
    .option('--bins <n>', 'histogram bins per numeric column', parseInteger('--bins'), 20)
    .option('--since <date|duration>', 'only check results since then: a date, a timestamp, or a duration back from now (7d, 12h); default: all')
    .option('--runs <n>', 'most recent runs listed per asset, a backfill counting as one (totals always count every run)', parseInteger('--runs'), 30)
    .option('--failures <n>', 'failed checks of the latest run (or backfill) listed per asset', parseInteger('--failures'), 100)
    .action(async (options: { out?: string; asset?: string[]; bins: number; since?: string; runs: number; failures: number }, command: Command) => {
      const g = globals(command);
      if (options.runs < 1) throw new SluiceError('CONFIG_INVALID', `--runs must be at least 1, got ${options.runs}`);
      const now = new Date();
      const { parseSince } = await import('../../define/duration.ts');
      const since = options.since === undefined ? undefined : new Date(parseSince(options.since, now.getTime(), '--since'));
      await withWorkspace(g, async (ws) => {
        const { writeReport } = await import('../../quality/report.ts');
        const file = await writeReport(ws, { out: options.out, assets: options.asset, bins: options.bins, since, maxRuns: options.runs, maxFailures: options.failures, now });
        if (g.json) return printJson({ path: file });
        process.stdout.write(`${file}\n`);
        return undefined;
      });
    });
}
