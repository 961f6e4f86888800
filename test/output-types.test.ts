// Types kept: a column whose DuckDB type Parquet cannot hold (HUGEINT from sum() of integers, UHUGEINT, BIGNUM)
// is written as the nearest type that keeps its values (BIGINT, UBIGINT, DECIMAL(38,0)), never silently as
// DOUBLE; the Parquet file and the recorded schema agree, and a lossy fallback is logged.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queryTable } from '../src/batch/inspect.ts';
import { runAssets } from '../src/batch/runner.ts';
import { asset } from '../src/define/asset.ts';
import { dailyPartitions } from '../src/define/partitions.ts';
import { defineProject, type ProjectInput } from '../src/define/project.ts';
import { fileSource } from '../src/define/source.ts';
import { createLogger } from '../src/logger.ts';
import { quoteLiteral } from '../src/sql/identifiers.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';
import { makeTempDir, writeParquet } from './helpers/temp.ts';

let dir: string;
let cleanup: () => void;
let ws: Workspace | undefined;
let logged: Record<string, unknown>[];

beforeEach(() => {
  ({ dir, cleanup } = makeTempDir('sluice-output-types-'));
  logged = [];
});
afterEach(async () => {
  try {
    await ws?.close();
  } finally {
    ws = undefined;
    cleanup();
  }
});

async function open(input: Omit<ProjectInput, 'name'>): Promise<Workspace> {
  await ws?.close();
  const stateDir = path.join(dir, '.sluice');
  ws = await openWorkspace(defineProject({ name: 'types', ...input }), dir, { stateDir, catalogUrl: `sqlite:${path.join(stateDir, 'catalog.db')}` });
  // Capture what the run logs (JSON lines), to see the warnings.
  (ws as { logger: Workspace['logger'] }).logger = createLogger('warn', 'json', { write: (line: string) => logged.push(JSON.parse(line) as Record<string, unknown>) });
  return ws;
}

/** Column name -> type as the table's Parquet files hold them (DuckDB reads the file, not sluice's records). */
async function fileTypes(w: Workspace, table: string): Promise<Record<string, string>> {
  const glob = path.join(w.stateDir, 'tables', table, '**', '*.parquet');
  const rows = await w.engine.withSession((s) => s.query<{ column_name: string; column_type: string }>(`DESCRIBE SELECT * FROM read_parquet(${quoteLiteral(glob)}, hive_partitioning = false)`));
  return Object.fromEntries(rows.map((r) => [r.column_name, r.column_type]));
}

async function recordedTypes(w: Workspace, table: string): Promise<Record<string, string>> {
  const manifest = await w.tables.latest(table);
  return Object.fromEntries((manifest?.schema ?? []).map((c) => [c.name, c.type]));
}

const readings = fileSource('readings', { format: 'parquet', path: 'data/readings.parquet', columns: { k: 'VARCHAR', n: 'INTEGER', big: 'BIGINT' } });

async function writeReadings(sql: string): Promise<void> {
  const file = path.join(dir, 'data', 'readings.parquet');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await writeParquet(file, sql);
}

