// Benchmark: backfill throughput on the churn example. 30 daily partitions of user_features (each reads the 30
// days of user_activity_daily before it, so 59 activity partitions are built once and then skipped), cold, as
// `sluice backfill churn_daily` (one run per partition) at several --max-parallel, against the same range as one
// `sluice run --from --to` (one run, one plan): the baseline, in the same invocation.
// Usage: npm run bench:backfill -- [--users 20000] [--days 30] [--parallel 1,2,4] [--repeat 1]
// Prints a table and writes bench/results/backfill.json.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { flag, median, writeResult } from './harness.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sluice = path.join(root, 'bin/sluice.mjs');

const users = Number(flag('users', '20000'));
const days = Number(flag('days', '30'));
const parallel = flag('parallel', '1,2,4').split(',').map(Number);
const repeat = Number(flag('repeat', '1'));
const end = '2026-11-25';
const from = new Date(Date.parse(end) - (days - 1) * 86_400_000).toISOString().slice(0, 10);

const projectDir = path.join(root, 'bench', 'data', `backfill-u${users}-d${days}`);
fs.mkdirSync(projectDir, { recursive: true });
fs.copyFileSync(path.join(root, 'examples/churn/sluice.config.ts'), path.join(projectDir, 'sluice.config.ts'));
const env = { ...process.env, SLUICE_LOG_LEVEL: 'error' };

function cli(args: string[], home: string): { ms: number; stdout: string } {
  const t0 = performance.now();
  const result = spawnSync(process.execPath, [sluice, '-p', projectDir, ...args], { env: { ...env, SLUICE_HOME: home }, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const ms = performance.now() - t0;
  if (result.status !== 0) throw new Error(`sluice ${args.join(' ')} failed:\n${result.stderr}\n${result.stdout.slice(0, 2000)}`);
  return { ms, stdout: result.stdout };
}

const stamp = path.join(projectDir, 'data', '.generated');
if (!fs.existsSync(stamp)) {
  process.stderr.write(`generating ${users} users x ${days + 31} days into ${projectDir}/data ...\n`);
  cli(['generate', 'churn', '--users', String(users), '--days', String(days + 31), '--seed', '42', '--end-date', end, '--out', path.join(projectDir, 'data')], path.join(os.tmpdir(), 'sluice-bench-gen'));
  fs.writeFileSync(stamp, 'ok');
}

interface Result {
  readonly mode: string;
  readonly ms: number;
  readonly runs: number;
  readonly steps: number;
  readonly built: number;
  readonly partitionsPerSecond: number;
  readonly builtStepsPerSecond: number;
}

function measure(mode: string, args: string[], count: (stdout: string, home: string) => { runs: number; steps: number; built: number }): Result {
  const samples: { ms: number; runs: number; steps: number; built: number }[] = [];
  for (let i = 0; i < repeat; i++) {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-backfill-'));
    try {
      const { ms, stdout } = cli([...args, '--json'], home);
      samples.push({ ms, ...count(stdout, home) });
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  }
  const ms = median(samples.map((s) => s.ms));
  const last = samples.at(-1) as { runs: number; steps: number; built: number };
  return { mode, ms: Math.round(ms), ...last, partitionsPerSecond: Math.round((days / (ms / 1000)) * 100) / 100, builtStepsPerSecond: Math.round((last.built / (ms / 1000)) * 10) / 10 };
}

interface RunJson { steps: { status: string }[] }
const results: Result[] = [];
results.push(measure('sluice run --from --to (one run)', ['run', 'user_features', '--from', from, '--to', end], (stdout) => {
  const run = JSON.parse(stdout) as RunJson;
  return { runs: 1, steps: run.steps.length, built: run.steps.filter((s) => s.status === 'success').length };
}));
for (const k of parallel) {
  results.push(measure(`sluice backfill --max-parallel ${k}`, ['backfill', 'churn_daily', '--from', from, '--to', end, '--max-parallel', String(k)], (stdout, home) => {
    const summary = JSON.parse(stdout) as { status: string; partitions: { runId: string; steps: number }[] };
    if (summary.status !== 'success') throw new Error('backfill failed');
    // Steps built (not skipped): from the catalog, through the CLI.
    let built = 0;
    for (const p of summary.partitions) {
      const detail = JSON.parse(cli(['runs', p.runId, '--json'], home).stdout) as RunJson;
      built += detail.steps.filter((s) => s.status === 'success').length;
    }
    return { runs: summary.partitions.length, steps: summary.partitions.reduce((n, p) => n + p.steps, 0), built };
  }));
}

const baseline = results[0] as Result;
const rows = results.map((r) => ({ ...r, vsOneRun: Math.round((r.ms / baseline.ms) * 100) / 100 }));
const header = ['mode', 'wall s', 'runs', 'steps planned', 'steps built', 'partitions/s', 'built steps/s', 'time vs one run'];
const table = [header, ...rows.map((r) => [r.mode, (r.ms / 1000).toFixed(1), String(r.runs), String(r.steps), String(r.built), String(r.partitionsPerSecond), String(r.builtStepsPerSecond), `${r.vsOneRun}x`])];
const widths = header.map((_, i) => Math.max(...table.map((row) => (row[i] ?? '').length)));
process.stdout.write(`backfill of ${days} partitions of user_features (${users} users), cold, ${os.cpus().length} cores, median of ${repeat}\n`);
for (const row of table) process.stdout.write(`${row.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}\n`);
fs.mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
writeResult('backfill', { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadBefore: os.loadavg(), users, days, from, to: end, repeat, results: rows });
