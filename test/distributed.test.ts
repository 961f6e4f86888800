// Distributed execution on the real services: three `sluice worker` processes take a 20-partition backfill's steps
// from the BullMQ queue in Redis, recording in a PostgreSQL catalog; one worker is killed with SIGKILL mid-step.
// Every partition is committed exactly once (manifests and catalog), and the files equal a single-process run's.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asset, defineProject, expect as check, fileSource } from '../src/index.ts';
import { runAssets } from '../src/batch/runner.ts';
import { testQueueUrl } from '../src/config.ts';
import { Redis } from 'ioredis';
import { startStepWorker } from '../src/orchestrate/worker.ts';
import { duck } from './helpers/temp.ts';
import { openWorkspace } from '../src/workspace.ts';
import { openCatalog } from '../src/store/catalog/open-catalog.ts';
import { dateRange } from '../src/define/partitions.ts';
import { seededRandom } from '../src/random.ts';
import type { Manifest } from '../src/store/tables/manifest.ts';
import { allManifests } from './helpers/tables.ts';
import { createTestSchema, type TestSchema } from './helpers/postgres.ts';
import { deleteRedisPrefix } from './helpers/redis.ts';
import { makeTempDir, repoRoot, runCli } from './helpers/temp.ts';

const prefix = `sluice-test-dist-${randomBytes(4).toString('hex')}`;
const queueUrl = `${testQueueUrl()}?prefix=${prefix}`;
const days = dateRange('2026-03-01', '2026-03-20');

// Each step pauses (the SQL function blocks for DIST_PAUSE_MS) so a worker is killed in the middle of one.
const config = `
import { asset, dailyPartitions, defineProject, fileSource, job } from 'sluice';
const pauseMs = Number(process.env['DIST_PAUSE_MS'] ?? 0);
const days = dailyPartitions({ start: '2026-03-01' });
const events = fileSource('events', { format: 'csv', path: 'data/{date}.csv', partitions: days, columns: { user_id: 'INTEGER', amount: 'DECIMAL(10,2)' } });
const totals = asset('daily_totals', {
  partitions: days,
  sql: ({ ref, partitionDate }) => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pauseMs);
    return \`SELECT \${partitionDate} AS date, user_id, count(*) AS n, sum(amount) AS total FROM \${ref(events)} GROUP BY user_id\`;
  },
});
export default defineProject({ name: 'dist', assets: [totals], jobs: [job('daily', { assets: [totals] })] });
`;

function writeProject(dir: string): void {
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'sluice.config.ts'), config);
  const random = seededRandom(6);
  for (const day of days) {
    const rows = Array.from({ length: 200 }, () => `${Math.floor(random() * 30)},${(Math.floor(random() * 100_000) / 100).toFixed(2)}`);
    fs.writeFileSync(path.join(dir, 'data', `${day}.csv`), `user_id,amount\n${rows.join('\n')}\n`);
  }
}

function manifests(stateDir: string): Promise<Manifest[]> {
  return allManifests(stateDir, 'daily_totals');
}

/** Partition -> content hashes of its files, in the latest version. */
async function latestHashes(stateDir: string): Promise<Record<string, string[]>> {
  const latest = (await manifests(stateDir)).sort((a, b) => b.version - a.version)[0];
  return Object.fromEntries(Object.entries(latest?.partitions ?? {}).map(([key, entry]) => [key, entry.files.map((f) => f.sha256)]));
}

interface WorkerProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  /** Step ids started and finished, from the worker's log. */
  readonly started: string[];
  readonly finished: string[];
  /** When the worker last started a step (the log's time, epoch ms). */
  lastStartedAt: number;
  /** When each step finished (the log's time, epoch ms). */
  readonly finishedAt: Map<string, number>;
  /** Lines that are not JSON logs: the CLI's own messages and errors. */
  readonly messages: string[];
}

