// Dynamic partitions (`partitionBy: 'region'`): keys found in the data by each run. Checked against the input
// files recomputed in the test: a partition per value, the Hive folders a plain DuckDB reader sees, keys added
// and removed by later runs (unchanged keys keep their files), skipping, downstream readers (unpartitioned and
// dynamic), an integer key column, the feature store over the table, and the errors a user can cause.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { queryTable } from '../src/batch/inspect.ts';
import { runAssets } from '../src/batch/runner.ts';
import { asset, type Asset } from '../src/define/asset.ts';
import { entity, featureService, featureView } from '../src/define/features.ts';
import { dailyPartitions, staticPartitions } from '../src/define/partitions.ts';
import { defineProject } from '../src/define/project.ts';
import { fileSource } from '../src/define/source.ts';
import { getHistoricalFeatures } from '../src/features/historical.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';
import { expectSluiceError } from './helpers/errors.ts';
import { duck, tempProjectEachTest } from './helpers/temp.ts';

let dir: string;
const opened: Workspace[] = [];
tempProjectEachTest('sluice-dynamic-', {}, (d) => (dir = d), opened);

interface Sale { region: string; shop: string; amount: number; ts: string }

function writeSales(sales: readonly Sale[]): void {
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'data', 'sales.csv'), `region,shop,amount,ts\n${sales.map((s) => `${s.region},${s.shop},${s.amount},${s.ts}`).join('\n')}\n`);
}

const sales = fileSource('sales', { format: 'csv', path: 'data/sales.csv', columns: { region: 'VARCHAR', shop: 'VARCHAR', amount: 'BIGINT', ts: 'TIMESTAMP' } });
const shopTotals = asset('shop_totals', {
  partitionBy: 'region',
  sql: ({ ref }) => `SELECT region, shop, sum(amount) AS total, count(*) AS n, max(ts) AS ts FROM ${ref(sales)} GROUP BY region, shop`,
});
const overall = asset('overall', { sql: ({ ref }) => `SELECT region, sum(total) AS total FROM ${ref(shopTotals)} GROUP BY region` });
const best = asset('best_shop', { partitionBy: 'region', sql: ({ ref }) => `SELECT region, arg_max(shop, total) AS shop, max(total) AS total FROM ${ref(shopTotals)} GROUP BY region` });

async function open(assets: Asset[], extra: Partial<Parameters<typeof defineProject>[0]> = {}): Promise<Workspace> {
  const stateDir = path.join(dir, '.sluice');
  const ws = await openWorkspace(defineProject({ name: 'dynamic', sources: [sales], assets, ...extra }), dir, { stateDir, catalogUrl: `sqlite:${path.join(stateDir, 'catalog.db')}` });
  opened.push(ws);
  return ws;
}

/** Per region and shop: the total and count, computed here from the rows written. */
function totals(rows: readonly Sale[]): { region: string; shop: string; total: number; n: number }[] {
  const byKey = new Map<string, { region: string; shop: string; total: number; n: number }>();
  for (const s of rows) {
    const key = `${s.region}/${s.shop}`;
    const t = byKey.get(key) ?? { region: s.region, shop: s.shop, total: 0, n: 0 };
    t.total += s.amount;
    t.n += 1;
    byKey.set(key, t);
  }
  return [...byKey.values()].sort((a, b) => a.region.localeCompare(b.region) || a.shop.localeCompare(b.shop));
}

const first: Sale[] = [
  { region: 'eu', shop: 'a', amount: 3, ts: '2026-01-01 10:00:00' },
  { region: 'eu', shop: 'a', amount: 4, ts: '2026-01-02 10:00:00' },
  { region: 'eu', shop: 'b', amount: 10, ts: '2026-01-01 11:00:00' },
  { region: 'us', shop: 'c', amount: 7, ts: '2026-01-01 12:00:00' },
  { region: 'apac', shop: 'd', amount: 1, ts: '2026-01-03 09:00:00' },
];

