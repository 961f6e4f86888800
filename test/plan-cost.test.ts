// What planning and skipping do over a long history (issue: years of partitions): a no-op run over a range
// decides every step up to date at once and records each as skipped with its version and reads; a changed day
// rebuilds exactly itself and the windows that read it, with the right values; a failure still stops exactly
// its downstream steps; a backfill --rerun makes runs only for the partitions that changed.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { queryTable } from '../src/batch/inspect.ts';
import { runAssets, type RunSummary } from '../src/batch/runner.ts';
import { asset } from '../src/define/asset.ts';
import { job } from '../src/define/job.ts';
import { addDays, dailyPartitions, dateRange } from '../src/define/partitions.ts';
import { defineProject } from '../src/define/project.ts';
import { fileSource } from '../src/define/source.ts';
import { backfill } from '../src/orchestrate/backfill.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';
import { tempProjectEachTest } from './helpers/temp.ts';

let dir: string;
const opened: Workspace[] = [];
tempProjectEachTest('sluice-plan-cost-', {}, (d) => (dir = d), opened);

const START = '2025-01-01';
const DAYS = 40;
const END = addDays(START, DAYS - 1);
const LOOKBACK = 6;
const partitions = dailyPartitions({ start: START });
const readings = fileSource('readings', { format: 'csv', path: 'data/{date}.csv', partitions, columns: { entity: 'VARCHAR', value: 'DOUBLE' } });
const obs = asset('obs', { partitions, sql: ({ ref }) => `SELECT entity, value FROM ${ref(readings)}` });
const rolling = asset('rolling', {
  partitions,
  sql: ({ ref }) => `SELECT entity, sum(value) AS value_7d, count(*) AS n FROM ${ref(obs, { lookback: LOOKBACK })} GROUP BY entity`,
});
const project = defineProject({ name: 'plan_cost', sources: [readings], assets: [obs, rolling], jobs: [job('rolling_job', { assets: [rolling] })] });

/** Day i's value of entity a (b is twice it); `bump` changes a day. */
const values = new Map<string, number>();
function writeDay(day: string, value: number): void {
  values.set(day, value);
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'data', `${day}.csv`), `entity,value\na,${value}\nb,${value * 2}\n`);
}

async function open(): Promise<Workspace> {
  const stateDir = path.join(dir, '.sluice');
  const ws = await openWorkspace(project, dir, { stateDir, catalogUrl: `sqlite:${path.join(stateDir, 'catalog.db')}` });
  opened.push(ws);
  return ws;
}

function counts(summary: RunSummary): Record<string, number> {
  const out: Record<string, number> = {};
  for (const step of summary.steps) out[step.status] = (out[step.status] ?? 0) + 1;
  return out;
}

/** What rolling@day must hold for entity a: the sum of the days of its window that exist. */
function expectedWindow(day: string): number {
  let sum = 0;
  for (let i = 0; i <= LOOKBACK; i++) sum += values.get(addDays(day, -i)) ?? 0;
  return sum;
}

