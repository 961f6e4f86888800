// A target's check history for the report, aggregated in the catalog's SQL: every result in the range counts, and
// results are grouped per entry: a run, or all the runs of one backfill (one run per partition, told apart by
// `args.backfill` in the runs table). Only aggregates and capped lists of rows come back, whatever the history's size.
import { sql } from 'kysely';
import type { Kysely, RawBuilder, Selectable } from 'kysely';
import { AD_HOC_RUN_PREFIX } from './catalog.ts';
import type { Catalog, CheckHistoryEntry, CheckHistoryFilter } from './catalog.ts';
import type { CheckResultsTable, Database } from './schema.ts';

/** The backfill a run belongs to, from its JSON args (stored as text in both dialects). */
function backfillOf(dialect: Catalog['dialect']): RawBuilder<string | null> {
  return dialect === 'postgres' ? sql<string | null>`(r.args::json ->> 'backfill')` : sql<string | null>`json_extract(r.args, '$.backfill')`;
}

/** The pipeline results of the range, each with its entry (`entry_id`, `kind`). */
function results(dialect: Catalog['dialect'], filter: CheckHistoryFilter): RawBuilder<unknown> {
  const backfill = backfillOf(dialect);
  const since = filter.since === undefined ? sql`` : sql`and c.created_at >= ${filter.since}`;
  return sql`select c.seq, c.run_id, c.partition_key, c.severity, c.success, c.created_at,
      coalesce(${backfill}, c.run_id) as entry_id, case when ${backfill} is null then 'run' else 'backfill' end as kind
    from check_results c left join runs r on r.id = c.run_id
    where c.target = ${filter.target} and c.run_id not like ${`${AD_HOC_RUN_PREFIX}%`} ${since}`;
}

const ENTRIES = sql`select entry_id, kind, count(distinct run_id) as runs, min(created_at) as first_at, max(created_at) as last_at,
    count(distinct partition_key) as partitions, sum(success) as passed, count(*) - sum(success) as failed,
    sum(case when success = 0 and severity = 'error' then 1 else 0 end) as failed_errors,
    count(distinct case when success = 0 and severity = 'error' then partition_key end) as blocked_partitions,
    count(distinct case when success = 0 and severity = 'warn' then partition_key end) as warned_partitions
  from results group by entry_id, kind`;

type Count = number | string;
interface EntryRow {
  entry_id: string; kind: 'run' | 'backfill'; runs: Count; first_at: string; last_at: string; partitions: Count; passed: Count; failed: Count;
  failed_errors: Count; blocked_partitions: Count; warned_partitions: Count;
}
interface TotalsRow { entries: Count; failing_entries: Count | null; runs: Count | null; results: Count | null; passed: Count | null; failed: Count | null; failed_errors: Count | null }

export interface CheckHistoryRows {
  readonly totals: { results: number; passed: number; failed: number; failedErrors: number; runs: number; entries: number; failingEntries: number };
  readonly entries: CheckHistoryEntry[];
  readonly failingEntries: CheckHistoryEntry[];
  /** Rows of check_results, for the catalog to map to records. */
  readonly latestFailures: Selectable<CheckResultsTable>[];
}

export async function queryCheckHistory(db: Kysely<Database>, dialect: Catalog['dialect'], filter: CheckHistoryFilter): Promise<CheckHistoryRows> {
  const base = results(dialect, filter);
  const totals = (await sql<TotalsRow>`with results as (${base}), entries as (${ENTRIES})
    select count(*) as entries, sum(case when failed > 0 then 1 else 0 end) as failing_entries, sum(runs) as runs,
      sum(passed + failed) as results, sum(passed) as passed, sum(failed) as failed, sum(failed_errors) as failed_errors
    from entries`.execute(db)).rows[0];
  const recent = await sql<EntryRow>`with results as (${base}), entries as (${ENTRIES})
    select * from entries order by last_at desc, entry_id desc limit ${filter.entries}`.execute(db);
  const failing = await sql<EntryRow>`with results as (${base}), entries as (${ENTRIES})
    select * from entries where failed > 0 order by last_at desc, entry_id desc limit ${filter.entries}`.execute(db);
  const latest = recent.rows[0];
  const failures = latest === undefined || Number(latest.failed) === 0 || filter.failures === 0 ? [] : (await sql<Selectable<CheckResultsTable>>`with results as (${base})
    select c.* from results x join check_results c on c.seq = x.seq
    where x.entry_id = ${latest.entry_id} and x.success = 0
    order by c.partition_key, c.expectation_index, c.seq limit ${filter.failures}`.execute(db)).rows;
  return {
    totals: {
      results: Number(totals?.results ?? 0), passed: Number(totals?.passed ?? 0), failed: Number(totals?.failed ?? 0),
      failedErrors: Number(totals?.failed_errors ?? 0), runs: Number(totals?.runs ?? 0), entries: Number(totals?.entries ?? 0),
      failingEntries: Number(totals?.failing_entries ?? 0),
    },
    entries: recent.rows.map(toEntry).reverse(),
    failingEntries: failing.rows.map(toEntry).reverse(),
    latestFailures: failures,
  };
}

function toEntry(row: EntryRow): CheckHistoryEntry {
  return {
    kind: row.kind, id: row.entry_id, runs: Number(row.runs), firstCheckedAt: row.first_at, checkedAt: row.last_at,
    partitions: Number(row.partitions), passed: Number(row.passed), failed: Number(row.failed), failedErrors: Number(row.failed_errors),
    blockedPartitions: Number(row.blocked_partitions), warnedPartitions: Number(row.warned_partitions),
  };
}