function startWorker(dir: string, env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin/sluice.mjs'), '-p', dir, 'worker', '--concurrency', '1'], {
    env: { ...process.env, ...env, SLUICE_LOG_LEVEL: 'info' }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const worker: WorkerProcess = { child, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))), started: [], finished: [], lastStartedAt: 0, finishedAt: new Map(), messages: [] };
  let buffer = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) {
        worker.messages.push(line);
        continue;
      }
      const entry = JSON.parse(line) as { msg?: string; step?: string; time?: number };
      if (entry.msg === 'step started' && entry.step !== undefined) {
        worker.started.push(entry.step);
        worker.lastStartedAt = entry.time ?? Date.now();
      }
      if (entry.msg === 'step finished' && entry.step !== undefined) {
        worker.finished.push(entry.step);
        worker.finishedAt.set(entry.step, entry.time ?? Date.now());
      }
    }
  });
  return worker;
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('distributed steps on BullMQ workers', () => {
  let dir: string;
  let cleanup: () => void;
  let pgSchema: TestSchema;
  let catalogUrl: string;
  const workers: WorkerProcess[] = [];
  beforeAll(async () => {
    pgSchema = await createTestSchema('sluice_dist');
    catalogUrl = `${pgSchema.url}?schema=${pgSchema.schema}`;
    ({ dir, cleanup } = makeTempDir('sluice-dist-'));
    writeProject(path.join(dir, 'queue'));
    writeProject(path.join(dir, 'single'));
  });
  afterAll(async () => {
    for (const w of workers) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await deleteRedisPrefix(prefix);
    await pgSchema.drop();
    cleanup();
  });

  it('completes every partition exactly once after a worker is killed, equal to a single-process run', async () => {
    const project = path.join(dir, 'queue');
    const env = { SLUICE_QUEUE_URL: queueUrl, SLUICE_CATALOG_URL: catalogUrl, DIST_PAUSE_MS: '700' };
    for (let i = 0; i < 3; i++) workers.push(startWorker(project, env));
    const coordinator = runCli(['-p', project, '--json', 'backfill', 'daily', '--from', days[0] ?? '', '--to', days.at(-1) ?? '', '--max-parallel', '6'], { env });

    // Kill a worker in the middle of a step, once the run is well under way: one that started a step less than
    // 300 ms ago, so it is surely inside the step's 700 ms pause, before its commit.
    await until(() => workers.reduce((n, w) => n + w.finished.length, 0) >= 4, 45_000, 'four finished steps');
    const busy = (w: WorkerProcess): boolean => w.started.length > w.finished.length && Date.now() - w.lastStartedAt < 300;
    await until(() => workers.some(busy), 10_000, 'a busy worker');
    const victim = workers.find(busy) as WorkerProcess;
    const killedStep = victim.started.at(-1) as string;
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    expect(await victim.exited).toBeNull();

    const result = await coordinator;
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as { status: string; partitions: { partition: string; status: string; runId: string }[] };
    expect(summary.status).toBe('success');
    expect(summary.partitions.map((p) => [p.partition, p.status])).toEqual(days.map((d) => [d, 'success']));

    // The killed worker's step was taken over by another worker, which finished it.
    const survivors = workers.filter((w) => w !== victim);
    expect(survivors.some((w) => w.finished.includes(killedStep))).toBe(true);
    expect(victim.finished).not.toContain(killedStep);
    // Quickly: its lock lapses after 6 s and a stall check runs every 2 s; the step itself takes under a second.
    const recoveredAt = Math.max(...survivors.map((w) => w.finishedAt.get(killedStep) ?? 0));
    expect(recoveredAt - killedAt).toBeLessThan(12_000);

    // Exactly once: 20 versions, each changing one partition, every partition once.
    const stateDir = path.join(project, '.sluice');
    const versions = await manifests(stateDir);
    expect(versions).toHaveLength(20);
    expect(versions.flatMap((m) => m.changed).sort()).toEqual(days);
    const catalog = await openCatalog(catalogUrl);
    try {
      const recorded = await catalog.listVersions('daily_totals');
      expect(recorded.flatMap((v) => v.partitions).sort()).toEqual(days);
      for (const p of summary.partitions) {
        const steps = await catalog.listSteps(p.runId);
        expect(steps.map((s) => [s.partition, s.status, s.attempts])).toEqual([[p.partition, 'success', 1]]);
      }
      expect(await catalog.getLease(`asset:daily_totals/${days[0] ?? ''}`)).toBeUndefined();
    } finally {
      await catalog.close();
    }

    // The same project in one process (no queue, SQLite catalog) writes the same bytes.
    const single = await runCli(['-p', path.join(dir, 'single'), 'run', '--from', days[0] ?? '', '--to', days.at(-1) ?? '', '--concurrency', '4']);
    expect(single.code, single.stderr).toBe(0);
    expect(await latestHashes(stateDir)).toEqual(await latestHashes(path.join(dir, 'single', '.sluice')));

    // SIGTERM: the surviving workers finish (nothing is running) and exit cleanly.
    for (const w of survivors) w.child.kill('SIGTERM');
    expect(await Promise.all(survivors.map((w) => w.exited)), survivors.map((w) => w.messages.join('\n')).join('\n')).toEqual([0, 0]);
  });
});

