#!/usr/bin/env node
// The churn demo, end to end on embedded defaults: generate a week-plus of activity logs and a messy
// users.csv (once), build the last 7 days of `user_features`, and print what was built and where.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';

const here = path.dirname(fileURLToPath(import.meta.url));
const sluice = path.resolve(here, '../../bin/sluice.mjs');
const users = process.env.DEMO_USERS ?? '20000';
const endDate = '2026-11-25';
const from = '2026-11-19';

function run(args, json = false, allowFailure = false) {
  process.stdout.write(`\n$ sluice ${args.join(' ')}\n`);
  let out;
  try {
    out = execFileSync(process.execPath, [sluice, ...args, ...(json ? ['--json'] : [])], { cwd: here, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (error) {
    if (!allowFailure) throw error;
    out = error.stdout;
    process.stdout.write(`(exit code ${error.status})\n`);
  }
  if (json) return JSON.parse(out);
  process.stdout.write(out);
  return undefined;
}

if (!fs.existsSync(path.join(here, 'data', 'users.csv'))) {
  run(['generate', 'churn', '--users', users, '--days', '40', '--seed', '42', '--end-date', endDate, '--out', 'data']);
} else {
  process.stdout.write('\ndata/ already generated (delete examples/churn/data to regenerate)\n');
}
run(['run', 'user_features', '--from', from, '--to', endDate]);
run(['show', 'user_features', '--partition', endDate, '--limit', '5']);
const versions = run(['versions', 'user_features'], true);
const runs = run(['runs', '--limit', '1'], true);
const steps = run(['runs', runs[0].id], true).steps;
const bad = steps.reduce((n, s) => n + (s.badRecords ?? 0), 0);

const state = path.join(here, '.sluice');
process.stdout.write(`
Built ${versions.length} version(s) of user_features; the latest has ${versions[0].partitions} daily partitions and ${versions[0].rowCount.toLocaleString('en-US')} rows.
  tables (Parquet, zstd, Hive folders): ${path.join(state, 'tables')}
  version manifests:                    ${path.join(state, 'tables', 'user_features', '_versions')}
  catalog (runs, steps, lineage):       ${path.join(state, 'catalog.db')}
  dead letters (${bad} bad users.csv lines): ${path.join(state, 'dead-letter', 'users')}
Run the demo again: every step is skipped, because nothing changed.
`);

// Data quality: an upstream change starts sending session durations in milliseconds. The day's export is
// otherwise fine; the check "a user's sessions fit in a day" catches it and nothing is published.
const corruptDay = '2026-11-26';
const corruptDir = path.join(here, 'data', 'logs', `date=${corruptDay}`);
fs.mkdirSync(corruptDir, { recursive: true });
const source = path.join(here, 'data', 'logs', `date=${endDate}`, 'part-0.parquet');
const instance = await DuckDBInstance.create(':memory:');
const connection = await instance.connect();
await connection.run(`COPY (SELECT 'c' || event_id AS event_id, user_id, event_ts + INTERVAL 1 DAY AS event_ts, event_type,
    session_seconds * 1000 AS session_seconds, device
  FROM read_parquet('${source}') WHERE CAST(event_ts AS DATE) = DATE '${endDate}') TO '${path.join(corruptDir, 'part-0.parquet')}' (FORMAT parquet)`);
connection.closeSync();
instance.closeSync();
process.stdout.write(`\nWrote a corrupted export for ${corruptDay} (session_seconds in milliseconds) and run its partition:\n`);
run(['run', 'user_features', '--partition', corruptDay], false, true);
const failedRun = run(['runs', '--limit', '1'], true)[0];
const detail = run(['runs', failedRun.id], true);
const failing = detail.checks.filter((c) => !c.success);
const quarantineDir = path.join(state, 'quarantine', 'user_activity_daily', corruptDay);
process.stdout.write(`
Run ${failedRun.id} ${failedRun.status}: ${failing.map((c) => `${c.target} ${c.partition} ${c.expectationType}(${c.column ?? ''}) failed with ${c.unexpectedCount} unexpected rows`).join('; ')}.
Nothing was published for ${corruptDay}: user_features still has ${run(['versions', 'user_features'], true)[0].partitions} partitions, none of them ${corruptDay}.
The failing rows are in ${quarantineDir}; \`sluice report\` renders the history as HTML.
`);
fs.rmSync(corruptDir, { recursive: true, force: true });
