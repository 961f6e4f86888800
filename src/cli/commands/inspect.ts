// `sluice inspect <file|glob>`: a thin shell over batch/inspect-file.ts.
import type { Command } from 'commander';
import { globals, parseInteger } from '../context.ts';
import { printJson, renderTable } from '../render.ts';

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('look at a data file (or a glob of them) before writing a source: columns, types, rows, nulls, a sample, the columns block to paste')
    .argument('<file>', 'a .parquet, .csv or .ndjson file, or a glob such as data/logs/*/*.parquet')
    .option('--sample <n>', 'sample rows', parseInteger('--sample'), 5)
    .action(async (file: string, options: { sample: number }, command: Command) => {
      const g = globals(command);
      const [{ inspectFiles }, { Engine }] = await Promise.all([import('../../batch/inspect-file.ts'), import('../../engine/engine.ts')]);
      const engine = await Engine.open();
      try {
        const result = await inspectFiles(engine, file, { sample: options.sample });
        if (g.json) return printJson(result);
        const out = process.stdout;
        out.write(`${result.path}: ${result.format}, ${result.files} file(s), ${result.rows.toLocaleString('en-US')} rows\n\n`);
        out.write(`${renderTable(result.columns.map((c) => ({ column: c.name, type: c.type, nulls: c.nulls })))}\n\n`);
        out.write(`${result.sample.length === 0 ? '(no rows)' : renderTable(result.sample)}\n\n`);
        out.write(`for fileSource(name, { format: '${result.format}', path: ..., ${result.format === 'csv' ? "badRecords: 'dead-letter', " : ''}...}):\n${result.columnsBlock}\n`);
        return undefined;
      } finally {
        engine.close();
      }
    });
}
