// Tables a team can trust, on real files through the API: partitions stacked by column name (a changed header
// order never swaps values), schema evolution and its policies, a data column that clashes with the partition
// column, Hive folders that plain readers (DuckDB's read_parquet) read as exactly the current version through
// rebuilds, deletes and vacuums, partitions outside the declared range, and retention.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queryTable } from '../src/batch/inspect.ts';
import { runAssets, type RunSummary } from '../src/batch/runner.ts';
import { deletePartitions, schemaHistory, vacuum } from '../src/batch/table-admin.ts';
import { asset, type Asset, type AssetOptions } from '../src/define/asset.ts';
import { dailyPartitions } from '../src/define/partitions.ts';
import { defineProject } from '../src/define/project.ts';
import { fileSource, type FileSource } from '../src/define/source.ts';
import { assetStatuses } from '../src/orchestrate/status.ts';
import { backfill } from '../src/orchestrate/backfill.ts';
import { job } from '../src/define/job.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';
import { duck } from './helpers/temp.ts';

const days = dailyPartitions({ start: '2026-01-01' });
const DAYS = ['2026-01-01', '2026-01-02', '2026-01-03'];

let dir: string;
let ws: Workspace | undefined;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-tables-trust-'));
});
afterEach(async () => {
  try {
    await ws?.close();
  } finally {
    ws = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function write(relative: string, text: string): void {
  const file = path.join(dir, relative);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

async function open(sources: FileSource[], assets: Asset[]): Promise<Workspace> {
  await ws?.close();
  const stateDir = path.join(dir, '.sluice');
  ws = await openWorkspace(defineProject({ name: 'trust', sources, assets }), dir, { stateDir, catalogUrl: `sqlite:${path.join(stateDir, 'catalog.db')}` });
  return ws;
}

function failedStep(summary: RunSummary, assetName: string): string {
  const step = summary.steps.find((s) => s.asset === assetName);
  expect(step?.status, JSON.stringify(step)).toBe('failed');
  return step?.error ?? '';
}

/** Rows of a table as DuckDB's plain dataset reader sees its folder, with no sluice involved. */
async function plainRead(w: Workspace, assetName: string, columns: string): Promise<Record<string, unknown>[]> {
  const folder = path.join(w.stateDir, 'tables', assetName);
  if (!fs.existsSync(folder)) return [];
  const rows = await duck(`SELECT ${columns} FROM read_parquet('${folder}/**', hive_partitioning = true) ORDER BY ALL`);
  // As JSON-safe values, the way sluice's queries return them (BIGINT as a string of digits).
  return rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'bigint' ? String(v) : v])));
}

async function sluiceRead(w: Workspace, assetName: string, columns: string): Promise<Record<string, unknown>[]> {
  return queryTable(w, assetName, (relation) => `SELECT ${columns} FROM ${relation} ORDER BY ALL`);
}

describe('partitions are stacked by column name', () => {
  it('a later partition written with its columns in another order reads back unswapped downstream', async () => {
    // A CSV whose header order changed between two days, read with SELECT *.
    const src = fileSource('events', { format: 'csv', path: 'data/day={date}.csv', partitions: days });
    const copied = asset('copied', { partitions: days, sql: ({ ref }) => `SELECT * FROM ${ref(src)}` });
    const window = asset('window', { partitions: days, sql: ({ ref }) => `SELECT list(x ORDER BY x) AS xs, list(y ORDER BY y) AS ys FROM ${ref(copied, { lookback: 1 })}` });
    write('data/day=2026-01-01.csv', 'x,y\nx1,y1\n');
    write('data/day=2026-01-02.csv', 'y,x\ny2,x2\n');
    const w = await open([src], [copied, window]);
    const summary = await runAssets(w, { partitions: DAYS.slice(0, 2) });
    expect(summary.status).toBe('success');
    const [row] = await queryTable(w, 'window', (r) => `SELECT xs, ys FROM ${r}`, { partition: '2026-01-02' });
    expect(row).toEqual({ xs: ['x1', 'x2'], ys: ['y1', 'y2'] });
    expect(await sluiceRead(w, 'copied', 'x, y')).toEqual([{ x: 'x1', y: 'y1' }, { x: 'x2', y: 'y2' }]);
  });
});

