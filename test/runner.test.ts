// The batch runner through the API: failure isolation, retries, bounded concurrency, and the same run
// recorded in a PostgreSQL catalog.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { asset, dailyPartitions, defineProject, fileSource, SluiceError } from '../src/index.ts';
import { queryTable } from '../src/batch/inspect.ts';
import { inProcessExecutor, type StepExecutor } from '../src/batch/executor.ts';
import { runAssets, type RunEvent } from '../src/batch/runner.ts';
import { testPostgresUrl } from '../src/config.ts';
import type { Project } from '../src/define/project.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';
import { makeTempDir } from './helpers/temp.ts';

let dir: string;
let cleanup: () => void;
const open: Workspace[] = [];

beforeEach(() => {
  ({ dir, cleanup } = makeTempDir('sluice-runner-'));
  fs.mkdirSync(path.join(dir, 'data'));
  fs.writeFileSync(path.join(dir, 'data', 'numbers.csv'), 'n,grp\n1,a\n2,a\n3,b\n4,b\n5,c\n');
});
afterEach(async () => {
  for (const ws of open.splice(0)) await ws.close();
  cleanup();
});

const numbers = fileSource('numbers', { format: 'csv', path: 'data/numbers.csv', columns: { n: 'INTEGER', grp: 'VARCHAR' } });

async function workspace(project: Project, catalogUrl?: string): Promise<Workspace> {
  const ws = await openWorkspace(project, dir, catalogUrl === undefined ? {} : { catalogUrl });
  open.push(ws);
  return ws;
}

describe('runner', () => {
  it('stops the downstream of a failing step but not its independent siblings', async () => {
    const broken = asset('broken', { sql: ({ ref }) => `SELECT n, no_such_column FROM ${ref(numbers)}` });
    const afterBroken = asset('after_broken', { sql: ({ ref }) => `SELECT * FROM ${ref(broken)}` });
    const sibling = asset('sibling', { sql: ({ ref }) => `SELECT grp, sum(n) AS total FROM ${ref(numbers)} GROUP BY grp` });
    const ws = await workspace(defineProject({ name: 'p', assets: [broken, afterBroken, sibling] }));
    const summary = await runAssets(ws);
    expect(summary.status).toBe('failed');
    const status = Object.fromEntries(summary.steps.map((s) => [s.asset, s.status]));
    expect(status).toEqual({ broken: 'failed', after_broken: 'upstream_failed', sibling: 'success' });
    const brokenStep = summary.steps.find((s) => s.asset === 'broken');
    expect(brokenStep?.error).toMatch(/asset "broken": its SQL failed: .*no_such_column/s);
    expect(brokenStep?.attempts).toBe(1); // a SQL error is not transient: no retry
    expect(await ws.tables.latest('broken')).toBeUndefined();
    expect(await queryTable(ws, 'sibling', (t) => `SELECT grp, total::INT AS total FROM ${t} ORDER BY grp`)).toEqual([
      { grp: 'a', total: 3 }, { grp: 'b', total: 7 }, { grp: 'c', total: 5 },
    ]);
    const run = await ws.catalog.getRun(summary.runId);
    expect(run?.status).toBe('failed');
    expect(run?.error).toContain('broken');
    const steps = await ws.catalog.listSteps(summary.runId);
    expect(steps.find((s) => s.asset === 'after_broken')?.error).toBe('not run: upstream step broken failed');
  });

  it('retries transient errors with backoff and records the attempts', async () => {
    let calls = 0;
    const flaky = asset('flaky', {
      retry: { retries: 3, backoffMs: 20, maxDelayMs: 100 },
      sql: ({ ref }) => {
        calls++;
        // The first call is the load-time probe; then two transient failures before success.
        if (calls >= 2 && calls <= 3) throw new SluiceError('TRANSIENT', `connection reset (call ${calls})`);
        return `SELECT count(*) AS n FROM ${ref(numbers)}`;
      },
    });
    const ws = await workspace(defineProject({ name: 'p', assets: [flaky] }));
    const events: RunEvent[] = [];
    const summary = await runAssets(ws, { onEvent: (e) => events.push(e) });
    expect(summary.status).toBe('success');
    expect(summary.steps[0]?.attempts).toBe(3);
    const retries = events.filter((e) => e.type === 'step-retry');
    expect(retries).toHaveLength(2);
    const [step] = await ws.catalog.listSteps(summary.runId);
    expect(step?.attempts).toBe(3);

    let permanent = 0;
    const failing = asset('failing', { retry: { retries: 3, backoffMs: 1 }, sql: () => { permanent++; if (permanent > 1) throw new Error('syntax is wrong'); return 'SELECT 1 AS x'; } });
    const ws2 = await workspace(defineProject({ name: 'p2', assets: [failing] }));
    const failed = await runAssets(ws2);
    expect(failed.steps[0]).toMatchObject({ status: 'failed', attempts: 1 });
  });

  it('runs independent steps concurrently, never more than the bound', async () => {
    const days = dailyPartitions({ start: '2026-01-01' });
    const perDay = asset('per_day', { partitions: days, sql: ({ ref, partitionDate }) => `SELECT ${partitionDate} AS date, sum(n) AS total FROM ${ref(numbers)}` });
    const ws = await workspace(defineProject({ name: 'p', assets: [perDay] }));
    let running = 0;
    let peak = 0;
    const summary = await runAssets(ws, {
      partitions: ['2026-01-01', '2026-01-02', '2026-01-03', '2026-01-04', '2026-01-05', '2026-01-06'],
      concurrency: 3,
      onEvent: (e) => {
        if (e.type === 'step-start') peak = Math.max(peak, ++running);
        if (e.type === 'step-end') running--;
      },
    });
    expect(summary.status).toBe('success');
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(3);
    // Six concurrent commits to one table: six versions, all partitions present.
    const manifest = await ws.tables.latest('per_day');
    expect(manifest?.version).toBe(6);
    expect(Object.keys(manifest?.partitions ?? {}).sort()).toEqual(['2026-01-01', '2026-01-02', '2026-01-03', '2026-01-04', '2026-01-05', '2026-01-06']);
    const rows = await queryTable(ws, 'per_day', (t) => `SELECT count(*)::INT AS n, sum(total)::INT AS s, min(date)::VARCHAR AS first FROM ${t}`);
    expect(rows).toEqual([{ n: 6, s: 90, first: '2026-01-01' }]);
  });
});

