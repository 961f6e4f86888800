#!/usr/bin/env node
// The churn demo, end to end on embedded defaults: generate a week-plus of activity logs and a messy
// users.csv (once), build the last 7 days of `user_features`, and print what was built and where.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const sluice = path.resolve(here, '../../bin/sluice.mjs');
const users = process.env.DEMO_USERS ?? '20000';
const endDate = '2026-11-25';
const from = '2026-11-19';

function run(args, json = false) {
  process.stdout.write(`\n$ sluice ${args.join(' ')}\n`);
  const out = execFileSync(process.execPath, [sluice, ...args, ...(json ? ['--json'] : [])], { cwd: here, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
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
