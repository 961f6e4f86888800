// Partition kinds beyond daily, on real files through the API, each result checked against a computation of
// its own in the test: hourly partitions (sources templated by {date}/{hour}, a ref() window of hours, a daily
// asset over its 24 hours, the TIMESTAMP partition column, plain readers of the Hive folder), static
// partitions (a list of regions), a source partitioned by a column of one file, the feature store over an
// hourly table, two dimensions (date x region, nested Hive folders), and what schedules and backfills build for each kind.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { queryTable } from '../src/batch/inspect.ts';
import { plan } from '../src/batch/plan.ts';
import { deletePartitions } from '../src/batch/table-admin.ts';
import { runAssets } from '../src/batch/runner.ts';
import { asset, type Asset } from '../src/define/asset.ts';
import { entity, featureService, featureView } from '../src/define/features.ts';
import { job } from '../src/define/job.ts';
import { dailyPartitions, hourlyPartitions, keysBetween, multiPartitions, staticPartitions, upstreamKeys } from '../src/define/partitions.ts';
import { defineProject } from '../src/define/project.ts';
import { fileSource, type FileSource } from '../src/define/source.ts';
import { getHistoricalFeatures } from '../src/features/historical.ts';
import { backfill, jobPartitions } from '../src/orchestrate/backfill.ts';
import { tickPartitions } from '../src/orchestrate/scheduler.ts';
import { assetStatuses } from '../src/orchestrate/status.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';
import { duck, runCli, tempProjectEachTest } from './helpers/temp.ts';

let dir: string;
const opened: Workspace[] = [];
tempProjectEachTest('sluice-partition-kinds-', {}, (d) => (dir = d), opened);

function write(relative: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(dir, relative)), { recursive: true });
  fs.writeFileSync(path.join(dir, relative), text);
}

async function open(sources: FileSource[], assets: Asset[], extra: Partial<Parameters<typeof defineProject>[0]> = {}): Promise<Workspace> {
  const stateDir = path.join(dir, '.sluice');
  const ws = await openWorkspace(defineProject({ name: 'kinds', sources, assets, ...extra }), dir, { stateDir, catalogUrl: `sqlite:${path.join(stateDir, 'catalog.db')}` });
  opened.push(ws);
  return ws;
}

interface Event { user_id: number; amount: number; ts: string }

/** Events of one hour: a few per hour, users and amounts from the hour's number, so each hour differs. */
function hourEvents(day: string, hour: number): Event[] {
  const base = Date.parse(`${day}T${String(hour).padStart(2, '0')}:00:00Z`);
  const dayIndex = Number(day.slice(8, 10));
  return Array.from({ length: (hour % 5) + 2 }, (_, i) => ({
    user_id: (hour * 7 + i + dayIndex) % 4,
    amount: hour + i + dayIndex * 100,
    ts: new Date(base + i * 60_000).toISOString().slice(0, 19).replace('T', ' '),
  }));
}

function writeHourlyEvents(days: readonly string[]): Map<string, Event[]> {
  const byHour = new Map<string, Event[]>();
  for (const day of days) {
    for (let hour = 0; hour < 24; hour++) {
      const events = hourEvents(day, hour);
      const hh = String(hour).padStart(2, '0');
      byHour.set(`${day}T${hh}`, events);
      write(`data/${day}/${hh}.csv`, `user_id,amount,ts\n${events.map((e) => `${e.user_id},${e.amount},${e.ts}`).join('\n')}\n`);
    }
  }
  return byHour;
}

const hours = hourlyPartitions({ start: '2026-01-01' });
const events = fileSource('events', { format: 'csv', path: 'data/{date}/{hour}.csv', partitions: hours, columns: { user_id: 'BIGINT', amount: 'BIGINT', ts: 'TIMESTAMP' } });
const hourlySpend = asset('hourly_spend', { partitions: hours, sql: ({ ref }) => `SELECT user_id, sum(amount) AS spend, count(*) AS n, max(ts) AS ts FROM ${ref(events)} GROUP BY user_id` });
const spend3h = asset('spend_3h', { partitions: hours, sql: ({ ref }) => `SELECT user_id, sum(spend) AS spend_3h FROM ${ref(hourlySpend, { lookback: 2 })} GROUP BY user_id` });
const dailySpend = asset('daily_spend', {
  partitions: dailyPartitions({ start: '2026-01-01' }),
  sql: ({ ref }) => `SELECT user_id, sum(spend) AS spend, count(*) AS hours, min(hour) AS first_hour FROM ${ref(hourlySpend)} GROUP BY user_id`,
});

