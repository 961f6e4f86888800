// Resuming a run: only its failed and not-yet-run steps run again; completed steps keep their versions.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { asset, defineProject, fileSource } from '../src/index.ts';
import { resumeRun } from '../src/batch/resume.ts';
import { runAssets, type RunEvent } from '../src/batch/runner.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';
import { expectSluiceError } from './helpers/errors.ts';
import { runCli, tempProjectEachTest } from './helpers/temp.ts';

let dir: string;
const open: Workspace[] = [];
tempProjectEachTest('sluice-resume-', { 'data/numbers.csv': 'n\n1\n2\n3\n' }, (d) => { dir = d; }, open);

const numbers = fileSource('numbers', { format: 'csv', path: 'data/numbers.csv', columns: { n: 'INTEGER' } });
// Arrives late: missing during the first run.
const extra = fileSource('extra', { format: 'csv', path: 'data/extra.csv', columns: { n: 'INTEGER' } });
const total = asset('total', { sql: ({ ref }) => `SELECT sum(n) AS s FROM ${ref(numbers)}` });
const doubled = asset('doubled', { sql: ({ ref }) => `SELECT s * 2 AS s FROM ${ref(total)}` });
const combined = asset('combined', { sql: ({ ref }) => `SELECT (SELECT s FROM ${ref(total)}) + sum(n) AS s FROM ${ref(extra)}` });
const report = asset('report', { sql: ({ ref }) => `SELECT s FROM ${ref(combined)}` });
const project = defineProject({ name: 'p', assets: [total, doubled, combined, report] });

async function workspace(): Promise<Workspace> {
  const ws = await openWorkspace(project, dir, { queueUrl: null });
  open.push(ws);
  return ws;
}

describe('resume', () => {
  it('reruns only the failed step and its downstream; completed steps keep their versions', async () => {
    const ws = await workspace();
    const failed = await runAssets(ws, { args: { assets: [], partitions: [], force: false } });
    expect(Object.fromEntries(failed.steps.map((s) => [s.asset, s.status]))).toEqual({ total: 'success', doubled: 'success', combined: 'failed', report: 'upstream_failed' });
    expect(failed.steps.find((s) => s.asset === 'combined')?.error).toContain('source "extra": no files match');
    const before = { total: await ws.catalog.listVersions('total'), doubled: await ws.catalog.listVersions('doubled') };

    fs.writeFileSync(path.join(dir, 'data', 'extra.csv'), 'n\n10\n');
    const events: RunEvent[] = [];
    const resumed = await resumeRun(ws, failed.runId, { onEvent: (e) => events.push(e) });
    expect(resumed.status).toBe('success');
    expect(events.filter((e) => e.type === 'step-start').map((e) => e.type === 'step-start' && e.asset)).toEqual(['combined', 'report']);
    expect(Object.fromEntries(resumed.steps.map((s) => [s.asset, [s.status, s.attempts]]))).toEqual({
      total: ['skipped', 0], doubled: ['skipped', 0], combined: ['success', 1], report: ['success', 1],
    });
    expect({ total: await ws.catalog.listVersions('total'), doubled: await ws.catalog.listVersions('doubled') }).toEqual(before);
    expect((await ws.tables.latest('total'))?.partitions['']?.runId).toBe(failed.runId);
    expect((await ws.tables.latest('report'))?.partitions['']?.runId).toBe(resumed.runId);

    const run = await ws.catalog.getRun(resumed.runId);
    expect(run?.args).toEqual({ assets: [], partitions: [], force: false, resumeOf: failed.runId });
    const steps = await ws.catalog.listSteps(resumed.runId);
    expect(Object.fromEntries(steps.map((s) => [s.asset, [s.status, s.version]]))).toEqual({ total: ['skipped', 1], doubled: ['skipped', 1], combined: ['success', 1], report: ['success', 1] });
  });

  it('names an unknown run', async () => {
    const ws = await workspace();
    const error = await expectSluiceError(resumeRun(ws, '20260101-000000Z-abcdef'), 'RUN_NOT_FOUND');
    expect(error.message).toBe('run 20260101-000000Z-abcdef is not in the sqlite catalog of project "p"; `sluice runs` lists the runs');
  });

  it('resumes from the command line with the range the run recorded', async () => {
    fs.writeFileSync(path.join(dir, 'sluice.config.ts'), `
import { asset, dailyPartitions, defineProject, fileSource } from 'sluice';
const days = dailyPartitions({ start: '2026-01-01' });
const daily = fileSource('daily', { format: 'csv', path: 'data/{date}.csv', partitions: days, columns: { n: 'INTEGER' } });
export default defineProject({ name: 'cli', assets: [asset('sums', { partitions: days, sql: ({ ref, partitionDate }) => \`SELECT \${partitionDate} AS date, sum(n) AS s FROM \${ref(daily)}\` })] });
`);
    for (const d of ['01', '02', '04']) fs.writeFileSync(path.join(dir, 'data', `2026-01-${d}.csv`), `n\n${Number(d)}\n`);
    const first = await runCli(['-p', dir, '--json', 'run', '--from', '2026-01-01', '--to', '2026-01-04']);
    expect(first.code).toBe(1);
    const runId = (JSON.parse(first.stdout) as { runId: string }).runId;
    fs.writeFileSync(path.join(dir, 'data', '2026-01-03.csv'), 'n\n3\n');
    const resumed = await runCli(['-p', dir, '--json', 'run', '--resume', runId]);
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    const summary = JSON.parse(resumed.stdout) as { steps: { partition: string; status: string }[] };
    expect(summary.steps.map((s) => [s.partition, s.status])).toEqual([['2026-01-01', 'skipped'], ['2026-01-02', 'skipped'], ['2026-01-03', 'success'], ['2026-01-04', 'skipped']]);
    const unknown = await runCli(['-p', dir, 'run', '--resume', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('error [RUN_NOT_FOUND]: run nope is not in the sqlite catalog of project "cli"; `sluice runs` lists the runs\n');
  });
});
