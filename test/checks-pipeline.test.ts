// Checks in pipelines: error checks gate publishing and downstream steps, warn checks are recorded,
// failing rows are quarantined, drift and anomaly checks use the previous version and catalog history,
// alerts reach a webhook, and `sluice validate` gives GX's result shape and exit codes.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect as assert, it } from 'vitest';
import { asset, dailyPartitions, defineProject, expect, fileSource, SluiceError } from '../src/index.ts';
import { queryTable } from '../src/batch/inspect.ts';
import { runAssets } from '../src/batch/runner.ts';
import type { Project } from '../src/define/project.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';
import { openCatalog } from '../src/store/catalog/open-catalog.ts';
import { duck, makeTempDir, runCli } from './helpers/temp.ts';

let dir: string;
let cleanup: () => void;
const open: Workspace[] = [];

beforeEach(() => {
  ({ dir, cleanup } = makeTempDir('sluice-checks-'));
  fs.mkdirSync(path.join(dir, 'data'));
});
afterEach(async () => {
  for (const ws of open.splice(0)) await ws.close();
  cleanup();
});

function writeOrders(rows: string[]): void {
  fs.writeFileSync(path.join(dir, 'data', 'orders.csv'), ['order_id,customer_id,amount,status', ...rows].join('\n'));
}

const orders = fileSource('orders', { format: 'csv', path: 'data/orders.csv', columns: { order_id: 'BIGINT', customer_id: 'BIGINT', amount: 'DOUBLE', status: 'VARCHAR' } });

async function workspace(project: Project, settings: { alertWebhooks?: string[] } = {}): Promise<Workspace> {
  const ws = await openWorkspace(project, dir);
  open.push(ws);
  if (settings.alertWebhooks !== undefined) Object.assign(ws.settings, { alertWebhooks: settings.alertWebhooks });
  return ws;
}

