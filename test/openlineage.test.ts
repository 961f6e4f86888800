// OpenLineage events: a run, a backfill and a failing step posted to a local receiver, every event validated against
// the spec's JSON Schemas (and each facet against its own); an endpoint that is down leaves events in the outbox,
// which the next run sends first; the churn example's backfill end to end through the CLI.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { asset, dailyPartitions, defineProject, expect as check, fileSource, job } from '../src/index.ts';
import { runAssets } from '../src/batch/runner.ts';
import { lineageScope } from '../src/batch/run-lineage.ts';
import { runLineage, stepEndEvent } from '../src/batch/openlineage.ts';
import { backfill } from '../src/orchestrate/backfill.ts';
import { generateChurn } from '../src/generate/churn.ts';
import { transactions } from '../src/generate/transactions.ts';
import { getHistoricalFeatures } from '../src/features/historical.ts';
import { openOnlineStore } from '../src/store/online/open-online-store.ts';
import { getEventStream, runStreamLines } from '../src/stream/run.ts';
import { fraudProject } from './helpers/fraud-project.ts';
import type { Project } from '../src/define/project.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';
import { closedPort, openLineageValidator, startReceiver, type LineageEvent, type Receiver } from './helpers/openlineage.ts';
import { makeTempDir, repoRoot, runCli } from './helpers/temp.ts';
import { expectSluiceError, thrownSluiceError } from './helpers/errors.ts';
import { OpenLineageClient } from '../src/connectors/openlineage-client.ts';
import { runEvent } from '../src/connectors/openlineage-event.ts';
import { createLogger } from '../src/logger.ts';

const START = '2026-10-01';
const DAY1 = '2026-10-01';
const DAY2 = '2026-10-02';
const DAY3 = '2026-10-03';

let dir: string;
let cleanup: () => void;
const open: Workspace[] = [];
const receivers: Receiver[] = [];
const validator = openLineageValidator();

function writeDay(day: string, rows: number): void {
  const lines = Array.from({ length: rows }, (_, i) => `${i},${day},${(i * 7) % 5}`).join('\n');
  fs.writeFileSync(path.join(dir, 'data', `${day}.csv`), `id,day,amount\n${lines}\n`);
}

const events = fileSource('events', {
  format: 'csv', path: 'data/{date}.csv', partitions: dailyPartitions({ start: START }),
  columns: { id: 'INTEGER', day: 'DATE', amount: 'INTEGER' },
});

/** Daily totals (checked: at most `maxRows` events a day), and a per-day asset downstream of them. */
function projectWith(url: string | undefined, maxRows = 100): Project {
  const daily = asset('daily_totals', {
    partitions: dailyPartitions({ start: START }),
    sql: ({ ref }) => `SELECT count(*)::INT AS n, sum(amount)::INT AS total FROM ${ref(events)}`,
    checks: [check.columnValuesToNotBeNull('n'), check.columnValuesToBeBetween('n', { minValue: 1, maxValue: maxRows })],
  });
  const summary = asset('summary', { partitions: dailyPartitions({ start: START }), sql: ({ ref }) => `SELECT n * 2 AS double_n FROM ${ref(daily)}` });
  return defineProject({
    name: 'ol', assets: [daily, summary], jobs: [job('daily_job', { assets: [daily] })],
    settings: url === undefined ? {} : { openlineage: { url, namespace: 'ol-test' } },
  });
}

async function workspace(project: Project): Promise<Workspace> {
  const ws = await openWorkspace(project, dir);
  open.push(ws);
  return ws;
}

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  receivers.push(r);
  return r;
}

beforeEach(() => {
  ({ dir, cleanup } = makeTempDir('sluice-openlineage-'));
  fs.mkdirSync(path.join(dir, 'data'));
});
afterEach(async () => {
  for (const ws of open.splice(0)) await ws.close();
  for (const r of receivers.splice(0)) await r.close();
  cleanup();
});

function expectValid(list: readonly LineageEvent[]): void {
  expect(list.length).toBeGreaterThan(0);
  for (const event of list) expect(validator.problems(event), JSON.stringify(event)).toEqual([]);
}