describe('sluice worker', () => {
  it('says what to set when there is no queue', async () => {
    const { dir, cleanup } = makeTempDir('sluice-worker-');
    try {
      writeProject(dir);
      const result = await runCli(['-p', dir, 'worker']);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe('error [CONFIG_INVALID]: sluice worker needs the step queue: set SLUICE_QUEUE_URL=redis://host:port (the same for `sluice run` and every worker)\n');
      const badPrefix = await runCli(['-p', dir, 'worker'], { env: { SLUICE_QUEUE_URL: 'redis://127.0.0.1:6379?prefix=a:b' } });
      expect(badPrefix.stderr).toBe(`error [CONFIG_INVALID]: SLUICE_QUEUE_URL redis://127.0.0.1:6379?prefix=a:b: prefix "a:b" must be letters, digits, '.', '_' or '-'\n`);
    } finally {
      cleanup();
    }
  });
});

// One suite over both executors (the seam batch/executor.ts): a step's outcome, its warnings, a failed error check
// and a timeout come back the same whether the attempt ran in process or on a queue worker.
describe.each([{ executor: 'in-process' as const }, { executor: 'queue' as const }])('step executor: $executor', ({ executor }) => {
  it('returns outcomes with warnings, and fails a blocked check and a timeout with the same messages and records', async () => {
    const { dir, cleanup } = makeTempDir('sluice-queue-');
    const queuePrefix = `${prefix}-outcomes-${executor}`;
    fs.mkdirSync(path.join(dir, 'data'));
    fs.writeFileSync(path.join(dir, 'data', 'orders.csv'), 'id,amount\n1,10\n2,-5\n3,\n');
    const orders = fileSource('orders', { format: 'csv', path: 'data/orders.csv', columns: { id: 'INTEGER', amount: 'INTEGER' } });
    const warned = asset('warned', { sql: ({ ref }) => `SELECT * FROM ${ref(orders)}`, checks: [check.columnValuesToNotBeNull('amount', { severity: 'warn' })] });
    const blocked = asset('blocked', { sql: ({ ref }) => `SELECT * FROM ${ref(orders)}`, checks: [check.columnValuesToBeBetween('amount', { minValue: 0 })] });
    const slow = asset('slow', { retry: { retries: 0, timeoutMs: 300 }, sql: 'SELECT sum(hash(a.range * b.range)) AS x FROM range(100000) a, range(100000) b' });
    // On the queue, one workspace is both the coordinator (its executor is the queue) and, through
    // startStepWorker, the worker.
    const ws = await openWorkspace(defineProject({ name: 'outcomes', assets: [warned, blocked, slow] }), dir, { queueUrl: executor === 'queue' ? `${testQueueUrl()}?prefix=${queuePrefix}` : null });
    const worker = executor === 'queue' ? await startStepWorker(ws, { concurrency: 3 }) : undefined;
    try {
      expect(ws.executor.kind).toBe(executor);
      const summary = await runAssets(ws, { concurrency: 3 });
      const byAsset = new Map(summary.steps.map((s) => [s.asset, s]));
      expect(byAsset.get('warned')).toMatchObject({ status: 'success', attempts: 1 });
      expect(byAsset.get('warned')?.outcome?.checks?.warnings.map((w) => w.expectation_config.type)).toEqual(['expect_column_values_to_not_be_null']);
      expect(byAsset.get('blocked')).toMatchObject({ status: 'failed', attempts: 1 });
      expect(byAsset.get('blocked')?.error).toMatch(/^asset "blocked": 1 error check\(s\) failed, nothing was published: expect_column_values_to_be_between\(amount\)/);
      expect(byAsset.get('slow')?.error).toBe('asset "slow": attempt 1 ran longer than its limit of 300 ms (retry.timeoutMs) and was stopped');
      // The coordinator recorded what the worker did: the warning and the failed check are in the catalog.
      const checks = await ws.catalog.listChecks({ runId: summary.runId });
      expect(checks.map((c) => [c.target, c.expectationType, c.success]).sort()).toEqual([
        ['blocked', 'expect_column_values_to_be_between', false],
        ['warned', 'expect_column_values_to_not_be_null', false],
      ]);
      expect((await ws.catalog.listVersions('warned')).map((v) => v.runId)).toEqual([summary.runId]);
    } finally {
      await worker?.close();
      await ws.close();
      if (executor === 'queue') await deleteRedisPrefix(queuePrefix);
      cleanup();
    }
  });
});

