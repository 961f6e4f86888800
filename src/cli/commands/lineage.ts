// `sluice lineage <name>[.<column>]`: where a column comes from (upstream, the default) or what it feeds
// (downstream), through assets, sources, feature views and services, as a tree, JSON, DOT or Mermaid.
import type { Command } from 'commander';
import { SluiceError } from '../../errors.ts';
import { globals, parseInteger, withWorkspace } from '../context.ts';
import { printJson } from '../render.ts';

const FORMATS = ['tree', 'dot', 'mermaid'] as const;

export function registerLineage(program: Command): void {
  program
    .command('lineage')
    .description('column lineage: where an asset, feature view or service column comes from (down to files, tables, endpoints), or what it feeds')
    .argument('<target>', '<name> or <name>.<column>: an asset, source, feature view, on-demand feature or feature service')
    .option('--upstream', 'where it comes from (the default)')
    .option('--downstream', 'what it feeds')
    .option('--depth <n>', 'hops to follow (default: all)', parseInteger('--depth'))
    .option('--rows', 'also follow the filter and join columns that decide which rows exist')
    .option('--format <format>', `tree | dot | mermaid`, 'tree')
    .action(async (target: string, options: { upstream?: boolean; downstream?: boolean; depth?: number; rows?: boolean; format: string }, command: Command) => {
      const g = globals(command);
      if (options.upstream === true && options.downstream === true) throw new SluiceError('CONFIG_INVALID', 'give --upstream or --downstream, not both');
      if (!(FORMATS as readonly string[]).includes(options.format)) throw new SluiceError('CONFIG_INVALID', `--format must be one of ${FORMATS.join(', ')}, not ${JSON.stringify(options.format)}`);
      await withWorkspace(g, async (ws) => {
        const { lineage } = await import('../../batch/lineage.ts');
        const answer = await lineage(ws, { target, direction: options.downstream === true ? 'downstream' : 'upstream', depth: options.depth, rows: options.rows === true });
        if (g.json) return printJson(answer);
        const format = await import('../../batch/lineage-format.ts');
        const render = options.format === 'dot' ? format.renderLineageDot : options.format === 'mermaid' ? format.renderLineageMermaid : format.renderLineageTree;
        process.stdout.write(render(answer));
        return undefined;
      });
    });
}
