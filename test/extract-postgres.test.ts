// Incremental extraction from a real PostgreSQL: keyset pages past the high-water mark, upsert by key, the
// lookback for late commits, the mark kept in the catalog and moved only by a committed run, and idempotent reruns.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { asset, defineProject, expect as check, extractAsset, postgresSource, SluiceError } from '../src/index.ts';
import { queryTable } from '../src/batch/inspect.ts';
import { runAssets, type RunSummary } from '../src/batch/runner.ts';
import type { Project } from '../src/define/project.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';
import { createTestSchema, type TestSchema } from './helpers/postgres.ts';
import { makeTempDir } from './helpers/temp.ts';

let pgs: TestSchema;
let dir: string;
let cleanup: () => void;
const open: Workspace[] = [];
let table: string;
let tableCount = 0;

beforeAll(async () => { pgs = await createTestSchema('sluice_extract'); });
afterAll(async () => { await pgs.drop(); });
beforeEach(async () => {
  ({ dir, cleanup } = makeTempDir('sluice-extract-pg-'));
  tableCount += 1;
  table = `${pgs.schema}.users_${tableCount}`;
  await pgs.query(`CREATE TABLE ${table} (id BIGINT PRIMARY KEY, plan TEXT, score NUMERIC(10,2), updated_at TIMESTAMPTZ NOT NULL)`);
});
afterEach(async () => {
  for (const ws of open.splice(0)) await ws.close();
  cleanup();
});

const T0 = '2026-11-01 00:00:00+00';

/** Rows id in [from, to): updated i hours (and 7i microseconds, to exercise precision) after T0. */
async function insertUsers(from: number, to: number): Promise<void> {
  await pgs.query(`INSERT INTO ${table} SELECT i, (ARRAY['free','basic','pro'])[1 + i % 3], i * 1.25, $1::timestamptz + i * INTERVAL '1 hour' + i * 7 * INTERVAL '1 microsecond' FROM generate_series($2::int, $3::int - 1) AS i`, [T0, from, to]);
}

function usersAsset(options: { lookback?: string; batchSize?: number; checks?: ReturnType<typeof check.columnValuesToNotBeNull>[] } = {}) {
  const source = postgresSource('crm_users', {
    url: pgs.url, table, cursor: 'updated_at', key: 'id', batchSize: options.batchSize ?? 7,
    ...(options.lookback === undefined ? {} : { lookback: options.lookback }),
  });
  return extractAsset('users', { source, ...(options.checks === undefined ? {} : { checks: options.checks }) });
}

async function workspace(project: Project): Promise<Workspace> {
  const ws = await openWorkspace(project, dir);
  open.push(ws);
  return ws;
}

/** The source table as the asset should hold it, read independently of sluice. */
async function oracle(): Promise<string[]> {
  const rows = await pgs.query<{ line: string }>(`SELECT id || '|' || coalesce(plan, '') || '|' || score || '|' || to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS line FROM ${table} ORDER BY id`);
  return rows.map((r) => r.line);
}

async function assetRows(ws: Workspace): Promise<string[]> {
  const rows = await queryTable(ws, 'users', (t) => `SELECT id || '|' || coalesce(plan, '') || '|' || score::VARCHAR || '|' || strftime(updated_at, '%Y-%m-%d %H:%M:%S.%f') AS line FROM ${t} ORDER BY id`);
  return rows.map((r) => String(r['line']));
}

function extractStep(summary: RunSummary) {
  const step = summary.steps.find((s) => s.asset === 'users');
  if (step === undefined) throw new Error('no users step');
  return step;
}

async function markMatchesMax(ws: Workspace): Promise<boolean> {
  const mark = await ws.catalog.getCursor('source:users');
  const [row] = await pgs.query<{ same: boolean }>(`SELECT $1::timestamptz = max(updated_at) AS same FROM ${table}`, [mark?.value]);
  return row?.same === true;
}

