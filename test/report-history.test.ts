// The report over a long history, with no silent limit: a real backfill whose partitions are blocked by different
// checks, then a run of 10,800 check results (recorded through the catalog's write API) whose failures are the
// oldest 40, beyond the newest 10,000. Every result counts, the backfill is one row, --since and --runs narrow
// what is listed, and the page states every cap with the flag that lifts it.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { addDays } from '../src/define/partitions.ts';
import { asset, dailyPartitions, defineProject, expect as check, fileSource, job } from '../src/index.ts';
import { backfill } from '../src/orchestrate/backfill.ts';
import { buildReport, renderReport } from '../src/quality/report.ts';
import type { CheckRecord } from '../src/store/catalog/catalog.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';
import { runCli, tempProjectEachTest } from './helpers/temp.ts';

let dir: string;
const open: Workspace[] = [];
tempProjectEachTest('sluice-report-history-', {}, (d) => (dir = d), open);

const CONFIG = `import { asset, dailyPartitions, defineProject, expect, fileSource, job } from 'sluice';
const days = dailyPartitions({ start: '2025-01-01' });
const orders = fileSource('orders', { format: 'csv', path: 'data/{date}.csv', partitions: days,
  columns: { order_id: 'BIGINT', customer_id: 'BIGINT', amount: 'DOUBLE', status: 'VARCHAR' } });
const daily = asset('daily_orders', {
  partitions: days,
  sql: ({ ref }) => \`SELECT * FROM \${ref(orders)}\`,
  checks: [
    expect.columnValuesToNotBeNull('customer_id'),
    expect.columnValuesToBeBetween('amount', { minValue: 0 }),
    expect.columnValuesToBeInSet('status', { valueSet: ['paid', 'refunded'] }),
    expect.columnValuesToBeUnique('order_id', { severity: 'warn' }),
  ],
});
export default defineProject({ name: 'history', sources: [orders], assets: [daily], jobs: [job('orders_job', { assets: [daily] })] });
`;

const BACKFILL_FROM = '2026-11-01';
const BACKFILL_DAYS = 10;
const BAD: Record<string, string[]> = {
  '2026-11-02': ['1,,25.0,paid'],
  '2026-11-04': ['1,10,-3.0,paid'],
  '2026-11-07': ['1,10,25.0,lost'],
  '2026-11-09': ['1,10,25.0,paid', '1,11,5.0,paid'],
};
/** The bulk run: 600 partitions x 18 checks = 10,800 results, failing in its first (oldest) 40 partitions. */
const BULK_PARTITIONS = 600;
const BULK_CHECKS = 18;
const BULK_FAILING = 40;

async function project(): Promise<Workspace> {
  fs.writeFileSync(path.join(dir, 'sluice.config.ts'), CONFIG);
  fs.mkdirSync(path.join(dir, 'data'));
  for (let i = 0; i < BACKFILL_DAYS; i++) {
    const day = addDays(BACKFILL_FROM, i);
    fs.writeFileSync(path.join(dir, 'data', `${day}.csv`), ['order_id,customer_id,amount,status', ...(BAD[day] ?? ['1,10,25.0,paid', '2,11,5.0,refunded'])].join('\n'));
  }
  // The same definitions as the config, for the in-process half of the test.
  const days = dailyPartitions({ start: '2025-01-01' });
  const orders = fileSource('orders', { format: 'csv', path: 'data/{date}.csv', partitions: days, columns: { order_id: 'BIGINT', customer_id: 'BIGINT', amount: 'DOUBLE', status: 'VARCHAR' } });
  const daily = asset('daily_orders', {
    partitions: days,
    sql: ({ ref }) => `SELECT * FROM ${ref(orders)}`,
    checks: [check.columnValuesToNotBeNull('customer_id'), check.columnValuesToBeBetween('amount', { minValue: 0 }), check.columnValuesToBeInSet('status', { valueSet: ['paid', 'refunded'] }), check.columnValuesToBeUnique('order_id', { severity: 'warn' })],
  });
  const ws = await openWorkspace(defineProject({ name: 'history', sources: [orders], assets: [daily], jobs: [job('orders_job', { assets: [daily] })] }), dir);
  open.push(ws);
  return ws;
}

/** One run over many partitions, recorded as the runner records one: a run, a step per partition, its check results. */
async function bulkRun(ws: Workspace, runId: string, startMs: number): Promise<void> {
  await ws.catalog.createRun({ id: runId, project: 'history', startedAt: new Date(startMs).toISOString(), args: { assets: ['daily_orders'], partitions: [], force: true } });
  const records: CheckRecord[] = [];
  for (let p = 0; p < BULK_PARTITIONS; p++) {
    const partition = addDays('2025-01-01', p);
    const stepId = `${runId}-${p}`;
    const failing = p < BULK_FAILING;
    await ws.catalog.createSteps([{ id: stepId, runId, asset: 'daily_orders', partition, status: 'pending' }]);
    await ws.catalog.updateStep(stepId, { status: failing ? 'failed' : 'success', error: failing ? 'CHECK_FAILED' : null });
    const createdAt = new Date(startMs + p).toISOString();
    for (let index = 0; index < BULK_CHECKS; index++) {
      const fails = failing && index === 0;
      records.push({
        runId, stepId, target: 'daily_orders', partition, index, expectationType: index === 0 ? 'expect_column_values_to_not_be_null' : `expect_column_values_to_be_between`,
        column: `c${index}`, severity: 'error', success: !fails, unexpectedCount: fails ? 1 : 0, unexpectedPercent: fails ? 50 : 0,
        kwargs: { column: `c${index}` }, result: { element_count: 2, unexpected_count: fails ? 1 : 0, partial_unexpected_list: fails ? [null] : [] }, createdAt,
      });
    }
  }
  await ws.catalog.recordChecks(records);
}

