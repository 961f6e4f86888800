// Backfills: one run per partition with bounded concurrency, progress with an ETA, dry runs that write nothing,
// and a second invocation that continues where the first stopped.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { asset, dailyPartitions, defineProject, fileSource, job } from '../src/index.ts';
import { queryTable } from '../src/batch/inspect.ts';
import { addDays, dateRange } from '../src/define/partitions.ts';
import { backfill, type BackfillProgress } from '../src/orchestrate/backfill.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';
import { expectSluiceError } from './helpers/errors.ts';
import { makeTempDir } from './helpers/temp.ts';

let dir: string;
let cleanup: () => void;
const open: Workspace[] = [];

const START = '2026-10-01';
const DAYS = 12;

function writeDay(day: string, extra = 0): void {
  const d = Number(day.slice(8)) + extra;
  const rows = Array.from({ length: d }, (_, i) => `${i},${day},${(i * 7 + d) % 5}`).join('\n');
  fs.writeFileSync(path.join(dir, 'data', `${day}.csv`), `id,day,amount\n${rows}\n`);
}

const events = fileSource('events', {
  format: 'csv', path: 'data/{date}.csv', partitions: dailyPartitions({ start: START }),
  columns: { id: 'INTEGER', day: 'DATE', amount: 'INTEGER' },
});
const daily = asset('daily_totals', {
  partitions: dailyPartitions({ start: START }),
  sql: ({ ref }) => `SELECT count(*)::INT AS n, sum(amount)::INT AS total FROM ${ref(events)}`,
});
const project = defineProject({ name: 'bf', assets: [daily], jobs: [job('daily_job', { assets: [daily] })] });

const CONFIG = `import { asset, dailyPartitions, defineProject, fileSource, job } from 'sluice';
const events = fileSource('events', { format: 'csv', path: 'data/{date}.csv', partitions: dailyPartitions({ start: '${START}' }), columns: { id: 'INTEGER', day: 'DATE', amount: 'INTEGER' } });
const daily = asset('daily_totals', { partitions: dailyPartitions({ start: '${START}' }), sql: ({ ref }) => \`SELECT count(*)::INT AS n, sum(amount)::INT AS total FROM \${ref(events)}\` });
export default defineProject({ name: 'bf', assets: [daily], jobs: [job('daily_job', { assets: [daily] })] });
`;

beforeEach(() => {
  ({ dir, cleanup } = makeTempDir('sluice-backfill-'));
  fs.mkdirSync(path.join(dir, 'data'));
});
afterEach(async () => {
  for (const ws of open.splice(0)) await ws.close();
  cleanup();
});

async function workspace(): Promise<Workspace> {
  const ws = await openWorkspace(project, dir);
  open.push(ws);
  return ws;
}

const end = addDays(START, DAYS - 1);

