// The Catalog conformance suite, run over every backend: SQLite in a temporary directory and the PostgreSQL at
// testPostgresUrl(). Each test gets a fresh catalog (a new file, or a new schema under this run's prefix).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEntry, Catalog, CheckRecord, ColumnLineageRecord, LineageEdge, TrainingSetRecord, VersionRecord } from '../src/store/catalog/catalog.ts';
import { openCatalog } from '../src/store/catalog/open-catalog.ts';
import { expectSluiceError } from './helpers/errors.ts';
import { catalogSchemas } from './helpers/postgres.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WRITER_SCRIPT = path.join(ROOT, 'test', 'fixtures', 'catalog-writer.ts');
const FULL_DISK_SCRIPT = path.join(ROOT, 'test', 'fixtures', 'full-disk-catalog.ts');
const WRITERS = 4;

interface Backend {
  /** The URL of a new, empty catalog. */
  freshUrl(): string;
  cleanup(): Promise<void>;
}

interface BackendKind {
  readonly name: Catalog['dialect'];
  /** Runs per writer process in the concurrency test; PostgreSQL here commits with fsync, so it gets fewer. */
  readonly runsPerWriter: number;
  create(): Backend;
}

function sqliteBackend(): Backend {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-catalog-'));
  let count = 0;
  return {
    freshUrl: () => `sqlite:${path.join(dir, `catalog-${++count}`, 'catalog.db')}`,
    cleanup: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })),
  };
}

function postgresBackend(): Backend {
  return catalogSchemas('sluice_test');
}

const BACKENDS: readonly BackendKind[] = [
  { name: 'sqlite', runsPerWriter: 200, create: sqliteBackend },
  { name: 'postgres', runsPerWriter: 10, create: postgresBackend },
];

const T0 = Date.UTC(2026, 10, 25, 8, 0, 0);
const at = (minutes: number): string => new Date(T0 + minutes * 60_000).toISOString();

function version(asset: string, n: number, overrides: Partial<VersionRecord> = {}): VersionRecord {
  return {
    asset,
    version: n,
    runId: `run-${n}`,
    stepId: `step-${n}`,
    createdAt: at(n),
    partitions: ['2026-11-24', '2026-11-25'],
    rowCount: 1000 * n,
    bytes: 2 ** 40 + n,
    manifestPath: `tables/${asset}/v${n}.json`,
    ...overrides,
  };
}

function edge(runId: string, direction: LineageEdge['direction'], dataset: string, extra: Partial<LineageEdge> = {}): LineageEdge {
  return { runId, stepId: `${runId}-step`, direction, dataset, kind: 'asset', version: 1, partition: '', fingerprint: null, ...extra };
}

function check(runId: string, target: string, index: number, minutes: number, extra: Partial<CheckRecord> = {}): CheckRecord {
  return {
    runId,
    stepId: `${runId}-${target}`,
    target,
    partition: '2026-11-25',
    index,
    expectationType: 'expect_column_values_to_not_be_null',
    column: 'customer_id',
    severity: 'error',
    success: true,
    unexpectedCount: 0,
    unexpectedPercent: 0,
    kwargs: { column: 'customer_id', mostly: 0.95 },
    result: { element_count: 1000, unexpected_count: 0, partial_unexpected_list: [] },
    createdAt: at(minutes),
    ...extra,
  };
}

function runWriter(url: string, writer: string, runs: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER_SCRIPT, url, writer, String(runs)], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

