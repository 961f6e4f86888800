#!/usr/bin/env node
// The churn demo, end to end on embedded defaults: generate two months of activity logs and a messy users.csv
// (once), backfill the last 30 days of `user_features` through the daily job, and print what was built and where.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';

const here = path.dirname(fileURLToPath(import.meta.url));
const sluice = path.resolve(here, '../../bin/sluice.mjs');
const users = process.env.DEMO_USERS ?? '20000';
// The data ends yesterday (UTC), so the served features are fresh whenever the demo runs.
const day = (offset) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
const endDate = process.env.DEMO_END_DATE ?? day(-1);
// The 30-day backfill: each day's features read the 30 days before it, so the data starts 60 days back.
const from = new Date(Date.parse(endDate) - 29 * 86_400_000).toISOString().slice(0, 10);

/** Read what a command says as JSON, to use it below; nothing is printed. */
function query(args) {
  return JSON.parse(execFileSync(process.execPath, [sluice, ...args, '--json'], { cwd: here, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' }));
}

/** Run a command as a user would, printing it and what it prints. */
function run(args, json = false, allowFailure = false) {
  if (json) return query(args);
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

const stamp = path.join(here, 'data', '.generated');
const wanted = `users=${users} end=${endDate}`;
if (!fs.existsSync(stamp) || fs.readFileSync(stamp, 'utf8') !== wanted) {
  // New data (first run, or a new day): start from a clean state too.
  fs.rmSync(path.join(here, 'data'), { recursive: true, force: true });
  fs.rmSync(path.join(here, '.sluice'), { recursive: true, force: true });
  run(['generate', 'churn', '--users', users, '--days', '60', '--seed', '42', '--end-date', endDate, '--out', 'data']);
  fs.writeFileSync(stamp, wanted);
} else {
  process.stdout.write(`\ndata/ already generated for ${endDate} (delete examples/churn/data to regenerate)\n`);
}
run(['backfill', 'churn_daily', '--from', from, '--to', endDate, '--max-parallel', '2']);
run(['show', 'user_features', '--partition', endDate, '--limit', '5']);
run(['status']);
run(['versions', 'user_features']);
const versions = query(['versions', 'user_features']);
const deadLetters = path.join(here, '.sluice', 'dead-letter', 'users');
const bad = fs.existsSync(deadLetters)
  ? fs.readdirSync(deadLetters).reduce((n, f) => n + fs.readFileSync(path.join(deadLetters, f), 'utf8').split('\n').filter((l) => l.trim() !== '').length, 0)
  : 0;

const state = path.join(here, '.sluice');
process.stdout.write(`
Built ${versions.length} version(s) of user_features; the latest has ${versions[0].partitions} daily partitions and ${versions[0].rowCount.toLocaleString('en-US')} rows.
  tables (Parquet, zstd, Hive folders holding the current version; any Parquet reader):
                                        ${path.join(state, 'tables')}
  version log, snapshots, older files:  ${path.join(state, 'versions', 'user_features')}
  catalog (runs, steps, lineage):       ${path.join(state, 'catalog.db')}
  dead letters (${bad} bad users.csv lines): ${path.join(state, 'dead-letter', 'users')}
Run the demo again: the backfill finds all 30 partitions done. \`sluice scheduler\` runs the job daily at 02:00 UTC.
`);

// The feature store. A labeled spine: users seen 3 to 5 days before the data ends, one prediction moment each
// (noon), labeled churned_3d when they have no event in the 3 days after it; plan_price is request data.
const spineFile = path.join(here, 'data', 'spine.parquet');
{
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  await connection.run(`SET TimeZone = 'UTC'`);
  await connection.run(`COPY (
    WITH logs AS (SELECT user_id, event_ts FROM read_parquet('${path.join(here, 'data', 'logs', '*', '*.parquet')}')),
    moments AS (
      SELECT DISTINCT user_id, CAST(CAST(event_ts AS DATE) AS TIMESTAMP) + INTERVAL 12 HOUR AS event_timestamp
      FROM logs WHERE CAST(event_ts AS DATE) BETWEEN DATE '${endDate}' - 5 AND DATE '${endDate}' - 3
    )
    SELECT m.user_id, m.event_timestamp, [0.0, 9.99, 19.99][1 + m.user_id % 3] AS plan_price,
      NOT EXISTS (SELECT 1 FROM logs l WHERE l.user_id = m.user_id AND l.event_ts > m.event_timestamp AND l.event_ts <= m.event_timestamp + INTERVAL 3 DAY) AS churned_3d
    FROM moments m ORDER BY m.event_timestamp, m.user_id
  ) TO '${spineFile}' (FORMAT parquet)`);
  connection.closeSync();
  instance.closeSync();
}
process.stdout.write(`\nWrote a labeled spine (user_id, event_timestamp, plan_price, churned_3d) to ${spineFile}.\n`);
run(['features', 'list']);
const trainFile = path.join(here, 'data', 'train.parquet');
run(['features', 'training-set', '--spine', 'data/spine.parquet', '--service', 'churn_model_v1', '--out', 'data/train.parquet']);
run(['features', 'materialize']);

// Serve: start `sluice serve` on a free port, look two users up over HTTP, stop it.
const server = spawn(process.execPath, [sluice, 'serve', '--port', '0'], { cwd: here, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SLUICE_LOG_LEVEL: 'error' } });
const address = await new Promise((resolve, reject) => {
  let seen = '';
  server.stdout.on('data', (chunk) => {
    seen += chunk;
    const match = /listening on (http:\/\/\S+)/.exec(seen);
    if (match) resolve(match[1]);
  });
  server.on('exit', (code) => reject(new Error(`sluice serve exited with ${code}`)));
});
const lookup = { service: 'churn_model_v1', entities: [{ user_id: 1 }, { user_id: 2 }], request: { plan_price: 9.99 } };
process.stdout.write(`\n$ sluice serve --port 0   (${address})\n$ curl -s -X POST ${address}/v1/features -H 'content-type: application/json' -d '${JSON.stringify(lookup)}'\n`);
const response = await fetch(`${address}/v1/features`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(lookup) });
const served = await response.json();
for (const result of served.results) {
  const parts = Object.entries(result.features).map(([name, f]) => `${name}=${typeof f.value === 'number' && !Number.isInteger(f.value) ? f.value.toFixed(3) : f.value}${f.status === 'present' ? '' : ` (${f.status})`}`);
  process.stdout.write(`user ${result.entity.user_id}: ${parts.join(', ')}\n`);
}
process.stdout.write(`(each feature also carries its status and event timestamp, e.g. logins_7d: ${JSON.stringify(served.results[0].features.logins_7d)})\n`);
server.kill('SIGTERM');
run(['features', 'skew', '--service', 'churn_model_v1', '--sample', '500']);
process.stdout.write(`
Training set: ${trainFile} (point in time: each row sees only features final before its event_timestamp).
Online store: ${path.join(state, 'online.db')} (set SLUICE_ONLINE_URL=redis://127.0.0.1:6379 for Redis).
`);

// Data quality: an upstream change starts sending session durations in milliseconds. The day's export is
// otherwise fine; the check "a user's sessions fit in a day" catches it and nothing is published.
const corruptDay = new Date(Date.parse(endDate) + 86_400_000).toISOString().slice(0, 10);
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
run(['runs', '--limit', '1']);
const failedRun = query(['runs', '--limit', '1'])[0];
run(['runs', failedRun.id]);
const detail = query(['runs', failedRun.id]);
const failing = detail.checks.filter((c) => !c.success);
const quarantineDir = path.join(state, 'quarantine', 'user_activity_daily', corruptDay);
process.stdout.write(`
Run ${failedRun.id} ${failedRun.status}: ${failing.map((c) => `${c.target} ${c.partition} ${c.expectationType}(${c.column ?? ''}) failed with ${c.unexpectedCount} unexpected rows`).join('; ')}.
Nothing was published for ${corruptDay}: user_features still has ${query(['versions', 'user_features'])[0].partitions} partitions, none of them ${corruptDay}.
The failing rows are in ${quarantineDir}; \`sluice report\` renders the history as HTML.
`);
fs.rmSync(corruptDir, { recursive: true, force: true });

// Personal data: users.csv carries e-mails (hashed as read) and phones (masked); countries are classified and kept.
process.stdout.write('\nWhere personal data is, and under which policy (derived columns follow column lineage):\n');
run(['pii']);
process.stdout.write('\nA user asks to be forgotten: first what would change, then the erasure, recorded without the erased values:\n');
run(['forget', '--entity', 'user_id=7', '--dry-run']);
run(['forget', '--entity', 'user_id=7']);
run(['audit', '--since', '1h', '--action', 'forget']);
