// Benchmark: per-step overhead of the runner, end to end, for empty steps: `one` (SELECT 1 AS x, unpartitioned,
// one step per run, --runs times) and `daily` (the same per day, 200 partitions in one run). Every step is forced,
// so each one plans, takes its lease, runs DuckDB, writes and commits a version and records itself in the catalog.
// Modes: in process; through the BullMQ queue (Redis) with 1 and 2 `sluice worker` processes (concurrency 2
// each). All modes share one machine and a SQLite catalog, so the queue figures are the queue's own overhead.
// Usage: npm run bench:steps -- [--runs 30] [--partitions 200] [--concurrency 4]
// Prints a table and writes bench/results/steps.json.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAssets } from '../src/batch/runner.ts';
import { testQueueUrl } from '../src/config.ts';
import { addDays } from '../src/define/partitions.ts';
import { loadProject } from '../src/load-project.ts';
import { openWorkspace } from '../src/workspace.ts';
import { deleteRedisPrefix } from '../test/helpers/redis.ts';
import { numberFlag, quantile, writeResult } from './harness.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const runs = numberFlag('runs', 30);
const partitionCount = numberFlag('partitions', 200);
const concurrency = numberFlag('concurrency', 4);
const prefix = `sluice-bench-steps-${randomBytes(4).toString('hex')}`;
// The test Redis (SLUICE_TEST_QUEUE_URL), under a prefix of this run's own, deleted afterwards.
const queueUrl = `${testQueueUrl()}?prefix=${prefix}`;
const partitions = Array.from({ length: partitionCount }, (_, i) => addDays('2026-01-01', i));

const config = `
import { asset, dailyPartitions, defineProject } from 'sluice';
const one = asset('one', { sql: 'SELECT 1 AS x' });
const daily = asset('daily', { partitions: dailyPartitions({ start: '2026-01-01' }), sql: ({ partitionDate }) => \`SELECT \${partitionDate} AS date, 1 AS x\` });
export default defineProject({ name: 'bench_steps', assets: [one, daily] });
`;

interface Row {
  mode: string;
  asset: string;
  steps: number;
  p50Ms: number;
  p99Ms: number;
  stepsPerSecond: number;
}

function row(mode: string, asset: string, stepMs: number[], wallMs: number): Row {
  const sorted = [...stepMs].sort((a, b) => a - b);
  return { mode, asset, steps: stepMs.length, p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99), stepsPerSecond: stepMs.length / (wallMs / 1000) };
}

function startWorker(dir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(root, 'bin/sluice.mjs'), '-p', dir, 'worker', '--concurrency', '2'], {
    env: { ...process.env, SLUICE_QUEUE_URL: queueUrl, SLUICE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      if (err.includes(' ready: ')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`worker exited (${String(code)}): ${err}`)));
  });
}

async function stopWorker(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

async function benchMode(mode: string, workers: number): Promise<Row[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-steps-'));
  fs.writeFileSync(path.join(dir, 'sluice.config.ts'), config);
  const children = await Promise.all(Array.from({ length: workers }, () => startWorker(dir)));
  const { project, projectDir } = await loadProject(dir);
  const ws = await openWorkspace(project, projectDir, { queueUrl: workers === 0 ? null : queueUrl, concurrency });
  try {
    // Warm-up: DuckDB, the catalog, the queue connections and the workers' first job.
    await runAssets(ws, { assets: ['one'], force: true });
    const oneMs: number[] = [];
    const t0 = Date.now();
    for (let i = 0; i < runs; i++) {
      const summary = await runAssets(ws, { assets: ['one'], force: true });
      if (summary.status !== 'success') throw new Error(`${mode}: ${summary.steps[0]?.error ?? 'failed'}`);
      oneMs.push(summary.steps[0]?.ms ?? Number.NaN);
    }
    const oneWall = Date.now() - t0;
    const t1 = Date.now();
    const daily = await runAssets(ws, { assets: ['daily'], partitions, force: true });
    if (daily.status !== 'success') throw new Error(`${mode}: daily failed`);
    const dailyWall = Date.now() - t1;
    return [row(mode, 'one (1 step per run)', oneMs, oneWall), row(mode, `daily (${partitionCount} partitions)`, daily.steps.map((s) => s.ms), dailyWall)];
  } finally {
    await ws.close();
    await Promise.all(children.map(stopWorker));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const results: Row[] = [];
try {
  results.push(...await benchMode('in process', 0));
  results.push(...await benchMode('queue, 1 worker', 1));
  results.push(...await benchMode('queue, 2 workers', 2));
} finally {
  await deleteRedisPrefix(prefix);
}

const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(i === 0 ? 18 : 24) : c.padStart(10))).join(' ');
console.log(`per-step overhead: empty steps, forced (lease, DuckDB, Parquet, commit, catalog), concurrency ${concurrency}, SQLite catalog, ${os.cpus().length} CPUs`);
console.log(line(['mode', 'asset', 'steps', 'p50 ms', 'p99 ms', 'steps/s']));
for (const r of results) console.log(line([r.mode, r.asset, String(r.steps), r.p50Ms.toFixed(0), r.p99Ms.toFixed(0), r.stepsPerSecond.toFixed(1)]));

const result = {
  benchmark: 'steps',
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, loadAverage: os.loadavg() },
  shape: { runs, partitions: partitionCount, concurrency, workerConcurrency: 2, catalog: 'sqlite', queue: 'bullmq on redis' },
  results,
};
fs.mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
writeResult('steps', result);