/** Per user: the sum of amounts over the given hours. */
function spendOver(byHour: Map<string, Event[]>, keys: readonly string[]): Map<number, number> {
  const totals = new Map<number, number>();
  for (const key of keys) for (const e of byHour.get(key) ?? []) totals.set(e.user_id, (totals.get(e.user_id) ?? 0) + e.amount);
  return totals;
}

function sorted(map: Map<number, number>): { user_id: number; spend: number }[] {
  return [...map.entries()].sort(([a], [b]) => a - b).map(([user_id, spend]) => ({ user_id, spend }));
}

describe('partition keys', () => {
  it('map between kinds: a day reads its hours, an hour its day, a window counts in the reader\'s grain', () => {
    const days = dailyPartitions({ start: '2026-01-01' });
    expect(upstreamKeys(days, '2026-01-02', hours, 0, 0)).toEqual(keysBetween(hours, '2026-01-02T00', '2026-01-02T23'));
    expect(upstreamKeys(hours, '2026-01-02T05', days, 0, 0)).toEqual(['2026-01-02']);
    expect(upstreamKeys(hours, '2026-01-02T01', hours, 3, 0)).toEqual(['2026-01-01T22', '2026-01-01T23', '2026-01-02T00', '2026-01-02T01']);
    // Before the first partition there is nothing to read.
    expect(upstreamKeys(hours, '2026-01-01T01', hours, 3, 0)).toEqual(['2026-01-01T00', '2026-01-01T01']);
    const regions = staticPartitions(['eu', 'us']);
    expect(upstreamKeys(regions, 'eu', regions, 0, 0)).toEqual(['eu']);
    expect(upstreamKeys(days, '2026-01-01', regions, 0, 0)).toBe('all');
    expect(keysBetween(hours, '2026-01-01', '2026-01-02')).toHaveLength(48);
  });

  it('schedules build the hour that just ended, the day in the zone, every static key', () => {
    const tick = new Date('2026-03-10T05:00:00Z');
    expect(tickPartitions(hours, tick, 'UTC', 'previous')).toEqual(['2026-03-10T04']);
    expect(tickPartitions(hours, tick, 'UTC', 'current')).toEqual(['2026-03-10T05']);
    expect(tickPartitions(dailyPartitions({ start: '2026-01-01' }), tick, 'America/New_York', 'previous')).toEqual(['2026-03-09']);
    expect(tickPartitions(staticPartitions(['eu', 'us']), tick, 'UTC', 'previous')).toEqual(['eu', 'us']);
  });

  it('rejects malformed definitions and keys with the form to use', () => {
    expect(() => hourlyPartitions({ start: '2026-01-01T24' })).toThrow(/is not an hour: use YYYY-MM-DDTHH/);
    expect(() => staticPartitions(['eu', '../x'])).toThrow(/must be letters, digits/);
    expect(() => staticPartitions(['eu', 'eu'])).toThrow(/listed twice/);
    expect(() => plan(defineProject({ name: 'p', sources: [events], assets: [hourlySpend] }), { assets: ['hourly_spend'], partitions: ['eu'] }))
      .toThrow(/its partitions are hourly from 2026-01-01T00 onwards \(YYYY-MM-DDTHH \(UTC\)\)/);
  });
});

