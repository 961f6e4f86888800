// `sluice generate churn` and `sluice generate transactions`: deterministic synthetic data for the examples.
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { SluiceError } from '../../errors.ts';
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
    .option('--postgres-url <url>', 'also load the users into a PostgreSQL table (with updated_at), for the incremental source')
    .option('--postgres-table <name>', 'the table for --postgres-url (replaced), e.g. users or crm.users', 'users')
    .option('--postgres-updates <n>', 'instead of generating: change the plan of n users in the --postgres-url table (updated_at = now)', parseInteger('--postgres-updates'))
    .option('--postgres-inserts <n>', 'with --postgres-updates: also add n new users', parseInteger('--postgres-inserts'), 0)
    .action(async (options: { users: number; days: number; seed: number; endDate: string; out: string; postgresUrl?: string; postgresTable: string; postgresUpdates?: number; postgresInserts: number }, command: Command) => {
      const g = globals(command);
      if (options.postgresUpdates !== undefined) {
        if (options.postgresUrl === undefined) throw new SluiceError('CONFIG_INVALID', '--postgres-updates needs --postgres-url');
        const { applyUserUpdates } = await import('../../generate/churn-postgres.ts');
        const changed = await applyUserUpdates(options.postgresUrl, options.postgresTable, { updates: options.postgresUpdates, inserts: options.postgresInserts, seed: options.seed });
        if (g.json) return printJson(changed);
        process.stdout.write(`updated ${changed.updated} and added ${changed.inserted} user(s) in ${options.postgresTable} at ${changed.updatedAt}\n`);
        return undefined;
      }
      const { loadUsersToPostgres } = await import('../../generate/churn-postgres.ts');
      const { generateChurn } = await import('../../generate/churn.ts');
      const loaded = options.postgresUrl === undefined ? undefined
        : await loadUsersToPostgres(options.postgresUrl, options.postgresTable, { users: options.users, days: options.days, seed: options.seed, endDate: options.endDate });
      const summary = await generateChurn({ users: options.users, days: options.days, seed: options.seed, out: options.out, endDate: options.endDate });
      if (g.json) return printJson(loaded === undefined ? summary : { ...summary, postgres: loaded });
      if (loaded !== undefined) process.stdout.write(`loaded ${loaded.rows.toLocaleString('en-US')} users into PostgreSQL table ${loaded.table}\n`);
      process.stdout.write(`wrote ${summary.totalEvents.toLocaleString('en-US')} events over ${summary.eventsPerDay.length} days (${summary.startDate}..${summary.endDate}) and ${summary.userRows.toLocaleString('en-US')} user rows (${summary.duplicateRows} duplicates, ${summary.malformedLines} malformed) to ${summary.out}: ${formatBytes(summary.totalBytes)} in ${formatMs(summary.elapsedMs)}\n`);
      return undefined;
    });

  generate
    .command('transactions')
    .description('card transactions as NDJSON (txn_id, card_id, merchant_id, amount, ts) for the fraud example')
    .option('--rate <n>', 'events per second (of event time; with --live, of wall-clock time)', parseInteger('--rate'), 1000)
    .option('--cards <n>', 'number of cards', parseInteger('--cards'), 10_000)
    .option('--count <n>', 'stop after this many events (default: 60 s worth; with --live: run until stopped)', parseInteger('--count'))
    .option('--seed <n>', 'random seed (same seed, same events)', parseInteger('--seed'), 42)
    .option('--start <time>', 'event time of the first event (ISO); default now', undefined)
    .option('--live', 'pace events in real time, event time = now')
    .option('--out <file>', 'NDJSON file, or - for stdout', '-')
    .action(async (options: { rate: number; cards: number; count?: number; seed: number; start?: string; live?: boolean; out: string }) => {
      if (options.rate <= 0 || options.cards <= 0) throw new SluiceError('CONFIG_INVALID', '--rate and --cards must be positive');
      const startMs = options.start === undefined ? Date.now() : Date.parse(options.start);
      if (!Number.isFinite(startMs)) throw new SluiceError('CONFIG_INVALID', `--start: ${JSON.stringify(options.start)} is not an ISO timestamp`);
      const live = options.live === true;
      const limit = options.count ?? (live ? Infinity : options.rate * 60);
      if (options.out !== '-') fs.mkdirSync(path.dirname(path.resolve(options.out)), { recursive: true });
      const out = options.out === '-' ? process.stdout : fs.createWriteStream(options.out);
      const began = Date.now();
      let written = 0;
      let buffer = '';
      const { transactions } = await import('../../generate/transactions.ts');
      for (const event of transactions({ cards: options.cards, seed: options.seed, startMs, rate: options.rate })) {
        if (written >= limit) break;
        buffer += `${JSON.stringify(event)}\n`;
        written += 1;
        if (live) {
          // Release each event when its event time comes (batched per few milliseconds).
          const wait = Date.parse(event.ts) - Date.now();
          if (wait > 2) {
            if (!out.write(buffer)) await once(out, 'drain');
            buffer = '';
            await sleep(wait);
          }
        } else if (buffer.length > 1 << 16) {
          if (!out.write(buffer)) await once(out, 'drain');
          buffer = '';
        }
      }
      if (buffer !== '') out.write(buffer);
      if (out !== process.stdout) {
        (out as fs.WriteStream).end();
        await once(out, 'finish');
        process.stderr.write(`wrote ${written.toLocaleString('en-US')} transactions to ${options.out} in ${Date.now() - began} ms\n`);
      }
    });
}
