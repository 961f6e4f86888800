// The scheduler: cron ticks in a time zone with catch-up, run keys that hold across restarts, recovery of
// claimed-but-unstarted launches, the three sensors, freshness alerts and metrics, and the leader lease.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { asset, assetUpdated, dailyPartitions, defineProject, fileSource, freshnessLapse, job, newFiles, sensor } from '../src/index.ts';
import { queryTable } from '../src/batch/inspect.ts';
import { runAssets } from '../src/batch/runner.ts';
import type { Project } from '../src/define/project.ts';
import { createPipelineMetrics } from '../src/orchestrate/metrics.ts';
import { dateInZone, dueTicks, Scheduler, type Launch, type SchedulerEvent } from '../src/orchestrate/scheduler.ts';
import { assetStatuses } from '../src/orchestrate/status.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';
import { createTestSchema } from './helpers/postgres.ts';
import { makeTempDir } from './helpers/temp.ts';

let dir: string;
let cleanup: () => void;
const open: Workspace[] = [];

const START = '2026-10-01';
const events = fileSource('events', {
  format: 'csv', path: 'data/{date}.csv', partitions: dailyPartitions({ start: START }),
  columns: { id: 'INTEGER', amount: 'INTEGER' },
});
const dailyTotals = asset('daily_totals', {
  partitions: dailyPartitions({ start: START }),
  sql: ({ ref }) => `SELECT count(*)::INT AS n, sum(amount)::INT AS total FROM ${ref(events)}`,
});
const enriched = asset('daily_enriched', {
  partitions: dailyPartitions({ start: START }),
  sql: ({ ref }) => `SELECT n * 2 AS n2 FROM ${ref(dailyTotals)}`,
});
const summary = asset('summary', {
  sql: ({ ref }) => `SELECT count(*)::INT AS days, sum(n)::INT AS n FROM ${ref(dailyTotals)}`,
  freshness: { maxLag: '1h' },
});

function writeDay(day: string, rows = Number(day.slice(8))): void {
  fs.writeFileSync(path.join(dir, 'data', `${day}.csv`), `id,amount\n${Array.from({ length: rows }, (_, i) => `${i},${i % 3}`).join('\n')}\n`);
}

beforeEach(() => {
  ({ dir, cleanup } = makeTempDir('sluice-scheduler-'));
  fs.mkdirSync(path.join(dir, 'data'));
  for (let d = 1; d <= 9; d++) writeDay(`2026-10-0${d}`);
});
afterEach(async () => {
  for (const ws of open.splice(0)) await ws.close();
  cleanup();
});

async function workspace(project: Project): Promise<Workspace> {
  const ws = await openWorkspace(project, dir);
  open.push(ws);
  return ws;
}

class Clock {
  constructor(public ms: number) {}
  readonly now = (): number => this.ms;
  set(iso: string): void {
    this.ms = Date.parse(iso);
  }
}

function recorder(): { events: SchedulerEvent[]; onEvent: (e: SchedulerEvent) => void } {
  const events: SchedulerEvent[] = [];
  return { events, onEvent: (e) => events.push(e) };
}

const partitionsOf = (launches: readonly Launch[]): string[] => launches.map((l) => l.partition).sort();