describe('a worker that lost its job', () => {
  it('does not commit: the job lock is checked right before the commit, and the re-delivered job commits', async () => {
    const { dir, cleanup } = makeTempDir('sluice-fence-');
    const fencePrefix = `${prefix}-fence`;
    let calls = 0;
    // The first build (call 2; call 1 is the load-time probe) is slow and would write marker 2; the re-delivered
    // one writes marker 3. Whatever is committed tells which build did it.
    const marked = asset('marked', {
      sql: () => {
        calls++;
        return calls === 2 ? `SELECT 2 AS marker, sum(hash(range)) AS x FROM range(60000000)` : `SELECT ${calls} AS marker, 0::UBIGINT AS x`;
      },
    });
    const ws = await openWorkspace(defineProject({ name: 'fence', assets: [marked] }), dir, { queueUrl: `${testQueueUrl()}?prefix=${fencePrefix}` });
    const worker = await startStepWorker(ws, { concurrency: 2 });
    const redis = new Redis(testQueueUrl());
    try {
      const running = runAssets(ws);
      // As if the worker stalled past its lock: the lock goes while the first build runs, as the stall check sees it.
      let lockKeys: string[] = [];
      for (const deadline = Date.now() + 30_000; lockKeys.length === 0; await new Promise((resolve) => setTimeout(resolve, 10))) {
        if (Date.now() > deadline) throw new Error('the job never took its lock');
        lockKeys = await redis.keys(`${fencePrefix}:sluice-fence-steps:*:lock`);
      }
      await redis.del(...lockKeys);
      const summary = await running;
      expect(summary.steps[0]).toMatchObject({ status: 'success', attempts: 1 });
      expect(calls).toBe(3);
      expect(await ws.tables.versions('marked')).toEqual([1]);
      const latest = await ws.tables.latest('marked');
      const file = path.join(ws.stateDir, 'tables', 'marked', latest?.partitions['']?.files[0]?.path ?? '');
      expect(await duck(`SELECT marker FROM read_parquet('${file}')`)).toEqual([{ marker: 3 }]);
    } finally {
      redis.disconnect();
      await worker.close();
      await ws.close();
      await deleteRedisPrefix(fencePrefix);
      cleanup();
    }
  });
});
