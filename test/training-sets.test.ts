// Training sets that can be rebuilt exactly (issue: reproducible training data): each one built is recorded
// with the table versions it read; `--pin <id>` rebuilds it byte for byte after the table moved on, refusing a
// changed spine or changed definitions; `--as-of-version` reads an older version; the versions a training set
// read are pinned, so vacuum keeps them until `--unpin`; `sluice training-sets` lists, shows and diffs them.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { quoteLiteral } from '../src/sql/identifiers.ts';
import { duck, runCli, tempProjectEachTest, type CliResult } from './helpers/temp.ts';

let dir: string;
tempProjectEachTest('sluice-training-sets-', {}, (d) => (dir = d), []);

const config = (features: string): string => `import { asset, defineProject, entity, featureService, featureView, fileSource } from 'sluice';
const events = fileSource('events', { format: 'csv', path: 'data/events.csv', columns: { user_id: 'BIGINT', bought_at: 'TIMESTAMP', amount: 'DOUBLE' } });
const stats = asset('user_stats', {
  sql: ({ ref }) => \`SELECT user_id, max(bought_at) AS feature_time, sum(amount) AS spend, count(*) AS purchases FROM \${ref(events)} GROUP BY user_id\`,
});
const user = entity('user', { keys: { user_id: 'int' } });
const spend = featureView('spend', { entity: user, source: stats, timestamp: 'feature_time', features: ${features} });
export default defineProject({ name: 'training_sets', sources: [events], assets: [stats], featureServices: [featureService('spend_model', { features: [spend] })] });
`;

/** Purchases of users 1..3 on 2026-01-01; each call adds one more purchase per user (a new table version). */
let batches = 0;
function addPurchases(): void {
  batches += 1;
  const rows: string[] = [];
  for (let b = 1; b <= batches; b++) for (const user of [1, 2, 3]) rows.push(`${user},2026-01-01 0${b}:00:00,${user * 10 + b}`);
  fs.writeFileSync(path.join(dir, 'data', 'events.csv'), ['user_id,bought_at,amount', ...rows].join('\n'));
}