for (const kind of BACKENDS) {
  describe(`catalog (${kind.name})`, () => {
    let backend: Backend;
    let url: string;
    let catalog: Catalog;

    beforeAll(() => {
      backend = kind.create();
    });
    afterAll(async () => {
      await backend.cleanup();
    });
    beforeEach(async () => {
      url = backend.freshUrl();
      catalog = await openCatalog(url);
    });
    afterEach(async () => {
      await catalog.close();
    });

    it('reports its dialect', () => {
      expect(catalog.dialect).toBe(kind.name);
    });

    it('records a run from start to finish', async () => {
      const args = { select: ['orders+'], partitions: { from: '2026-11-01', to: '2026-11-25' }, force: false, note: null };
      const before = Date.now();
      await catalog.createRun({ id: 'r1', project: 'shop', startedAt: at(0), args, owner: 'host-a:123' });
      const created = await catalog.getRun('r1');
      expect(created).toEqual({ id: 'r1', project: 'shop', status: 'running', startedAt: at(0), endedAt: null, args, error: null, owner: 'host-a:123', heartbeatAtMs: expect.any(Number) as unknown });
      expect(created?.heartbeatAtMs).toBeGreaterThanOrEqual(before);
      await catalog.heartbeatRun('r1', before + 60_000);
      expect((await catalog.getRun('r1'))?.heartbeatAtMs).toBe(before + 60_000);

      await catalog.finishRun('r1', 'failed', at(5), 'asset orders: division by zero');
      expect(await catalog.getRun('r1')).toMatchObject({ status: 'failed', endedAt: at(5), error: 'asset orders: division by zero' });
      expect(await catalog.getRun('missing')).toBeUndefined();
    });

    it('rejects finishing an unknown run and creating a duplicate one', async () => {
      await expectSluiceError(catalog.finishRun('missing', 'success', at(1), null), 'CATALOG');
      await catalog.createRun({ id: 'r1', project: 'shop', startedAt: at(0), args: {} });
      const error = await expectSluiceError(catalog.createRun({ id: 'r1', project: 'shop', startedAt: at(0), args: {} }), 'CATALOG');
      expect(error.message).toContain('r1');
    });

    it('round-trips every step field, numbers and nulls, and keeps fields an update leaves out', async () => {
      await catalog.createRun({ id: 'r1', project: 'shop', startedAt: at(0), args: {} });
      await catalog.createSteps([{ id: 's1', runId: 'r1', asset: 'orders', partition: '2026-11-25', status: 'pending' }]);
      expect(await catalog.listSteps('r1')).toEqual([
        {
          id: 's1', runId: 'r1', asset: 'orders', partition: '2026-11-25', status: 'pending', attempts: 0, startedAt: null,
          endedAt: null, rowsIn: null, rowsOut: null, bytesWritten: null, badRecords: null, version: null, error: null,
        },
      ]);

      const full = {
        status: 'failed', attempts: 3, startedAt: at(1), endedAt: at(2), rowsIn: 0, rowsOut: 2 ** 33 + 1,
        bytesWritten: Number.MAX_SAFE_INTEGER, badRecords: 7, version: 12, error: 'disk full',
      } as const;
      await catalog.updateStep('s1', full);
      expect((await catalog.listSteps('r1'))[0]).toEqual({ id: 's1', runId: 'r1', asset: 'orders', partition: '2026-11-25', ...full });

      await catalog.updateStep('s1', { status: 'success', error: null, badRecords: null });
      expect((await catalog.listSteps('r1'))[0]).toMatchObject({ status: 'success', error: null, badRecords: null, attempts: 3, rowsOut: 2 ** 33 + 1, version: 12 });
      await expectSluiceError(catalog.updateStep('missing', { status: 'running' }), 'CATALOG');
    });

    it('lists the steps of one run in creation order', async () => {
      for (const id of ['c', 'a', 'b']) await catalog.createSteps([{ id, runId: 'r1', asset: `asset_${id}`, partition: '', status: 'pending' }]);
      await catalog.createSteps([{ id: 'other', runId: 'r2', asset: 'x', partition: '', status: 'pending' }]);
      expect((await catalog.listSteps('r1')).map((s) => s.id)).toEqual(['c', 'a', 'b']);
      expect(await catalog.listSteps('r3')).toEqual([]);
    });

    it('lists runs newest first, with a limit and a status filter', async () => {
      const runs = [
        { id: 'r2', minutes: 20, status: 'success' },
        { id: 'r1', minutes: 10, status: 'failed' },
        { id: 'r4', minutes: 40, status: 'success' },
        { id: 'r3', minutes: 30, status: 'partial' },
      ] as const;
      for (const run of runs) {
        await catalog.createRun({ id: run.id, project: 'shop', startedAt: at(run.minutes), args: {} });
        await catalog.finishRun(run.id, run.status, at(run.minutes + 1), null);
      }
      await catalog.createRun({ id: 'r5', project: 'shop', startedAt: at(50), args: {} });

      expect((await catalog.listRuns()).map((r) => r.id)).toEqual(['r5', 'r4', 'r3', 'r2', 'r1']);
      expect((await catalog.listRuns({ limit: 2 })).map((r) => r.id)).toEqual(['r5', 'r4']);
      expect((await catalog.listRuns({ status: 'success' })).map((r) => r.id)).toEqual(['r4', 'r2']);
      expect((await catalog.listRuns({ status: 'success', limit: 1 })).map((r) => r.id)).toEqual(['r4']);
      expect((await catalog.listRuns({ status: 'running' })).map((r) => r.id)).toEqual(['r5']);
    });

    it('pages runs and filters them by asset, job and start time', async () => {
      const jobs = ['daily', 'daily_x', 'daily', null, 'da%ly'] as const;
      for (const [i, job] of jobs.entries()) {
        await catalog.createRun({ id: `p${i}`, project: 'shop', startedAt: at(10 * (i + 1)), args: job === null ? { command: 'run' } : { command: 'schedule', job } });
      }
      await catalog.createSteps([{ id: 'p1-s', runId: 'p1', asset: 'orders', partition: '', status: 'pending' }, { id: 'p3-s', runId: 'p3', asset: 'orders', partition: '', status: 'pending' }]);
      expect((await catalog.listRuns({ limit: 2, offset: 1 })).map((r) => r.id)).toEqual(['p3', 'p2']);
      expect((await catalog.listRuns({ offset: 3 })).map((r) => r.id)).toEqual(['p1', 'p0']);
      expect((await catalog.listRuns({ asset: 'orders' })).map((r) => r.id)).toEqual(['p3', 'p1']);
      // LIKE's wildcards in a job name match only themselves.
      expect((await catalog.listRuns({ job: 'daily' })).map((r) => r.id)).toEqual(['p2', 'p0']);
      expect((await catalog.listRuns({ job: 'da%ly' })).map((r) => r.id)).toEqual(['p4']);
      expect((await catalog.listRuns({ since: at(30), job: 'daily' })).map((r) => r.id)).toEqual(['p2']);
    });

    it('lists backfills newest first with their partitions counted by state', async () => {
      await catalog.openBackfill({ id: 'b1', job: 'daily', from: '2026-11-01', to: '2026-11-03' }, ['2026-11-01', '2026-11-02', '2026-11-03']);
      await catalog.updateBackfillPartition('b1', '2026-11-01', { status: 'success', runId: 'r1' });
      await catalog.updateBackfillPartition('b1', '2026-11-02', { status: 'failed', error: 'boom' });
      const [b1] = await catalog.listBackfills();
      expect(b1).toMatchObject({ id: 'b1', job: 'daily', from: '2026-11-01', to: '2026-11-03', partitions: { pending: 1, running: 0, success: 1, failed: 1 } });
      expect(Date.parse(b1?.updatedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(b1?.createdAt ?? ''));
    });

    it('lists versions newest first and accepts an identical version twice', async () => {
      for (const n of [2, 1, 3]) await catalog.recordVersion(version('orders', n));
      await catalog.recordVersion(version('customers', 1, { partitions: [''], stepId: null }));

      expect(await catalog.listVersions('orders')).toEqual([version('orders', 3), version('orders', 2), version('orders', 1)]);
      expect(await catalog.listVersions('customers')).toEqual([version('customers', 1, { partitions: [''], stepId: null })]);
      expect(await catalog.listVersions('nothing')).toEqual([]);

      await catalog.recordVersion(version('orders', 2));
      await catalog.recordVersion(version('orders', 2, { createdAt: at(99) }));
      expect((await catalog.listVersions('orders')).map((v) => [v.version, v.createdAt])).toEqual([
        [3, at(3)],
        [2, at(2)],
        [1, at(1)],
      ]);
    });

    it('refuses a different version under a number already taken', async () => {
      await catalog.recordVersion(version('orders', 1));
      const error = await expectSluiceError(catalog.recordVersion(version('orders', 1, { runId: 'run-9', manifestPath: 'x.json' })), 'COMMIT_CONFLICT');
      expect(error.context).toMatchObject({ asset: 'orders', version: 1 });
      expect(await catalog.listVersions('orders')).toEqual([version('orders', 1)]);
    });

    it('lists lineage by run, by dataset, and by both', async () => {
      const edges = [
        edge('r1', 'read', 'raw_orders', { kind: 'source', version: null, fingerprint: 'size=10,mtime=1' }),
        edge('r1', 'write', 'orders', { partition: '2026-11-25', version: 3 }),
        edge('r2', 'read', 'orders', { version: 3 }),
        edge('r2', 'write', 'revenue', { version: 1 }),
      ];
      await catalog.recordLineage(edges);
      await catalog.recordLineage([]);

      expect(await catalog.listLineage({ runId: 'r1' })).toEqual(edges.slice(0, 2));
      expect(await catalog.listLineage({ dataset: 'orders' })).toEqual([edges[1], edges[2]]);
      expect(await catalog.listLineage({ runId: 'r2', dataset: 'orders' })).toEqual([edges[2]]);
      expect(await catalog.listLineage({ runId: 'r3' })).toEqual([]);
    });

    it('records a lineage batch larger than one insert statement', async () => {
      const edges = Array.from({ length: 1234 }, (_, i) => edge('big', 'read', `source_${i}`, { kind: 'source', version: null }));
      await catalog.recordLineage(edges);
      expect(await catalog.listLineage({ runId: 'big' })).toEqual(edges);
    });

    it('keeps column lineage per version, in output order, constants included, and replaces a version when recorded again', async () => {
      const v1: ColumnLineageRecord[] = [
        { asset: 'features', version: 1, runId: 'r1', column: 'user_id', inputs: [{ dataset: 'daily', column: 'user_id', kind: 'direct' }, { dataset: 'users', column: 'user_id', kind: 'join' }] },
        { asset: 'features', version: 1, runId: 'r1', column: 'logins_7d', inputs: [{ dataset: 'daily', column: 'date', kind: 'filter' }, { dataset: 'daily', column: 'logins', kind: 'aggregate' }] },
        { asset: 'features', version: 1, runId: 'r1', column: 'one', inputs: [] },
      ];
      await catalog.recordColumnLineage(v1);
      const v2 = v1.map((c) => ({ ...c, version: 2, runId: 'r2' })).slice(0, 2);
      await catalog.recordColumnLineage(v2);
      expect(await catalog.listColumnLineage('features')).toEqual(v2);
      expect(await catalog.listColumnLineage('features', { version: 1 })).toEqual(v1);
      expect(await catalog.listColumnLineage('features', { version: 3 })).toEqual([]);
      expect(await catalog.listColumnLineage('other')).toEqual([]);
      const again = [{ ...v2[0] as ColumnLineageRecord, inputs: [{ dataset: 'daily', column: 'user_id', kind: 'unresolved' as const }] }];
      await catalog.recordColumnLineage(again);
      expect(await catalog.listColumnLineage('features', { version: 2 })).toEqual(again);
    });

    it('round-trips check results: booleans, nulls, numbers and nested JSON', async () => {
      const failing = check('r1', 'orders', 0, 1, {
        success: false,
        severity: 'warn',
        unexpectedCount: 2 ** 33 + 1,
        unexpectedPercent: 12.5,
        kwargs: { column: 'amount', min_value: 0, max_value: null, strict_min: true },
        result: {
          element_count: 8,
          unexpected_count: 1,
          partial_unexpected_list: [-3.25, 'naïve "quoted" <b>', null, { nested: [1, true] }],
          partial_unexpected_counts: [{ value: -3.25, count: 1 }],
          details: { note: 'ünïcode ✓' },
        },
      });
      const standalone = check('r1', 'data/file.csv', 1, 1, {
        stepId: null,
        partition: '',
        column: null,
        expectationType: 'expect_table_row_count_to_be_between',
        unexpectedCount: null,
        unexpectedPercent: null,
        kwargs: {},
        result: { observed_value: 0 },
      });
      await catalog.recordChecks([failing, standalone]);
      await catalog.recordChecks([]);
      expect(await catalog.listChecks({ runId: 'r1' })).toEqual([failing, standalone]);
      expect(await catalog.listChecks({ runId: 'nothing' })).toEqual([]);
    });

    it('stores bigints in results as numbers, or as strings when too large', async () => {
      const record = check('r1', 'orders', 0, 1, { result: { observed_value: 42n, huge: 2n ** 70n } });
      await catalog.recordChecks([record]);
      expect((await catalog.listChecks({ runId: 'r1' }))[0]?.result).toEqual({ observed_value: 42, huge: (2n ** 70n).toString() });
    });

    it('lists check results newest first, in suite order, filtered by run and target, with a limit', async () => {
      await catalog.recordChecks([check('r1', 'orders', 0, 10), check('r1', 'orders', 1, 10), check('r1', 'customers', 0, 11)]);
      await catalog.recordChecks([check('r2', 'orders', 1, 20, { success: false }), check('r2', 'orders', 0, 20)]);
      await catalog.recordChecks([check('r0', 'orders', 0, 5)]);
      const key = (c: CheckRecord): string => `${c.runId}/${c.target}/${c.index}`;

      expect((await catalog.listChecks({})).map(key)).toEqual(['r2/orders/0', 'r2/orders/1', 'r1/customers/0', 'r1/orders/0', 'r1/orders/1', 'r0/orders/0']);
      expect((await catalog.listChecks({ target: 'orders' })).map(key)).toEqual(['r2/orders/0', 'r2/orders/1', 'r1/orders/0', 'r1/orders/1', 'r0/orders/0']);
      expect((await catalog.listChecks({ runId: 'r1' })).map(key)).toEqual(['r1/customers/0', 'r1/orders/0', 'r1/orders/1']);
      expect((await catalog.listChecks({ runId: 'r1', target: 'orders' })).map(key)).toEqual(['r1/orders/0', 'r1/orders/1']);
      expect((await catalog.listChecks({ target: 'orders', limit: 3 })).map(key)).toEqual(['r2/orders/0', 'r2/orders/1', 'r1/orders/0']);
      expect((await catalog.listChecks({ target: 'orders', limit: 2 })).map((c) => c.success)).toEqual([true, false]);
      expect(await catalog.listChecks({ target: 'missing' })).toEqual([]);
    });

    it('summarises the latest outcome of every partition: blocked by check or by error, warnings, ignoring skips and ad-hoc checks', async () => {
      const day = (n: number): string => `2026-11-${String(n).padStart(2, '0')}`;
      const build = async (runId: string, n: number, status: 'success' | 'failed' | 'skipped' | 'upstream_failed', failing: { index: number; severity: 'error' | 'warn'; column: string }[] = [], error: string | null = null): Promise<void> => {
        const id = `${runId}-${n}`;
        await catalog.createSteps([{ id, runId, asset: 'daily', partition: day(n), status: 'pending' }]);
        await catalog.updateStep(id, { status, error });
        if (status === 'skipped' || status === 'upstream_failed' || error !== null) return;
        await catalog.recordChecks([0, 1, 2].map((index) => {
          const fail = failing.find((f) => f.index === index);
          return check(runId, 'daily', index, n, { stepId: id, partition: day(n), success: fail === undefined, severity: fail?.severity ?? 'error', column: fail?.column ?? `c${index}`, expectationType: index === 2 ? 'expect_column_values_to_be_unique' : 'expect_column_values_to_not_be_null' });
        }));
      };
      for (const runId of ['r1', 'r2', 'r3']) await catalog.createRun({ id: runId, project: 'p', startedAt: at(0), args: {} });
      for (let n = 1; n <= 20; n++) await build('r1', n, 'success');
      // Run 2: twelve days fail one check, one day another, one fails before its checks, one only warns.
      for (let n = 1; n <= 12; n++) await build('r2', n, 'failed', [{ index: 0, severity: 'error', column: 'c0' }, ...(n === 3 ? [{ index: 2, severity: 'warn' as const, column: 'c2' }] : [])]);
      await build('r2', 13, 'failed', [{ index: 1, severity: 'error', column: 'c1' }]);
      await build('r2', 14, 'failed', [], 'SOURCE_MISSING: no file matches data/2026-11-14.csv');
      await build('r2', 15, 'success', [{ index: 2, severity: 'warn', column: 'c2' }]);
      await build('r2', 16, 'skipped');
      await build('r2', 17, 'upstream_failed');
      // Run 3 fixes the first day; an ad-hoc validation failing everything counts for nothing.
      await build('r3', 1, 'success');
      await catalog.recordChecks([check('validate-x', 'daily', 0, 30, { stepId: null, partition: day(18), success: false })]);

      const [daily, other] = await catalog.partitionOutcomes(['daily', 'other'], { sampleKeys: 3 });
      expect(daily).toMatchObject({ asset: 'daily', attempted: 20, blocked: 13, warned: 2 });
      expect(daily?.blockedKeys).toEqual([...Array.from({ length: 12 }, (_, i) => day(i + 2)), day(14)].sort());
      expect(daily?.failingChecks.map((g) => [g.severity, g.column, g.partitions, g.keys])).toEqual([
        ['error', 'c0', 11, [day(2), day(3), day(4)]],
        ['error', 'c1', 1, [day(13)]],
        ['warn', 'c2', 2, [day(3), day(15)]],
      ]);
      expect(daily?.otherFailures).toEqual({ partitions: 1, keys: [day(14)], firstError: 'SOURCE_MISSING: no file matches data/2026-11-14.csv' });
      // 19 partitions with three checks each (day 14 recorded none): 14 failing results.
      expect(daily?.checks).toMatchObject({ passed: 19 * 3 - 14, failed: 14, lastAt: at(20) });
      expect(other).toMatchObject({ asset: 'other', attempted: 0, blocked: 0, blockedKeys: [], failingChecks: [], otherFailures: null, checks: { passed: 0, failed: 0, lastAt: null } });
    });

    it('aggregates a check history per run and per backfill, in a range, with capped lists', async () => {
      for (const [id, minute] of [['b1', 1], ['b2', 2], ['b3', 3]] as const) await catalog.createRun({ id, project: 'p', startedAt: at(minute), args: { command: 'backfill', backfill: 'job:2026-11-01:2026-11-03' } });
      await catalog.createRun({ id: 'solo', project: 'p', startedAt: at(10), args: { assets: ['orders'] } });
      const day = (n: number): string => `2026-11-0${n}`;
      await catalog.recordChecks([check('b1', 'orders', 0, 1, { partition: day(1) }), check('b1', 'orders', 1, 1, { partition: day(1), success: false })]);
      await catalog.recordChecks([check('b2', 'orders', 0, 2, { partition: day(2), success: false, severity: 'warn' }), check('b2', 'orders', 1, 2, { partition: day(2) })]);
      await catalog.recordChecks([check('b3', 'orders', 0, 3, { partition: day(3) }), check('b3', 'orders', 1, 3, { partition: day(3) })]);
      await catalog.recordChecks([2, 1].flatMap((n) => [0, 1].map((i) => check('solo', 'orders', i, 10, { partition: day(n), success: i === 0 }))));
      await catalog.recordChecks([check('validate-x', 'orders', 0, 20, { success: false }), check('other', 'customers', 0, 20, { success: false })]);

      const all = await catalog.checkHistory({ target: 'orders', entries: 10, failures: 10 });
      expect(all.totals).toEqual({ results: 10, passed: 6, failed: 4, failedErrors: 3, runs: 4, entries: 2, failingEntries: 2 });
      expect(all.entries).toEqual([
        { kind: 'backfill', id: 'job:2026-11-01:2026-11-03', runs: 3, firstCheckedAt: at(1), checkedAt: at(3), partitions: 3, passed: 4, failed: 2, failedErrors: 1, blockedPartitions: 1, warnedPartitions: 1 },
        { kind: 'run', id: 'solo', runs: 1, firstCheckedAt: at(10), checkedAt: at(10), partitions: 2, passed: 2, failed: 2, failedErrors: 2, blockedPartitions: 2, warnedPartitions: 0 },
      ]);
      expect(all.failingEntries).toEqual(all.entries);
      expect(all.latestFailures.map((r) => [r.runId, r.partition, r.index])).toEqual([['solo', day(1), 1], ['solo', day(2), 1]]);

      const recent = await catalog.checkHistory({ target: 'orders', since: at(2), entries: 1, failures: 1 });
      expect(recent.totals).toMatchObject({ results: 8, runs: 3, entries: 2 });
      expect(recent.entries.map((e) => [e.id, e.runs, e.partitions])).toEqual([['solo', 1, 2]]);
      expect(recent.latestFailures.map((r) => r.partition)).toEqual([day(1)]);
      expect(await catalog.checkHistory({ target: 'nothing', entries: 5, failures: 5 })).toEqual({
        totals: { results: 0, passed: 0, failed: 0, failedErrors: 0, runs: 0, entries: 0, failingEntries: 0 }, entries: [], failingEntries: [], latestFailures: [],
      });
    });

    it('records a check batch larger than one insert statement', async () => {
      const checks = Array.from({ length: 1234 }, (_, i) => check('big', 'wide', i, 1, { column: `c${i}` }));
      await catalog.recordChecks(checks);
      expect(await catalog.listChecks({ runId: 'big' })).toEqual(checks);
    });

    it('saves stream checkpoints per job partition and never rolls one back', async () => {
      expect(await catalog.loadCheckpoint('job', 'p0')).toBeUndefined();
      expect(await catalog.saveCheckpoint({ job: 'job', partition: 'p0', sequence: 10, state: { keys: { a: [1, 2] } } })).toBe(true);
      expect(await catalog.saveCheckpoint({ job: 'job', partition: 'p1', sequence: 3, state: null })).toBe(true);
      expect(await catalog.saveCheckpoint({ job: 'job', partition: 'p0', sequence: 25, state: { keys: { a: [3] } } })).toBe(true);
      // A worker that fell behind cannot overwrite newer progress.
      expect(await catalog.saveCheckpoint({ job: 'job', partition: 'p0', sequence: 20, state: { stale: true } })).toBe(false);
      expect(await catalog.loadCheckpoint('job', 'p0')).toMatchObject({ sequence: 25, state: { keys: { a: [3] } } });
      expect(await catalog.loadCheckpoint('job', 'p1')).toMatchObject({ sequence: 3, state: null });
      expect(await catalog.loadCheckpoint('other', 'p0')).toBeUndefined();
    });

    it('saves keyed stream state incrementally with its checkpoint, in one transaction the stale guard covers', async () => {
      const save = (sequence: number, put: [string, unknown][], remove: string[] = []): Promise<boolean> =>
        catalog.saveCheckpoint({ job: 'inc', partition: 'p0', sequence, state: { at: sequence }, put: put.map(([key, state]) => ({ key, state })), delete: remove });
      expect(await save(10, [['a', { n: 1 }], ['b', { n: 1 }], ['gone', [1, 2]]])).toBe(true);
      // Only what changed: b is replaced, c added, gone deleted, a kept as saved at 10.
      expect(await save(20, [['b', { n: 2 }], ['c', { n: 1 }]], ['gone', 'never-saved'])).toBe(true);
      // A stale writer changes neither the position nor any key.
      expect(await save(15, [['a', { stale: true }], ['d', { stale: true }]], ['b'])).toBe(false);
      const loaded = await catalog.loadCheckpoint('inc', 'p0');
      expect(loaded).toMatchObject({ sequence: 20, state: { at: 20 } });
      expect(loaded?.entries).toEqual([{ key: 'a', state: { n: 1 } }, { key: 'b', state: { n: 2 } }, { key: 'c', state: { n: 1 } }]);
      // Other partitions' keys are their own; a checkpoint without keys keeps the saved ones.
      expect(await catalog.saveCheckpoint({ job: 'inc', partition: 'p1', sequence: 5, state: null, put: [{ key: 'a', state: 'p1' }] })).toBe(true);
      expect(await catalog.saveCheckpoint({ job: 'inc', partition: 'p0', sequence: 30, state: { at: 30 } })).toBe(true);
      expect((await catalog.loadCheckpoint('inc', 'p0'))?.entries.map((e) => e.key)).toEqual(['a', 'b', 'c']);
      expect((await catalog.loadCheckpoint('inc', 'p1'))?.entries).toEqual([{ key: 'a', state: 'p1' }]);
      // More keys than one statement holds, then all of them deleted.
      const many = Array.from({ length: 2500 }, (_, i): [string, unknown] => [`k${String(i).padStart(4, '0')}`, { i }]);
      expect(await save(40, many)).toBe(true);
      expect((await catalog.loadCheckpoint('inc', 'p0'))?.entries).toHaveLength(2503);
      expect(await save(50, [], many.map(([key]) => key))).toBe(true);
      expect((await catalog.loadCheckpoint('inc', 'p0'))?.entries.map((e) => e.key)).toEqual(['a', 'b', 'c']);
    });

    it('gives a run key to exactly one of many concurrent claimants, and lists keys by prefix', async () => {
      const claims = await Promise.all(Array.from({ length: 8 }, (_, i) =>
        catalog.claimRunKey({ key: 'schedule:daily:2026-11-26', runId: `r${i}`, job: 'daily', partition: '2026-11-26', origin: 'schedule' })));
      const winners = claims.filter((c) => c.claimed);
      expect(winners).toHaveLength(1);
      expect(new Set(claims.map((c) => c.runId))).toEqual(new Set([winners[0]?.runId]));
      await catalog.claimRunKey({ key: 'schedule:daily:2026-11-27', runId: 'r9', job: 'daily', partition: '2026-11-27', origin: 'schedule' });
      await catalog.claimRunKey({ key: 'schedule:daily_x:2026-11-27', runId: 'r10', job: 'daily_x', partition: '2026-11-27', origin: 'schedule' });
      expect((await catalog.listRunKeys('schedule:daily:')).map((k) => k.partition)).toEqual(['2026-11-26', '2026-11-27']);
      expect(await catalog.getRunKey('schedule:daily:2026-11-27')).toMatchObject({ runId: 'r9', job: 'daily', origin: 'schedule' });
      expect(await catalog.getRunKey('nope')).toBeUndefined();
    });

    it('grants a lease to one holder until it is released or goes stale', async () => {
      expect(await catalog.acquireLease('asset:a/2026-11-01', 'w1', 60_000)).toBe(true);
      expect(await catalog.acquireLease('asset:a/2026-11-01', 'w2', 60_000)).toBe(false);
      expect(await catalog.acquireLease('asset:a/2026-11-01', 'w1', 60_000)).toBe(true); // renewal
      expect(await catalog.getLease('asset:a/2026-11-01')).toMatchObject({ holder: 'w1' });
      await catalog.releaseLease('asset:a/2026-11-01', 'w2'); // not the holder: no effect
      expect(await catalog.acquireLease('asset:a/2026-11-01', 'w2', 60_000)).toBe(false);
      await catalog.releaseLease('asset:a/2026-11-01', 'w1');
      expect(await catalog.acquireLease('asset:a/2026-11-01', 'w2', 1)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(await catalog.acquireLease('asset:a/2026-11-01', 'w3', 60_000)).toBe(true); // w2's went stale
      expect(await catalog.getLease('asset:a/2026-11-01')).toMatchObject({ holder: 'w3' });
    });

    it('keeps cursors, with compare-and-set', async () => {
      expect(await catalog.getCursor('sensor:files')).toBeUndefined();
      expect(await catalog.setCursor('sensor:files', 'a', { expected: null })).toBe(true);
      expect(await catalog.setCursor('sensor:files', 'b', { expected: null })).toBe(false);
      expect(await catalog.setCursor('sensor:files', 'c', { expected: 'x' })).toBe(false);
      expect(await catalog.setCursor('sensor:files', 'c', { expected: 'a' })).toBe(true);
      expect(await catalog.setCursor('source:users', '42')).toBe(true);
      expect(await catalog.setCursor('source:users', '43')).toBe(true);
      expect(await catalog.getCursor('sensor:files')).toMatchObject({ value: 'c' });
      expect((await catalog.listCursors('source:')).map((c) => [c.name, c.value])).toEqual([['source:users', '43']]);
    });

    it('records training sets, lists them newest first, by id or pin, and pins and unpins them', async () => {
      const record = (id: string, createdAt: string, versions: Record<string, number>): TrainingSetRecord => ({
        id, project: 'p', service: 'churn_model', definitionsHash: 'd'.repeat(64),
        spine: { source: '/data/spine.parquet', sha256: 's'.repeat(64), rows: 3_000_000_000, timestampColumn: 'event_timestamp' },
        versions, sluiceVersion: '0.1.0', output: { path: '/out/train.parquet', sha256: 'o'.repeat(64), bytes: 5_000_000_000, rows: 3_000_000_000 },
        tags: { model: 'churn-v3', run: 'mlflow:abc=123' }, createdAt, pinned: true,
      });
      await catalog.recordTrainingSet(record('ts-a', '2026-11-01T00:00:00.000Z', { user_features: 3, activity: 12 }));
      await catalog.recordTrainingSet(record('ts-b', '2026-11-02T00:00:00.000Z', { user_features: 4 }));
      expect(await catalog.listTrainingSets({ id: 'ts-a' })).toEqual([record('ts-a', '2026-11-01T00:00:00.000Z', { user_features: 3, activity: 12 })]);
      expect((await catalog.listTrainingSets()).map((r) => r.id)).toEqual(['ts-b', 'ts-a']);
      await catalog.setTrainingSetPinned('ts-b', false);
      expect((await catalog.listTrainingSets({ pinned: true })).map((r) => r.id)).toEqual(['ts-a']);
      expect((await catalog.listTrainingSets({ pinned: false })).map((r) => [r.id, r.pinned])).toEqual([['ts-b', false]]);
      await expect(catalog.setTrainingSetPinned('ts-nope', true)).rejects.toMatchObject({ code: 'TRAINING_SET_NOT_FOUND' });
      await expect(catalog.recordTrainingSet(record('ts-a', '2026-11-03T00:00:00.000Z', {}))).rejects.toThrow(/ts-a/);
    });

    it('keeps vault entries once per token, reads them in batches larger than one statement, and deletes them', async () => {
      const entries = Array.from({ length: 1203 }, (_, i) => ({ token: `tok_${String(i).padStart(32, '0')}`, pii: i % 2 === 0 ? 'email' : 'id', sealed: `sealed-${i}` }));
      await catalog.putVaultEntries(entries);
      await catalog.putVaultEntries([{ token: entries[0]?.token ?? '', pii: 'email', sealed: 'other' }]);
      const read = await catalog.vaultEntries([...entries.map((e) => e.token), 'tok_missing']);
      expect(read.sort((a, b) => a.token.localeCompare(b.token))).toEqual(entries);
      expect(await catalog.deleteVaultEntries([entries[0]?.token ?? '', entries[1]?.token ?? '', 'tok_missing'])).toBe(2);
      expect(await catalog.vaultEntries([entries[0]?.token ?? '', entries[2]?.token ?? ''])).toEqual([entries[2]]);
    });

    it('records audit entries, adds the counts of one id, and lists them newest first by time, principal and action', async () => {
      const entry = (id: string, atIso: string, principal: string, action: AuditEntry['action'], count: number, detail: Record<string, unknown> = {}): AuditEntry => ({
        id, at: atIso, principal, keyId: action === 'read' ? 'k-0a1b2c' : null, action, target: action === 'read' ? 'service:churn_model' : 'asset:orders', count, detail,
      });
      await catalog.recordAudit([]);
      await catalog.recordAudit([entry('read-a-0800', at(0), 'model-a', 'read', 3), entry('run-1', at(1), 'alice', 'run', 1, { runId: 'r1', assets: ['orders'] })]);
      // A second flush of the same minute (another process, or the next interval) adds to the first.
      await catalog.recordAudit([entry('read-a-0800', at(0), 'model-a', 'read', 4_000_000_000)]);
      await catalog.recordAudit([entry('delete-1', at(2), 'bob', 'delete', 1, { partitions: ['2026-11-01'] })]);
      expect(await catalog.listAudit()).toEqual([
        entry('delete-1', at(2), 'bob', 'delete', 1, { partitions: ['2026-11-01'] }),
        entry('run-1', at(1), 'alice', 'run', 1, { runId: 'r1', assets: ['orders'] }),
        entry('read-a-0800', at(0), 'model-a', 'read', 4_000_000_003),
      ]);
      expect((await catalog.listAudit({ since: at(1) })).map((e) => e.id)).toEqual(['delete-1', 'run-1']);
      expect((await catalog.listAudit({ principal: 'model-a' })).map((e) => e.id)).toEqual(['read-a-0800']);
      expect((await catalog.listAudit({ action: 'run' })).map((e) => e.id)).toEqual(['run-1']);
      expect((await catalog.listAudit({ limit: 1 })).map((e) => e.id)).toEqual(['delete-1']);
    });

    it('opens a backfill once and keeps its partitions\' progress when opened again', async () => {
      const bf = await catalog.openBackfill({ id: 'bf1', job: 'daily', from: '2026-11-01', to: '2026-11-03' }, ['2026-11-01', '2026-11-02', '2026-11-03']);
      expect(bf).toMatchObject({ id: 'bf1', job: 'daily', from: '2026-11-01', to: '2026-11-03' });
      await catalog.updateBackfillPartition('bf1', '2026-11-02', { status: 'success', runId: 'r2', attempts: 1 });
      await catalog.updateBackfillPartition('bf1', '2026-11-03', { status: 'failed', runId: 'r3', error: 'boom', attempts: 1 });
      await catalog.openBackfill({ id: 'bf1', job: 'daily', from: '2026-11-01', to: '2026-11-03' }, ['2026-11-01', '2026-11-02', '2026-11-03']);
      expect((await catalog.listBackfillPartitions('bf1')).map((p) => [p.partition, p.status, p.runId, p.error])).toEqual([
        ['2026-11-01', 'pending', null, null], ['2026-11-02', 'success', 'r2', null], ['2026-11-03', 'failed', 'r3', 'boom'],
      ]);
    });

    it('keeps its data when closed and opened again', async () => {
      await catalog.createRun({ id: 'r1', project: 'shop', startedAt: at(0), args: { force: true } });
      await catalog.createSteps([{ id: 's1', runId: 'r1', asset: 'orders', partition: '', status: 'pending' }]);
      await catalog.updateStep('s1', { status: 'success', rowsOut: 42, version: 1 });
      await catalog.recordVersion(version('orders', 1));
      await catalog.recordLineage([edge('r1', 'write', 'orders')]);
      await catalog.recordChecks([check('r1', 'orders', 0, 1, { success: false })]);
      await catalog.finishRun('r1', 'success', at(1), null);
      await catalog.close();

      catalog = await openCatalog(url);
      expect(await catalog.getRun('r1')).toMatchObject({ status: 'success', args: { force: true } });
      expect(await catalog.listSteps('r1')).toMatchObject([{ id: 's1', status: 'success', rowsOut: 42, version: 1 }]);
      expect(await catalog.listVersions('orders')).toEqual([version('orders', 1)]);
      expect(await catalog.listLineage({ runId: 'r1' })).toEqual([edge('r1', 'write', 'orders')]);
      expect(await catalog.listChecks({ target: 'orders' })).toEqual([check('r1', 'orders', 0, 1, { success: false })]);
    });

    it(`takes writes from ${WRITERS} processes at once without losing any`, async () => {
      const sharedUrl = backend.freshUrl();
      const writers = Array.from({ length: WRITERS }, (_, i) => `w${i}`);
      const results = await Promise.all(writers.map((writer) => runWriter(sharedUrl, writer, kind.runsPerWriter)));
      for (const result of results) expect(result.code, result.stderr).toBe(0);

      const shared = await openCatalog(sharedUrl);
      try {
        const runs = await shared.listRuns();
        expect(runs).toHaveLength(WRITERS * kind.runsPerWriter);
        expect(runs.every((run) => run.status === 'success')).toBe(true);
        for (const run of runs) {
          expect(await shared.listSteps(run.id)).toMatchObject([{ status: 'success', attempts: 1, rowsIn: run.args['index'] }]);
        }
        for (const writer of writers) {
          expect(await shared.listVersions(`asset_${writer}`)).toHaveLength(kind.runsPerWriter);
          expect(await shared.listLineage({ dataset: `asset_${writer}` })).toHaveLength(kind.runsPerWriter);
        }
        expect(await shared.listLineage({ dataset: 'shared_source' })).toHaveLength(WRITERS * kind.runsPerWriter);
      } finally {
        await shared.close();
      }
    });
  });
}

describe('openCatalog', () => {
  it('rejects an unknown scheme, naming the URL and the accepted forms without its password', async () => {
    const error = await expectSluiceError(openCatalog('mysql://admin:hunter2@db.example/catalog'), 'CONFIG_INVALID');
    expect(error.message).toContain('mysql://admin:***@db.example/catalog');
    expect(error.message).not.toContain('hunter2');
    expect(error.message).toContain('sqlite:<path>');
    expect(error.message).toContain('postgres://');
  });

  it('rejects a sqlite URL without a path and a schema name that is not an identifier', async () => {
    await expectSluiceError(openCatalog('sqlite:'), 'CONFIG_INVALID');
    await expectSluiceError(openCatalog('postgres://postgres@127.0.0.1:5432/postgres?schema=a;drop'), 'CONFIG_INVALID');
  });

  it('a full disk is named as the cause, not hidden behind the rollback SQLite already made', async () => {
    // A private mount namespace with a 512 KB tmpfs: a real ENOSPC, gone when the process exits.
    const mountPoint = mkdtempSync(path.join(os.tmpdir(), 'sluice-full-disk-'));
    try {
      const script = `mount -t tmpfs -o size=512k tmpfs ${mountPoint} && exec ${process.execPath} --import tsx ${FULL_DISK_SCRIPT} sqlite:${mountPoint}/catalog.db`;
      const child = spawn('unshare', ['--map-root-user', '--mount', 'sh', '-c', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code, stderr).toBe(0);
      const result = JSON.parse(stdout) as { failed?: { message: string; code: string }; kept: number };
      expect(result.failed?.code).toBe('CATALOG');
      expect(result.failed?.message).toMatch(/^could not record check results in the sqlite catalog: database or disk is full/);
      expect(result.failed?.message).toMatch(/free disk space/);
      expect(result.failed?.message).not.toMatch(/cannot rollback/);
      // The failed transaction left nothing behind.
      expect(result.kept).toBe(0);
    } finally {
      rmSync(mountPoint, { recursive: true, force: true });
    }
  });
});