describe('schema evolution', () => {
  // The asset's SQL is read from a file the test rewrites, so one asset can change its output between runs.
  const evolving = (options: Partial<AssetOptions> = {}): Asset => asset('evolving', {
    partitions: days,
    sql: ({ partition }) => fs.readFileSync(path.join(dir, 'sql', `${partition ?? ''}.sql`), 'utf8'),
    ...options,
  });

  it('evolve: an added column and a widened type are accepted and recorded; older partitions read NULL and cast', async () => {
    write('sql/2026-01-01.sql', 'SELECT 1::INTEGER AS id, 10 AS amount');
    write('sql/2026-01-02.sql', "SELECT 2::BIGINT AS id, 20 AS amount, 'new' AS note");
    const e = evolving();
    const downstream = asset('totals', { partitions: days, sql: ({ ref }) => `SELECT count(note) AS notes, sum(id) AS ids, typeof(any_value(id)) AS id_type FROM ${ref(e, { lookback: 1 })}` });
    const w = await open([], [e, downstream]);
    // One day after the other: the second day's output is what evolves the table.
    expect((await runAssets(w, { assets: ['evolving'], partitions: ['2026-01-01'] })).status).toBe('success');
    expect((await runAssets(w, { partitions: ['2026-01-02'] })).status).toBe('success');
    const latest = await w.tables.latest('evolving');
    expect(latest?.schema.map((c) => `${c.name} ${c.type}`)).toEqual(['id BIGINT', 'amount INTEGER', 'date DATE', 'note VARCHAR']);
    expect(latest?.schemaChanges).toEqual([
      { column: 'id', change: 'widened', from: 'INTEGER', to: 'BIGINT', breaking: false },
      { column: 'note', change: 'added', from: null, to: 'VARCHAR', breaking: false },
    ]);
    expect(await sluiceRead(w, 'evolving', 'id, note, date::VARCHAR AS d')).toEqual([{ id: '1', note: null, d: '2026-01-01' }, { id: '2', note: 'new', d: '2026-01-02' }]);
    // sum(id) is HUGEINT in DuckDB, written as BIGINT (it fits), so it reads back as a BIGINT (text here), not a DOUBLE.
    expect(await queryTable(w, 'totals', (r) => `SELECT notes, ids, id_type FROM ${r}`, { partition: '2026-01-02' })).toEqual([{ notes: '1', ids: '3', id_type: 'BIGINT' }]);
    const history = await schemaHistory(w, 'evolving');
    expect(history.map((h) => [h.version, h.changes.map((c) => c.change)])).toEqual([[1, []], [2, ['widened', 'added']]]);
  });

  it('evolve refuses a removed or retyped column, naming each; --allow-schema-change records it as breaking', async () => {
    write('sql/2026-01-01.sql', "SELECT 1 AS id, 'a' AS label, 5 AS score");
    write('sql/2026-01-02.sql', 'SELECT 2 AS id, 7 AS label');
    const w = await open([], [evolving()]);
    expect((await runAssets(w, { partitions: ['2026-01-01'] })).status).toBe('success');
    const refused = await runAssets(w, { partitions: ['2026-01-02'] });
    const error = failedStep(refused, 'evolving');
    expect(error).toContain('column "label" changed type VARCHAR -> INTEGER');
    expect(error).toContain('column "score" (INTEGER) missing');
    expect(error).toContain('--allow-schema-change');
    expect((await w.tables.latest('evolving'))?.version).toBe(1);
    const allowed = await runAssets(w, { partitions: ['2026-01-02'], allowSchemaChange: true });
    expect(allowed.status).toBe('success');
    const latest = await w.tables.latest('evolving');
    expect(latest?.schemaChanges.map((c) => [c.column, c.change, c.breaking])).toEqual([['label', 'retyped', true], ['score', 'removed', true]]);
    // The removed column stays in the table (older partitions keep their values), NULL in the new partition.
    expect(await sluiceRead(w, 'evolving', 'id, score')).toEqual([{ id: 1, score: 5 }, { id: 2, score: null }]);
  });

  it('sluice backfill --allow-schema-change accepts a refused change too', async () => {
    write('sql/2026-01-01.sql', "SELECT 1 AS id, 'a' AS label");
    write('sql/2026-01-02.sql', 'SELECT 2 AS id');
    const e = evolving();
    await ws?.close();
    const stateDir = path.join(dir, '.sluice');
    ws = await openWorkspace(defineProject({ name: 'trust', assets: [e], jobs: [job('evolve_job', { assets: [e] })] }), dir, { stateDir, catalogUrl: `sqlite:${path.join(stateDir, 'catalog.db')}` });
    expect((await backfill(ws, { job: 'evolve_job', from: '2026-01-01', to: '2026-01-01' })).status).toBe('success');
    expect((await backfill(ws, { job: 'evolve_job', from: '2026-01-02', to: '2026-01-02' })).status).toBe('failed');
    expect((await backfill(ws, { job: 'evolve_job', from: '2026-01-02', to: '2026-01-02', allowSchemaChange: true })).status).toBe('success');
    expect((await ws.tables.latest('evolving'))?.schemaChanges).toEqual([{ column: 'label', change: 'removed', from: 'VARCHAR', to: null, breaking: true }]);
  });

  it("strict refuses any change; a declared contract refuses what breaks it, NULLs included", async () => {
    write('sql/2026-01-01.sql', 'SELECT 1::INTEGER AS id');
    write('sql/2026-01-02.sql', 'SELECT 2::BIGINT AS id');
    let w = await open([], [evolving({ schema: 'strict' })]);
    expect((await runAssets(w, { partitions: ['2026-01-01'] })).status).toBe('success');
    expect(failedStep(await runAssets(w, { partitions: ['2026-01-02'] }), 'evolving')).toMatch(/strict.*column "id" widened INTEGER -> BIGINT/);

    write('sql/2026-01-03.sql', "SELECT NULL::BIGINT AS id, 'x' AS extra");
    w = await open([], [evolving({ schema: { columns: { id: { type: 'BIGINT', nullable: false } } } })]);
    expect((await runAssets(w, { partitions: ['2026-01-02'] })).status).toBe('success');
    expect(failedStep(await runAssets(w, { partitions: ['2026-01-03'] }), 'evolving')).toContain('column "extra" is not in the contract');
    write('sql/2026-01-03.sql', 'SELECT NULL::BIGINT AS id');
    expect(failedStep(await runAssets(w, { partitions: ['2026-01-03'] }), 'evolving')).toContain('column "id" has 1 NULL value(s) but is not nullable');
    // A narrower output type fits the contract and is written as the declared type.
    write('sql/2026-01-03.sql', 'SELECT 3::SMALLINT AS id');
    expect((await runAssets(w, { partitions: ['2026-01-03'] })).status).toBe('success');
    expect((await w.tables.latest('evolving'))?.partitions['2026-01-03']?.schema[0]).toEqual({ name: 'id', type: 'BIGINT' });
  });
});

