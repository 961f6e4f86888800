// The churn example end to end through the CLI, on a hand-made data set whose features are computed by hand.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latestManifest } from './helpers/tables.ts';
import { duck, makeTempDir, repoRoot, runCli, writeParquet } from './helpers/temp.ts';

const D = '2026-11-30';

type Event = [id: string, user: number, ts: string, type: string, seconds: number | null];

// Folder (arrival day) -> events. Late events sit in the folder after their event day.
const EVENTS: Record<string, Event[]> = {
  '2026-10-31': [['e1', 2, '2026-10-31 08:00:00', 'login', null], ['e2', 3, '2026-10-31 09:00:00', 'action', null]],
  '2026-11-01': [
    ['e3', 1, '2026-11-01 07:00:00', 'login', null], ['e4', 1, '2026-11-01 07:05:00', 'action', null],
    ['e5', 1, '2026-11-01 07:30:00', 'session_end', 100],
  ],
  '2026-11-10': [['e6', 2, '2026-11-10 12:00:00', 'action', null]],
  '2026-11-24': [
    ['e7', 1, '2026-11-24 10:00:00', 'login', null], ['e8', 1, '2026-11-24 10:01:00', 'action', null],
    ['e9', 1, '2026-11-24 10:02:00', 'action', null], ['e10', 1, '2026-11-24 10:30:00', 'session_end', 50],
  ],
  // e9 again: a duplicate delivery, counted once.
  '2026-11-25': [['e9', 1, '2026-11-24 10:02:00', 'action', null]],
  // e11 happened on 11-29 but arrived a day late.
  '2026-11-30': [
    ['e11', 1, '2026-11-29 22:00:00', 'action', null], ['e12', 1, '2026-11-30 06:00:00', 'login', null],
    ['e13', 4, '2026-11-30 06:10:00', 'login', null],
  ],
};

const USERS_CSV = [
  'user_id,signup_date,country,plan',
  '1,2026-01-01,,pro',
  '1,2026-01-01,US,pro',
  '2,2025-12-31,DE,free',
  'oops,2026-01-01,FR,free',
  '3,2026-02-01,FR',
  '3,2026-02-01,FR,basic',
].join('\n');

function eventsSql(events: Event[]): string {
  if (events.length === 0) return `SELECT * FROM (SELECT NULL::VARCHAR AS event_id, NULL::BIGINT AS user_id, NULL::TIMESTAMP AS event_ts, NULL::VARCHAR AS event_type, NULL::INTEGER AS session_seconds) WHERE false`;
  const rows = events.map(([id, user, ts, type, seconds]) => `('${id}', ${user}, TIMESTAMP '${ts}', '${type}', ${seconds === null ? 'NULL' : seconds})`);
  return `SELECT * FROM (VALUES ${rows.join(', ')}) AS t(event_id, user_id, event_ts, event_type, session_seconds)`;
}

async function writeLogs(dataDir: string): Promise<void> {
  for (let t = Date.parse('2026-10-31T00:00:00Z'); t <= Date.parse(`${D}T00:00:00Z`); t += 86_400_000) {
    const day = new Date(t).toISOString().slice(0, 10);
    await writeParquet(path.join(dataDir, 'logs', `date=${day}`, 'part-0.parquet'), eventsSql(EVENTS[day] ?? []));
  }
}

interface FeatureRow {
  user_id: bigint;
  logins_7d: bigint; logins_30d: bigint;
  session_seconds_7d: bigint; session_seconds_30d: bigint;
  actions_7d: bigint; actions_30d: bigint;
  days_active_30d: bigint; days_since_last_login: bigint | null;
  country: string | null; plan: string | null; tenure_days: bigint | null;
}

async function partitionFiles(stateDir: string, asset: string, key: string): Promise<string[]> {
  const manifest = await latestManifest(stateDir, asset);
  return (manifest.partitions[key]?.files ?? []).map((f) => path.join(stateDir, 'tables', asset, f.path));
}