describe('planning over a long history', () => {
  it('decides a no-op range up front, rebuilds a changed day and its windows only, and stops downstream of a failure', async () => {
    const days = dateRange(START, END);
    days.forEach((day, i) => writeDay(day, i + 1));
    const ws = await open();
    const cold = await runAssets(ws, { assets: ['rolling'], partitions: days });
    expect(counts(cold)).toEqual({ success: 2 * DAYS });

    const events: string[] = [];
    const noop = await runAssets(ws, { assets: ['rolling'], partitions: days, onEvent: (e) => events.push(e.type) });
    expect(noop.status).toBe('success');
    expect(counts(noop)).toEqual({ skipped: 2 * DAYS });
    expect(events.filter((t) => t === 'up-to-date')).toHaveLength(1);
    expect(events.filter((t) => t === 'step-start')).toHaveLength(0);
    // Each skipped step is recorded with the version it found current and what it read.
    const steps = await ws.catalog.listSteps(noop.runId);
    expect(steps).toHaveLength(2 * DAYS);
    const latest = { obs: (await ws.tables.latest('obs'))?.version, rolling: (await ws.tables.latest('rolling'))?.version };
    for (const step of steps) {
      expect(step.status).toBe('skipped');
      expect(step.version).toBe(latest[step.asset as 'obs' | 'rolling']);
      expect(step.rowsOut).toBe(2);
    }
    const reads = (await ws.catalog.listLineage({ runId: noop.runId })).filter((e) => e.direction === 'read');
    expect(reads).toHaveLength(2 * DAYS);
    const window = reads.find((e) => e.stepId === steps.find((s) => s.asset === 'rolling' && s.partition === addDays(START, 10))?.id);
    expect(window).toMatchObject({ dataset: 'obs', kind: 'asset', partition: dateRange(addDays(START, 10 - LOOKBACK), addDays(START, 10)).join(',') });

    // One day changes: it and the LOOKBACK + 1 windows that read it rebuild, nothing else.
    const changed = addDays(START, 20);
    writeDay(changed, 1000);
    const change = await runAssets(ws, { assets: ['rolling'], partitions: days });
    expect(counts(change)).toEqual({ success: 1 + LOOKBACK + 1, skipped: 2 * DAYS - (LOOKBACK + 2) });
    expect(change.steps.filter((s) => s.status === 'success').map((s) => s.key).sort()).toEqual(
      [`obs@${changed}`, ...dateRange(changed, addDays(changed, LOOKBACK)).map((d) => `rolling@${d}`)].sort(),
    );
    const table = await queryTable(ws, 'rolling', (t) => `SELECT strftime(date, '%Y-%m-%d') AS day, value_7d FROM ${t} WHERE entity = 'a' ORDER BY day`);
    expect(table).toEqual(days.map((day) => ({ day, value_7d: expectedWindow(day) })));

    // A day whose file breaks: its step fails, exactly the windows over it are not run, the rest are skipped.
    const broken = addDays(START, 30);
    fs.writeFileSync(path.join(dir, 'data', `${broken}.csv`), 'entity,value\na,not-a-number\n');
    const failed = await runAssets(ws, { assets: ['rolling'], partitions: days });
    expect(failed.status).toBe('failed');
    expect(counts(failed)).toEqual({ failed: 1, upstream_failed: LOOKBACK + 1, skipped: 2 * DAYS - (LOOKBACK + 2) });
    expect(failed.steps.filter((s) => s.status === 'upstream_failed').map((s) => s.partition)).toEqual(dateRange(broken, addDays(broken, LOOKBACK)));
  });

  it('makes a backfill --rerun run only the partitions that changed, counting built and skipped steps', async () => {
    const days = dateRange(START, END);
    days.forEach((day, i) => writeDay(day, i + 1));
    const ws = await open();
    const first = await backfill(ws, { job: 'rolling_job', from: START, to: END, maxParallel: 2 });
    expect(first.status).toBe('success');
    expect(first.partitions.reduce((n, p) => n + p.built, 0)).toBe(2 * DAYS);

    const changed = addDays(START, 15);
    writeDay(changed, 500);
    const dry = await backfill(ws, { job: 'rolling_job', from: START, to: END, rerunSucceeded: true, dryRun: true });
    const affected = dateRange(changed, addDays(changed, LOOKBACK));
    expect(dry.partitions.filter((p) => p.status === 'planned').map((p) => p.partition)).toEqual(affected);
    expect(dry.partitions.filter((p) => p.status === 'up-to-date')).toHaveLength(DAYS - affected.length);

    const rerun = await backfill(ws, { job: 'rolling_job', from: START, to: END, rerunSucceeded: true, maxParallel: 2 });
    expect(rerun.status).toBe('success');
    const ran = rerun.partitions.filter((p) => p.status === 'success');
    expect(ran.map((p) => p.partition)).toEqual(affected);
    expect(rerun.partitions.filter((p) => p.status === 'up-to-date').every((p) => p.runId === null && p.built === 0)).toBe(true);
    // obs@changed is built by the first run that needs it; the later windows find it current.
    expect(rerun.partitions.reduce((n, p) => n + p.built, 0)).toBe(1 + affected.length);
    expect(ran.reduce((n, p) => n + p.skipped, 0)).toBe(ran.reduce((n, p) => n + p.steps, 0) - (1 + affected.length));
    expect(new Set(ran.map((p) => p.runId)).size).toBe(affected.length);
    const records = await ws.catalog.listBackfillPartitions(rerun.backfillId);
    expect(records.every((r) => r.status === 'success')).toBe(true);
    const table = await queryTable(ws, 'rolling', (t) => `SELECT strftime(date, '%Y-%m-%d') AS day, value_7d FROM ${t} WHERE entity = 'a' ORDER BY day`);
    expect(table).toEqual(days.map((day) => ({ day, value_7d: expectedWindow(day) })));
  });
});