describe('backfill', () => {
  it('runs one run per partition, at most K at once, and continues where it stopped', async () => {
    const missing = addDays(START, 4);
    for (const day of dateRange(START, end)) if (day !== missing) writeDay(day);
    const ws = await workspace();
    const progress: BackfillProgress[] = [];
    const first = await backfill(ws, { job: 'daily_job', from: START, to: end, maxParallel: 3, onProgress: (p) => progress.push(p) });

    expect(first.status).toBe('failed');
    expect(first.partitions.filter((p) => p.status === 'success')).toHaveLength(DAYS - 1);
    const failed = first.partitions.find((p) => p.status === 'failed');
    expect(failed?.partition).toBe(missing);
    expect(failed?.error).toContain(missing);
    expect(Math.max(...progress.map((p) => p.running.length))).toBe(3);
    const last = progress.at(-1) as BackfillProgress;
    expect(last).toMatchObject({ total: DAYS, succeeded: DAYS - 1, failed: 1, remaining: 0, etaMs: 0 });
    expect(progress.filter((p) => p.finished !== null)).toHaveLength(DAYS);
    expect(progress.some((p) => p.etaMs !== null && p.etaMs > 0)).toBe(true);

    // One run per partition, each recorded with its backfill.
    const runIds = new Set(first.partitions.map((p) => p.runId));
    expect(runIds.size).toBe(DAYS);
    const run = await ws.catalog.getRun(first.partitions[0]?.runId ?? '');
    expect(run?.args).toMatchObject({ command: 'backfill', job: 'daily_job', partition: START });

    // The same backfill again: only the failed partition runs.
    writeDay(missing);
    const second = await backfill(ws, { job: 'daily_job', from: START, to: end, maxParallel: 3 });
    expect(second.status).toBe('success');
    expect(second.partitions.filter((p) => p.status === 'done-before')).toHaveLength(DAYS - 1);
    expect(second.partitions.filter((p) => p.status === 'success').map((p) => p.partition)).toEqual([missing]);
    const records = await ws.catalog.listBackfillPartitions(second.backfillId);
    expect(records.every((r) => r.status === 'success')).toBe(true);
    expect(records.find((r) => r.partition === missing)?.attempts).toBe(2);

    const totals = await queryTable(ws, 'daily_totals', (t) => `SELECT strftime(date, '%Y-%m-%d') AS day, n FROM ${t} ORDER BY day`);
    expect(totals).toEqual(dateRange(START, end).map((day) => ({ day, n: Number(day.slice(8)) })));
    // Each partition was committed by exactly one version.
    const versions = await ws.catalog.listVersions('daily_totals');
    const commits = versions.flatMap((v) => v.partitions);
    expect(commits.sort()).toEqual(dateRange(START, end));
  });

  it('plans without writing on --dry-run, and names a range outside the partitions', async () => {
    for (const day of dateRange(START, end)) writeDay(day);
    const ws = await workspace();
    const dry = await backfill(ws, { job: 'daily_job', from: addDays(START, -2), to: addDays(START, 2), dryRun: true });
    expect(dry.outOfRange).toEqual([addDays(START, -2), addDays(START, -1)]);
    expect(dry.partitions.map((p) => [p.partition, p.status, p.steps])).toEqual([[START, 'planned', 1], [addDays(START, 1), 'planned', 1], [addDays(START, 2), 'planned', 1]]);
    expect(await ws.catalog.listRuns()).toEqual([]);
    expect(await ws.catalog.listBackfillPartitions(dry.backfillId)).toEqual([]);

    await expectSluiceError(backfill(ws, { job: 'daily_job', from: '2025-01-01', to: '2025-01-03' }), 'INVALID_PARTITION');
    const unknown = await expectSluiceError(backfill(ws, { job: 'daily_jbo', from: START, to: end }), 'JOB_NOT_FOUND');
    expect(unknown.message).toContain('did you mean "daily_job"');
  });

  it('runs from the command line with a progress line per partition and an ETA', () => {
    fs.writeFileSync(path.join(dir, 'sluice.config.ts'), CONFIG);
    for (const day of dateRange(START, addDays(START, 3))) writeDay(day);
    const bin = path.resolve(import.meta.dirname, '..', 'bin', 'sluice.mjs');
    const run = (args: string[]): ReturnType<typeof spawnSync> => spawnSync(process.execPath, [bin, '-p', dir, ...args], { encoding: 'utf8', timeout: 60_000 });
    const dry = run(['backfill', 'daily_job', '--from', START, '--to', addDays(START, 3), '--dry-run']);
    expect(dry.status).toBe(0);
    expect(dry.stdout).toContain('4 of 4 partition(s) would run');
    const result = run(['backfill', 'daily_job', '--from', START, '--to', addDays(START, 3), '--max-parallel', '2']);
    expect(result.stderr).toMatch(/\[#+\.*\] 4\/4 partitions · 0 running · .* · ETA 0ms/);
    expect(result.stdout).toContain('backfill daily_job:2026-10-01:2026-10-04 success: 4 partition run(s) (4 succeeded, 0 failed), 0 up to date (no run), 0 done before; steps: 4 built, 0 skipped, 0 failed');
    expect(result.status).toBe(0);
    const again = run(['backfill', 'daily_job', '--from', START, '--to', addDays(START, 3)]);
    expect(again.stdout).toContain('0 partition run(s) (0 succeeded, 0 failed), 0 up to date (no run), 4 done before');
    // --rerun after one day changed: that day's partition runs, the others are up to date and make no run.
    writeDay(addDays(START, 1), 3);
    const rerun = run(['backfill', 'daily_job', '--from', START, '--to', addDays(START, 3), '--rerun']);
    expect(rerun.stdout).toContain('success: 1 partition run(s) (1 succeeded, 0 failed), 3 up to date (no run), 0 done before; steps: 1 built, 3 skipped, 0 failed');
    expect(rerun.status).toBe(0);
  });
});