describe('dynamic partitions', () => {
  it('makes a partition per value found, adds and removes keys as the data changes, and plain readers agree', async () => {
    writeSales(first);
    const ws = await open([shopTotals, overall, best]);
    const cold = await runAssets(ws);
    expect(cold.status).toBe('success');
    const v1 = await ws.tables.latest('shop_totals');
    expect(Object.keys(v1?.partitions ?? {}).sort()).toEqual(['apac', 'eu', 'us']);
    expect(v1?.partitionColumn).toBe('region');
    const read = async (): Promise<unknown[]> => queryTable(ws, 'shop_totals', (t) => `SELECT region, shop, total::INT AS total, n::INT AS n FROM ${t} ORDER BY region, shop`);
    expect(await read()).toEqual(totals(first));
    // The Hive folder, read by DuckDB without sluice, holds the same rows, the key coming from the folder name.
    const folder = path.join(dir, '.sluice', 'tables', 'shop_totals');
    expect(fs.readdirSync(folder).sort()).toEqual(['region=apac', 'region=eu', 'region=us']);
    const plain = async (): Promise<unknown[]> => duck(`SELECT region, shop, total::INT AS total, n::INT AS n FROM read_parquet('${folder}/**/*.parquet', hive_partitioning = true) ORDER BY region, shop`);
    expect(await plain()).toEqual(totals(first));
    // Downstream: an unpartitioned reader sees every key, a dynamic reader writes its own keys.
    expect(await queryTable(ws, 'overall', (t) => `SELECT region, total::INT AS total FROM ${t} ORDER BY region`)).toEqual([
      { region: 'apac', total: 1 }, { region: 'eu', total: 17 }, { region: 'us', total: 7 },
    ]);
    expect(await queryTable(ws, 'best_shop', (t) => `SELECT region, shop FROM ${t} ORDER BY region`)).toEqual([
      { region: 'apac', shop: 'd' }, { region: 'eu', shop: 'b' }, { region: 'us', shop: 'c' },
    ]);

    // Unchanged input: every step is skipped.
    const again = await runAssets(ws);
    expect(again.steps.map((s) => s.status)).toEqual(['skipped', 'skipped', 'skipped']);

    // A new region appears, apac disappears, us changes; eu is unchanged and keeps its file.
    const second: Sale[] = [...first.filter((s) => s.region === 'eu'), { region: 'us', shop: 'c', amount: 100, ts: '2026-01-04 12:00:00' }, { region: 'latam', shop: 'e', amount: 5, ts: '2026-01-04 08:00:00' }];
    writeSales(second);
    const changed = await runAssets(ws);
    expect(changed.status).toBe('success');
    const v2 = await ws.tables.latest('shop_totals');
    expect(Object.keys(v2?.partitions ?? {}).sort()).toEqual(['eu', 'latam', 'us']);
    expect(v2?.partitions['eu']?.files).toEqual(v1?.partitions['eu']?.files);
    expect(v2?.partitions['us']?.files).not.toEqual(v1?.partitions['us']?.files);
    expect(await read()).toEqual(totals(second));
    expect(fs.readdirSync(folder).sort()).toEqual(['region=eu', 'region=latam', 'region=us']);
    expect(await plain()).toEqual(totals(second));
    expect(await queryTable(ws, 'best_shop', (t) => `SELECT region FROM ${t} ORDER BY region`)).toEqual([{ region: 'eu' }, { region: 'latam' }, { region: 'us' }]);
    // Time travel still reads the first version's keys.
    expect(await queryTable(ws, 'shop_totals', (t) => `SELECT DISTINCT region FROM ${t} ORDER BY region`, { version: v1?.version ?? 0 })).toEqual([{ region: 'apac' }, { region: 'eu' }, { region: 'us' }]);
  });

  it('keeps an integer key column an integer, and serves the table through the feature store', async () => {
    writeSales(first);
    const byYear = asset('by_year', { partitionBy: 'year', sql: ({ ref }) => `SELECT year(ts)::INTEGER AS year, shop, amount, ts, hash(shop) % 1000 AS shop_id FROM ${ref(sales)}` });
    const shop = entity('shop', { keys: { shop_id: 'int' } });
    const view = featureView('shop_sales', { entity: shop, source: byYear, timestamp: 'ts', ttl: '30d', features: ['amount', 'year'] });
    const ws = await open([byYear], { featureServices: [featureService('shops', { features: [view] })] });
    expect((await runAssets(ws)).status).toBe('success');
    expect(Object.keys((await ws.tables.latest('by_year'))?.partitions ?? {})).toEqual(['2026']);
    const [typed] = await queryTable(ws, 'by_year', (t) => `SELECT typeof(year) AS type, sum(amount)::INT AS total FROM ${t} GROUP BY ALL`);
    expect(typed).toEqual({ type: 'INTEGER', total: first.reduce((s, r) => s + r.amount, 0) });
    // A sum of integers (HUGEINT in DuckDB) is written as BIGINT in each key's file, as in a plain step.
    const sums = asset('sums', { partitionBy: 'shop', sql: ({ ref }) => `SELECT shop, sum(amount) AS total FROM ${ref(sales)} GROUP BY shop` });
    const ws2 = await open([sums]);
    expect((await runAssets(ws2)).status).toBe('success');
    expect((await ws2.tables.latest('sums'))?.schema).toEqual([{ name: 'total', type: 'BIGINT' }, { name: 'shop', type: 'VARCHAR' }]);
    // The latest sale of shop "a" at or before 2026-01-02 11:00 is the one of 2026-01-02 10:00.
    const [idRow] = await duck<{ id: bigint }>(`SELECT hash('a') % 1000 AS id`);
    const training = await getHistoricalFeatures(ws, { spine: { sql: `SELECT ${String(idRow?.id)}::BIGINT AS shop_id, TIMESTAMP '2026-01-02 11:00:00' AS event_timestamp` }, service: 'shops' });
    expect(training.rows?.map((r) => [Number(r['amount']), Number(r['year'])])).toEqual([[4, 2026]]);
  });

  it('refuses keys that cannot name a folder, NULL keys, a missing column, and partitions with partitionBy', async () => {
    writeSales([...first, { region: 'North America', shop: 'x', amount: 1, ts: '2026-01-01 00:00:00' }]);
    const ws = await open([shopTotals]);
    const bad = await runAssets(ws);
    expect(bad.status).toBe('failed');
    expect(bad.steps[0]?.error).toContain('"North America"');
    expect(bad.steps[0]?.error).toContain('regexp_replace(region');
    expect(await ws.tables.latest('shop_totals')).toBeUndefined();

    const nulls = asset('nulls', { partitionBy: 'region', sql: ({ ref }) => `SELECT CASE WHEN shop = 'a' THEN NULL ELSE region END AS region, shop FROM ${ref(sales)}` });
    const missing = asset('missing', { partitionBy: 'country', sql: ({ ref }) => `SELECT region, shop FROM ${ref(sales)}` });
    writeSales(first);
    const ws2 = await open([nulls, missing]);
    const run = await runAssets(ws2);
    expect(run.steps.find((s) => s.asset === 'nulls')?.error).toMatch(/2 row\(s\) have NULL in its partitionBy column "region".*coalesce/);
    expect(run.steps.find((s) => s.asset === 'missing')?.error).toContain('partitionBy "country" is not a column of its SQL\'s output (region, shop)');

    expect(() => asset('both', { partitionBy: 'region', partitions: staticPartitions(['a', 'b']), sql: 'SELECT 1 AS region' })).toThrow(/dynamic keys combine with daily or hourly partitions only/);
    expect(() => asset('same', { partitionBy: 'date', partitions: dailyPartitions({ start: '2026-01-01' }), sql: 'SELECT 1 AS date' })).toThrow(/also its time partition column/);
    await expectSluiceError(Promise.resolve().then(() => asset('odd', { partitionBy: 'my region', sql: 'SELECT 1' })), 'DEFINITION_INVALID');
  });

  it('time x dynamic: each day writes the keys it finds as <day>|<value>, removes only its own, and daily readers read every key of their window', async () => {
    const days = ['2026-01-01', '2026-01-02', '2026-01-03'];
    const perDay: Record<string, Sale[]> = {
      '2026-01-01': [{ region: 'eu', shop: 'a', amount: 1, ts: '2026-01-01 10:00:00' }, { region: 'us', shop: 'b', amount: 2, ts: '2026-01-01 11:00:00' }],
      '2026-01-02': [{ region: 'eu', shop: 'a', amount: 4, ts: '2026-01-02 10:00:00' }, { region: 'apac', shop: 'c', amount: 8, ts: '2026-01-02 12:00:00' }],
      '2026-01-03': [{ region: 'us', shop: 'b', amount: 16, ts: '2026-01-03 09:00:00' }],
    };
    const writeDay = (day: string, rows: readonly Sale[]): void => {
      fs.mkdirSync(path.join(dir, 'data', 'days'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'data', 'days', `${day}.csv`), `region,shop,amount,ts\n${rows.map((r) => `${r.region},${r.shop},${r.amount},${r.ts}`).join('\n')}\n`);
    };
    for (const day of days) writeDay(day, perDay[day] ?? []);
    const partitions = dailyPartitions({ start: '2026-01-01' });
    const daily = fileSource('daily_sales', { format: 'csv', path: 'data/days/{date}.csv', partitions, columns: { region: 'VARCHAR', shop: 'VARCHAR', amount: 'BIGINT', ts: 'TIMESTAMP' } });
    const byRegion = asset('by_region', { partitions, partitionBy: 'region', sql: ({ ref }) => `SELECT region, sum(amount) AS total, count(*) AS n FROM ${ref(daily)} GROUP BY region` });
    const twoDays = asset('two_days', { partitions, sql: ({ ref }) => `SELECT region, sum(total) AS total FROM ${ref(byRegion, { lookback: 1 })} GROUP BY region` });
    const stateDir = path.join(dir, '.sluice');
    const ws = await openWorkspace(defineProject({ name: 'time_dynamic', sources: [daily], assets: [byRegion, twoDays] }), dir, { stateDir, catalogUrl: `sqlite:${path.join(stateDir, 'catalog.db')}` });
    opened.push(ws);
    expect((await runAssets(ws, { partitions: days })).status).toBe('success');
    const v1 = await ws.tables.latest('by_region');
    expect(v1?.partitionColumn).toBe('date/region');
    expect(Object.keys(v1?.partitions ?? {}).sort()).toEqual(['2026-01-01|eu', '2026-01-01|us', '2026-01-02|apac', '2026-01-02|eu', '2026-01-03|us']);
    const folder = path.join(stateDir, 'tables', 'by_region');
    expect(fs.readdirSync(path.join(folder, 'date=2026-01-02')).sort()).toEqual(['region=apac', 'region=eu']);
    const expectedRows = (data: Record<string, Sale[]>): { day: string; region: string; total: number }[] => Object.entries(data)
      .flatMap(([day, rows]) => [...new Set(rows.map((r) => r.region))].map((region) => ({ day, region, total: rows.filter((r) => r.region === region).reduce((sum, r) => sum + r.amount, 0) })))
      .sort((a, b) => a.day.localeCompare(b.day) || a.region.localeCompare(b.region));
    const read = async (): Promise<unknown[]> => queryTable(ws, 'by_region', (t) => `SELECT strftime(date, '%Y-%m-%d') AS day, region, total::INT AS total FROM ${t} ORDER BY day, region`);
    expect(await read()).toEqual(expectedRows(perDay));
    const plain = await duck(`SELECT strftime(date, '%Y-%m-%d') AS day, region, total::INT AS total FROM read_parquet('${folder}/**/*.parquet', hive_partitioning = true) ORDER BY day, region`);
    expect(plain).toEqual(expectedRows(perDay));
    // The daily reader of day 3 reads every key of days 2 and 3.
    expect(await queryTable(ws, 'two_days', (t) => `SELECT region, total::INT AS total FROM ${t} WHERE date = DATE '2026-01-03' ORDER BY region`)).toEqual([
      { region: 'apac', total: 8 }, { region: 'eu', total: 4 }, { region: 'us', total: 16 },
    ]);
    expect((await runAssets(ws, { partitions: days })).steps.every((s) => s.status === 'skipped')).toBe(true);

    // Day 2 loses apac and gains us: only day 2's keys change, and day 3's window follows.
    const changedDay: Sale[] = [{ region: 'eu', shop: 'a', amount: 4, ts: '2026-01-02 10:00:00' }, { region: 'us', shop: 'b', amount: 32, ts: '2026-01-02 13:00:00' }];
    writeDay('2026-01-02', changedDay);
    const rerun = await runAssets(ws, { partitions: days });
    expect(rerun.steps.filter((s) => s.status === 'success').map((s) => s.key).sort()).toEqual(['by_region@2026-01-02', 'two_days@2026-01-02', 'two_days@2026-01-03']);
    const v2 = await ws.tables.latest('by_region');
    expect(Object.keys(v2?.partitions ?? {}).sort()).toEqual(['2026-01-01|eu', '2026-01-01|us', '2026-01-02|eu', '2026-01-02|us', '2026-01-03|us']);
    expect(v2?.partitions['2026-01-01|eu']?.files).toEqual(v1?.partitions['2026-01-01|eu']?.files);
    expect(await read()).toEqual(expectedRows({ ...perDay, '2026-01-02': changedDay }));
    expect(fs.readdirSync(path.join(folder, 'date=2026-01-02')).sort()).toEqual(['region=eu', 'region=us']);
    expect(await queryTable(ws, 'two_days', (t) => `SELECT region, total::INT AS total FROM ${t} WHERE date = DATE '2026-01-03' ORDER BY region`)).toEqual([
      { region: 'eu', total: 4 }, { region: 'us', total: 48 },
    ]);
  });
});
