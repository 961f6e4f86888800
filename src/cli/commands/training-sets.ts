// `sluice training-sets [id]` and `sluice training-sets diff A B`: the training sets recorded in the catalog,
// what each read (table versions, spine, definitions), and which inputs changed between two.
import type { Command } from 'commander';
import { globals, withWorkspace } from '../context.ts';
import { formatBytes, printJson, renderTable } from '../render.ts';

export function registerTrainingSets(program: Command): void {
  const command = program
    .command('training-sets')
    .description('training sets built (features training-set): their tags, the table versions they read, pins')
    .argument('[id]', 'one training set in full')
    .action(async (id: string | undefined, _options: unknown, cmd: Command) => {
      const g = globals(cmd);
      await withWorkspace(g, async (ws) => {
        if (id !== undefined) {
          const { getTrainingSet } = await import('../../features/training-sets.ts');
          const record = await getTrainingSet(ws, id);
          if (g.json) return printJson(record);
          const lines = [
            `training set ${record.id} (${record.pinned ? 'pinned' : 'unpinned'})`,
            `  service      ${record.service} (definitions ${record.definitionsHash.slice(0, 12)})`,
            `  spine        ${record.spine.source} (sha256 ${record.spine.sha256.slice(0, 12)}, ${record.spine.rows} rows, time column ${record.spine.timestampColumn})`,
            `  output       ${record.output.path} (sha256 ${record.output.sha256.slice(0, 12)}, ${formatBytes(record.output.bytes)})`,
            `  versions     ${Object.entries(record.versions).map(([asset, version]) => `${asset} v${version}`).join(', ')}`,
            `  tags         ${Object.entries(record.tags).map(([k, v]) => `${k}=${v}`).join(', ') || '(none)'}`,
            `  built        ${record.createdAt} with sluice ${record.sluiceVersion}`,
            `  rebuild      sluice features training-set --pin ${record.id} --out <file>`,
          ];
          process.stdout.write(`${lines.join('\n')}\n`);
          return undefined;
        }
        const records = await ws.catalog.listTrainingSets();
        if (g.json) return printJson(records);
        process.stdout.write(`${records.length === 0 ? 'no training sets yet: sluice features training-set --spine <file> --service <name> --out <file>' : renderTable(records.map((r) => ({
          id: r.id, service: r.service, created: r.createdAt, rows: r.output.rows,
          versions: Object.entries(r.versions).map(([asset, version]) => `${asset} v${version}`).join(', '),
          tags: Object.entries(r.tags).map(([k, v]) => `${k}=${v}`).join(', '), pinned: r.pinned ? 'yes' : 'no',
        })))}\n`);
        return undefined;
      });
    });

  command
    .command('diff')
    .description('which inputs changed between two training sets: definitions, table versions, spine')
    .argument('<a>')
    .argument('<b>')
    .action(async (a: string, b: string, _options: unknown, cmd: Command) => {
      const g = globals(cmd);
      await withWorkspace(g, async (ws) => {
        const { diffTrainingSets, getTrainingSet } = await import('../../features/training-sets.ts');
        const diff = diffTrainingSets(await getTrainingSet(ws, a), await getTrainingSet(ws, b));
        if (g.json) return printJson(diff);
        const lines = [`${diff.a} -> ${diff.b}`];
        if (diff.service !== null) lines.push(`  service      ${diff.service.a} -> ${diff.service.b}`);
        lines.push(`  definitions  ${diff.definitions ? 'changed' : 'same'}`);
        lines.push(`  spine        ${diff.spine === null ? 'same' : `${diff.spine.a} -> ${diff.spine.b}`}`);
        if (diff.versions.length === 0) lines.push('  versions     same');
        for (const v of diff.versions) lines.push(`  version      ${v.asset}: ${v.a === null ? '(not read)' : `v${v.a}`} -> ${v.b === null ? '(not read)' : `v${v.b}`}`);
        for (const t of diff.tags) lines.push(`  tag          ${t.key}: ${t.a ?? '(none)'} -> ${t.b ?? '(none)'}`);
        lines.push(`  output       ${diff.output ? 'differs' : 'byte-identical'}`);
        process.stdout.write(`${lines.join('\n')}\n`);
        return undefined;
      });
    });
}
