// `sluice access add-key | revoke | list`: principals, their roles and grants, and their API keys (hashed on disk).
import type { Command } from 'commander';
import { SluiceError } from '../../errors.ts';
import { collect, globals, withWorkspace } from '../context.ts';
import { printJson, renderTable } from '../render.ts';

interface AddKeyFlags {
  role?: string;
  service?: string[];
  asset?: string[];
  stream?: string[];
  detokenize?: string[];
  expires?: string;
}

export function registerAccess(program: Command): void {
  const access = program.command('access').description('principals, roles, grants and API keys (the principals file: settings.access, SLUICE_ACCESS_FILE, or .sluice/access.json)');

  access
    .command('add-key')
    .description('give a principal a new API key, printed once (its SHA-256 is stored); creates the principal with --role; its older keys stay valid until revoked')
    .argument('<principal>')
    .option('--role <role>', 'reader | operator | admin (needed for a new principal)')
    .option('--service <name>', 'grant a feature service (repeatable; * for all)', collect)
    .option('--asset <name>', 'grant an asset (run, backfill, delete; repeatable)', collect)
    .option('--stream <name>', 'grant an event stream (ingest; repeatable)', collect)
    .option('--detokenize <service>', 'grant detokenizing a feature service\'s tokenized columns (never implied; repeatable)', collect)
    .option('--expires <time|duration>', 'refuse the key after this time (an ISO time, or a duration from now such as 90d)')
    .action(async (name: string, flags: AddKeyFlags, cmd: Command) => {
      const g = globals(cmd);
      const [{ addKey }, { principalsFilePath, projectNames }, { ROLES }, { parseDuration, parseInstant }] = await Promise.all([
        import('../../access/principals-file.ts'), import('../../access/serving-access.ts'), import('../../access/principals.ts'), import('../../define/duration.ts'),
      ]);
      const role = flags.role;
      if (role !== undefined && !ROLES.includes(role as never)) throw new SluiceError('CONFIG_INVALID', `--role ${JSON.stringify(role)}: use one of ${ROLES.join(', ')}`);
      const expires = flags.expires === undefined ? undefined : new Date(parseInstant(flags.expires) ?? Date.now() + parseDuration(flags.expires, '--expires')).toISOString();
      await withWorkspace(g, (ws) => Promise.resolve().then(() => {
        const file = principalsFilePath(ws.settings);
        const created = addKey(file, name, {
          role: role as (typeof ROLES)[number] | undefined, expires, known: projectNames(ws.project),
          grants: { services: flags.service ?? [], assets: flags.asset ?? [], streams: flags.stream ?? [], detokenize: flags.detokenize ?? [] },
        });
        if (g.json) return printJson({ principal: created.principal.name, role: created.principal.role, keyId: created.keyId, key: created.key, file });
        process.stdout.write(`${created.key}\n`);
        process.stderr.write(`new key ${created.keyId} for ${created.principal.role} "${created.principal.name}" in ${file}; shown once, only its hash is stored. A running server takes it within a second.\n`);
        return undefined;
      }));
    });

  access
    .command('revoke')
    .description('remove a principal\'s key (--key <id>) or all its keys (--all); a running server refuses it within a second')
    .argument('<principal>')
    .option('--key <id>', 'the key\'s id (sluice access list)')
    .option('--all', 'every key of the principal')
    .action(async (name: string, flags: { key?: string; all?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const [{ revokeKeys }, { principalsFilePath }] = await Promise.all([import('../../access/principals-file.ts'), import('../../access/serving-access.ts')]);
      await withWorkspace(g, (ws) => Promise.resolve().then(() => {
        const removed = revokeKeys(principalsFilePath(ws.settings), name, { keyId: flags.key, all: flags.all });
        if (g.json) return printJson({ principal: name, revoked: removed });
        process.stdout.write(`revoked ${removed.join(', ')} of "${name}"\n`);
        return undefined;
      }));
    });

  access
    .command('list')
    .description('principals with their roles, grants and key ids (never keys or hashes)')
    .action(async (_flags: unknown, cmd: Command) => {
      const g = globals(cmd);
      const [{ readPrincipalsFile }, { principalsFilePath }, { keyId }] = await Promise.all([import('../../access/principals-file.ts'), import('../../access/serving-access.ts'), import('../../access/principals.ts')]);
      await withWorkspace(g, (ws) => Promise.resolve().then(() => {
        const file = principalsFilePath(ws.settings);
        const rows = readPrincipalsFile(file).principals.map((p) => ({
          principal: p.name, role: p.role,
          services: p.grants.services.join(','), assets: p.grants.assets.join(','), streams: p.grants.streams.join(','), detokenize: p.grants.detokenize.join(','),
          keys: p.keys.map((k) => `${keyId(k.sha256)}${k.expires === undefined ? '' : ` (expires ${k.expires})`}`).join(', '),
        }));
        if (g.json) return printJson(rows);
        process.stdout.write(rows.length === 0 ? `no principals in ${file}: sluice access add-key <principal> --role reader --service <name>\n` : `${renderTable(rows)}\n`);
        return undefined;
      }));
    });
}