describe('churn example', () => {
  let dir: string;
  let cleanup: () => void;
  let stateDir: string;

  beforeAll(async () => {
    ({ dir, cleanup } = makeTempDir('sluice-churn-'));
    stateDir = path.join(dir, '.sluice');
    fs.copyFileSync(path.join(repoRoot, 'examples/churn/sluice.config.ts'), path.join(dir, 'sluice.config.ts'));
    await writeLogs(path.join(dir, 'data'));
    fs.writeFileSync(path.join(dir, 'data', 'users.csv'), `${USERS_CSV}\n`);
  });
  afterAll(() => cleanup());

  it('computes the rolling features of the README exactly, on a hand-computed case', async () => {
    const result = await runCli(['run', 'user_features', '--partition', D, '--json', '-p', dir]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as { status: string; steps: { asset: string; status: string; outcome: { badRecords: number } | null }[] };
    expect(summary.status).toBe('success');
    // 30 daily partitions (11-01..11-30), users_clean, and the feature partition.
    expect(summary.steps.filter((s) => s.asset === 'user_activity_daily')).toHaveLength(30);
    expect(summary.steps.find((s) => s.asset === 'users_clean')?.outcome?.badRecords).toBe(2);

    const rows = await duck<FeatureRow & Record<string, unknown>>(`SELECT * FROM read_parquet(${JSON.stringify(await partitionFiles(stateDir, 'user_features', D)).replaceAll('"', "'")}) ORDER BY user_id`);
    const byUser = new Map(rows.map((r) => [Number(r.user_id), r]));
    expect([...byUser.keys()]).toEqual([1, 2, 4]); // user 3 was last active before the window
    expect(byUser.get(1)).toMatchObject({
      logins_7d: 2n, logins_30d: 3n, session_seconds_7d: 50n, session_seconds_30d: 150n,
      actions_7d: 3n, actions_30d: 4n, days_active_30d: 4n, days_since_last_login: 0n,
      country: 'US', plan: 'pro', tenure_days: 333n,
    });
    expect(byUser.get(2)).toMatchObject({
      logins_7d: 0n, logins_30d: 0n, session_seconds_7d: 0n, session_seconds_30d: 0n,
      actions_7d: 0n, actions_30d: 1n, days_active_30d: 1n, days_since_last_login: null,
      country: 'DE', plan: 'free', tenure_days: 334n,
    });
    expect(byUser.get(4)).toMatchObject({ logins_7d: 1n, logins_30d: 1n, days_active_30d: 1n, days_since_last_login: 0n, country: null, tenure_days: null });

    // The malformed users.csv lines are in the dead-letter store with their reasons.
    const deadDir = path.join(stateDir, 'dead-letter', 'users');
    const dead = fs.readdirSync(deadDir).flatMap((f) => fs.readFileSync(path.join(deadDir, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { line: number; column: string; reason: string; raw: string }));
    expect(dead.map((d) => d.line).sort()).toEqual([5, 6]);
    expect(dead.find((d) => d.line === 5)).toMatchObject({ column: 'user_id', raw: 'oops,2026-01-01,FR,free' });
    expect(dead.find((d) => d.line === 6)?.reason).toMatch(/Expected Number of Columns/);
  });

  it('skips unchanged partitions, and a forced rerun writes byte-identical files', async () => {
    const before = await latestManifest(stateDir, 'user_features');
    const again = JSON.parse((await runCli(['run', 'user_features', '--partition', D, '--json', '-p', dir])).stdout) as { steps: { status: string }[] };
    expect(new Set(again.steps.map((s) => s.status))).toEqual(new Set(['skipped']));
    expect((await latestManifest(stateDir, 'user_features')).version).toBe(before.version);

    const forced = JSON.parse((await runCli(['run', 'user_features', '--partition', D, '--force', '--json', '-p', dir])).stdout) as { steps: { asset: string; status: string }[] };
    // --force rebuilds the selected asset only; its upstream is still skipped when unchanged.
    expect(forced.steps.filter((s) => s.status === 'success').map((s) => s.asset)).toEqual(['user_features']);
    const after = await latestManifest(stateDir, 'user_features');
    expect(after.version).toBe(before.version + 1);
    expect(after.partitions[D]?.files).toEqual(before.partitions[D]?.files);
  });

  it('reruns exactly what a changed input reaches, and keeps older versions readable (time travel)', async () => {
    const v1 = await latestManifest(stateDir, 'user_features');
    // A new event file arrives in the 11-30 folder: it changes activity of 11-29 (lookahead) and 11-30.
    await writeParquet(path.join(dir, 'data/logs/date=2026-11-30/part-1.parquet'), eventsSql([['e14', 2, '2026-11-30 11:00:00', 'login', null]]));
    const rerun = JSON.parse((await runCli(['run', 'user_features', '--partition', D, '--json', '-p', dir])).stdout) as { steps: { key: string; status: string }[] };
    expect(rerun.steps.filter((s) => s.status === 'success').map((s) => s.key).sort()).toEqual(['user_activity_daily@2026-11-29', 'user_activity_daily@2026-11-30', 'user_features@2026-11-30']);

    const latest = JSON.parse((await runCli(['show', 'user_features', '--json', '--limit', '5', '-p', dir])).stdout) as { version: number; preview: { user_id: number; logins_7d: number }[] };
    expect(latest.version).toBe(v1.version + 1);
    expect(Number(latest.preview.find((r) => Number(r.user_id) === 2)?.logins_7d)).toBe(1);
    const old = JSON.parse((await runCli(['show', 'user_features', '--version', String(v1.version), '--json', '-p', dir])).stdout) as { version: number; preview: { user_id: number; logins_7d: number }[] };
    expect(old.version).toBe(v1.version);
    expect(Number(old.preview.find((r) => Number(r.user_id) === 2)?.logins_7d)).toBe(0);

    const versions = JSON.parse((await runCli(['versions', 'user_features', '--json', '-p', dir])).stdout) as { version: number }[];
    expect(versions.map((v) => v.version)).toEqual([v1.version + 1, v1.version, v1.version - 1]);
    const missing = await runCli(['show', 'user_features', '--version', '99', '-p', dir]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/VERSION_NOT_FOUND.*has no version 99/);
  });

  it('records runs, steps and lineage in the catalog', async () => {
    const runs = JSON.parse((await runCli(['runs', '--json', '-p', dir])).stdout) as { id: string; status: string }[];
    expect(runs.length).toBe(4);
    const detail = JSON.parse((await runCli(['runs', runs[0]?.id ?? '', '--json', '-p', dir])).stdout) as { steps: { asset: string; partition: string; status: string; rowsOut: number | null; version: number | null }[] };
    const feature = detail.steps.find((s) => s.asset === 'user_features');
    expect(feature).toMatchObject({ partition: D, status: 'success', rowsOut: 3 });
  });
  it('serves its feature service: a point-in-time training set, materialisation and an online lookup', async () => {
    // Spine: the moment D's features become final (D+1 00:00) and noon before it; a label column rides along.
    const spine = path.join(dir, 'spine.csv');
    fs.writeFileSync(spine, [
      'user_id,event_timestamp,plan_price,churned',
      `1,${D} 12:00:00,10.0,false`,
      '1,2026-12-01 00:00:00,10.0,false',
      '2,2026-12-01 12:00:00,0.0,true',
      '3,2026-12-01 12:00:00,5.0,true',
    ].join('\n'));
    const out = path.join(dir, 'train.parquet');
    const made = await runCli(['features', 'training-set', '--spine', spine, '--service', 'churn_model_v1', '--out', out, '-p', dir]);
    expect(made.stderr).toBe('');
    expect(made.stdout).toMatch(/wrote 4 rows x 18 columns/);
    const rows = await duck<Record<string, unknown>>(`SELECT * FROM read_parquet('${out}')`);
    const features = await duck<Record<string, unknown>>(`SELECT * FROM read_parquet(${JSON.stringify(await partitionFiles(stateDir, 'user_features', D)).replaceAll('"', "'")}) ORDER BY user_id`);
    const user1 = features.find((r) => Number(r['user_id']) === 1) as Record<string, unknown>;
    const user2 = features.find((r) => Number(r['user_id']) === 2) as Record<string, unknown>;
    // Noon of D: D's row is not final yet and D-1 was never built, so nothing is known.
    expect(rows[0]).toMatchObject({ user_id: 1n, churned: false, logins_7d: null, plan: null, logins_7d_share: null });
    // At D+1 00:00 (equal to feature_time) D's row is visible.
    expect(rows[1]).toMatchObject({ logins_7d: user1['logins_7d'], logins_30d: user1['logins_30d'], plan: 'pro', tenure_days: user1['tenure_days'] });
    expect(rows[1]?.['logins_7d_share']).toBeCloseTo(Number(user1['logins_7d']) / Number(user1['logins_30d']), 12);
    expect(rows[1]?.['price_per_active_day']).toBeCloseTo(10 / Number(user1['days_active_30d']), 12);
    // recent_activity for user 1 as of its latest activity row (11-30 06:00): days 11-24, 11-29, 11-30 in 14 days.
    expect(rows[1]).toMatchObject({ active_days_14d: 3n, logins_max_14d: 1n });
    expect(rows[1]?.['actions_avg_14d']).toBeCloseTo(1, 12);
    expect(rows[2]).toMatchObject({ user_id: 2n, churned: true, logins_7d: user2['logins_7d'] });
    // User 3 has no row in the window: nulls, the spine row stays.
    expect(rows[3]).toMatchObject({ user_id: 3n, churned: true, logins_7d: null, active_days_14d: null });

    const materialized = await runCli(['features', 'materialize', '--to', '2026-12-02', '--json', '-p', dir]);
    expect(materialized.stderr).toBe('');
    const views = (JSON.parse(materialized.stdout) as { views: { view: string; written: number }[] }).views;
    expect(views).toEqual([expect.objectContaining({ view: 'user_profile', written: 3 }), expect.objectContaining({ view: 'recent_activity', written: 3 })]);
    const lookup = await runCli(['features', 'get', '--service', 'churn_model_v1', '--entity', '{"user_id":1}', '--entity', '{"user_id":99}', '--request', '{"plan_price":10}', '--as-of', '2026-12-02T12:00:00Z', '--json', '-p', dir]);
    expect(lookup.stderr).toBe('');
    const served = JSON.parse(lookup.stdout) as { results: { entity: Record<string, unknown>; features: Record<string, { value: unknown; status: string; eventTimestamp: string | null }> }[] };
    expect(served.results[0]?.features['logins_7d']).toEqual({ value: Number(user1['logins_7d']), status: 'present', eventTimestamp: '2026-12-01T00:00:00.000Z' });
    expect(served.results[0]?.features['plan']?.value).toBe('pro');
    expect(served.results[0]?.features['price_per_active_day']?.value).toBeCloseTo(10 / Number(user1['days_active_30d']), 12);
    expect(served.results[1]?.features['logins_7d']).toEqual({ value: null, status: 'missing', eventTimestamp: null });
    // Past the 2-day TTL of the value's event time, the same lookup says expired, whatever today's date is.
    const late = JSON.parse((await runCli(['features', 'get', '--service', 'churn_model_v1', '--entity', '{"user_id":1}', '--request', '{"plan_price":10}', '--as-of', '2026-12-03T00:00:01Z', '--json', '-p', dir])).stdout) as typeof served;
    expect(late.results[0]?.features['logins_7d']).toEqual({ value: null, status: 'expired', eventTimestamp: '2026-12-01T00:00:00.000Z' });
    const skew = await runCli(['features', 'skew', '--service', 'churn_model_v1', '-p', dir]);
    expect(skew.code, skew.stderr).toBe(0);
  });
});