describe('output types Parquet cannot hold', () => {
  it('sum() of an INTEGER column is written as BIGINT, in the file and in the recorded schema', async () => {
    await writeReadings(`SELECT 'k' || (i % 3) AS k, (i * 7 - 50)::INTEGER AS n, i::BIGINT AS big FROM range(100) t(i)`);
    const totals = asset('totals', { sql: ({ ref }) => `SELECT k, sum(n) AS total, count(*) AS rows FROM ${ref(readings)} GROUP BY k` });
    const w = await open({ sources: [readings], assets: [totals] });
    const summary = await runAssets(w, {});
    expect(summary.status).toBe('success');
    expect(await fileTypes(w, 'totals')).toEqual({ k: 'VARCHAR', total: 'BIGINT', rows: 'BIGINT' });
    expect(await recordedTypes(w, 'totals')).toEqual({ k: 'VARCHAR', total: 'BIGINT', rows: 'BIGINT' });
    const manifest = await w.tables.latest('totals');
    expect(manifest?.partitions['']?.schema).toContainEqual({ name: 'total', type: 'BIGINT' });
    // The values are the exact sums (an independent recomputation over the source file).
    const expected = await w.engine.withSession((s) => s.query<{ k: string; total: string }>(
      `SELECT k, sum(n)::VARCHAR AS total FROM read_parquet(${quoteLiteral(path.join(dir, 'data', 'readings.parquet'))}) GROUP BY k ORDER BY k`));
    expect(await queryTable(w, 'totals', (t) => `SELECT k, total::VARCHAR AS total FROM ${t} ORDER BY k`)).toEqual(expected);
    expect(summary.steps[0]?.outcome?.warnings ?? []).toEqual([]);
    expect(logged.filter((l) => String(l['msg']).includes('Parquet'))).toEqual([]);
  });

  it('sums beyond BIGINT are written as DECIMAL(38,0) with every digit; beyond 38 digits as DOUBLE with a warning', async () => {
    await writeReadings(`SELECT 'k' || (i % 2) AS k, 1::INTEGER AS n, (9223372036854775000 - i)::BIGINT AS big FROM range(10) t(i)`);
    const wide = asset('wide', { sql: ({ ref }) => `SELECT k, sum(big) AS total FROM ${ref(readings)} GROUP BY k` });
    const huge = asset('huge', { sql: () => `SELECT 170141183460469231731687303715884105727::HUGEINT AS h, 1::HUGEINT AS small` });
    const w = await open({ sources: [readings], assets: [wide, huge] });
    const summary = await runAssets(w, {});
    expect(summary.status).toBe('success');
    expect(await fileTypes(w, 'wide')).toEqual({ k: 'VARCHAR', total: 'DECIMAL(38,0)' });
    expect(await recordedTypes(w, 'wide')).toEqual({ k: 'VARCHAR', total: 'DECIMAL(38,0)' });
    expect(await queryTable(w, 'wide', (t) => `SELECT k, total::VARCHAR AS total FROM ${t} ORDER BY k`)).toEqual([
      { k: 'k0', total: String(5n * 9223372036854775000n - (0n + 2n + 4n + 6n + 8n)) },
      { k: 'k1', total: String(5n * 9223372036854775000n - (1n + 3n + 5n + 7n + 9n)) },
    ]);
    expect(summary.steps.find((s) => s.asset === 'wide')?.outcome?.warnings ?? []).toEqual([]);

    expect(await fileTypes(w, 'huge')).toEqual({ h: 'DOUBLE', small: 'BIGINT' });
    expect(await recordedTypes(w, 'huge')).toEqual({ h: 'DOUBLE', small: 'BIGINT' });
    const warnings = summary.steps.find((s) => s.asset === 'huge')?.outcome?.warnings ?? [];
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.message).toMatch(/asset "huge": column "h" is HUGEINT with values beyond DECIMAL\(38,0\) .*written as DOUBLE.*precision/);
    expect(logged).toContainEqual(expect.objectContaining({ asset: 'huge', column: 'h', msg: warnings[0]?.message }));
  });

  it('UHUGEINT is written as UBIGINT, BIGNUM as BIGINT, HUGEINT inside lists and structs as DECIMAL(38,0)', async () => {
    const other = asset('other', {
      sql: () => `SELECT 18446744073709551615::UHUGEINT AS u, 12::BIGNUM AS v, [1::HUGEINT, 2] AS list, {a: 3::HUGEINT, b: 'x'} AS s`,
    });
    const w = await open({ assets: [other] });
    expect((await runAssets(w, {})).status).toBe('success');
    const types = { u: 'UBIGINT', v: 'BIGINT', list: 'DECIMAL(38,0)[]', s: 'STRUCT(a DECIMAL(38,0), b VARCHAR)' };
    expect(await fileTypes(w, 'other')).toEqual(types);
    expect(await recordedTypes(w, 'other')).toEqual(types);
    expect(await queryTable(w, 'other', (t) => `SELECT u::VARCHAR AS u, v::VARCHAR AS v, list::VARCHAR AS list, s.a::VARCHAR AS a FROM ${t}`))
      .toEqual([{ u: '18446744073709551615', v: '12', list: '[1, 2]', a: '3' }]);
  });

  it('a partitioned table keeps one type: a partition whose sums fit BIGINT after one that needed DECIMAL(38,0) is written as DECIMAL(38,0)', async () => {
    const days = dailyPartitions({ start: '2026-01-01' });
    const sums = asset('sums', {
      partitions: days,
      sql: ({ partitionDate }) => `SELECT sum(x) AS total FROM (VALUES (9223372036854775807::BIGINT), (CASE WHEN ${partitionDate} = DATE '2026-01-01' THEN 10 ELSE -10 END)) t(x)`,
    });
    const w = await open({ assets: [sums] });
    expect((await runAssets(w, { partitions: ['2026-01-01'] })).status).toBe('success');
    expect(await recordedTypes(w, 'sums')).toEqual({ total: 'DECIMAL(38,0)', date: 'DATE' });
    const second = await runAssets(w, { partitions: ['2026-01-02'] });
    expect(second.status, second.steps[0]?.error ?? '').toBe('success');
    expect(await recordedTypes(w, 'sums')).toEqual({ total: 'DECIMAL(38,0)', date: 'DATE' });
    expect((await w.tables.latest('sums'))?.partitions['2026-01-02']?.schema).toContainEqual({ name: 'total', type: 'DECIMAL(38,0)' });
    expect(await queryTable(w, 'sums', (t) => `SELECT date::VARCHAR AS date, total::VARCHAR AS total FROM ${t} ORDER BY date`)).toEqual([
      { date: '2026-01-01', total: '9223372036854775817' }, { date: '2026-01-02', total: '9223372036854775797' },
    ]);
  });

  it('a partition whose sums need DECIMAL(38,0) after BIGINT ones widens the table (older partitions read as DECIMAL)', async () => {
    const days = dailyPartitions({ start: '2026-01-01' });
    const sums = asset('sums', {
      partitions: days,
      sql: ({ partitionDate }) => `SELECT sum(x) AS total FROM (VALUES (9223372036854775807::BIGINT), (CASE WHEN ${partitionDate} = DATE '2026-01-01' THEN -10 ELSE 10 END)) t(x)`,
    });
    const w = await open({ assets: [sums] });
    expect((await runAssets(w, { partitions: ['2026-01-01'] })).status).toBe('success');
    expect(await recordedTypes(w, 'sums')).toEqual({ total: 'BIGINT', date: 'DATE' });
    const second = await runAssets(w, { partitions: ['2026-01-02'] });
    expect(second.status, second.steps[0]?.error ?? '').toBe('success');
    expect(await recordedTypes(w, 'sums')).toEqual({ total: 'DECIMAL(38,0)', date: 'DATE' });
    expect((await w.tables.latest('sums'))?.schemaChanges).toEqual([{ column: 'total', change: 'widened', from: 'BIGINT', to: 'DECIMAL(38,0)', breaking: false }]);
    expect(await queryTable(w, 'sums', (t) => `SELECT date::VARCHAR AS date, typeof(total) AS type, total::VARCHAR AS total FROM ${t} ORDER BY date`)).toEqual([
      { date: '2026-01-01', type: 'DECIMAL(38,0)', total: '9223372036854775797' }, { date: '2026-01-02', type: 'DECIMAL(38,0)', total: '9223372036854775817' },
    ]);
  });

  it('a table that already holds the column as DOUBLE keeps DOUBLE, with a warning that says how to change it', async () => {
    const days = dailyPartitions({ start: '2026-01-01' });
    const before = asset('totals', { partitions: days, sql: () => `SELECT sum(i)::DOUBLE AS total FROM range(5) t(i)` });
    let w = await open({ assets: [before] });
    expect((await runAssets(w, { partitions: ['2026-01-01'] })).status).toBe('success');
    const after = asset('totals', { partitions: days, sql: () => `SELECT sum(i::INTEGER) AS total FROM range(5) t(i)` });
    w = await open({ assets: [after] });
    const summary = await runAssets(w, { partitions: ['2026-01-02'] });
    expect(summary.status, summary.steps[0]?.error ?? '').toBe('success');
    expect((await w.tables.latest('totals'))?.partitions['2026-01-02']?.schema).toContainEqual({ name: 'total', type: 'DOUBLE' });
    const warnings = summary.steps[0]?.outcome?.warnings ?? [];
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.message).toMatch(/column "total" is HUGEINT.*the table holds it as DOUBLE.*--allow-schema-change/);
  });
});
