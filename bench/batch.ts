// Benchmark: one partition of the churn example's user_features, cold (30 daily aggregates from raw logs,
// users_clean, the rolling features), by sluice vs the same SQL straight through DuckDB vs nodejs-polars.
// Usage: npm run bench:batch -- [--users 100000] [--days 35] [--seed 42] [--repeat 3] [--skip polars]
// Prints a table and writes bench/results/batch.json.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../src/engine/engine.ts';
import { generateChurn } from '../src/generate/churn.ts';
import { quoteLiteral } from '../src/sql/identifiers.ts';
import { median, numberFlag, writeResult } from './harness.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const users = numberFlag('users', 100_000);
const days = numberFlag('days', 35);
const seed = numberFlag('seed', 42);
const repeat = numberFlag('repeat', 3);
const date = '2026-11-25';

interface Sample { ms: number; maxRssMb: number; processMs: number; outFile: string }

/** Run a command under GNU time, returning its wall time and peak RSS. */
function timed(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): { ms: number; maxRssMb: number; stdout: string } {
  const t0 = performance.now();
  const result = spawnSync('/usr/bin/time', ['-f', '__RSS_KB=%M', command, ...args], { env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const ms = performance.now() - t0;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed:\n${result.stderr}`);
  const rss = /__RSS_KB=(\d+)/.exec(result.stderr);
  return { ms, maxRssMb: Number(rss?.[1] ?? NaN) / 1024, stdout: result.stdout };
}

const skip = new Set((process.argv.includes('--skip') ? process.argv[process.argv.indexOf('--skip') + 1] ?? '' : '').split(',').filter((m) => m !== ''));

function worker(mode: string, projectDir: string, outDir: string): Sample {
  fs.rmSync(outDir, { recursive: true, force: true });
  const run = timed(process.execPath, ['--import', 'tsx', path.join(root, 'bench/batch-worker.ts'), mode, projectDir, date, outDir]);
  const line = run.stdout.trim().split('\n').at(-1) ?? '{}';
  const parsed = JSON.parse(line) as { ms: number; maxRssMb: number; outFile: string };
  return { ms: parsed.ms, maxRssMb: run.maxRssMb, processMs: run.ms, outFile: parsed.outFile };
}

function cli(projectDir: string, outDir: string): Sample {
  fs.rmSync(outDir, { recursive: true, force: true });
  const run = timed(process.execPath, [path.join(root, 'bin/sluice.mjs'), 'run', 'user_features', '--partition', date, '--json', '-p', projectDir], { ...process.env, SLUICE_HOME: path.join(outDir, 'state'), SLUICE_LOG_LEVEL: 'error' });
  const summary = JSON.parse(run.stdout) as { status: string; ms: number };
  if (summary.status !== 'success') throw new Error('sluice run failed');
  return { ms: run.ms, maxRssMb: run.maxRssMb, processMs: run.ms, outFile: '' };
}

const FEATURE_COLUMNS = ['user_id', 'logins_7d', 'logins_30d', 'session_seconds_7d', 'session_seconds_30d', 'actions_7d', 'actions_30d', 'days_active_30d', 'days_since_last_login', 'tenure_days'];

/** Rows present in one output and not the other, both ways (0 means identical multisets). */
async function difference(a: string, b: string): Promise<number> {
  const engine = await Engine.open();
  try {
    const cols = [...FEATURE_COLUMNS.map((c) => `${c}::BIGINT AS ${c}`), 'signup_date::DATE AS signup_date', 'country::VARCHAR AS country', 'plan::VARCHAR AS plan'].join(', ');
    const sel = (f: string): string => `SELECT ${cols} FROM read_parquet(${quoteLiteral(f)}, hive_partitioning = false)`;
    const rows = await engine.withSession((s) => s.query<{ n: bigint }>(`SELECT (SELECT count(*) FROM (${sel(a)} EXCEPT ALL ${sel(b)})) + (SELECT count(*) FROM (${sel(b)} EXCEPT ALL ${sel(a)})) AS n`));
    return Number(rows[0]?.n ?? -1n);
  } finally {
    engine.close();
  }
}

async function main(): Promise<void> {
  const dataRoot = path.join(root, 'bench', 'data', `churn-u${users}-d${days}-s${seed}`);
  const projectDir = dataRoot;
  if (!fs.existsSync(path.join(dataRoot, 'data', 'users.csv'))) {
    process.stderr.write(`generating ${users} users x ${days} days into ${dataRoot} ...\n`);
    const summary = await generateChurn({ users, days, seed, out: path.join(dataRoot, 'data'), endDate: date });
    process.stderr.write(`generated ${summary.totalEvents} events (${(summary.totalBytes / 1e6).toFixed(0)} MB) in ${(summary.elapsedMs / 1000).toFixed(1)}s\n`);
  }
  fs.copyFileSync(path.join(root, 'examples/churn/sluice.config.ts'), path.join(projectDir, 'sluice.config.ts'));

  // Input rows: the events in the 31 log folders the partition reads.
  const engine = await Engine.open();
  const inputRows = await engine.withSession(async (s) => {
    const rows = await s.query<{ n: bigint }>(`SELECT sum(num_rows)::BIGINT AS n FROM parquet_file_metadata(${quoteLiteral(path.join(dataRoot, 'data', 'logs', '*', '*.parquet'))}) WHERE file_name >= ${quoteLiteral(path.join(dataRoot, 'data', 'logs', 'date=2026-10-27'))}`);
    return Number(rows[0]?.n ?? 0n);
  });
  engine.close();

  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-'));
  const samples: Record<string, Sample[]> = { sluice: [], 'sluice-checks': [], duckdb: [], polars: [], cli: [] };
  for (let i = 0; i < repeat; i++) {
    for (const mode of ['duckdb', 'sluice', 'sluice-checks', 'polars'] as const) {
      if (skip.has(mode)) continue;
      samples[mode]?.push(worker(mode, projectDir, path.join(scratch, `${mode}-${i}`)));
      process.stderr.write(`${mode} #${i + 1}: ${samples[mode]?.at(-1)?.ms.toFixed(0)} ms\n`);
    }
    samples['cli']?.push(cli(projectDir, path.join(scratch, `cli-${i}`)));
    process.stderr.write(`cli #${i + 1}: ${samples['cli']?.at(-1)?.ms.toFixed(0)} ms\n`);
  }
  const sluiceOut = samples['sluice']?.[0]?.outFile ?? '';
  const diffDuck = await difference(sluiceOut, samples['duckdb']?.[0]?.outFile ?? '');
  const diffPolars = skip.has('polars') ? null : await difference(sluiceOut, samples['polars']?.[0]?.outFile ?? '');

  const summary = (mode: string): { ms: number; processMs: number; maxRssMb: number } => {
    const s = samples[mode] ?? [];
    return { ms: median(s.map((x) => x.ms)), processMs: median(s.map((x) => x.processMs)), maxRssMb: Math.max(...s.map((x) => x.maxRssMb)) };
  };
  const sl = summary('sluice');
  const dk = summary('duckdb');
  const po = summary('polars');
  const cl = summary('cli');
  const sc = summary('sluice-checks');
  const result = {
    benchmark: 'batch',
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    shape: { users, days, seed, partition: date, inputRows, repeat },
    what: 'one cold partition of user_features: users_clean + 30 daily activity partitions from raw logs + the rolling features',
    modes: {
      sluice: { ...sl, rowsPerSecond: Math.round(inputRows / (sl.ms / 1000)), note: 'runAssets in process: the code path of `sluice run`, fresh state' },
      sluice_with_checks: { ...sc, rowsPerSecond: Math.round(inputRows / (sc.ms / 1000)), note: 'the same with the example suite (checks on every partition before publishing)' },
      sluice_cli: { ...cl, rowsPerSecond: Math.round(inputRows / (cl.ms / 1000)), note: '`sluice run` as a child process, including Node/tsx startup' },
      duckdb: { ...dk, note: 'the same SQL statements directly in one DuckDB connection' },
      polars: { ...po, note: 'the same transform in nodejs-polars 0.25.2' },
    },
    ratios: {
      sluice_vs_duckdb: sl.ms / dk.ms,
      sluice_cli_vs_duckdb: cl.ms / dk.ms,
      sluice_vs_polars: sl.ms / po.ms,
      goal: 'sluice/duckdb <= 1.15; sluice/polars < 1',
    },
    outputsAgree: { sluice_vs_duckdb_differing_rows: diffDuck, sluice_vs_polars_differing_rows: diffPolars },
  };
  fs.mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
  // The default scale is the headline result; other scales are kept beside it.
  const name = users === 100_000 && days === 35 ? 'batch.json' : `batch-u${users}-d${days}.json`;
  writeResult(name.replace(/\.json$/, ''), result);
  fs.rmSync(scratch, { recursive: true, force: true });

  const rows = [
    ['mode', 'wall ms (median)', 'process ms', 'peak RSS MB', 'input rows/s', 'ratio'],
    ['sluice (in process)', sl.ms.toFixed(0), sl.processMs.toFixed(0), sl.maxRssMb.toFixed(0), String(result.modes.sluice.rowsPerSecond), '1.00'],
    ['sluice + checks', sc.ms.toFixed(0), sc.processMs.toFixed(0), sc.maxRssMb.toFixed(0), String(result.modes.sluice_with_checks.rowsPerSecond), (sc.ms / sl.ms).toFixed(2)],
    ['sluice run (CLI)', cl.ms.toFixed(0), cl.processMs.toFixed(0), cl.maxRssMb.toFixed(0), String(result.modes.sluice_cli.rowsPerSecond), (cl.ms / sl.ms).toFixed(2)],
    ['duckdb direct', dk.ms.toFixed(0), dk.processMs.toFixed(0), dk.maxRssMb.toFixed(0), String(Math.round(inputRows / (dk.ms / 1000))), (dk.ms / sl.ms).toFixed(2)],
    ['nodejs-polars', po.ms.toFixed(0), po.processMs.toFixed(0), po.maxRssMb.toFixed(0), String(Math.round(inputRows / (po.ms / 1000))), (po.ms / sl.ms).toFixed(2)],
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  process.stdout.write(`batch: ${users.toLocaleString('en-US')} users, ${inputRows.toLocaleString('en-US')} input events, partition ${date}\n`);
  for (const r of rows.filter((row) => !(skip.has('polars') && row[0] === 'nodejs-polars'))) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}\n`);
  process.stdout.write(`sluice/duckdb = ${result.ratios.sluice_vs_duckdb.toFixed(3)} (goal <= 1.15), sluice/polars = ${skip.has('polars') ? 'skipped' : result.ratios.sluice_vs_polars.toFixed(3)} (goal < 1)\n`);
  process.stdout.write(`outputs agree: vs duckdb ${diffDuck === 0 ? 'yes' : `NO (${diffDuck} rows differ)`}, vs polars ${diffPolars === null ? 'skipped' : diffPolars === 0 ? 'yes' : `NO (${diffPolars} rows differ)`}\n`);
}

await main();