describe('postgres source', () => {
  it('loads everything, then only rows past the mark; updates replace their key; the mark follows the commits', async () => {
    await insertUsers(1, 26);
    const users = usersAsset();
    const perPlan = asset('per_plan', { sql: ({ ref }) => `SELECT plan, count(*) AS n FROM ${ref(users)} GROUP BY plan` });
    const ws = await workspace(defineProject({ name: 'p', assets: [users, perPlan] }));

    const first = await runAssets(ws);
    expect(first.status).toBe('success');
    expect(extractStep(first).outcome).toMatchObject({ status: 'success', rowsIn: 25, rowsOut: 25, version: 1 });
    expect(extractStep(first).outcome?.reads).toEqual([expect.objectContaining({ dataset: 'crm_users', kind: 'source', version: null })]);
    expect(await assetRows(ws)).toEqual(await oracle());
    expect(await markMatchesMax(ws)).toBe(true);
    expect(await queryTable(ws, 'per_plan', (t) => `SELECT plan, n::INT AS n FROM ${t} ORDER BY plan`)).toEqual([
      { plan: 'basic', n: 9 }, { plan: 'free', n: 8 }, { plan: 'pro', n: 8 },
    ]);

    // Three updates (to existing keys) and two new rows, all past the mark.
    await pgs.query(`UPDATE ${table} SET plan = 'enterprise', updated_at = $1::timestamptz + INTERVAL '100 hours' + id * INTERVAL '1 second' WHERE id IN (2, 5, 11)`, [T0]);
    await insertUsers(26, 28);
    const second = await runAssets(ws);
    expect(extractStep(second).outcome).toMatchObject({ status: 'success', rowsIn: 5, rowsOut: 27, version: 2 });
    expect(await assetRows(ws)).toEqual(await oracle());
    expect(await queryTable(ws, 'users', (t) => `SELECT count(*)::INT AS n FROM ${t} WHERE plan = 'enterprise'`)).toEqual([{ n: 3 }]);
    expect(await markMatchesMax(ws)).toBe(true);
    const steps = await ws.catalog.listSteps(second.runId);
    expect(steps.find((s) => s.asset === 'users')).toMatchObject({ status: 'success', rowsIn: 5, rowsOut: 27, version: 2 });
    expect((await ws.catalog.listLineage({ runId: second.runId })).filter((e) => e.dataset === 'crm_users')).toEqual([
      expect.objectContaining({ direction: 'read', kind: 'source' }),
    ]);

    // Nothing new: no rows fetched, no new version.
    const third = await runAssets(ws);
    expect(extractStep(third).outcome).toMatchObject({ status: 'skipped', rowsIn: 0, version: 2 });
    expect(await ws.tables.versions('users')).toEqual([1, 2]);
  });

  it('re-reads a lookback window: a late commit inside it is picked up, one outside it is missed', async () => {
    await insertUsers(1, 11); // the mark becomes T0 + 10 h
    const ws = await workspace(defineProject({ name: 'p', assets: [usersAsset({ lookback: '1h' })] }));
    await runAssets(ws);
    // Two rows commit late, with cursors behind the mark: 30 minutes (inside the 1 h lookback) and 3 hours (outside).
    await pgs.query(`INSERT INTO ${table} VALUES (100, 'late_inside', 1, $1::timestamptz + INTERVAL '9 hours 30 minutes'), (101, 'late_outside', 1, $1::timestamptz + INTERVAL '7 hours')`, [T0]);
    const run = await runAssets(ws);
    // Fetched: the row at the mark itself (re-read: its cursor is within the lookback) and the late one inside.
    expect(extractStep(run).outcome).toMatchObject({ status: 'success', rowsIn: 2, rowsOut: 11 });
    const rows = await assetRows(ws);
    expect(rows.some((r) => r.includes('late_inside'))).toBe(true);
    // The trade-off: a row committed later than the lookback allows is never read by an incremental run;
    // a wider lookback re-reads more rows on every run (or `sluice run --force` re-reads everything).
    expect(rows.some((r) => r.includes('late_outside'))).toBe(false);
    expect((await oracle()).filter((r) => !rows.includes(r))).toEqual([expect.stringContaining('late_outside')]);
    // With only re-read rows and nothing new, there is no new version.
    const again = await runAssets(ws);
    expect(extractStep(again).outcome).toMatchObject({ status: 'skipped', rowsIn: 2 });
    expect(await ws.tables.versions('users')).toEqual([1, 2]);
  });

  it('keeps the mark when a run fails (an error check), and the next run retries those rows', async () => {
    await insertUsers(1, 6);
    const ws = await workspace(defineProject({ name: 'p', assets: [usersAsset({ checks: [check.columnValuesToNotBeNull('plan')] })] }));
    await runAssets(ws);
    const markBefore = await ws.catalog.getCursor('source:users');
    await pgs.query(`INSERT INTO ${table} VALUES (50, NULL, 1, $1::timestamptz + INTERVAL '50 hours'), (51, 'pro', 1, $1::timestamptz + INTERVAL '51 hours')`, [T0]);
    const failed = await runAssets(ws);
    expect(failed.status).toBe('failed');
    expect(extractStep(failed).error).toMatch(/asset "users" \(postgres source "crm_users"\): 1 error check\(s\) failed, nothing was published and the high-water mark stays: expect_column_values_to_not_be_null\(plan\)/);
    expect((await ws.catalog.getCursor('source:users'))?.value).toBe(markBefore?.value);
    expect(await ws.tables.versions('users')).toEqual([1]);
    // The source is fixed without touching the cursor column: only a mark that stayed put finds the row again.
    await pgs.query(`UPDATE ${table} SET plan = 'basic' WHERE id = 50`);
    const retried = await runAssets(ws);
    expect(extractStep(retried).outcome).toMatchObject({ status: 'success', rowsIn: 2, rowsOut: 7 });
    expect(await assetRows(ws)).toEqual(await oracle());
    expect(await markMatchesMax(ws)).toBe(true);
  });

  it('a bad value fails the run naming the row and column, and the mark stays', async () => {
    await insertUsers(1, 4);
    await pgs.query(`ALTER TABLE ${table} ADD COLUMN age TEXT`);
    await pgs.query(`UPDATE ${table} SET age = CASE id WHEN 2 THEN 'forty' ELSE '40' END`);
    const source = postgresSource('crm_users', { url: pgs.url, table, cursor: 'updated_at', key: 'id', columns: { id: 'BIGINT', age: 'INTEGER', updated_at: 'TIMESTAMPTZ' } });
    const ws = await workspace(defineProject({ name: 'p', assets: [extractAsset('users', { source })] }));
    const run = await runAssets(ws);
    expect(extractStep(run).error).toMatch(/asset "users" \(postgres source "crm_users"\): fetched row 2, column "age": "forty" is not a INTEGER/);
    expect(await ws.catalog.getCursor('source:users')).toBeUndefined();
  });

  it('a rerun after a crash between the commit and the mark update changes nothing', async () => {
    await insertUsers(1, 11);
    const ws = await workspace(defineProject({ name: 'p', assets: [usersAsset()] }));
    await runAssets(ws);
    const markBefore = (await ws.catalog.getCursor('source:users'))?.value ?? '';
    await pgs.query(`UPDATE ${table} SET plan = 'pro', updated_at = $1::timestamptz + INTERVAL '200 hours' WHERE id IN (3, 4)`, [T0]);
    await insertUsers(11, 13);
    const committed = await runAssets(ws);
    expect(extractStep(committed).outcome).toMatchObject({ status: 'success', rowsIn: 4, version: 2 });
    const after = await assetRows(ws);
    // The crash: the version is committed but the mark was never moved.
    expect(await ws.catalog.setCursor('source:users', markBefore)).toBe(true);
    const rerun = await runAssets(ws);
    expect(extractStep(rerun).outcome).toMatchObject({ status: 'skipped', rowsIn: 4, version: 2 });
    expect(await assetRows(ws)).toEqual(after);
    expect(await assetRows(ws)).toEqual(await oracle());
    expect(await markMatchesMax(ws)).toBe(true);
    expect(await ws.tables.versions('users')).toEqual([1, 2]);
  });

  it('keeps the mark in a PostgreSQL catalog the same way', async () => {
    await insertUsers(1, 9);
    const catalogSchema = `${pgs.schema}_catalog`;
    const ws = await openWorkspace(defineProject({ name: 'p', assets: [usersAsset()] }), dir, { catalogUrl: `${pgs.url}?schema=${catalogSchema}` });
    open.push(ws);
    try {
      expect(ws.catalog.dialect).toBe('postgres');
      expect(extractStep(await runAssets(ws)).outcome).toMatchObject({ status: 'success', rowsIn: 8 });
      await insertUsers(9, 12);
      const second = await runAssets(ws);
      expect(extractStep(second).outcome).toMatchObject({ status: 'success', rowsIn: 3, rowsOut: 11 });
      expect(await markMatchesMax(ws)).toBe(true);
      expect((await ws.catalog.listSteps(second.runId))[0]).toMatchObject({ asset: 'users', status: 'success', rowsIn: 3, rowsOut: 11, version: 2 });
    } finally {
      await ws.close();
      open.splice(open.indexOf(ws), 1);
      await pgs.query(`DROP SCHEMA IF EXISTS "${catalogSchema}" CASCADE`);
    }
  });

  it('reads a query with a numeric cursor and a numeric lookback', async () => {
    await insertUsers(1, 21);
    const source = postgresSource('crm_ids', {
      url: pgs.url, query: `SELECT id, plan FROM ${table} WHERE plan <> 'free'`, cursor: 'id', key: 'id', lookback: 3, batchSize: 4,
    });
    const ws = await workspace(defineProject({ name: 'p', assets: [extractAsset('paying', { source })] }));
    const first = await runAssets(ws);
    expect(first.steps[0]?.outcome).toMatchObject({ status: 'success', rowsIn: 14 });
    expect((await ws.catalog.getCursor('source:paying'))?.value).toBe('20');
    await insertUsers(21, 24); // 21 (free), 22 (basic), 23 (pro)
    const second = await runAssets(ws);
    // ids > 20 - 3: 19 and 20 re-read, 22 and 23 new.
    expect(second.steps[0]?.outcome).toMatchObject({ status: 'success', rowsIn: 4, rowsOut: 16 });
    expect((await ws.catalog.getCursor('source:paying'))?.value).toBe('23');
  });

  it('says what is wrong with a definition, a missing URL or an unreachable server, without the password', async () => {
    const defineWith = (options: Parameters<typeof postgresSource>[1]) => () => defineProject({ name: 'p', assets: [extractAsset('users', { source: postgresSource('crm', options) })] });
    expect(defineWith({ table: 'a', query: 'SELECT 1', cursor: 'id', key: 'id' })).toThrow(/asset "users" postgres source "crm": give exactly one of table .* or query/);
    expect(defineWith({ table: 'a', cursor: 'id', key: [] })).toThrow(/asset "users" postgres source "crm" option key: at least one key column/);
    expect(defineWith({ table: 'a', cursor: 'updated_at', key: 'id', lookback: '5 minutes' })).toThrow(/postgres source "crm" option lookback/);
    expect(defineWith({ table: 'a', cursor: 'id', key: 'id', url: 'mysql://x' })).toThrow(/option url: a postgres:\/\/ URL/);

    const noEnv = postgresSource('crm', { urlEnv: 'SLUICE_TEST_UNSET_SOURCE_URL', table: 'a', cursor: 'id', key: 'id' });
    const ws1 = await workspace(defineProject({ name: 'p', assets: [extractAsset('users', { source: noEnv })] }));
    const run1 = await runAssets(ws1);
    expect(run1.steps[0]?.error).toMatch(/postgres source "crm": environment variable SLUICE_TEST_UNSET_SOURCE_URL is not set/);

    const unreachable = postgresSource('crm', { url: 'postgres://postgres:hunter2@127.0.0.1:1/db', table: 'a', cursor: 'id', key: 'id' });
    const ws2 = await openWorkspace(defineProject({ name: 'q', assets: [extractAsset('users', { source: unreachable, retry: { retries: 0 } })] }), `${dir}/q`);
    open.push(ws2);
    const run2 = await runAssets(ws2);
    expect(run2.steps[0]?.error).toMatch(/postgres source "crm" \(postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/db\): cannot connect/);
    expect(run2.steps[0]?.error).not.toContain('hunter2');

    const missingColumn = postgresSource('crm', { url: pgs.url, table, cursor: 'modified', key: 'id' });
    const ws3 = await openWorkspace(defineProject({ name: 'r', assets: [extractAsset('users', { source: missingColumn })] }), `${dir}/r`);
    open.push(ws3);
    const run3 = await runAssets(ws3);
    expect(run3.steps[0]?.error).toMatch(/column "modified" does not exist; it has id, plan, score, updated_at/);
    expect(new SluiceError('SOURCE_READ', 'x').code).toBe('SOURCE_READ');
  });
});