describe('hourly partitions', () => {
  it('a day run builds 24 hourly partitions, their 3-hour windows and the daily rollup, equal to the events', async () => {
    const byHour = writeHourlyEvents(['2026-01-01', '2026-01-02']);
    const w = await open([events], [hourlySpend, spend3h, dailySpend]);
    // `--from 2026-01-02 --to 2026-01-02`: the hourly assets take the day's hours, the daily one the day.
    const summary = await runAssets(w, { partitions: ['2026-01-01', '2026-01-02'] });
    expect(summary.status, summary.steps.find((s) => s.error !== null)?.error ?? '').toBe('success');
    expect(summary.steps.filter((s) => s.asset === 'hourly_spend')).toHaveLength(48);
    expect(summary.steps.filter((s) => s.asset === 'daily_spend').map((s) => s.partition)).toEqual(['2026-01-01', '2026-01-02']);

    // The partition column is the hour's start as a TIMESTAMP.
    const hourRows = await queryTable(w, 'hourly_spend', (t) => `SELECT typeof(hour) AS type, strftime(hour, '%Y-%m-%dT%H') AS key, sum(spend)::INTEGER AS spend FROM ${t} GROUP BY ALL ORDER BY key`);
    expect(hourRows).toHaveLength(48);
    expect(hourRows[5]).toEqual({ type: 'TIMESTAMP', key: '2026-01-01T05', spend: [...spendOver(byHour, ['2026-01-01T05']).values()].reduce((a, b) => a + b, 0) });

    for (const day of ['2026-01-01', '2026-01-02']) {
      const expected = sorted(spendOver(byHour, keysBetween(hours, day, day)));
      const rows = await queryTable(w, 'daily_spend', (t) => `SELECT user_id::INTEGER AS user_id, spend::INTEGER AS spend FROM ${t} WHERE date = DATE '${day}' ORDER BY user_id`);
      expect(rows).toEqual(expected);
    }
    // A window of three hours crosses midnight: 2026-01-02T01 reads 23:00, 00:00 and 01:00.
    const window = ['2026-01-01T23', '2026-01-02T00', '2026-01-02T01'];
    const rolling = await queryTable(w, 'spend_3h', (t) => `SELECT user_id::INTEGER AS user_id, spend_3h::INTEGER AS spend FROM ${t} WHERE hour = TIMESTAMP '2026-01-02 01:00:00' ORDER BY user_id`);
    expect(rolling).toEqual(sorted(spendOver(byHour, window)));

    // A plain reader of the Hive folder sees the 48 hours and every row once.
    const folder = path.join(w.stateDir, 'tables', 'hourly_spend');
    const plain = await duck<{ partitions: bigint; rows: bigint }>(`SELECT count(DISTINCT hour) AS partitions, count(*) AS rows FROM read_parquet('${folder}/**/*.parquet', hive_partitioning = true)`);
    const expectedRows = [...byHour.values()].reduce((sum, list) => sum + new Set(list.map((e) => e.user_id)).size, 0);
    expect(plain).toEqual([{ partitions: 48n, rows: BigInt(expectedRows) }]);

    // An unchanged rerun of one hour skips; a changed hour file rebuilds that hour, its windows and its day only.
    write('data/2026-01-02/00.csv', 'user_id,amount,ts\n1,1000,2026-01-02 00:30:00\n');
    const rerun = await runAssets(w, { partitions: ['2026-01-02'] });
    const built = rerun.steps.filter((s) => s.status === 'success').map((s) => `${s.asset}@${s.partition}`).sort();
    expect(built).toEqual(['daily_spend@2026-01-02', 'hourly_spend@2026-01-02T00', 'spend_3h@2026-01-02T00', 'spend_3h@2026-01-02T01', 'spend_3h@2026-01-02T02']);
  });

  it('the feature store serves an hourly table point-in-time correctly', async () => {
    const byHour = writeHourlyEvents(['2026-01-01']);
    const user = entity('user', { keys: { user_id: 'int' } });
    const view = featureView('hourly', { entity: user, source: hourlySpend, timestamp: 'ts', ttl: '1d', features: ['spend'] });
    const w = await open([events], [hourlySpend], { featureServices: [featureService('spend', { features: [view] })] });
    expect((await runAssets(w, { partitions: ['2026-01-01'] })).status).toBe('success');
    // Each user's latest hourly spend at or before 10:30.
    const expected = new Map<number, number>();
    for (const key of keysBetween(hours, '2026-01-01T00', '2026-01-01T10')) {
      const events10 = (byHour.get(key) ?? []).filter((e) => e.ts <= '2026-01-01 10:30:00');
      for (const [userId, spend] of spendOver(new Map([[key, events10]]), [key])) {
        const last = events10.filter((e) => e.user_id === userId).map((e) => e.ts).sort().at(-1) ?? '';
        if (last <= '2026-01-01 10:30:00') expected.set(userId, spend);
      }
    }
    const training = await getHistoricalFeatures(w, { spine: { sql: `SELECT i AS user_id, TIMESTAMP '2026-01-01 10:30:00' AS event_timestamp FROM range(4) t(i)` }, service: 'spend' });
    const got = new Map((training.rows ?? []).map((r) => [Number(r['user_id']), r['spend'] === null ? null : Number(r['spend'])]));
    for (const userId of [0, 1, 2, 3]) expect([userId, got.get(userId)]).toEqual([userId, expected.get(userId) ?? null]);
  });
});

