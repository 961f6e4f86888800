// `sluice audit [--since 7d] [--principal p] [--action a]`: who read, ingested, ran, backfilled, deleted, vacuumed,
// forgot or detokenized what, from the catalog's audit log (request counts are per principal, key and minute).
import type { Command } from 'commander';
import { SluiceError } from '../../errors.ts';
import type { AuditAction } from '../../store/catalog/catalog.ts';
import { globals, parseInteger, withWorkspace } from '../context.ts';
import { printJson, renderTable } from '../render.ts';

const ACTIONS: readonly AuditAction[] = ['read', 'ingest', 'denied', 'run', 'backfill', 'delete', 'vacuum', 'forget', 'detokenize'];

export function registerAudit(program: Command): void {
  program
    .command('audit')
    .description('the audit log: who read which feature service or stream (counts per key and minute), who ran, backfilled, deleted or vacuumed what')
    .option('--since <date|duration>', 'entries since then: a date, a timestamp, or a duration back from now (7d, 12h); default: 7d', '7d')
    .option('--principal <name>', 'only this principal')
    .option('--action <action>', `only this action: ${ACTIONS.join(', ')}`)
    .option('--limit <n>', 'at most this many entries, newest first', parseInteger('--limit'), 1000)
    .action(async (options: { since: string; principal?: string; action?: string; limit: number }, command: Command) => {
      const g = globals(command);
      const { parseSince } = await import('../../define/duration.ts');
      const since = new Date(parseSince(options.since, Date.now(), '--since')).toISOString();
      const action = options.action;
      if (action !== undefined && !ACTIONS.includes(action as AuditAction)) throw new SluiceError('CONFIG_INVALID', `--action ${JSON.stringify(action)}: use one of ${ACTIONS.join(', ')}`);
      await withWorkspace(g, async (ws) => {
        const entries = await ws.catalog.listAudit({ since, principal: options.principal, action: action as AuditAction | undefined, limit: options.limit });
        if (g.json) return printJson(entries);
        process.stdout.write(entries.length === 0 ? `no audit entries since ${since}\n` : `${renderTable(entries.map((e) => ({
          at: e.at, principal: e.principal, key: e.keyId ?? '', action: e.action, target: e.target, count: e.count,
          detail: Object.entries(e.detail).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' '),
        })))}\n`);
        return undefined;
      });
    });
}
