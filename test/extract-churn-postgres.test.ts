// The churn users in PostgreSQL: the same seed gives the same table, update batches are picked up by an
// incremental run (and only they are fetched), and `sluice generate churn --postgres-url` does both from the CLI.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineProject, extractAsset, postgresSource } from '../src/index.ts';
import { queryTable } from '../src/batch/inspect.ts';
import { runAssets } from '../src/batch/runner.ts';
import { applyUserUpdates, loadUsersToPostgres } from '../src/generate/churn-postgres.ts';
import { openWorkspace } from '../src/workspace.ts';
import { createTestSchema, type TestSchema } from './helpers/postgres.ts';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir, repoRoot, runCli } from './helpers/temp.ts';

let pgs: TestSchema;
beforeAll(async () => { pgs = await createTestSchema('sluice_churn_pg'); });
afterAll(async () => { await pgs.drop(); });

async function tableDigest(table: string): Promise<{ n: string; digest: string }> {
  const [row] = await pgs.query<{ n: string; digest: string }>(`SELECT count(*)::text AS n, md5(string_agg(t::text, ',' ORDER BY user_id)) AS digest FROM ${table} AS t`);
  return row ?? { n: '0', digest: '' };
}

describe('churn users in PostgreSQL', () => {
  it('loads the same rows for the same seed, and incremental runs pick up each update batch', async () => {
    const table = `${pgs.schema}.users`;
    const loaded = await loadUsersToPostgres(pgs.url, table, { users: 500, seed: 3, days: 10 });
    expect(loaded.rows).toBe(500);
    const first = await tableDigest(table);
    await loadUsersToPostgres(pgs.url, table, { users: 500, seed: 3, days: 10 });
    expect(await tableDigest(table)).toEqual(first);
    await loadUsersToPostgres(pgs.url, `${pgs.schema}.other`, { users: 500, seed: 4, days: 10 });
    expect((await tableDigest(`${pgs.schema}.other`)).digest).not.toBe(first.digest);
    const [shape] = await pgs.query<{ ids: string; plans: string }>(`SELECT count(DISTINCT user_id)::text AS ids, string_agg(DISTINCT plan, ',' ORDER BY plan) AS plans FROM ${table}`);
    expect(shape).toEqual({ ids: '500', plans: 'basic,free,pro' });

    const { dir, cleanup } = makeTempDir('sluice-churn-pg-');
    const source = postgresSource('crm_users', { url: pgs.url, table, cursor: 'updated_at', key: 'user_id', batchSize: 128 });
    const ws = await openWorkspace(defineProject({ name: 'churn', assets: [extractAsset('users', { source })] }), dir);
    try {
      expect((await runAssets(ws)).steps[0]?.outcome).toMatchObject({ status: 'success', rowsIn: 500, rowsOut: 500 });
      const before = await pgs.query<{ user_id: string; plan: string }>(`SELECT user_id::text AS user_id, plan FROM ${table} AS t ORDER BY t.user_id`);
      const changed = await applyUserUpdates(pgs.url, table, { updates: 12, inserts: 3, seed: 1, at: new Date('2026-12-01T00:00:00Z') });
      expect(changed).toMatchObject({ updated: 12, inserted: 3 });
      expect((await runAssets(ws)).steps[0]?.outcome).toMatchObject({ status: 'success', rowsIn: 15, rowsOut: 503 });
      const after = await pgs.query<{ user_id: string; plan: string }>(`SELECT user_id::text AS user_id, plan FROM ${table} AS t ORDER BY t.user_id`);
      expect(after.filter((r, i) => before[i] !== undefined && before[i]?.plan !== r.plan)).toHaveLength(12);
      const inAsset = await queryTable(ws, 'users', (t) => `SELECT user_id::VARCHAR AS user_id, plan FROM ${t} ORDER BY user_id::BIGINT`);
      expect(inAsset).toEqual(after);
      // A second batch with another seed is picked up the same way.
      await applyUserUpdates(pgs.url, table, { updates: 5, seed: 2, at: new Date('2026-12-02T00:00:00Z') });
      expect((await runAssets(ws)).steps[0]?.outcome).toMatchObject({ status: 'success', rowsIn: 5, rowsOut: 503 });
    } finally {
      await ws.close();
      cleanup();
    }
  });

  it('sluice generate churn --postgres-url loads the table and --postgres-updates changes it', async () => {
    const { dir, cleanup } = makeTempDir('sluice-churn-pg-cli-');
    try {
      const table = `${pgs.schema}.cli_users`;
      const load = await runCli(['generate', 'churn', '--users', '300', '--days', '3', '--out', dir, '--postgres-url', pgs.url, '--postgres-table', table]);
      expect(load.stderr).toBe('');
      expect(load.code).toBe(0);
      expect(load.stdout).toContain(`loaded 300 users into PostgreSQL table ${table}`);
      expect((await tableDigest(table)).n).toBe('300');
      const update = await runCli(['generate', 'churn', '--postgres-url', pgs.url, '--postgres-table', table, '--postgres-updates', '4', '--postgres-inserts', '2']);
      expect(update.code).toBe(0);
      expect(update.stdout).toMatch(new RegExp(`^updated 4 and added 2 user\\(s\\) in ${table.replace('.', '\\.')} at `));
      expect((await tableDigest(table)).n).toBe('302');
      const bad = await runCli(['generate', 'churn', '--postgres-updates', '4']);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain('--postgres-updates needs --postgres-url');
    } finally {
      cleanup();
    }
  });

  it('the churn example reads its users from PostgreSQL incrementally when CHURN_USERS_PG_URL is set', async () => {
    const { dir, cleanup } = makeTempDir('sluice-churn-example-pg-');
    try {
      const table = `${pgs.schema}.example_users`;
      fs.copyFileSync(path.join(repoRoot, 'examples/churn/sluice.config.ts'), path.join(dir, 'sluice.config.ts'));
      const end = '2026-11-20';
      const generated = await runCli(['generate', 'churn', '--users', '400', '--days', '31', '--seed', '5', '--end-date', end, '--out', path.join(dir, 'data'), '--postgres-url', pgs.url, '--postgres-table', table]);
      expect(generated.code).toBe(0);
      const env = { CHURN_USERS_PG_URL: pgs.url, CHURN_USERS_PG_TABLE: table };
      const first = await runCli(['-p', dir, '--json', 'run', 'user_features', '--partition', end], { env });
      expect(first.code).toBe(0);
      const steps = (JSON.parse(first.stdout) as { steps: { asset: string; status: string; outcome: { rowsIn: number } | null }[] }).steps;
      expect(steps.find((s) => s.asset === 'users_latest')).toMatchObject({ status: 'success', outcome: { rowsIn: 400 } });

      // The 10-minute lookback re-reads the rows that were within 10 minutes of the mark.
      const [window] = await pgs.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table} WHERE updated_at > (SELECT max(updated_at) FROM ${table}) - INTERVAL '10 minutes'`);
      await applyUserUpdates(pgs.url, table, { updates: 7, seed: 9, at: new Date() });
      const second = await runCli(['-p', dir, '--json', 'run', 'user_features', '--partition', end], { env });
      expect(second.code).toBe(0);
      const again = (JSON.parse(second.stdout) as { steps: { asset: string; status: string; outcome: { rowsIn: number } | null }[] }).steps;
      // Only the 7 changed rows (and the lookback's) are fetched; users_clean and the day's features are rebuilt.
      expect(again.find((s) => s.asset === 'users_latest')).toMatchObject({ status: 'success', outcome: { rowsIn: 7 + Number(window?.n) } });
      expect(again.find((s) => s.asset === 'users_clean')?.status).toBe('success');
      expect(again.find((s) => s.asset === 'user_features')?.status).toBe('success');
      const expected = await pgs.query<{ user_id: string; plan: string }>(`SELECT user_id::text AS user_id, plan FROM ${table} AS t ORDER BY t.user_id`);
      const shown = await runCli(['-p', dir, '--json', 'show', 'users_clean', '--limit', '1000'], { env });
      const preview = (JSON.parse(shown.stdout) as { preview: { user_id: number; plan: string }[] }).preview;
      expect(preview.map((r) => ({ user_id: String(r.user_id), plan: r.plan })).sort((a, b) => Number(a.user_id) - Number(b.user_id))).toEqual(expected);
    } finally {
      cleanup();
    }
  });
});