describe('static partitions', () => {
  const regions = staticPartitions(['eu', 'us', 'apac'], { column: 'region' });
  const sales = fileSource('sales', { format: 'csv', path: 'data/sales/{region}.csv', partitions: regions, columns: { shop: 'VARCHAR', amount: 'BIGINT' } });
  const byRegion = asset('by_region', { partitions: regions, sql: ({ ref }) => `SELECT shop, sum(amount) AS total FROM ${ref(sales)} GROUP BY shop` });
  const regionTop = asset('region_top', { partitions: regions, sql: ({ ref, partitionValue }) => `SELECT ${partitionValue} AS label, max(total) AS best FROM ${ref(byRegion)}` });
  const overall = asset('overall', { sql: ({ ref }) => `SELECT region, sum(total) AS total FROM ${ref(byRegion)} GROUP BY region ORDER BY region` });

  it('builds the listed keys, exposes the key as a VARCHAR column, and an unpartitioned reader sees every built key', async () => {
    write('data/sales/eu.csv', 'shop,amount\na,1\na,2\nb,5\n');
    write('data/sales/us.csv', 'shop,amount\nc,10\nd,7\n');
    write('data/sales/apac.csv', 'shop,amount\ne,3\n');
    const w = await open([sales], [byRegion, regionTop, overall]);
    const summary = await runAssets(w, { assets: ['region_top', 'overall'], partitions: ['eu', 'us'] });
    expect(summary.status, summary.steps.find((s) => s.error !== null)?.error ?? '').toBe('success');
    expect(summary.steps.map((s) => `${s.asset}@${s.partition}`).sort()).toEqual(['by_region@eu', 'by_region@us', 'overall@', 'region_top@eu', 'region_top@us']);
    expect(await queryTable(w, 'region_top', (t) => `SELECT region, typeof(region) AS type, label, best::INTEGER AS best FROM ${t} ORDER BY region`)).toEqual([
      { region: 'eu', type: 'VARCHAR', label: 'eu', best: 5 }, { region: 'us', type: 'VARCHAR', label: 'us', best: 10 },
    ]);
    expect(await queryTable(w, 'overall', (t) => `SELECT region, total::INTEGER AS total FROM ${t}`)).toEqual([{ region: 'eu', total: 8 }, { region: 'us', total: 17 }]);

    // A key outside the list is refused; a key dropped from the list is reported by status.
    expect(() => plan(w.project, { assets: ['by_region'], partitions: ['mars'] })).toThrow(/its partitions are static: eu, us, apac \(one of eu, us, apac\)/);
    opened.splice(opened.indexOf(w), 1);
    await w.close();
    const narrowed = staticPartitions(['us', 'apac'], { column: 'region' });
    const sales2 = fileSource('sales', { format: 'csv', path: 'data/sales/{region}.csv', partitions: narrowed, columns: { shop: 'VARCHAR', amount: 'BIGINT' } });
    const byRegion2 = asset('by_region', { partitions: narrowed, sql: ({ ref }) => `SELECT shop, sum(amount) AS total FROM ${ref(sales2)} GROUP BY shop` });
    const w2 = await open([sales2], [byRegion2]);
    const status = (await assetStatuses(w2)).find((s) => s.asset === 'by_region');
    expect(status?.outOfRange).toEqual(['eu']);
  });
});