describe('schedules', () => {
  it('computes ticks in the schedule\'s time zone', () => {
    // 03:00 in Paris is 01:00 UTC in summer time (until 25 October 2026) and 02:00 UTC after.
    const ticks = dueTicks('0 3 * * *', 'Europe/Paris', Date.parse('2026-10-24T12:00:00Z'), Date.parse('2026-10-27T12:00:00Z'));
    expect(ticks.map((t) => t.toISOString())).toEqual(['2026-10-25T02:00:00.000Z', '2026-10-26T02:00:00.000Z', '2026-10-27T02:00:00.000Z']);
    expect(dueTicks('0 3 * * *', 'Europe/Paris', Date.parse('2026-10-01T00:00:00Z'), Date.parse('2026-10-04T00:00:00Z')).map((t) => t.toISOString()))
      .toEqual(['2026-10-01T01:00:00.000Z', '2026-10-02T01:00:00.000Z', '2026-10-03T01:00:00.000Z']);
    expect(dateInZone(new Date('2026-10-05T23:30:00Z'), 'Asia/Tokyo')).toBe('2026-10-06');
    expect(dueTicks('0 * * * *', 'UTC', 0, 10 * 3_600_000, 3)).toHaveLength(3);
  });

  it('catches up missed ticks by policy, and never launches a job partition twice, even after a restart', async () => {
    const nightly = job('nightly', { assets: [dailyTotals], schedule: { cron: '0 3 * * *', timezone: 'Europe/Paris', catchUp: { all: 5 } } });
    const latest = job('nightly_latest', { assets: [dailyTotals], schedule: { cron: '0 3 * * *', timezone: 'Europe/Paris' } });
    const ws = await workspace(defineProject({ name: 'sched', assets: [dailyTotals], jobs: [nightly, latest] }));
    const clock = new Clock(Date.parse('2026-10-05T12:00:00Z'));
    const first = recorder();
    const a = new Scheduler(ws, { now: clock.now, onEvent: first.onEvent, maxConcurrentRuns: 3 });
    expect(await a.evaluate()).toEqual([]); // first sight: the schedules start now

    clock.set('2026-10-08T12:00:00Z');
    const launches = await a.evaluate();
    const byJob = (name: string): Launch[] => launches.filter((l) => l.job === name);
    // Ticks of 6, 7 and 8 October at 03:00 Paris build the previous days.
    expect(partitionsOf(byJob('nightly'))).toEqual(['2026-10-05', '2026-10-06', '2026-10-07']);
    expect(byJob('nightly').map((l) => l.tick).sort()).toEqual(['2026-10-06T01:00:00.000Z', '2026-10-07T01:00:00.000Z', '2026-10-08T01:00:00.000Z']);
    expect(partitionsOf(byJob('nightly_latest'))).toEqual(['2026-10-07']);
    expect(first.events).toContainEqual({ type: 'missed-ticks', job: 'nightly_latest', missed: 2, launched: 0 });
    await a.idle();
    const ends = first.events.filter((e) => e.type === 'run-end');
    expect(ends).toHaveLength(4);
    expect(ends.every((e) => e.status === 'success')).toBe(true);
    for (const launch of launches) {
      const run = await ws.catalog.getRun(launch.runId);
      expect(run).toMatchObject({ status: 'success', args: { command: 'schedule', job: launch.job, partition: launch.partition, runKey: launch.runKey } });
    }
    const totals = await queryTable(ws, 'daily_totals', (t) => `SELECT strftime(date, '%Y-%m-%d') AS day, n FROM ${t} ORDER BY day`);
    expect(totals).toEqual([{ day: '2026-10-05', n: 5 }, { day: '2026-10-06', n: 6 }, { day: '2026-10-07', n: 7 }]);

    // A restarted scheduler whose cursor did not move (it crashed after claiming): the keys are taken.
    await ws.catalog.setCursor('schedule:sched:nightly', '2026-10-05T12:00:00.000Z');
    const second = recorder();
    const b = new Scheduler(ws, { now: clock.now, onEvent: second.onEvent });
    expect(await b.evaluate()).toEqual([]);
    expect(second.events.filter((e) => e.type === 'already-launched')).toHaveLength(3);
    await b.idle();
    expect(await ws.catalog.listRuns()).toHaveLength(4);

    // The next day's tick launches exactly the next partition.
    clock.set('2026-10-09T01:30:00Z');
    expect(partitionsOf(await b.evaluate())).toEqual(['2026-10-08', '2026-10-08']);
    await b.idle();
  });

  it('launches each tick once when two schedulers on one PostgreSQL catalog evaluate at the same time', async () => {
    const pgs = await createTestSchema('sluice_sched');
    try {
      const url = new URL(pgs.url);
      url.searchParams.set('schema', pgs.schema);
      const nightly = job('nightly', { assets: [dailyTotals], schedule: { cron: '0 3 * * *', timezone: 'UTC', catchUp: { all: 10 } } });
      const project = defineProject({ name: 'sched_pg', assets: [dailyTotals], jobs: [nightly] });
      const [a, b] = [await openWorkspace(project, dir, { catalogUrl: url.toString() }), await openWorkspace(project, dir, { catalogUrl: url.toString() })];
      open.push(a, b);
      const clock = new Clock(Date.parse('2026-10-02T12:00:00Z'));
      expect(await new Scheduler(a, { now: clock.now }).evaluate()).toEqual([]);
      clock.set('2026-10-07T12:00:00Z');
      const [one, two] = [new Scheduler(a, { now: clock.now }), new Scheduler(b, { now: clock.now })];
      const launched = (await Promise.all([one.evaluate(), two.evaluate()])).flat();
      expect(partitionsOf(launched)).toEqual(['2026-10-02', '2026-10-03', '2026-10-04', '2026-10-05', '2026-10-06']);
      await Promise.all([one.idle(), two.idle()]);
      const runs = await a.catalog.listRuns();
      expect(runs).toHaveLength(5);
      expect(runs.every((r) => r.status === 'success')).toBe(true);
      expect((await a.catalog.listRunKeys('sched_pg:schedule:nightly:')).map((k) => k.partition)).toEqual(['2026-10-02', '2026-10-03', '2026-10-04', '2026-10-05', '2026-10-06']);
    } finally {
      for (const ws of open.splice(0)) await ws.close();
      await pgs.drop();
    }
  });

  it('starts launches that were claimed by a scheduler that died before starting them', async () => {
    const nightly = job('nightly', { assets: [dailyTotals], schedule: '0 3 * * *' });
    const ws = await workspace(defineProject({ name: 'sched', assets: [dailyTotals], jobs: [nightly] }));
    await ws.catalog.claimRunKey({ key: 'sched:schedule:nightly:2026-10-03', runId: 'orphan-run-1', job: 'nightly', partition: '2026-10-03', origin: 'schedule' });
    const scheduler = new Scheduler(ws, { now: () => Date.parse('2026-10-04T12:00:00Z') });
    const launches = await scheduler.evaluate();
    expect(launches).toMatchObject([{ runId: 'orphan-run-1', partition: '2026-10-03' }]);
    await scheduler.idle();
    expect(await ws.catalog.getRun('orphan-run-1')).toMatchObject({ status: 'success' });
    // Once it ran, it is no orphan.
    expect(await new Scheduler(ws, { now: () => Date.parse('2026-10-04T12:00:00Z') }).evaluate()).toEqual([]);
  });

  it('keeps one active scheduler per project; the other waits in standby', async () => {
    const ws = await workspace(defineProject({ name: 'sched', assets: [dailyTotals], jobs: [job('nightly', { assets: [dailyTotals], schedule: '0 3 * * *' })] }));
    const a = recorder();
    const b = recorder();
    const controller = new AbortController();
    const first = new Scheduler(ws, { pollMs: 20, onEvent: a.onEvent });
    const second = new Scheduler(ws, { pollMs: 20, onEvent: b.onEvent });
    const running = [first.run(controller.signal)];
    await new Promise((resolve) => setTimeout(resolve, 100));
    running.push(second.run(controller.signal));
    await new Promise((resolve) => setTimeout(resolve, 150));
    controller.abort();
    await Promise.all(running);
    expect(a.events).toContainEqual({ type: 'active', holder: first.holder });
    expect(b.events).toContainEqual({ type: 'standby', holder: first.holder });
    expect(b.events.some((e) => e.type === 'active')).toBe(false);
    expect(await ws.catalog.getLease('scheduler:sched')).toBeUndefined(); // released on stop
  });
});