/** Per run id: exactly one START, first, and exactly one COMPLETE, FAIL or ABORT, last. */
function expectLifecycles(list: readonly LineageEvent[]): Map<string, LineageEvent[]> {
  const byRun = new Map<string, LineageEvent[]>();
  for (const event of list) byRun.set(event.run.runId, [...(byRun.get(event.run.runId) ?? []), event]);
  for (const [runId, runEvents] of byRun) {
    const types = runEvents.map((e) => e.eventType);
    expect(types[0], runId).toBe('START');
    expect(types.filter((t) => t === 'START'), runId).toHaveLength(1);
    expect(types.filter((t) => ['COMPLETE', 'FAIL', 'ABORT'].includes(t)), runId).toHaveLength(1);
    expect(['COMPLETE', 'FAIL', 'ABORT'], runId).toContain(types.at(-1));
  }
  return byRun;
}

const ends = (list: readonly LineageEvent[], job: string): LineageEvent[] => list.filter((e) => e.job.name === job && e.eventType !== 'START');

describe('OpenLineage events', () => {
  it('sends START then COMPLETE for a run and each step, with lineage, versions, schema, statistics, checks, SQL and times', async () => {
    writeDay(DAY1, 3);
    writeDay(DAY2, 5);
    const r = await receiver();
    const ws = await workspace(projectWith(r.url));
    const summary = await runAssets(ws, { partitions: [DAY1, DAY2] });
    expect(summary.status).toBe('success');

    const list = r.received.map((x) => x.event);
    expect(r.received.every((x) => x.path === '/api/v1/lineage')).toBe(true);
    expectValid(list);
    const byRun = expectLifecycles(list);
    // The run and its four steps.
    expect(byRun.size).toBe(5);
    const run = list.find((e) => e.job.name === 'run' && e.eventType === 'COMPLETE') as LineageEvent;
    expect(run.job.namespace).toBe('ol-test');

    const day2 = ends(list, 'asset.daily_totals').find((e) => e.run.facets?.['nominalTime']?.['nominalStartTime'] === `${DAY2}T00:00:00.000Z`) as LineageEvent;
    expect(day2.eventType).toBe('COMPLETE');
    expect(day2.run.facets?.['nominalTime']?.['nominalEndTime']).toBe('2026-10-03T00:00:00.000Z');
    expect(day2.run.facets?.['parent']).toMatchObject({ run: { runId: run.run.runId }, job: { namespace: 'ol-test', name: 'run' } });
    expect(String(day2.job.facets?.['sql']?.['query'])).toContain('count(*)::INT AS n');
    expect(day2.inputs).toEqual([{ namespace: `file://${dir}`, name: 'data/{date}.csv', facets: { version: expect.objectContaining({ datasetVersion: expect.stringMatching(/^[0-9a-f]{64}$/) }) } }]);
    const [out] = day2.outputs;
    expect(out).toMatchObject({ namespace: `file://${path.join(dir, '.sluice')}`, name: 'tables/daily_totals' });
    expect(out?.facets?.['version']?.['datasetVersion']).toBe(String(summary.steps.find((s) => s.key === `daily_totals@${DAY2}`)?.outcome?.version));
    expect((out?.facets?.['schema']?.['fields'] as { name: string }[]).map((f) => f.name)).toEqual(['n', 'total', 'date']);
    expect(out?.outputFacets?.['outputStatistics']).toMatchObject({ rowCount: 1, fileCount: 1 });
    expect(Number(out?.outputFacets?.['outputStatistics']?.['size'])).toBeGreaterThan(0);
    // Column lineage from the step's SQL: total is an aggregate of the source's amount; n counts rows, so it names no field.
    expect(out?.facets?.['columnLineage']?.['fields']).toEqual({
      total: { inputFields: [{ namespace: `file://${dir}`, name: 'data/{date}.csv', field: 'amount', transformations: [expect.objectContaining({ type: 'INDIRECT' })] }] },
    });
    expect(out?.facets?.['dataQualityAssertions']?.['assertions']).toEqual([
      expect.objectContaining({ assertion: 'expect_column_values_to_not_be_null', column: 'n', success: true, severity: 'error' }),
      expect.objectContaining({ assertion: 'expect_column_values_to_be_between', column: 'n', success: true }),
    ]);

    // The downstream step names the version of daily_totals it read.
    const downstream = ends(list, 'asset.summary').find((e) => e.run.facets?.['nominalTime']?.['nominalStartTime'] === `${DAY2}T00:00:00.000Z`) as LineageEvent;
    const read = summary.steps.find((s) => s.key === `summary@${DAY2}`)?.outcome?.reads[0];
    expect(read?.version).toBeGreaterThan(0);
    expect(downstream.inputs).toMatchObject([{ name: 'tables/daily_totals', facets: { version: { datasetVersion: String(read?.version) } } }]);
    for (const id of ['SchemaDatasetFacet', 'DatasetVersionDatasetFacet', 'OutputStatisticsOutputDatasetFacet', 'DataQualityAssertionsDatasetFacet', 'SQLJobFacet', 'ParentRunFacet', 'NominalTimeRunFacet', 'JobTypeJobFacet']) {
      expect([...validator.used].some((u) => u.endsWith(`/${id}.json`)), id).toBe(true);
    }
  });

  it('sends FAIL with the error and the failed check for a failing step, ABORT for its downstream step, FAIL for the run', async () => {
    writeDay(DAY1, 3);
    writeDay(DAY2, 8);
    const r = await receiver();
    const ws = await workspace(projectWith(r.url, 5));
    const summary = await runAssets(ws, { partitions: [DAY1, DAY2] });
    expect(summary.status).toBe('failed');
    const list = r.received.map((x) => x.event);
    expectValid(list);
    expectLifecycles(list);
    const failed = ends(list, 'asset.daily_totals').find((e) => e.eventType === 'FAIL') as LineageEvent;
    expect(failed.run.facets?.['nominalTime']?.['nominalStartTime']).toBe(`${DAY2}T00:00:00.000Z`);
    expect(failed.run.facets?.['errorMessage']).toMatchObject({ programmingLanguage: 'TypeScript', message: expect.stringContaining('expect_column_values_to_be_between') as unknown });
    expect(failed.outputs[0]?.facets?.['dataQualityAssertions']?.['assertions']).toContainEqual(expect.objectContaining({ assertion: 'expect_column_values_to_be_between', success: false, actual: '1' }));
    expect(failed.outputs[0]?.outputFacets).toBeUndefined();
    const downstream = ends(list, 'asset.summary');
    expect(downstream.map((e) => e.eventType).sort()).toEqual(['ABORT', 'COMPLETE']);
    const aborted = downstream.find((e) => e.eventType === 'ABORT') as LineageEvent;
    expect(aborted.run.facets?.['nominalTime']?.['nominalStartTime']).toBe(`${DAY2}T00:00:00.000Z`);
    expect(String(aborted.run.facets?.['errorMessage']?.['message'])).toContain('upstream step');
    const run = ends(list, 'run')[0] as LineageEvent;
    expect(run.eventType).toBe('FAIL');
    expect(String(run.run.facets?.['errorMessage']?.['message'])).toContain(`daily_totals@${DAY2}`);
  });

  it('makes a backfill the parent of its partition runs, and their steps name it as root', async () => {
    for (const day of [DAY1, DAY2, DAY3]) writeDay(day, 2);
    const r = await receiver();
    const ws = await workspace(projectWith(r.url));
    const result = await backfill(ws, { job: 'daily_job', from: DAY1, to: DAY3, maxParallel: 2 });
    expect(result.status).toBe('success');
    const list = r.received.map((x) => x.event);
    expectValid(list);
    expectLifecycles(list);
    const parent = list.filter((e) => e.job.name === 'backfill.daily_job');
    expect(parent.map((e) => e.eventType)).toEqual(['START', 'COMPLETE']);
    expect(parent[1]?.run.facets?.['nominalTime']).toMatchObject({ nominalStartTime: `${DAY1}T00:00:00.000Z`, nominalEndTime: '2026-10-04T00:00:00.000Z' });
    const backfillRun = parent[0]?.run.runId;
    const runs = ends(list, 'job.daily_job');
    expect(runs).toHaveLength(3);
    for (const run of runs) expect(run.run.facets?.['parent']).toMatchObject({ run: { runId: backfillRun }, job: { name: 'backfill.daily_job' } });
    expect(runs.map((e) => e.run.facets?.['nominalTime']?.['nominalStartTime']).sort()).toEqual([DAY1, DAY2, DAY3].map((d) => `${d}T00:00:00.000Z`));
    const steps = ends(list, 'asset.daily_totals');
    expect(steps).toHaveLength(3);
    for (const step of steps) {
      const facet = step.run.facets?.['parent'] as { run: { runId: string }; root: { run: { runId: string }; job: { name: string } } };
      expect(runs.map((e) => e.run.runId)).toContain(facet.run.runId);
      expect(facet.root).toMatchObject({ run: { runId: backfillRun }, job: { name: 'backfill.daily_job' } });
    }
    // The backfill's START went out before its partitions' runs, and its COMPLETE after them.
    const order = list.map((e) => e.run.runId);
    expect(order.indexOf(backfillRun ?? '')).toBe(0);
    expect(order.lastIndexOf(backfillRun ?? '')).toBe(order.length - 1);
  });

  it('keeps events in the outbox while the endpoint is down, without slowing the run, and sends them first when it is back', async () => {
    writeDay(DAY1, 3);
    const down = `http://127.0.0.1:${await closedPort()}`;
    const first = await workspace(projectWith(down));
    const t0 = Date.now();
    const failedOver = await runAssets(first, { partitions: [DAY1] });
    const ms = Date.now() - t0;
    expect(failedOver.status).toBe('success');
    // Three attempts with backoff for the first event, then straight to the outbox: well under the 3 s flush bound.
    expect(ms).toBeLessThan(2500);
    const outbox = path.join(first.stateDir, 'openlineage-outbox', 'events.ndjson');
    const kept = fs.readFileSync(outbox, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as LineageEvent);
    expect(kept).toHaveLength(6); // the run and its two steps, START and end each
    expectValid(kept);
    expectLifecycles(kept);
    await first.close();
    open.splice(open.indexOf(first), 1);

    const r = await receiver();
    const second = await workspace(projectWith(r.url));
    const again = await runAssets(second, { partitions: [DAY1] });
    expect(again.status).toBe('success');
    const list = r.received.map((x) => x.event);
    expectValid(list);
    // The outbox first, in its order, then the new run's events.
    expect(list.slice(0, kept.length)).toEqual(kept);
    expect(list.length).toBe(kept.length + 6);
    expectLifecycles(list.slice(kept.length));
    expect(list.slice(kept.length).some((e) => e.run.runId === kept[0]?.run.runId)).toBe(false);
    expect(fs.readdirSync(path.dirname(outbox))).toEqual([]);
  });

  it('builds the column lineage facet from the column-level lineage it is given', async () => {
    writeDay(DAY1, 3);
    const ws = await workspace(projectWith('http://127.0.0.1:9'));
    const scope = lineageScope(ws);
    const run = runLineage(scope, 'run-1', {}, [DAY1], undefined);
    const event = stepEndEvent(scope, run, { stepId: 'run-1-0001', asset: 'daily_totals', partition: DAY1 }, {
      status: 'success', outcome: null, checks: [], error: null,
      columnLineage: [
        { output: 'n', inputs: [{ dataset: 'events', column: 'id', transformation: 'INDIRECT' }] },
        { output: 'total', inputs: [{ dataset: 'events', column: 'amount', transformation: 'DIRECT' }] },
      ],
    });
    expect(validator.problems(event)).toEqual([]);
    expect(event.outputs[0]?.facets?.['columnLineage']).toMatchObject({
      fields: {
        n: { inputFields: [{ namespace: `file://${dir}`, name: 'data/{date}.csv', field: 'id', transformations: [{ type: 'INDIRECT' }] }] },
        total: { inputFields: [{ name: 'data/{date}.csv', field: 'amount', transformations: [{ type: 'DIRECT' }] }] },
      },
    });
    expect([...validator.used].some((u) => u.endsWith('/ColumnLineageDatasetFacet.json'))).toBe(true);
    // Nothing was sent: building is pure.
    expect(fs.existsSync(path.join(ws.stateDir, 'openlineage-outbox'))).toBe(false);
  });

  it('sends a STREAMING run for a stream job and a run for a training set, with the versions it read and the file it wrote', async () => {
    const lines: string[] = [];
    for (const event of transactions({ cards: 20, seed: 3, startMs: Date.UTC(2026, 10, 1), rate: 2 })) {
      lines.push(JSON.stringify(event));
      if (lines.length === 300) break; // the generator is endless
    }
    const file = path.join(dir, 'data', 'txns.ndjson');
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    const r = await receiver();
    // The endpoint from the environment, as SLUICE_OPENLINEAGE_URL is read when a workspace opens.
    process.env['SLUICE_OPENLINEAGE_URL'] = r.url;
    let ws: Workspace;
    try {
      ws = await workspace(fraudProject());
    } finally {
      delete process.env['SLUICE_OPENLINEAGE_URL'];
    }
    expect((await runAssets(ws)).status).toBe('success');
    const store = await openOnlineStore(ws.settings.onlineUrl);
    try {
      async function* iterate(): AsyncGenerator<string> {
        for (const line of lines) yield await Promise.resolve(line);
      }
      await runStreamLines(ws, store, getEventStream(ws, 'transactions'), iterate(), { file });
    } finally {
      await store.close();
    }
    const out = path.join(dir, 'training.parquet');
    const set = await getHistoricalFeatures(ws, { service: 'fraud', spine: { sql: "SELECT 1::BIGINT AS card_id, TIMESTAMP '2026-11-01 01:00:00' AS event_timestamp UNION ALL SELECT 2, TIMESTAMP '2026-11-01 02:00:00'" }, out });
    const list = r.received.map((x) => x.event);
    expectValid(list);
    expectLifecycles(list);
    expect(list.every((e) => e.job.namespace === 'fraud')).toBe(true);

    const stream = list.filter((e) => e.job.name === 'stream.transactions');
    expect(stream.map((e) => e.eventType)).toEqual(['START', 'COMPLETE']);
    expect(stream[0]?.job.facets?.['jobType']).toMatchObject({ processingType: 'STREAMING', jobType: 'STREAM', integration: 'SLUICE' });
    expect(stream[1]?.inputs).toEqual([{ namespace: 'file', name: file }]);
    expect(stream[1]?.outputs).toEqual([{ namespace: `sqlite://${path.join(dir, '.sluice', 'online.db')}`, name: 'card_activity' }]);

    const training = list.filter((e) => e.job.name === 'training_set.fraud');
    expect(training.map((e) => e.eventType)).toEqual(['START', 'COMPLETE']);
    expect(training[1]?.inputs).toEqual([{ namespace: `file://${path.join(dir, '.sluice')}`, name: 'tables/transactions', facets: { version: expect.objectContaining({ datasetVersion: String(set.versions['transactions']) }) } }]);
    const [written] = training[1]?.outputs ?? [];
    expect(written).toMatchObject({ namespace: 'file', name: out, facets: { version: { datasetVersion: set.record?.output.sha256 } }, outputFacets: { outputStatistics: { rowCount: 2, size: fs.statSync(out).size, fileCount: 1 } } });
    expect((written?.facets?.['schema']?.['fields'] as { name: string }[]).map((f) => f.name)).toEqual(set.columns.map((c) => c.name));
  });

  it('sends credentials written in the endpoint URL as Basic authorization, and logs the URL without them', async () => {
    const warnings: string[] = [];
    const logger = createLogger('warn', 'json', { write: (line: string) => warnings.push(line) });
    const receiver = await startReceiver();
    const withCredentials = new URL(receiver.url);
    withCredentials.username = 'lineage';
    withCredentials.password = 's3cr3t-token';
    const client = new OpenLineageClient({ url: withCredentials.toString(), outboxDir: path.join(dir, 'outbox'), logger });
    client.emit(runEvent({ eventType: 'START', runId: '00000000-0000-4000-8000-000000000001', job: { namespace: 'ol', name: 'basic' } }));
    await client.close();
    await receiver.close();
    expect(receiver.received.map((r) => [r.path, r.authorization])).toEqual([['/api/v1/lineage', `Basic ${Buffer.from('lineage:s3cr3t-token').toString('base64')}`]]);
    const down = new URL(`http://127.0.0.1:${await closedPort()}`);
    down.username = 'lineage';
    down.password = 's3cr3t-token';
    const failing = new OpenLineageClient({ url: down.toString(), outboxDir: path.join(dir, 'outbox'), logger, attempts: 1 });
    failing.emit(runEvent({ eventType: 'START', runId: '00000000-0000-4000-8000-000000000002', job: { namespace: 'ol', name: 'basic' } }));
    await failing.close();
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings.some((w) => w.includes('s3cr3t-token'))).toBe(false);
  });

  it('keeps the outbox within its size bound, dropping the oldest events', async () => {
    const outboxDir = path.join(dir, 'outbox');
    const warnings: string[] = [];
    const logger = createLogger('warn', 'json', { write: (line: string) => warnings.push(line) });
    const client = new OpenLineageClient({ url: `http://127.0.0.1:${await closedPort()}`, outboxDir, logger, attempts: 1, outboxMaxBytes: 4000 });
    const job = { namespace: 'ol', name: 'bounded' };
    for (let i = 0; i < 40; i++) client.emit(runEvent({ eventType: 'START', runId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, job }));
    await client.close();
    const text = fs.readFileSync(path.join(outboxDir, 'events.ndjson'), 'utf8');
    expect(text.length).toBeLessThanOrEqual(4000);
    const kept = text.trim().split('\n').map((line) => (JSON.parse(line) as LineageEvent).run.runId);
    expect(kept.length).toBeGreaterThan(5);
    expect(kept.length).toBeLessThan(40);
    expect(kept.at(-1)).toBe('00000000-0000-4000-8000-000000000039');
    expect(warnings.some((w) => w.includes('outbox full'))).toBe(true);
  });

  it('refuses an endpoint that is not an http(s) URL, naming the setting', async () => {
    const bad = thrownSluiceError(() => defineProject({ name: 'x', assets: [], settings: { openlineage: { url: 'ftp://lineage' } } }));
    expect(bad.code).toBe('DEFINITION_INVALID');
    expect(bad.message).toContain('openlineage.url');
    expect(bad.message).toContain('http(s) URL');
    process.env['SLUICE_OPENLINEAGE_URL'] = 'localhost:5000';
    try {
      const error = await expectSluiceError(openWorkspace(projectWith(undefined), dir), 'CONFIG_INVALID');
      expect(error.message).toContain('SLUICE_OPENLINEAGE_URL');
    } finally {
      delete process.env['SLUICE_OPENLINEAGE_URL'];
    }
  });

  it('sends valid events for a backfill of the churn example through the CLI (SLUICE_OPENLINEAGE_URL, with a bearer token)', async () => {
    await generateChurn({ users: 300, days: 36, seed: 7, out: path.join(dir, 'data'), endDate: '2026-11-25' });
    fs.copyFileSync(path.join(repoRoot, 'examples/churn/sluice.config.ts'), path.join(dir, 'sluice.config.ts'));
    // The token's env var is named in the project's settings; the endpoint comes from the environment.
    const config = fs.readFileSync(path.join(dir, 'sluice.config.ts'), 'utf8').replace("jobs: [churnDaily],\n});", "jobs: [churnDaily],\n  settings: { openlineage: { apiKeyEnv: 'CHURN_OL_TOKEN' } },\n});");
    expect(config).toContain('CHURN_OL_TOKEN');
    fs.writeFileSync(path.join(dir, 'sluice.config.ts'), config);
    const r = await receiver();
    const result = await runCli(['backfill', 'churn_daily', '--from', '2026-11-20', '--to', '2026-11-22', '-p', dir], { env: { SLUICE_OPENLINEAGE_URL: r.url, CHURN_OL_TOKEN: 'secret-token' } });
    expect(result.code, result.stderr).toBe(0);
    const list = r.received.map((x) => x.event);
    expect(r.received.every((x) => x.authorization === 'Bearer secret-token')).toBe(true);
    expectValid(list);
    expectLifecycles(list);
    expect(list.every((e) => e.job.namespace === 'churn')).toBe(true);
    expect(ends(list, 'backfill.churn_daily').map((e) => e.eventType)).toEqual(['COMPLETE']);
    expect(ends(list, 'job.churn_daily')).toHaveLength(3);
    const features = ends(list, 'asset.user_features');
    expect(features.map((e) => e.eventType)).toEqual(['COMPLETE', 'COMPLETE', 'COMPLETE']);
    // user_features reads 30 days of activity and the users table; both are named as tables.
    expect(features[0]?.inputs.map((d) => d.name).sort()).toEqual(['tables/user_activity_daily', 'tables/users_clean']);
    const users = ends(list, 'asset.users_clean')[0];
    expect(users?.inputs[0]?.name).toBe('data/users.csv');
  }, 120_000);
});
