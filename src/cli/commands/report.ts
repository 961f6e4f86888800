// `sluice report [--out <file>]`: writes the HTML data-quality report (checks over time, latest failures,
// column profiles) and prints its path.
import type { Command } from 'commander';
import { globals, parseInteger, withWorkspace } from '../context.ts';
import { printJson } from '../render.ts';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('write a self-contained HTML data-quality report: check results per run, latest failures with samples, column profiles')
    .option('--out <file>', 'where to write it (default: <state dir>/reports/report-<timestamp>.html)')
    .option('--asset <name...>', 'only these assets (default: all)')
    .option('--bins <n>', 'histogram bins per numeric column', parseInteger('--bins'), 20)
    .action(async (options: { out?: string; asset?: string[]; bins: number }, command: Command) => {
      const g = globals(command);
      await withWorkspace(g, async (ws) => {
        const { writeReport } = await import('../../quality/report.ts');
        const file = await writeReport(ws, { out: options.out, assets: options.asset, bins: options.bins });
        if (g.json) return printJson({ path: file });
        process.stdout.write(`${file}\n`);
        return undefined;
      });
    });
}