describe('executor seam', () => {
  it('records the commit of an attempt that never reported back once, without committing again', async () => {
    const totals = asset('totals', { sql: ({ ref }) => `SELECT grp, sum(n) AS total FROM ${ref(numbers)} GROUP BY grp` });
    const ws = await workspace(defineProject({ name: 'p', assets: [totals] }));
    // As a worker killed right after its commit: attempt 1 commits, then its outcome is lost.
    const inner = inProcessExecutor(ws);
    const losing: StepExecutor = {
      kind: 'in-process',
      execute: async (task) => {
        const outcome = await inner.execute(task);
        if (task.attempt === 1) throw new SluiceError('TRANSIENT', `worker lost after committing version ${outcome.version}`);
        return outcome;
      },
      close: () => Promise.resolve(),
    };
    for (const force of [false, true]) {
      const summary = await runAssets(ws, { executor: losing, force });
      const expected = force ? 2 : 1;
      expect(summary.steps[0]).toMatchObject({ status: 'success', attempts: 2 });
      expect(await ws.tables.versions('totals')).toHaveLength(expected);
      const [step] = await ws.catalog.listSteps(summary.runId);
      expect(step).toMatchObject({ status: 'success', version: expected, rowsOut: 3 });
      expect((await ws.catalog.listVersions('totals')).map((v) => [v.version, v.runId])).toContainEqual([expected, summary.runId]);
    }
  });
});

describe('runner with a PostgreSQL catalog', () => {
  const schema = `sluice_runner_${randomBytes(4).toString('hex')}`;
  afterAll(async () => {
    const client = new pg.Client({ connectionString: testPostgresUrl() });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    } finally {
      await client.end();
    }
  });

  it('records the same run, steps, versions and lineage as with SQLite', async () => {
    const totals = asset('totals', { sql: ({ ref }) => `SELECT grp, sum(n) AS total FROM ${ref(numbers)} GROUP BY grp` });
    const top = asset('top', { sql: ({ ref }) => `SELECT * FROM ${ref(totals)} WHERE total > 4` });
    const url = `${testPostgresUrl()}?schema=${schema}`;
    const ws = await workspace(defineProject({ name: 'p', assets: [totals, top] }), url);
    expect(ws.catalog.dialect).toBe('postgres');
    const summary = await runAssets(ws);
    expect(summary.status).toBe('success');
    const steps = await ws.catalog.listSteps(summary.runId);
    expect(steps.map((s) => [s.asset, s.status, s.rowsOut, s.version])).toEqual([['totals', 'success', 3, 1], ['top', 'success', 2, 1]]);
    const versions = await ws.catalog.listVersions('top');
    expect(versions[0]).toMatchObject({ asset: 'top', version: 1, rowCount: 2, runId: summary.runId });
    const lineage = await ws.catalog.listLineage({ dataset: 'totals' });
    expect(lineage.map((e) => e.direction).sort()).toEqual(['read', 'write']);
    expect(fs.existsSync(path.join(dir, '.sluice', 'catalog.db'))).toBe(false);
  });
});