describe('checks in pipelines', () => {
  it('an error check blocks publishing and downstream; a warn check is recorded; failing rows are quarantined', async () => {
    writeOrders(['1,10,25.0,paid', '2,11,-5.0,paid', '3,,12.0,refunded', '4,12,7.5,unknown']);
    const clean = asset('clean_orders', {
      sql: ({ ref }) => `SELECT * FROM ${ref(orders)}`,
      checks: [
        expect.columnValuesToNotBeNull('customer_id', { severity: 'warn' }),
        expect.columnValuesToBeBetween('amount', { minValue: 0 }),
        expect.columnValuesToBeInSet('status', { valueSet: ['paid', 'refunded'] }),
        expect.columnValuesToBeUnique('order_id'),
      ],
    });
    const totals = asset('totals', { sql: ({ ref }) => `SELECT sum(amount) AS total FROM ${ref(clean)}` });
    const ws = await workspace(defineProject({ name: 'p', assets: [clean, totals] }));
    const summary = await runAssets(ws);
    assert(summary.steps.map((s) => [s.asset, s.status])).toEqual([['clean_orders', 'failed'], ['totals', 'upstream_failed']]);
    const error = summary.steps[0]?.error ?? '';
    assert(error).toMatch(/2 error check\(s\) failed, nothing was published/);
    assert(error).toMatch(/expect_column_values_to_be_between\(amount\): 1 unexpected \(25\.00%\), e\.g\. \[-5\]/);
    assert(error).toMatch(/expect_column_values_to_be_in_set\(status\): 1 unexpected/);
    assert(await ws.tables.latest('clean_orders')).toBeUndefined();

    const checks = await ws.catalog.listChecks({ runId: summary.runId });
    const byType = Object.fromEntries(checks.map((c) => [c.expectationType, c]));
    assert(byType['expect_column_values_to_not_be_null']).toMatchObject({ success: false, severity: 'warn', column: 'customer_id', unexpectedCount: 1, target: 'clean_orders' });
    assert(byType['expect_column_values_to_be_between']).toMatchObject({ success: false, severity: 'error', unexpectedCount: 1 });
    assert(byType['expect_column_values_to_be_unique']).toMatchObject({ success: true });
    assert(byType['expect_column_values_to_be_between']?.result['partial_unexpected_list']).toEqual([-5]);

    // Quarantine: each failing row with the expectation it failed (error and warn alike).
    const qdir = path.join(dir, '.sluice', 'quarantine', 'clean_orders', '_');
    const [file] = fs.readdirSync(qdir);
    const rows = await duck<{ order_id: bigint; _failed_expectation: string; _severity: string }>(`SELECT order_id, _failed_expectation, _severity FROM read_parquet('${path.join(qdir, file ?? '')}') ORDER BY order_id, _failed_expectation`);
    assert(rows.map((r) => [Number(r.order_id), r._failed_expectation, r._severity])).toEqual([
      [2, 'expect_column_values_to_be_between(amount)', 'error'],
      [3, 'expect_column_values_to_not_be_null(customer_id)', 'warn'],
      [4, 'expect_column_values_to_be_in_set(status)', 'error'],
    ]);

    // Fixed data: the warn check still fails, is recorded, and the run goes on.
    writeOrders(['1,10,25.0,paid', '2,11,5.0,paid', '3,,12.0,refunded']);
    const fixed = await runAssets(ws);
    assert(fixed.status).toBe('success');
    assert(fixed.steps[0]?.outcome?.checks?.warnings.map((w) => w.expectation_config.type)).toEqual(['expect_column_values_to_not_be_null']);
    assert(await queryTable(ws, 'totals', (t) => `SELECT total FROM ${t}`)).toEqual([{ total: 42 }]);
  });

  it('a missing column fails only that expectation, with a message naming it', async () => {
    writeOrders(['1,10,25.0,paid']);
    const clean = asset('clean_orders', {
      sql: ({ ref }) => `SELECT * FROM ${ref(orders)}`,
      checks: [expect.columnValuesToNotBeNull('customer'), expect.columnValuesToNotBeNull('customer_id')],
    });
    const ws = await workspace(defineProject({ name: 'p', assets: [clean] }));
    const summary = await runAssets(ws);
    assert(summary.steps[0]?.error).toMatch(/expect_column_values_to_not_be_null\(customer\): .*customer/);
    const checks = await ws.catalog.listChecks({ runId: summary.runId });
    assert(checks.map((c) => c.success).sort()).toEqual([false, true]);
  });

  it('rejects an unknown expectation or a wrong argument at load, naming it', () => {
    const bad = asset('a', { sql: 'SELECT 1 AS x', checks: [{ type: 'expect_column_values_to_not_be_nul', kwargs: { column: 'x' } }] });
    assert(() => defineProject({ name: 'p', assets: [bad] })).toThrow(/asset "a" checks\[0\].*unknown expectation type "expect_column_values_to_not_be_nul".*did you mean "expect_column_values_to_not_be_null"/);
    const wrong = asset('b', { sql: 'SELECT 1 AS x', checks: [{ type: 'expect_column_values_to_be_between', kwargs: { column: 'x', min_value: 'zero', mostly: 2 } }] });
    assert(() => defineProject({ name: 'p', assets: [wrong] })).toThrow(SluiceError);
    const drift = asset('c', { sql: 'SELECT 1 AS x', checks: [{ type: 'expect_column_drift_psi_to_be_less_than', kwargs: { column: 'x', threshold: -1 } }] });
    assert(() => defineProject({ name: 'p', assets: [drift] })).toThrow(/asset "c" checks\[0\] expect_column_drift_psi_to_be_less_than: argument "threshold"/);
  });

  it('drift and day-over-day checks compare with the previous partition; anomaly checks use the run history', async () => {
    const days = dailyPartitions({ start: '2026-11-01' });
    // Day 11-06 shifts the distribution and doubles the volume.
    const daily = asset('daily', {
      partitions: days,
      sql: ({ partition }) => {
        const shifted = partition === '2026-11-06';
        return `SELECT i AS id, (${shifted ? 'i % 100 + 60' : 'i % 100'})::DOUBLE AS score FROM range(${shifted ? 2000 : 1000}) t(i)`;
      },
      checks: [
        expect.columnDriftPsiToBeLessThan('score', { threshold: 0.2, severity: 'warn' }),
        expect.columnDriftKsStatisticToBeLessThan('score', { threshold: 0.3, severity: 'warn' }),
        expect.tableRowCountToBeWithinPercentOfPrevious({ percent: 20, severity: 'warn' }),
        expect.tableRowCountToNotBeAnomalous({ k: 3, minHistory: 3, severity: 'warn' }),
      ],
    });
    const ws = await workspace(defineProject({ name: 'p', assets: [daily] }));
    const summary = await runAssets(ws, { partitions: ['2026-11-01', '2026-11-02', '2026-11-03', '2026-11-04', '2026-11-05', '2026-11-06'], concurrency: 2 });
    assert(summary.status).toBe('success');
    const checks = await ws.catalog.listChecks({ runId: summary.runId });
    const failedOn = (type: string): string[] => checks.filter((c) => c.expectationType === type && !c.success).map((c) => c.partition).sort();
    assert(failedOn('expect_column_drift_psi_to_be_less_than')).toEqual(['2026-11-06']);
    assert(failedOn('expect_column_drift_ks_statistic_to_be_less_than')).toEqual(['2026-11-06']);
    assert(failedOn('expect_table_row_count_to_be_within_percent_of_previous')).toEqual(['2026-11-06']);
    const first = checks.find((c) => c.expectationType === 'expect_table_row_count_to_be_within_percent_of_previous' && c.partition === '2026-11-01');
    assert(JSON.stringify(first?.result)).toMatch(/no previous version/);
    // Anomaly: the first runs have too little history; 11-06 (2000 rows after five days of 1000) is flagged.
    assert(failedOn('expect_table_row_count_to_not_be_anomalous')).toEqual(['2026-11-06']);
  });

  it('sends a Slack-compatible alert to the webhook when an error check fails', async () => {
    const received: Record<string, unknown>[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => { received.push(JSON.parse(body) as Record<string, unknown>); res.end('ok'); });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as { port: number }).port;
      writeOrders(['1,10,-1.0,paid']);
      const clean = asset('clean_orders', { sql: ({ ref }) => `SELECT * FROM ${ref(orders)}`, checks: [expect.columnValuesToBeBetween('amount', { minValue: 0 })] });
      const ws = await workspace(defineProject({ name: 'shop', assets: [clean] }), { alertWebhooks: [`http://127.0.0.1:${port}/hook`] });
      const summary = await runAssets(ws);
      assert(summary.status).toBe('failed');
      const events = received.map((r) => r['event']);
      assert(events).toEqual(['check_failed', 'run_failed']);
      assert(received[0]).toMatchObject({ project: 'shop', asset: 'clean_orders', severity: 'error', runId: summary.runId });
      assert(String(received[0]?.['text'])).toMatch(/clean_orders/);
      assert(String(received[0]?.['text'])).toMatch(/expect_column_values_to_be_between/);
    } finally {
      server.close();
    }
  });
});