describe('a source partitioned by a column of its files', () => {
  it('one Parquet file with a date column feeds daily partitions, each with exactly its day\'s rows', async () => {
    fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
    const file = path.join(dir, 'data', 'flights.parquet');
    await duck(`COPY (SELECT i AS id, DATE '2026-01-01' + (i % 5)::INTEGER AS flight_date, i % 7 AS delay FROM range(1000) t(i) ORDER BY flight_date) TO '${file}' (FORMAT parquet, ROW_GROUP_SIZE 2048)`);
    const days = dailyPartitions({ start: '2026-01-01', end: '2026-01-05' });
    const flights = fileSource('flights', { format: 'parquet', path: 'data/flights.parquet', partitions: days, partitionBy: { column: 'flight_date' } });
    const daily = asset('daily_flights', { partitions: days, sql: ({ ref }) => `SELECT count(*) AS flights, sum(delay) AS delay, min(flight_date) AS first, max(flight_date) AS last FROM ${ref(flights)}` });
    const weekly = asset('flights_2d', { partitions: days, sql: ({ ref }) => `SELECT count(*) AS flights FROM ${ref(flights, { lookback: 1 })}` });
    const w = await open([flights], [daily, weekly]);
    const summary = await runAssets(w, { partitions: ['2026-01-01', '2026-01-02', '2026-01-03'] });
    expect(summary.status, summary.steps.find((s) => s.error !== null)?.error ?? '').toBe('success');
    const rows = await queryTable(w, 'daily_flights', (t) => `SELECT strftime(date, '%Y-%m-%d') AS day, flights::INTEGER AS flights, delay::INTEGER AS delay, first = date AND last = date AS own FROM ${t} ORDER BY day`);
    const oracle = ['2026-01-01', '2026-01-02', '2026-01-03'].map((day, d) => {
      const ids = Array.from({ length: 1000 }, (_, i) => i).filter((i) => i % 5 === d);
      return { day, flights: ids.length, delay: ids.reduce((sum, i) => sum + (i % 7), 0), own: true };
    });
    expect(rows).toEqual(oracle);
    expect(await queryTable(w, 'flights_2d', (t) => `SELECT flights::INTEGER AS flights FROM ${t} ORDER BY date`)).toEqual([{ flights: 200 }, { flights: 400 }, { flights: 400 }]);
  });

  it('is refused at load without partitions, or together with a templated path', () => {
    expect(() => defineProject({ name: 'p', assets: [], sources: [fileSource('f', { format: 'parquet', path: 'f.parquet', partitionBy: { column: 'd' } })] })).toThrow(/has partitionBy but no partitions/);
    expect(() => defineProject({ name: 'p', assets: [], sources: [fileSource('f', { format: 'parquet', path: 'f/{date}.parquet', partitions: dailyPartitions({ start: '2026-01-01' }), partitionBy: { column: 'd' } })] })).toThrow(/both a partitioned path and partitionBy/);
    expect(() => defineProject({ name: 'p', assets: [], sources: [fileSource('f', { format: 'parquet', path: 'f.parquet', partitions: hours })] })).toThrow(/has partitions but its path has no \{hour\} or \{date\} placeholder: add one, or say which column holds the partition with partitionBy/);
  });
});

describe('jobs', () => {
  it('a backfill of an hourly job covers the hours of the days asked; a job may not mix kinds', async () => {
    writeHourlyEvents(['2026-01-01']);
    const hourlyJob = job('hourly', { assets: ['hourly_spend'] });
    const w = await open([events], [hourlySpend, dailySpend], { jobs: [hourlyJob] });
    const { partitions } = jobPartitions(w, hourlyJob, '2026-01-01', '2026-01-02');
    expect(partitions).toHaveLength(48);
    expect(partitions[0]).toBe('2026-01-01T00');
    // A backfill from a day to an hour runs those hours; invoked again, it runs only what did not succeed.
    const first = await backfill(w, { job: 'hourly', from: '2026-01-01', to: '2026-01-01T05', maxParallel: 2 });
    expect(first.partitions.map((p) => [p.partition, p.status])).toEqual(keysBetween(hours, '2026-01-01T00', '2026-01-01T05').map((k) => [k, 'success']));
    const again = await backfill(w, { job: 'hourly', from: '2026-01-01', to: '2026-01-01T05' });
    expect(new Set(again.partitions.map((p) => p.status))).toEqual(new Set(['done-before']));
    expect(Object.keys((await w.tables.latest('hourly_spend'))?.partitions ?? {})).toHaveLength(6);
    expect(() => defineProject({ name: 'p', sources: [events], assets: [hourlySpend, dailySpend], jobs: [job('mixed', { assets: ['hourly_spend', 'daily_spend'] })] }))
      .toThrow(/job "mixed" mixes daily and hourly assets/);
  });
});

