// The HTML data-quality report end to end: a small project built through the API, check results recorded in
// the catalog, the report written to disk, then opened from file:// in headless Chromium (no network).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runAssets } from '../src/batch/runner.ts';
import { asset, dailyPartitions, defineProject, fileSource } from '../src/index.ts';
import { profileRelation } from '../src/quality/profile.ts';
import { buildReport, renderReport, writeReport } from '../src/quality/report.ts';
import type { CheckRecord } from '../src/store/catalog/catalog.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';
import { makeTempDir } from './helpers/temp.ts';

const CHROMIUM = '/usr/bin/chromium';
const HOSTILE = 'Tom & Jerry <img src=x onerror=alert(1)>';

let dir: string;
let cleanup: () => void;
let ws: Workspace | undefined;

beforeEach(() => {
  ({ dir, cleanup } = makeTempDir('sluice-report-'));
  fs.mkdirSync(path.join(dir, 'data'));
  // 40 orders over two days; one negative amount, one NULL amount, one category with markup in it.
  const lines = ['id,day,amount,category'];
  for (let i = 1; i <= 40; i++) {
    const amount = i === 7 ? '-42.5' : i === 13 ? '' : String((i * 37) % 100 + 0.5);
    const category = i % 10 === 0 ? `"${HOSTILE}"` : ['books', 'games', 'music'][i % 3] ?? 'books';
    lines.push(`${i},2026-11-${i <= 20 ? '24' : '25'},${amount},${category}`);
  }
  fs.writeFileSync(path.join(dir, 'data', 'orders.csv'), `${lines.join('\n')}\n`);
});
afterEach(async () => {
  await ws?.close();
  ws = undefined;
  cleanup();
});

const orders = fileSource('orders', { format: 'csv', path: 'data/orders.csv', columns: { id: 'INTEGER', day: 'DATE', amount: 'DOUBLE', category: 'VARCHAR' } });
const cleanOrders = asset('clean_orders', { description: 'Orders as received', sql: ({ ref }) => `SELECT * FROM ${ref(orders)}` });
const dailyTotals = asset('daily_totals', {
  partitions: dailyPartitions({ start: '2026-11-24', end: '2026-11-25' }),
  sql: ({ ref, partitionDate }) => `SELECT ${partitionDate} AS date, category, sum(amount) AS total, count(*) AS orders FROM ${ref(orders)} WHERE day = ${partitionDate} GROUP BY category`,
});
const neverBuilt = asset('never_built', { sql: ({ ref }) => `SELECT * FROM ${ref(cleanOrders)}` });

function check(runId: string, index: number, createdAt: string, extra: Partial<CheckRecord> = {}): CheckRecord {
  return {
    runId, stepId: null, target: 'clean_orders', partition: '', index,
    expectationType: 'expect_column_values_to_not_be_null', column: 'id', severity: 'error', success: true,
    unexpectedCount: 0, unexpectedPercent: 0, kwargs: { column: 'id' }, result: { element_count: 40, unexpected_count: 0 }, createdAt,
    ...extra,
  };
}

async function builtWorkspace(): Promise<Workspace> {
  const opened = await openWorkspace(defineProject({ name: 'shop', assets: [cleanOrders, dailyTotals, neverBuilt] }), dir);
  ws = opened;
  const summary = await runAssets(opened, { assets: ['clean_orders', 'daily_totals'], partitions: ['2026-11-24', '2026-11-25'] });
  expect(summary.status).toBe('success');
  // Two earlier runs that passed, then the latest with one failing `error` check carrying a sample.
  await opened.catalog.recordChecks([check('run-1', 0, '2026-11-23T08:00:00.000Z'), check('run-1', 1, '2026-11-23T08:00:00.000Z', { column: 'amount' })]);
  await opened.catalog.recordChecks([check('run-2', 0, '2026-11-24T08:00:00.000Z'), check('run-2', 1, '2026-11-24T08:00:00.000Z', { column: 'amount' })]);
  await opened.catalog.recordChecks([
    check('run-3', 0, '2026-11-25T08:00:00.000Z'),
    check('run-3', 1, '2026-11-25T08:00:00.000Z', {
      expectationType: 'expect_column_values_to_be_between',
      column: 'amount',
      success: false,
      unexpectedCount: 1,
      unexpectedPercent: 2.564,
      kwargs: { column: 'amount', min_value: 0, max_value: 1000 },
      result: { element_count: 40, unexpected_count: 1, partial_unexpected_list: [-42.5, HOSTILE] },
    }),
  ]);
  return opened;
}

describe('profileRelation', () => {
  it('profiles numeric, temporal and text columns in DuckDB', async () => {
    const opened = await builtWorkspace();
    const profiles = await opened.engine.withSession((s) => profileRelation(s, `(SELECT * FROM read_csv('${path.join(dir, 'data', 'orders.csv')}'))`, { bins: 4 }));
    const byName = new Map(profiles.map((p) => [p.name, p]));
    const amount = byName.get('amount');
    expect(amount).toMatchObject({ kind: 'numeric', count: 40, nullCount: 1, nullFraction: 1 / 40, min: -42.5, max: 99.5 });
    expect(amount?.histogram?.map((b) => b.count).reduce((a, b) => a + b, 0)).toBe(39);
    expect(amount?.histogram).toHaveLength(4);
    expect(amount?.quantiles?.p50).toBeGreaterThan(0);
    expect(byName.get('day')).toMatchObject({ kind: 'temporal', min: '2026-11-24', max: '2026-11-25', histogram: null });
    const category = byName.get('category');
    expect(category?.kind).toBe('text');
    expect(category?.topValues?.map((v) => v.count).reduce((a, b) => a + b, 0)).toBe(40);
    expect(category?.topValues?.find((v) => v.value === HOSTILE)?.count).toBe(4);
    // A low-cardinality numeric column gets top values too; ids 1..40 do not.
    expect(byName.get('id')?.topValues).toBeNull();
    const [code] = await opened.engine.withSession((s) => profileRelation(s, `(SELECT 'code-' || range AS code FROM range(100))`));
    expect(code).toMatchObject({ kind: 'text', topValues: null, min: 'code-0', max: 'code-99' });
    // Distinct counts are exact at this size (HyperLogLog said 254 for 229 origins and 187 for 182 dates).
    const [origin, date] = await opened.engine.withSession((s) => profileRelation(s, `(SELECT 'o' || (range % 229) AS origin, DATE '2001-01-01' + CAST(range % 182 AS INTEGER) AS date FROM range(50000))`));
    expect(origin).toMatchObject({ distinct: 229, distinctExact: true });
    expect(date).toMatchObject({ distinct: 182, distinctExact: true });
  });
});