describe('sensors', () => {
  it('launches a partition run for new and changed files, once each', async () => {
    fs.rmSync(path.join(dir, 'data'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'data'));
    const ingest = job('ingest', { assets: [dailyTotals] });
    const ws = await workspace(defineProject({ name: 'sens', assets: [dailyTotals], jobs: [ingest], sensors: [sensor('landing', { job: ingest, when: newFiles('data/*.csv'), every: '1s' })] }));
    const clock = new Clock(Date.parse('2026-10-10T00:00:00Z'));
    const scheduler = new Scheduler(ws, { now: clock.now });
    expect(await scheduler.evaluate()).toEqual([]);
    writeDay('2026-10-01');
    writeDay('2026-10-02');
    clock.ms += 500; // within the sensor's interval: not evaluated
    expect(await scheduler.evaluate()).toEqual([]);
    clock.ms += 1000;
    const launches = await scheduler.evaluate();
    expect(partitionsOf(launches)).toEqual(['2026-10-01', '2026-10-02']);
    expect(launches[0]?.reason).toMatch(/new or changed file\(s\): data\/2026-10-0[12]\.csv/);
    await scheduler.idle();
    clock.ms += 1000;
    expect(await scheduler.evaluate()).toEqual([]);
    writeDay('2026-10-02', 20);
    clock.ms += 1000;
    expect(partitionsOf(await scheduler.evaluate())).toEqual(['2026-10-02']);
    await scheduler.idle();
    expect(await queryTable(ws, 'daily_totals', (t) => `SELECT strftime(date, '%Y-%m-%d') AS day, n FROM ${t} ORDER BY day`))
      .toEqual([{ day: '2026-10-01', n: 1 }, { day: '2026-10-02', n: 20 }]);
  });

  it('launches downstream jobs when an upstream asset gets a new version, per changed partition', async () => {
    const whole = job('summary_job', { assets: [summary] });
    const perDay = job('enrich', { assets: [enriched] });
    const ws = await workspace(defineProject({
      name: 'sens', assets: [dailyTotals, enriched, summary], jobs: [whole, perDay],
      sensors: [sensor('totals_changed', { job: whole, when: assetUpdated(dailyTotals) }), sensor('totals_changed_daily', { job: perDay, when: assetUpdated('daily_totals') })],
    }));
    const scheduler = new Scheduler(ws, { now: () => Date.now() + 3_600_000 * (tick++) });
    let tick = 0;
    expect(await scheduler.evaluate()).toEqual([]);
    await runAssets(ws, { assets: ['daily_totals'], partitions: ['2026-10-03', '2026-10-04'] });
    const launches = await scheduler.evaluate();
    expect(launches.filter((l) => l.job === 'summary_job').map((l) => l.partition)).toEqual(['']);
    expect(partitionsOf(launches.filter((l) => l.job === 'enrich'))).toEqual(['2026-10-03', '2026-10-04']);
    await scheduler.idle();
    expect(await queryTable(ws, 'summary', (t) => `SELECT days, n FROM ${t}`)).toEqual([{ days: 2, n: 7 }]);
    expect(await scheduler.evaluate()).toEqual([]);
  });

  it('launches a run on a freshness lapse once, alerts once per breach, and exports the lag', async () => {
    const alerts: unknown[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => { alerts.push(JSON.parse(body)); res.end('ok'); });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const whole = job('summary_job', { assets: [summary] });
      const project = defineProject({
        name: 'fresh', assets: [dailyTotals, summary], jobs: [whole],
        sensors: [sensor('summary_stale', { job: whole, when: freshnessLapse(summary, '1h'), every: '1s' })],
        settings: { alertWebhooks: [`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`] },
      });
      const ws = await workspace(project);
      await runAssets(ws, { assets: ['daily_totals'], partitions: ['2026-10-01'] });
      const clock = new Clock(Date.now());
      const scheduler = new Scheduler(ws, { now: clock.now });
      // Never built: a lapse, one launch and one alert.
      const first = await scheduler.evaluate();
      expect(first).toMatchObject([{ job: 'summary_job', reason: 'asset summary has never been built, more than 1h ago' }]);
      await scheduler.idle();
      expect(alerts).toMatchObject([{ event: 'freshness_breach', asset: 'summary', message: expect.stringContaining('has never been built') }]);
      expect((await assetStatuses(ws, clock.ms)).find((s) => s.asset === 'summary')).toMatchObject({ freshness: 'fresh', version: 1 });

      clock.ms += 2 * 3_600_000;
      clock.ms += 1000;
      const second = await scheduler.evaluate();
      expect(second).toHaveLength(1);
      expect(second[0]?.reason).toMatch(/asset summary was last updated .* \(version 1\), more than 1h ago/);
      expect(alerts).toHaveLength(2);
      expect(alerts[1]).toMatchObject({ event: 'freshness_breach', asset: 'summary', message: expect.stringMatching(/last updated .*version 1.*SLA is 60 min/) });
      // The rerun found nothing changed (no new version): still stale, but neither launched nor alerted again.
      await scheduler.idle();
      clock.ms += 31_000; // past the 30 s between freshness checks, so the dedupe is what holds the alert back
      expect(await scheduler.evaluate()).toEqual([]);
      expect(alerts).toHaveLength(2);

      const metrics = createPipelineMetrics(ws, { defaultMetrics: false, now: clock.now });
      metrics.observeRun('summary_job', 'sensor', 'success', 0.5, null);
      const text = await metrics.registry.metrics();
      expect(text).toMatch(/sluice_asset_stale\{asset="summary"\} 1/);
      expect(text).toMatch(/sluice_asset_freshness_sla_seconds\{asset="summary"\} 3600/);
      const lag = Number(/sluice_asset_freshness_lag_seconds\{asset="summary"\} ([\d.]+)/.exec(text)?.[1]);
      expect(lag).toBeGreaterThan(7200);
      expect(lag).toBeLessThan(7300);
      expect(text).toContain('sluice_runs_total{job="summary_job",origin="sensor",status="success"} 1');
    } finally {
      server.close();
    }
  });
});