async function sluice(...args: string[]): Promise<CliResult> {
  const result = await runCli([...args, '-p', dir]);
  if (result.code !== 0) throw new Error(`sluice ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return result;
}

async function failing(...args: string[]): Promise<string> {
  const result = await runCli([...args, '-p', dir]);
  expect(result.code).not.toBe(0);
  return result.stderr;
}

interface Built { id: string; versions: Record<string, number>; sha256: string; rowCount: number }
async function build(out: string, ...args: string[]): Promise<Built> {
  return JSON.parse((await sluice('features', 'training-set', '--out', path.join(dir, out), '--json', ...args)).stdout) as Built;
}

const sha = (file: string): string => createHash('sha256').update(fs.readFileSync(path.join(dir, file))).digest('hex');
const spendOf = async (file: string): Promise<number[]> =>
  (await duck<{ spend: number }>(`SELECT spend FROM read_parquet(${quoteLiteral(path.join(dir, file))}) ORDER BY user_id`)).map((r) => r.spend);

describe('training sets', () => {
  it('rebuild byte-identically from their pinned versions, read older versions, keep them through vacuum until unpinned, and diff', async () => {
    fs.writeFileSync(path.join(dir, 'sluice.config.ts'), config("['spend', 'purchases']"));
    fs.mkdirSync(path.join(dir, 'data'));
    fs.writeFileSync(path.join(dir, 'spine.csv'), 'user_id,event_timestamp,label\n1,2026-01-02 00:00:00,1\n2,2026-01-02 00:00:00,0\n3,2026-01-02 00:00:00,1\n');
    const spine = path.join(dir, 'spine.csv');
    addPurchases();
    await sluice('run');

    const a = await build('a.parquet', '--spine', spine, '--service', 'spend_model', '--tag', 'model=churn-v3', '--tag', 'run=mlflow:abc123');
    expect(a).toMatchObject({ versions: { user_stats: 1 }, rowCount: 3, sha256: sha('a.parquet') });
    expect(await spendOf('a.parquet')).toEqual([11, 21, 31]);

    // The table moves on twice.
    addPurchases();
    await sluice('run');
    addPurchases();
    await sluice('run');
    const latest = await build('latest.parquet', '--spine', spine, '--service', 'spend_model');
    expect(latest.versions).toEqual({ user_stats: 3 });
    expect(await spendOf('latest.parquet')).toEqual([11 + 12 + 13, 21 + 22 + 23, 31 + 32 + 33]);

    // --pin rebuilds A exactly: the same versions, the same bytes; spine and service default to A's.
    const rebuilt = await build('rebuilt.parquet', '--pin', a.id);
    expect(rebuilt.versions).toEqual({ user_stats: 1 });
    expect(sha('rebuilt.parquet')).toBe(sha('a.parquet'));
    expect(fs.readFileSync(path.join(dir, 'rebuilt.parquet')).equals(fs.readFileSync(path.join(dir, 'a.parquet')))).toBe(true);

    // --as-of-version reads an older version.
    const second = await build('v2.parquet', '--spine', spine, '--service', 'spend_model', '--as-of-version', 'user_stats=2');
    expect(second.versions).toEqual({ user_stats: 2 });
    expect(await spendOf('v2.parquet')).toEqual([11 + 12, 21 + 22, 31 + 32]);
    expect(await failing('features', 'training-set', '--spine', spine, '--service', 'spend_model', '--out', path.join(dir, 'x.parquet'), '--as-of-version', 'orders=2'))
      .toMatch(/--as-of-version orders: no view of feature service "spend_model" reads asset "orders"; its views read user_stats/);
    expect(await failing('features', 'training-set', '--spine', spine, '--service', 'spend_model', '--out', path.join(dir, 'x.parquet'), '--as-of-version', 'user_stats=two')).toMatch(/a version is a whole number/);
    expect(await failing('features', 'training-set', '--spine', spine, '--service', 'spend_model', '--out', path.join(dir, 'x.parquet'), '--as-of-version', 'user_stats=9')).toMatch(/user_stats.*9/);

    // Listing, one in full, and diffs.
    const listed = JSON.parse((await sluice('training-sets', '--json')).stdout) as { id: string; tags: Record<string, string>; versions: Record<string, number>; pinned: boolean }[];
    expect(listed.map((r) => r.id).sort()).toEqual([a.id, latest.id, rebuilt.id, second.id].sort());
    expect(listed.find((r) => r.id === rebuilt.id)?.tags).toEqual({ model: 'churn-v3', run: 'mlflow:abc123', rebuilt_from: a.id });
    expect(listed.every((r) => r.pinned)).toBe(true);
    const shown = (await sluice('training-sets', a.id)).stdout;
    expect(shown).toContain('user_stats v1');
    expect(shown).toContain('model=churn-v3, run=mlflow:abc123');
    expect(shown).toContain(`sha256 ${a.sha256.slice(0, 12)}`);
    const moved = (await sluice('training-sets', 'diff', a.id, latest.id)).stdout;
    expect(moved).toContain('definitions  same');
    expect(moved).toContain('spine        same');
    expect(moved).toContain('version      user_stats: v1 -> v3');
    expect(moved).toContain('output       differs');
    const same = (await sluice('training-sets', 'diff', a.id, rebuilt.id)).stdout;
    expect(same).toContain('versions     same');
    expect(same).toContain('output       byte-identical');
    expect(same).toContain(`tag          rebuilt_from: (none) -> ${a.id}`);

    // A changed spine or changed definitions cannot rebuild A.
    fs.writeFileSync(path.join(dir, 'other.csv'), 'user_id,event_timestamp,label\n1,2026-01-03 00:00:00,1\n');
    expect(await failing('features', 'training-set', '--pin', a.id, '--spine', path.join(dir, 'other.csv'), '--out', path.join(dir, 'x.parquet')))
      .toMatch(new RegExp(`training set ${a.id}: the spine .*other\\.csv is not the one it was built from`));
    fs.writeFileSync(path.join(dir, 'sluice.config.ts'), config("['spend']"));
    expect(await failing('features', 'training-set', '--pin', a.id, '--out', path.join(dir, 'x.parquet'))).toMatch(/the definitions of feature service "spend_model" changed since it was built/);
    const changed = await build('changed.parquet', '--spine', spine, '--service', 'spend_model');
    expect((await sluice('training-sets', 'diff', a.id, changed.id)).stdout).toContain('definitions  changed');
    fs.writeFileSync(path.join(dir, 'sluice.config.ts'), config("['spend', 'purchases']"));
    expect(await failing('training-sets', 'ts-nope')).toMatch(/no training set with id ts-nope/);

    // `sluice versions` shows the pins; vacuum keeps pinned versions, --unpin releases them.
    const versions = JSON.parse((await sluice('versions', 'user_stats', '--json')).stdout) as { version: number; pinnedBy: string[] }[];
    expect(Object.fromEntries(versions.map((v) => [v.version, [...v.pinnedBy].sort()]))).toEqual({ 1: [a.id, rebuilt.id].sort(), 2: [second.id], 3: [latest.id, changed.id].sort() });
    const v1 = (await sluice('versions', 'user_stats')).stdout.split('\n').find((line) => line.startsWith('1 '));
    expect(v1).toContain(a.id);
    expect(v1).toContain(rebuilt.id);
    const kept = JSON.parse((await sluice('vacuum', 'user_stats', '--keep-versions', '1', '--grace', '0', '--json')).stdout) as { kept: number[]; removed: number[] }[];
    expect(kept[0]).toMatchObject({ kept: [1, 2, 3], removed: [] });
    const rebuiltAgain = await build('again.parquet', '--pin', a.id);
    expect(sha('again.parquet')).toBe(a.sha256);
    expect(rebuiltAgain.versions).toEqual({ user_stats: 1 });

    const released = JSON.parse((await sluice('vacuum', 'user_stats', '--keep-versions', '1', '--grace', '0', '--unpin', a.id, '--unpin', rebuilt.id, '--unpin', rebuiltAgain.id, '--json')).stdout) as { kept: number[]; removed: number[] }[];
    expect(released[0]).toMatchObject({ kept: [2, 3], removed: [1] });
    expect(await failing('features', 'training-set', '--pin', a.id, '--out', path.join(dir, 'x.parquet'))).toMatch(/user_stats.*version 1.*removed by sluice vacuum/);
    const after = JSON.parse((await sluice('training-sets', a.id, '--json')).stdout) as { pinned: boolean };
    expect(after.pinned).toBe(false);
  });
});