describe('sluice validate', () => {
  it('validates a file against a GX JSON suite: exit codes, --json in GX shape, warn vs error', async () => {
    const data = path.join(dir, 'people.csv');
    fs.writeFileSync(data, 'id,age,email\n1,34,a@x.io\n2,-3,b@x.io\n3,51,\n');
    const suiteFile = path.join(dir, 'suite.json');
    const writeSuite = (severity: 'warn' | 'error'): void => fs.writeFileSync(suiteFile, JSON.stringify({
      name: 'people',
      expectations: [
        { type: 'expect_column_values_to_be_between', kwargs: { column: 'age', min_value: 0, max_value: 120 }, meta: { severity } },
        { type: 'expect_column_values_to_not_be_null', kwargs: { column: 'email', mostly: 0.5 } },
        { type: 'expect_table_row_count_to_equal', kwargs: { value: 3 } },
      ],
    }));
    writeSuite('error');
    const failing = await runCli(['validate', data, '--suite', suiteFile, '--json']);
    assert(failing.code).toBe(1);
    const result = JSON.parse(failing.stdout) as { success: boolean; statistics: { evaluated_expectations: number; successful_expectations: number }; results: { success: boolean; expectation_config: { type: string }; result: { unexpected_count?: number; partial_unexpected_list?: unknown[] } }[] };
    assert(result.success).toBe(false);
    assert(result.statistics).toMatchObject({ evaluated_expectations: 3, successful_expectations: 2 });
    assert(result.results[0]?.result).toMatchObject({ unexpected_count: 1, partial_unexpected_list: [-3] });
    writeSuite('warn');
    const warned = await runCli(['validate', data, '--suite', suiteFile]);
    assert(warned.code).toBe(0);
    assert(warned.stdout).toMatch(/WARN\s+expect_column_values_to_be_between/);
    assert(warned.stdout).toMatch(/2\/3 expectations passed/);
    fs.writeFileSync(suiteFile, JSON.stringify({ name: 's', expectations: [{ type: 'expect_column_values_to_be_betwen', kwargs: { column: 'age' } }] }));
    const unknown = await runCli(['validate', data, '--suite', suiteFile]);
    assert(unknown.code).toBe(1);
    assert(unknown.stderr).toMatch(/unknown expectation type "expect_column_values_to_be_betwen".*did you mean "expect_column_values_to_be_between"/);
  });
});