describe('a data column named like the partition column', () => {
  it('is refused at the step, naming both and the fix, unless it holds the partition date', async () => {
    const src = fileSource('readings', { format: 'csv', path: 'data/readings.csv', columns: { id: 'BIGINT', date: 'TIMESTAMP' } });
    write('data/readings.csv', 'id,date\n1,2025-06-01 10:30:00\n2,2025-06-02 11:00:00\n');
    const copied = asset('copied', { partitions: days, sql: ({ ref }) => `SELECT * FROM ${ref(src)}` });
    const w = await open([src], [copied]);
    const error = failedStep(await runAssets(w, { partitions: ['2026-01-01'] }), 'copied');
    expect(error).toContain('returns a column "date" (TIMESTAMP)');
    expect(error).toContain('is the partition column');
    expect(error).toContain("column: 'day'");
    expect(await w.tables.latest('copied')).toBeUndefined();

    // A DATE column with other values than the partition's own is refused too.
    const dated = asset('dated', { partitions: days, sql: ({ ref }) => `SELECT id, CAST(date AS DATE) AS date FROM ${ref(src)}` });
    const renamed = asset('renamed', { partitions: dailyPartitions({ start: '2026-01-01', column: 'day' }), sql: ({ ref }) => `SELECT * FROM ${ref(src)}` });
    const own = asset('own', { partitions: days, sql: ({ ref, partitionDate }) => `SELECT id, ${partitionDate} AS date FROM ${ref(src)}` });
    const w2 = await open([src], [dated, renamed, own]);
    const summary = await runAssets(w2, { partitions: ['2026-01-01'] });
    expect(failedStep(summary, 'dated')).toContain('whose values are not the partition\'s own value 2026-01-01');
    expect(summary.steps.filter((s) => s.status === 'success').map((s) => s.asset).sort()).toEqual(['own', 'renamed']);
    // With the partition column renamed, the data's timestamps survive next to it.
    expect(await sluiceRead(w2, 'renamed', 'id, date::VARCHAR AS date, day::VARCHAR AS day')).toEqual([
      { id: '1', date: '2025-06-01 10:30:00', day: '2026-01-01' },
      { id: '2', date: '2025-06-02 11:00:00', day: '2026-01-01' },
    ]);
  });
});