describe('report', () => {
  it('gathers versions, check history, the latest failures and profiles per asset', async () => {
    const opened = await builtWorkspace();
    const input = await buildReport(opened, { now: new Date('2026-11-25T09:00:00Z') });
    expect(input.project).toBe('shop');
    expect(input.generatedAt).toBe('2026-11-25T09:00:00.000Z');
    expect(input.assets.map((a) => [a.name, a.status])).toEqual([['clean_orders', 'failing'], ['daily_totals', 'unchecked'], ['never_built', 'unchecked']]);

    const [clean, daily, never] = input.assets;
    expect(clean?.latest).toMatchObject({ version: 1, rowCount: 40, partitions: 1, partitionColumn: null });
    expect(clean?.runs.map((r) => [r.runId, r.passed, r.failed])).toEqual([['run-1', 2, 0], ['run-2', 2, 0], ['run-3', 1, 1]]);
    expect(clean?.failures).toEqual([expect.objectContaining({ expectationType: 'expect_column_values_to_be_between', column: 'amount', sample: [-42.5, HOSTILE] })]);
    expect(clean?.profiles?.find((p) => p.name === 'amount')?.histogram).toHaveLength(20);
    expect(daily?.latest).toMatchObject({ partitionColumn: 'date', partitions: 2, firstPartition: '2026-11-24', lastPartition: '2026-11-25' });
    expect(daily?.profiles?.find((p) => p.name === 'date')).toMatchObject({ kind: 'temporal', nullCount: 0 });
    expect(never).toMatchObject({ latest: null, profiles: null, runs: [], profileError: null });
    expect(clean?.history).toMatchObject({ since: null, results: 6, passed: 5, failed: 1, runCount: 3, entryCount: 3, failingEntryCount: 1 });
    // Fewer runs listed: the totals still count every result in the range.
    const limited = await buildReport(opened, { assets: ['clean_orders'], maxRuns: 1 });
    expect(limited.assets[0]?.runs.map((r) => r.runId)).toEqual(['run-3']);
    expect(limited.assets[0]?.history).toMatchObject({ results: 6, entryCount: 3, runLimit: 1 });
    // The input is plain data: it survives JSON, and rendering it is a pure function.
    expect(renderReport(JSON.parse(JSON.stringify(input)) as typeof input)).toBe(renderReport(input));
  });

  it('writes a self-contained page that Chromium renders from disk without any request', async () => {
    const opened = await builtWorkspace();
    const file = await writeReport(opened, { out: path.join(dir, 'out', 'report.html') });
    expect(file).toBe(path.join(dir, 'out', 'report.html'));
    const html = fs.readFileSync(file, 'utf8');
    expect(html).not.toMatch(/\b(src|href)\s*=\s*["']?\s*(https?:)?\/\//i);
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/<script|<link|@import|url\(/i);
    expect(html).not.toContain(HOSTILE);
    expect(html).toContain('Tom &amp; Jerry &lt;img src=x onerror=alert(1)&gt;');

    const defaultPath = await writeReport(opened, { now: new Date('2026-11-25T09:30:00.123Z') });
    expect(defaultPath).toBe(path.join(dir, '.sluice', 'reports', 'report-2026-11-25T09-30-00-123Z.html'));
    expect(fs.existsSync(defaultPath)).toBe(true);

    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
      const page = await browser.newPage();
      const requests: string[] = [];
      const errors: string[] = [];
      page.on('request', (request) => requests.push(request.url()));
      page.on('pageerror', (error) => errors.push(error.message));
      page.on('dialog', (dialog) => errors.push(`dialog: ${dialog.message()}`));
      const url = pathToFileURL(file).href;
      await page.goto(url);

      expect(requests).toEqual([url]);
      expect(errors).toEqual([]);
      const failure = page.locator('#asset-clean_orders table.failures');
      expect(await failure.locator('code.expectation').allTextContents()).toEqual(['expect_column_values_to_be_between']);
      const samples = await failure.locator('ul.sample li').allTextContents();
      expect(samples).toEqual(['-42.5', HOSTILE]);
      // User data stayed text: no element was injected.
      expect(await page.locator('img').count()).toBe(0);

      const histograms = page.locator('#asset-clean_orders svg.histogram');
      expect(await histograms.count()).toBeGreaterThanOrEqual(2); // id and amount
      const box = await histograms.first().boundingBox();
      expect(box?.width).toBeGreaterThan(100);
      expect(await histograms.first().locator('rect.bin').count()).toBeGreaterThan(0);
      expect(await page.locator('#asset-clean_orders svg.timeline g.run').count()).toBe(3);
      expect(await page.locator('#asset-clean_orders ol.top-values li', { hasText: 'books' }).count()).toBe(1);
      expect(await page.locator('#asset-never_built').textContent()).toContain('Never built');
    } finally {
      await browser?.close();
    }
  });
});