describe('ad-hoc validation of an asset', () => {
  it('is recorded apart: status shows the pipeline checks, the ad-hoc results are listed only when asked', async () => {
    const { dir, cleanup } = makeTempDir('sluice-adhoc-');
    try {
      fs.writeFileSync(path.join(dir, 'sluice.config.ts'), `
import { asset, defineProject, expect } from 'sluice';
const scores = asset('scores', { sql: 'SELECT range AS id, range * 10 AS score FROM range(5)', checks: [expect.columnValuesToNotBeNull('id')] });
export default defineProject({ name: 'adhoc', assets: [scores] });
`);
      assert((await runCli(['run', '-p', dir])).code).toBe(0);
      fs.writeFileSync(path.join(dir, 'tried.json'), JSON.stringify({ name: 'tried', expectations: [{ type: 'expect_column_max_to_be_between', kwargs: { column: 'score', max_value: 10 } }] }));
      const tried = await runCli(['validate', 'scores', '--suite', path.join(dir, 'tried.json'), '-p', dir]);
      assert(tried.code).toBe(1);
      const status = JSON.parse((await runCli(['status', '--json', '-p', dir])).stdout) as { asset: string; checks: { passed: number; failed: number; failing: string[] } }[];
      assert(status.find((s) => s.asset === 'scores')?.checks).toMatchObject({ passed: 1, failed: 0, failing: [] });
      const catalog = await openCatalog(`sqlite:${path.join(dir, '.sluice', 'catalog.db')}`);
      try {
        const adHoc = await catalog.listChecks({ target: 'scores', origin: 'ad-hoc' });
        assert(adHoc.map((c) => [c.expectationType, c.success])).toEqual([['expect_column_max_to_be_between', false]]);
        assert((await catalog.listChecks({ target: 'scores' })).map((c) => c.expectationType)).toEqual(['expect_column_values_to_not_be_null']);
        assert(await catalog.listChecks({ target: 'scores', origin: 'all' })).toHaveLength(2);
      } finally {
        await catalog.close();
      }
    } finally {
      cleanup();
    }
  });
});