describe('sluice scheduler and sluice status', () => {
  it('launches from a sensor once per file, and reports freshness and checks', () => {
    fs.writeFileSync(path.join(dir, 'sluice.config.ts'), `import { asset, dailyPartitions, defineProject, fileSource, job, newFiles, sensor } from 'sluice';
const events = fileSource('events', { format: 'csv', path: 'data/{date}.csv', partitions: dailyPartitions({ start: '${START}' }), columns: { id: 'INTEGER', amount: 'INTEGER' } });
const daily = asset('daily_totals', {
  partitions: dailyPartitions({ start: '${START}' }), freshness: { maxLag: '1d' },
  sql: ({ ref }) => \`SELECT count(*)::INT AS n FROM \${ref(events)}\`,
  checks: [{ type: 'expect_column_values_to_not_be_null', kwargs: { column: 'n' } }, { type: 'expect_column_values_to_be_between', kwargs: { column: 'n', min_value: 100 }, meta: { severity: 'warn' } }],
});
const other = asset('other', { sql: 'SELECT 1 AS x', freshness: { maxLag: '1h' } });
const ingest = job('ingest', { assets: [daily] });
export default defineProject({ name: 'cli_sched', assets: [daily, other], jobs: [ingest, job('other_job', { assets: [other], schedule: '0 * * * *' })], sensors: [sensor('landing', { job: ingest, when: newFiles('data/2026-10-0[12].csv') })] });
`);
    const bin = path.resolve(import.meta.dirname, '..', 'bin', 'sluice.mjs');
    const run = (args: string[]): ReturnType<typeof spawnSync> => spawnSync(process.execPath, [bin, '-p', dir, ...args], { encoding: 'utf8', timeout: 60_000 });
    const once = run(['scheduler', '--once']);
    expect(once.stderr).toBe('');
    expect(once.stdout).toMatch(/launch ingest 2026-10-01 as run \S+ \(sensor: new or changed file\(s\): data\/2026-10-01\.csv\)/);
    expect(once.stdout).toMatch(/success run \S+ of ingest 2026-10-02/);
    expect(once.stdout).toMatch(/asset other is stale: never built, SLA 1h00m/);
    expect(once.status).toBe(0);
    expect(run(['scheduler', '--once']).stdout).not.toContain('launch');

    const status = run(['status']);
    expect(status.stdout).toMatch(/daily_totals\s+2\s+\S+\s+\S+\s+24h00m\s+fresh\s+2\s+2\/4 passed\s+expect_column_values_to_be_between\(n\) \[warn\]/); // both partitions' latest checks
    expect(status.stdout).toMatch(/daily_totals: 2 partition\(s\) with failing warnings:\n\s+expect_column_values_to_be_between\(n\) \[warn\]: 2 partition\(s\): 2026-10-01, 2026-10-02/);
    expect(status.stdout).toMatch(/other\s+never\s+1h00m\s+never-built/);
    expect(status.status).toBe(1); // an asset with an SLA was never built
    const json = JSON.parse(run(['--json', 'status']).stdout as string) as { asset: string; freshness: string }[];
    expect(json.map((s) => [s.asset, s.freshness])).toEqual([['daily_totals', 'fresh'], ['other', 'never-built']]);
  });
});
