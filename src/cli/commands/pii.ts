// `sluice pii`, `sluice forget` and `sluice detokenize`: where personal data is and under which policy, erasing
// one entity everywhere sluice holds it, and reading tokens back from the vault. Thin shells.
import path from 'node:path';
import type { Command } from 'commander';
import { collect, globals, withWorkspace } from '../context.ts';
import { printJson, renderTable } from '../render.ts';

export function registerPii(program: Command): void {
  program
    .command('pii')
    .description('every source, asset, feature and served field holding personal data, with the policy that covers it (or none)')
    .action(async (_options: unknown, cmd: Command) => {
      const g = globals(cmd);
      await withWorkspace(g, async (ws) => {
        const { piiReport } = await import('../../batch/pii-inventory.ts');
        const locations = await piiReport(ws);
        if (g.json) return printJson(locations);
        if (locations.length === 0) {
          process.stdout.write('no column is classified as personal data: add { pii: \'email\', policy: \'hash\' } to a source column (see README, Personal data)\n');
          return undefined;
        }
        process.stdout.write(`${renderTable(locations.map((l) => ({ kind: l.kind, name: l.name, column: l.column, pii: l.pii, policy: l.policy, protected: l.protected ? 'yes' : 'NO', from: l.origin })))}\n`);
        const open = locations.filter((l) => !l.protected);
        if (open.length > 0) process.stdout.write(`${open.length} place(s) hold unprotected personal data\n`);
        return undefined;
      });
    });

  program
    .command('forget')
    .description('erase one entity: rewrite every partition holding it as a new version without it, delete it from the online store and the vault')
    .requiredOption('--entity <column=value>', 'the entity key, e.g. --entity user_id=123 (repeat for each column of a composite key)', collect)
    .option('--dry-run', 'say what would be rewritten, change nothing')
    .action(async (options: { entity: string[]; dryRun?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      await withWorkspace(g, async (ws) => {
        const { forget, parseEntity } = await import('../../orchestrate/forget.ts');
        const result = await forget(ws, parseEntity(options.entity), { dryRun: options.dryRun === true });
        if (g.json) return printJson(result);
        const verb = result.dryRun ? 'would rewrite' : 'rewrote';
        const lines = [
          result.assets.length === 0 ? 'no current table holds that entity' : renderTable(result.assets.map((a) => ({ asset: a.asset, [verb]: `${a.partitions.length} partition(s)`, rows: a.rows, version: a.version ?? '' }))),
          ...result.online.map((o) => `online store: ${result.dryRun ? 'would delete' : 'deleted'} ${o.deleted} record(s) of feature view ${o.view}`),
          `vault: ${result.dryRun ? 'would remove' : 'removed'} ${result.tokens} token(s) only this entity used`,
          ...[...new Set(result.sourceFiles.map((f) => f.source))].map((source) => {
            const files = result.sourceFiles.filter((f) => f.source === source);
            const shown = files.slice(0, 3).map((f) => path.relative(ws.projectDir, f.file) || f.file).join(', ');
            return `source ${source}: ${files.length} file(s) still hold ${files.reduce((n, f) => n + f.rows, 0)} row(s) of it (${shown}${files.length > 3 ? `, +${files.length - 3} more` : ''}), outside sluice: remove them there, or a rebuild of those partitions brings them back (--json lists every file)`;
          }),
          ...(result.pinnedBy.length > 0 ? [`pinned training sets keep older versions holding it: ${result.pinnedBy.join(', ')} (sluice vacuum --unpin <id>)`] : []),
          ...(result.dryRun ? [] : [`recorded as run ${result.runId ?? ''} (key columns ${result.keyColumns.join(', ')}, no values); old versions' files stay until \`sluice vacuum --keep-versions 1 --grace 0\``]),
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
        return undefined;
      });
    });

  program
    .command('detokenize')
    .description('the values of vault tokens (tok_...), for a principal allowed to see them')
    .argument('<token...>')
    .action(async (tokens: string[], _options: unknown, cmd: Command) => {
      const g = globals(cmd);
      await withWorkspace(g, async (ws) => {
        const { detokenizeAs } = await import('../../batch/protect.ts');
        const values = await detokenizeAs(ws, tokens);
        const rows = tokens.map((token) => ({ token, pii: values.get(token)?.pii ?? '', value: values.get(token)?.value ?? '(not in the vault)' }));
        if (g.json) return printJson(rows);
        process.stdout.write(`${renderTable(rows)}\n`);
        return undefined;
      });
    });
}