describe('two dimensions: time x static', () => {
  const days = dailyPartitions({ start: '2026-01-01' });
  const regions = staticPartitions(['eu', 'us'], { column: 'region' });
  const grid = multiPartitions(days, regions);
  const sales = fileSource('sales', { format: 'csv', path: 'data/{date}/{region}.csv', partitions: grid, columns: { shop: 'VARCHAR', amount: 'BIGINT' } });
  const byRegion = asset('sales_by_region', { partitions: grid, sql: ({ ref, partitionValues }) => `SELECT shop, sum(amount) AS total, ${partitionValues['region'] ?? ''} AS label FROM ${ref(sales)} GROUP BY shop` });
  const twoDays = asset('region_2d', { partitions: grid, sql: ({ ref }) => `SELECT sum(total) AS total FROM ${ref(byRegion, { lookback: 1 })}` });
  const dailyTotal = asset('daily_total', { partitions: days, sql: ({ ref }) => `SELECT sum(total) AS total, count(DISTINCT region) AS regions FROM ${ref(byRegion)}` });
  const amount = (day: string, region: string, shop: number): number => Number(day.slice(8, 10)) * 100 + (region === 'eu' ? 10 : 20) + shop;

  it('keys map by time and by key: a day reads every region, a region its own, windows move in time', () => {
    expect(upstreamKeys(days, '2026-01-02', grid, 0, 0)).toEqual(['2026-01-02|eu', '2026-01-02|us']);
    expect(upstreamKeys(grid, '2026-01-02|us', grid, 1, 0)).toEqual(['2026-01-01|us', '2026-01-02|us']);
    expect(upstreamKeys(grid, '2026-01-02|us', days, 0, 0)).toEqual(['2026-01-02']);
    expect(upstreamKeys(grid, '2026-01-02|us', regions, 0, 0)).toEqual(['us']);
    expect(upstreamKeys(regions, 'us', grid, 0, 0)).toBe('all');
    expect(tickPartitions(grid, new Date('2026-03-10T05:00:00Z'), 'UTC', 'previous')).toEqual(['2026-03-09|eu', '2026-03-09|us']);
    expect(keysBetween(grid, '2026-01-01', '2026-01-02')).toEqual(['2026-01-01|eu', '2026-01-01|us', '2026-01-02|eu', '2026-01-02|us']);
  });

  it('builds each date x region, nests the Hive folders, and downstream reads by day and by region', async () => {
    for (const day of ['2026-01-01', '2026-01-02']) for (const region of ['eu', 'us']) {
      write(`data/${day}/${region}.csv`, `shop,amount\n${[1, 2, 3].map((shop) => `s${shop},${amount(day, region, shop)}`).join('\n')}\n`);
    }
    const w = await open([sales], [byRegion, twoDays, dailyTotal]);
    const summary = await runAssets(w, { partitions: ['2026-01-01', '2026-01-02'] });
    expect(summary.status, summary.steps.find((s) => s.error !== null)?.error ?? '').toBe('success');
    expect(summary.steps.filter((s) => s.asset === 'sales_by_region').map((s) => s.partition).sort()).toEqual(['2026-01-01|eu', '2026-01-01|us', '2026-01-02|eu', '2026-01-02|us']);
    const cells = await queryTable(w, 'sales_by_region', (t) => `SELECT strftime(date, '%Y-%m-%d') AS day, region, label, sum(total)::INTEGER AS total FROM ${t} GROUP BY ALL ORDER BY day, region`);
    const sum = (day: string, region: string): number => [1, 2, 3].reduce((s, shop) => s + amount(day, region, shop), 0);
    expect(cells).toEqual([
      { day: '2026-01-01', region: 'eu', label: 'eu', total: sum('2026-01-01', 'eu') }, { day: '2026-01-01', region: 'us', label: 'us', total: sum('2026-01-01', 'us') },
      { day: '2026-01-02', region: 'eu', label: 'eu', total: sum('2026-01-02', 'eu') }, { day: '2026-01-02', region: 'us', label: 'us', total: sum('2026-01-02', 'us') },
    ]);
    expect(await queryTable(w, 'daily_total', (t) => `SELECT total::INTEGER AS total, regions::INTEGER AS regions FROM ${t} ORDER BY date`)).toEqual([
      { total: sum('2026-01-01', 'eu') + sum('2026-01-01', 'us'), regions: 2 }, { total: sum('2026-01-02', 'eu') + sum('2026-01-02', 'us'), regions: 2 },
    ]);
    expect(await queryTable(w, 'region_2d', (t) => `SELECT strftime(date, '%Y-%m-%d') AS day, region, total::INTEGER AS total FROM ${t} WHERE date = DATE '2026-01-02' ORDER BY region`)).toEqual([
      { day: '2026-01-02', region: 'eu', total: sum('2026-01-01', 'eu') + sum('2026-01-02', 'eu') }, { day: '2026-01-02', region: 'us', total: sum('2026-01-01', 'us') + sum('2026-01-02', 'us') },
    ]);
    // Plain Hive readers see date=.../region=... folders and every row once; a deleted cell leaves no folder.
    const folder = path.join(w.stateDir, 'tables', 'sales_by_region');
    expect(fs.readdirSync(path.join(folder, 'date=2026-01-01')).sort()).toEqual(['region=eu', 'region=us']);
    const plain = await duck<{ cells: bigint; rows: bigint }>(`SELECT count(DISTINCT (date, region)) AS cells, count(*) AS rows FROM read_parquet('${folder}/**/*.parquet', hive_partitioning = true)`);
    expect(plain).toEqual([{ cells: 4n, rows: 12n }]);
    await deletePartitions(w, 'sales_by_region', ['2026-01-01|eu']);
    expect(fs.readdirSync(path.join(folder, 'date=2026-01-01'))).toEqual(['region=us']);
    expect(await duck<{ rows: bigint }>(`SELECT count(*) AS rows FROM read_parquet('${folder}/**/*.parquet', hive_partitioning = true)`)).toEqual([{ rows: 9n }]);
  });
});