describe('the Hive folder holds exactly the current version', () => {
  it('a plain DuckDB read_parquet of tables/<asset>/** equals sluice through rebuilds, deletes and vacuums', async () => {
    const src = fileSource('events', { format: 'csv', path: 'data/day={date}.csv', partitions: days, columns: { id: 'BIGINT', v: 'VARCHAR' } });
    const copied = asset('copied', { partitions: days, sql: ({ ref }) => `SELECT * FROM ${ref(src)}` });
    const total = asset('total', { sql: ({ ref }) => `SELECT count(*) AS n, string_agg(v, ',' ORDER BY v) AS vs FROM ${ref(copied)}` });
    for (const [i, day] of DAYS.entries()) write(`data/day=${day}.csv`, `id,v\n${i},first-${i}\n`);
    const w = await open([src], [copied, total]);
    expect((await runAssets(w, { partitions: DAYS })).status).toBe('success');
    const columns = 'id, v, date::VARCHAR AS date';
    expect(await plainRead(w, 'copied', columns)).toEqual(await sluiceRead(w, 'copied', columns));
    expect(await plainRead(w, 'copied', columns)).toHaveLength(3);

    // Rebuild a day with new content: the folder swaps its file, the old version stays readable by sluice.
    write('data/day=2026-01-02.csv', 'id,v\n1,second-1\n11,second-11\n');
    expect((await runAssets(w, { partitions: DAYS })).status).toBe('success');
    expect(await plainRead(w, 'copied', columns)).toEqual(await sluiceRead(w, 'copied', columns));
    expect(await plainRead(w, 'copied', 'v')).toEqual([{ v: 'first-0' }, { v: 'first-2' }, { v: 'second-1' }, { v: 'second-11' }]);
    const rebuilt = await w.tables.latest('copied');
    // Version 3 is the first run's last commit: all three first days.
    expect(await queryTable(w, 'copied', (r) => `SELECT v FROM ${r} ORDER BY v`, { version: 3 })).toEqual([{ v: 'first-0' }, { v: 'first-1' }, { v: 'first-2' }]);

    // Delete a day: gone from the folder, and from the downstream table at its next run.
    const deleted = await deletePartitions(w, 'copied', ['2026-01-03']);
    expect(deleted).toMatchObject({ deleted: ['2026-01-03'], partitions: 2, version: (rebuilt?.version ?? 0) + 1 });
    expect(await plainRead(w, 'copied', columns)).toEqual(await sluiceRead(w, 'copied', columns));
    expect(fs.existsSync(path.join(w.stateDir, 'tables', 'copied', 'date=2026-01-03'))).toBe(false);
    expect((await runAssets(w, { assets: ['total'], partitions: DAYS.slice(0, 2) })).status).toBe('success');
    expect(await sluiceRead(w, 'total', 'n, vs')).toEqual([{ n: '3', vs: 'first-0,second-1,second-11' }]);

    // Vacuum to the last version: old files leave the version store, the folder and the current reads stay.
    const before = fs.readdirSync(path.join(w.stateDir, 'versions', 'copied', 'data'), { recursive: true }).filter((f) => String(f).endsWith('.parquet'));
    const [report] = await vacuum(w, ['copied'], { keepVersions: 1, graceMs: 0 });
    expect(report?.removed.length).toBeGreaterThan(0);
    expect(report?.files.length).toBe(before.length - 2);
    expect(await w.tables.versions('copied')).toEqual([deleted.version]);
    expect(await plainRead(w, 'copied', columns)).toEqual(await sluiceRead(w, 'copied', columns));
    await expect(queryTable(w, 'copied', (r) => `SELECT * FROM ${r}`, { version: 1 })).rejects.toMatchObject({ code: 'VERSION_NOT_FOUND', message: expect.stringContaining('removed by sluice vacuum') as unknown });
    // A new commit after the vacuum continues the version numbers and the folder.
    write('data/day=2026-01-01.csv', 'id,v\n0,third-0\n');
    expect((await runAssets(w, { assets: ['copied'], partitions: ['2026-01-01'] })).status).toBe('success');
    expect(await plainRead(w, 'copied', columns)).toEqual(await sluiceRead(w, 'copied', columns));
    expect(await w.tables.versions('copied')).toEqual([deleted.version, deleted.version + 1]);
  });

  it('vacuum keeps the current and recent versions by default and removes nothing in a dry run', async () => {
    const src = fileSource('events', { format: 'csv', path: 'data/day={date}.csv', partitions: days, columns: { id: 'BIGINT' } });
    const copied = asset('copied', { partitions: days, sql: ({ ref }) => `SELECT * FROM ${ref(src)}` });
    write('data/day=2026-01-01.csv', 'id\n1\n');
    const w = await open([src], [copied]);
    await runAssets(w, { partitions: ['2026-01-01'] });
    write('data/day=2026-01-01.csv', 'id\n2\n');
    await runAssets(w, { partitions: ['2026-01-01'] });
    // Default retention is 7 days: both versions are recent, so nothing goes.
    expect((await vacuum(w, [], {}))[0]).toMatchObject({ kept: [1, 2], removed: [], files: [] });
    // Ten days later, a dry run says what would go and removes nothing.
    const later = Date.now() + 10 * 86_400_000;
    const dry = (await vacuum(w, ['copied'], { now: later, dryRun: true }))[0];
    expect(dry).toMatchObject({ kept: [2], removed: [1], dryRun: true });
    expect(dry?.files).toHaveLength(1);
    expect(await w.tables.versions('copied')).toEqual([1, 2]);
    // Pinned versions stay.
    expect((await vacuum(w, ['copied'], { now: later, pinned: [1] }))[0]).toMatchObject({ kept: [1, 2], removed: [] });
  });
});