describe('report over a long history', () => {
  it('counts every check result, groups the backfill, lists failed and blocked runs, and states each cap', async () => {
    const ws = await project();
    const summary = await backfill(ws, { job: 'orders_job', from: BACKFILL_FROM, to: addDays(BACKFILL_FROM, BACKFILL_DAYS - 1), maxParallel: 2 });
    expect(summary.partitions.filter((p) => p.status === 'failed').map((p) => p.partition)).toEqual(['2026-11-02', '2026-11-04', '2026-11-07']);
    const between = Date.now() + 1000;
    await bulkRun(ws, 'bulk-run', between + 1000);
    const newest = await ws.catalog.listChecks({ target: 'daily_orders', limit: 10_000 });
    expect(newest.every((r) => r.success)).toBe(true); // the failures lie beyond the newest 10,000

    const input = await buildReport(ws, { now: new Date(between + 10_000) });
    const [daily] = input.assets;
    // The latest run's counts, and both entries over time (the earlier code read the newest 10,000 results only).
    const html = renderReport(input);
    expect(html).toContain('10,760 passed, 40 failed');
    expect(html).toMatch(/svg class="timeline"[^>]*>(<g class="run">.*?<\/g>){2}<\/svg>/);
    const bulkResults = BULK_PARTITIONS * BULK_CHECKS;
    expect(daily?.history).toMatchObject({
      since: null, results: BACKFILL_DAYS * 4 + bulkResults, failed: 3 + 1 + BULK_FAILING, failedErrors: 3 + BULK_FAILING,
      runCount: BACKFILL_DAYS + 1, entryCount: 2, failingEntryCount: 2,
    });
    expect(daily?.runs).toEqual([
      expect.objectContaining({ kind: 'backfill', runId: `orders_job:${BACKFILL_FROM}:2026-11-10`, runs: BACKFILL_DAYS, partitions: BACKFILL_DAYS, passed: 36, failed: 4, failedErrors: 3, blockedPartitions: 3, warnedPartitions: 1 }),
      expect.objectContaining({ kind: 'run', runId: 'bulk-run', runs: 1, partitions: BULK_PARTITIONS, passed: bulkResults - BULK_FAILING, failed: BULK_FAILING, blockedPartitions: BULK_FAILING }),
    ]);
    expect(daily?.status).toBe('failing');
    expect(daily?.failures).toHaveLength(BULK_FAILING);
    expect(daily?.failures[0]).toMatchObject({ runId: 'bulk-run', partition: '2025-01-01', expectationType: 'expect_column_values_to_not_be_null', sample: [null] });
    expect(html).toContain('Failed and blocked runs');
    expect(html).toMatch(/backfill <code>orders_job:2026-11-01:2026-11-10<\/code><div class="muted">10 runs<\/div>/);

    // A range after the backfill; fewer failures listed, and the page says how many there are.
    const narrow = await buildReport(ws, { since: new Date(between), maxFailures: 10 });
    expect(narrow.assets[0]?.history).toMatchObject({ results: bulkResults, runCount: 1, entryCount: 1 });
    expect(narrow.assets[0]?.failures.map((f) => f.partition)).toEqual(Array.from({ length: 10 }, (_, i) => addDays('2025-01-01', i)));
    expect(renderReport(narrow)).toMatch(/The first 10 of 40 failed checks, by partition: <code>sluice report --failures 40<\/code> lists all/);

    // From the command line: --runs 1 lists the latest entry and says how to see both; --since takes a duration.
    await ws.close();
    open.splice(0);
    const out = path.join(dir, 'report.html');
    const cli = await runCli(['report', '-p', dir, '--since', '30d', '--runs', '1', '--out', out]);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    const page = fs.readFileSync(out, 'utf8');
    expect(page).toContain(`<b>10,840</b> check results in 11 run(s) (2 entries, a backfill's runs counted once)`);
    expect(page).toContain('the 1 most recent of 2 (<code>sluice report --runs 2</code> shows all) run(s)');
    expect(page).toContain('the 1 most recent of 2 (<code>sluice report --runs 2</code> shows all)</h4>');
    const bad = await runCli(['report', '-p', dir, '--since', 'last week']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--since: "last week" is neither a date \(2026-11-01\), a timestamp .* nor a duration back from now \(7d, 12h\)/);
  });
});