describe('from the CLI', () => {
  it('runs one hour, a day of hours and static keys by --partition, and shows an hour', async () => {
    writeHourlyEvents(['2026-01-01']);
    write('sluice.config.ts', `import { asset, defineProject, fileSource, hourlyPartitions } from 'sluice';
const hours = hourlyPartitions({ start: '2026-01-01' });
const events = fileSource('events', { format: 'csv', path: 'data/{date}/{hour}.csv', partitions: hours, columns: { user_id: 'BIGINT', amount: 'BIGINT', ts: 'TIMESTAMP' } });
const hourly = asset('hourly_spend', { partitions: hours, sql: ({ ref }) => \`SELECT user_id, sum(amount) AS spend FROM \${ref(events)} GROUP BY user_id\` });
export default defineProject({ name: 'cli_kinds', sources: [events], assets: [hourly] });
`);
    const one = await runCli(['run', '--partition', '2026-01-01T05', '--json', '-p', dir]);
    expect(one.code, one.stderr).toBe(0);
    expect((JSON.parse(one.stdout) as { steps: { partition: string; status: string }[] }).steps.map((s) => [s.partition, s.status])).toEqual([['2026-01-01T05', 'success']]);
    const day = await runCli(['run', '--from', '2026-01-01', '--to', '2026-01-01', '--json', '-p', dir]);
    expect(day.code, day.stderr).toBe(0);
    const steps = (JSON.parse(day.stdout) as { steps: { partition: string; status: string }[] }).steps;
    expect(steps).toHaveLength(24);
    expect(steps.filter((s) => s.status === 'skipped').map((s) => s.partition)).toEqual(['2026-01-01T05']);
    const shown = await runCli(['show', 'hourly_spend', '--partition', '2026-01-01T05', '--json', '-p', dir]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('2026-01-01T05');
    const bad = await runCli(['run', '--partition', '2026-01-01T25', '-p', dir]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/"2026-01-01T25" is not a partition key/);
  }, 60_000);
});
