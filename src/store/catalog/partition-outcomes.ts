// The latest outcome of every partition of some assets, summarised in the catalog's SQL: a partition's outcome is
// its latest build attempt (the newest step that succeeded or failed; skipped steps change nothing, and a step not
// run because its upstream failed attempted nothing), and its checks are that step's check results. A few
// set-based statements per call, whatever the number of partitions or runs; only groups and a few keys come back.
import { sql } from 'kysely';
import type { Kysely, RawBuilder } from 'kysely';
import type { CheckGroup, PartitionOutcomes } from './catalog.ts';
import type { Database } from './schema.ts';

/** Each partition's latest build attempt among the steps of `assets`. */
function latestAttempts(assets: readonly string[]): RawBuilder<unknown> {
  return sql`select id, run_id, asset, partition_key, status, error from (
      select s.id, s.run_id, s.asset, s.partition_key, s.status, s.error,
        row_number() over (partition by s.asset, s.partition_key order by s.seq desc) as attempt
      from steps s
      where s.asset in (${sql.join(assets)}) and s.status in ('success', 'failed')
    ) ranked where attempt = 1`;
}

interface CountRow { asset: string; attempted: number | string; blocked: number | string }
interface CheckTotalRow { asset: string; passed: number | string; total: number | string; last_at: string | null; warned: number | string }
interface KeyRow { asset: string; partition_key: string; total: number | string; error: string | null }
interface GroupRow { asset: string; severity: 'error' | 'warn'; expectation_type: string; column_name: string | null; partition_key: string; total: number | string }

export async function queryPartitionOutcomes(db: Kysely<Database>, assets: readonly string[], sampleKeys: number): Promise<PartitionOutcomes[]> {
  if (assets.length === 0) return [];
  const latest = latestAttempts(assets);
  const counts = await sql<CountRow>`with latest as (${latest})
    select asset, count(*) as attempted, sum(case when status = 'failed' then 1 else 0 end) as blocked
    from latest group by asset`.execute(db);
  const totals = await sql<CheckTotalRow>`with latest as (${latest})
    select l.asset, sum(c.success) as passed, count(*) as total, max(c.created_at) as last_at,
      count(distinct case when c.success = 0 and c.severity = 'warn' then l.partition_key end) as warned
    from latest l join check_results c on c.step_id = l.id
    group by l.asset`.execute(db);
  // Every blocked key (status relates them to the table's partitions); of those blocked by something else than a
  // check, the first keys only.
  const blocked = await sql<KeyRow>`with latest as (${latest})
    select asset, partition_key, 0 as total, null as error from latest where status = 'failed' order by asset, partition_key`.execute(db);
  const byError = await sql<KeyRow>`with latest as (${latest}),
    numbered as (select l.asset, l.partition_key, l.error,
      row_number() over (partition by l.asset order by l.partition_key) as n, count(*) over (partition by l.asset) as total
      from latest l where l.status = 'failed' and not exists (
        select 1 from check_results c where c.step_id = l.id and c.success = 0 and c.severity = 'error'))
    select asset, partition_key, total, error from numbered where n <= ${sampleKeys}`.execute(db);
  // Failing checks grouped by asset, severity, expectation and column: distinct partitions first (one suite may hold
  // two expectations of one type on one column), then numbered within their group.
  const groups = await sql<GroupRow>`with latest as (${latest}),
    failing as (select distinct l.asset, c.severity, c.expectation_type, c.column_name, l.partition_key
      from latest l join check_results c on c.step_id = l.id where c.success = 0),
    numbered as (select f.*,
      row_number() over (partition by asset, severity, expectation_type, column_name order by partition_key) as n,
      count(*) over (partition by asset, severity, expectation_type, column_name) as total
      from failing f)
    select asset, severity, expectation_type, column_name, partition_key, total from numbered where n <= ${sampleKeys}
    order by asset, severity, expectation_type, column_name, partition_key`.execute(db);

  return assets.map((asset): PartitionOutcomes => {
    const count = counts.rows.find((r) => r.asset === asset);
    const total = totals.rows.find((r) => r.asset === asset);
    const keys = blocked.rows.filter((r) => r.asset === asset);
    const errors = byError.rows.filter((r) => r.asset === asset);
    return {
      asset,
      attempted: Number(count?.attempted ?? 0),
      blocked: Number(count?.blocked ?? 0),
      blockedKeys: keys.map((r) => r.partition_key),
      warned: Number(total?.warned ?? 0),
      failingChecks: checkGroups(groups.rows.filter((r) => r.asset === asset)),
      otherFailures: errors.length === 0 ? null : { partitions: Number(errors[0]?.total ?? 0), keys: errors.map((r) => r.partition_key), firstError: errors[0]?.error ?? '' },
      checks: { passed: Number(total?.passed ?? 0), failed: Number(total?.total ?? 0) - Number(total?.passed ?? 0), lastAt: total?.last_at ?? null },
    };
  });
}

function checkGroups(rows: readonly GroupRow[]): CheckGroup[] {
  const groups = new Map<string, CheckGroup & { keys: string[] }>();
  for (const row of rows) {
    const id = JSON.stringify([row.severity, row.expectation_type, row.column_name]);
    const group = groups.get(id) ?? { severity: row.severity, expectationType: row.expectation_type, column: row.column_name, partitions: Number(row.total), keys: [] };
    group.keys.push(row.partition_key);
    groups.set(id, group);
  }
  return [...groups.values()];
}