describe('partitions outside the declared range', () => {
  it('are reported by status, and sluice delete removes them for downstream steps', async () => {
    const src = fileSource('events', { format: 'csv', path: 'data/day={date}.csv', partitions: days, columns: { id: 'BIGINT' } });
    const build = (end?: string): Asset[] => {
      const range = end === undefined ? days : dailyPartitions({ start: '2026-01-01', end });
      const copied = asset('copied', { partitions: range, sql: ({ ref }) => `SELECT * FROM ${ref(src)}` });
      return [copied, asset('total', { sql: ({ ref }) => `SELECT count(*) AS n FROM ${ref(copied)}` })];
    };
    for (const [i, day] of DAYS.entries()) write(`data/day=${day}.csv`, `id\n${i}\n`);
    let w = await open([src], build());
    expect((await runAssets(w, { partitions: DAYS })).status).toBe('success');
    // The range is narrowed: the third day is still in the table and still feeds `total`.
    w = await open([src], build('2026-01-02'));
    expect((await assetStatuses(w)).find((s) => s.asset === 'copied')?.outOfRange).toEqual(['2026-01-03']);
    expect((await runAssets(w, { assets: ['total'] })).status).toBe('success');
    expect(await sluiceRead(w, 'total', 'n')).toEqual([{ n: '3' }]);
    await deletePartitions(w, 'copied', ['2026-01-03']);
    expect((await assetStatuses(w)).find((s) => s.asset === 'copied')?.outOfRange).toEqual([]);
    const rerun = await runAssets(w, { assets: ['total'] });
    expect(rerun.steps.find((s) => s.asset === 'total')?.status).toBe('success');
    expect(await sluiceRead(w, 'total', 'n')).toEqual([{ n: '2' }]);
    await expect(deletePartitions(w, 'copied', ['2026-02-30'])).rejects.toMatchObject({ code: 'INVALID_PARTITION' });
  });
});

describe('a version published but never recorded', () => {
  it('is recorded with its lineage, once, by the next command that reads versions', async () => {
    const src = fileSource('events', { format: 'csv', path: 'data/day={date}.csv', partitions: days, columns: { id: 'BIGINT' } });
    const copied = asset('copied', { partitions: days, sql: ({ ref }) => `SELECT * FROM ${ref(src)}` });
    for (const day of DAYS.slice(0, 2)) write(`data/day=${day}.csv`, 'id\n1\n');
    const w = await open([src], [copied]);
    expect((await runAssets(w, { partitions: ['2026-01-01'] })).status).toBe('success');
    // What a kill -9 between publishing a version and recording it leaves: the log has version 2, the catalog not.
    const latest = await w.tables.latest('copied');
    const staged = w.tables.stagingPath('killed-run', 'copied', '2026-01-02');
    fs.copyFileSync(w.tables.files(latest as NonNullable<typeof latest>)[0] ?? '', staged);
    const inputs = [{ dataset: 'events', kind: 'source' as const, version: null, partitions: ['2026-01-02'], fingerprint: 'fp-events' }];
    await w.tables.commit({ asset: 'copied', partition: '2026-01-02', partitionColumn: 'date', stagedFile: staged, schema: latest?.schema ?? [], rows: 1, runId: 'killed-run', fingerprint: 'fp', inputs });
    expect((await w.catalog.listVersions('copied')).map((v) => v.version)).toEqual([1]);
    const statuses = await assetStatuses(w);
    expect(statuses.find((s) => s.asset === 'copied')).toMatchObject({ version: 2, rows: 2 });
    expect((await w.catalog.listVersions('copied')).map((v) => [v.version, v.runId, v.partitions])).toEqual([[2, 'killed-run', ['2026-01-02']], [1, expect.any(String), ['2026-01-01']]]);
    expect((await w.catalog.listLineage({ runId: 'killed-run' })).map((e) => [e.direction, e.dataset, e.version, e.partition]).sort()).toEqual([['read', 'events', null, '2026-01-02'], ['write', 'copied', 2, '2026-01-02']]);
    // Once: a run reads versions again and records nothing twice.
    expect((await runAssets(w, { partitions: ['2026-01-02'] })).status).toBe('success');
    expect((await w.catalog.listVersions('copied')).filter((v) => v.version === 2)).toHaveLength(1);
    expect(await w.catalog.listLineage({ runId: 'killed-run' })).toHaveLength(2);
  });
});
