// What a data-quality report shows, as plain serialisable data, built from an asset's check history as the
// catalog aggregates it (every result in the range counts; lists of runs and failures are capped, and say so).
import type { CheckHistory, CheckHistoryEntry, CheckRecord } from '../store/catalog/catalog.ts';
import type { ColumnProfile } from './profile.ts';

export interface ReportInput {
  readonly project: string;
  /** ISO-8601 UTC. */
  readonly generatedAt: string;
  readonly assets: readonly AssetReport[];
}

/** `failing`: an `error` check failed in the latest checked run; `warning`: only `warn` checks did. */
export type AssetStatus = 'passing' | 'warning' | 'failing' | 'unchecked';

export interface AssetReport {
  readonly name: string;
  readonly description: string | null;
  readonly status: AssetStatus;
  /** The latest table version, or null when the asset was never built. */
  readonly latest: LatestVersion | null;
  /** Runs that checked the asset, a backfill's runs as one entry, oldest first (the `history.runLimit` most recent). */
  readonly runs: readonly CheckRunSummary[];
  /** Failed expectations of the latest entry, by partition and suite position (at most `history.failureLimit`). */
  readonly failures: readonly FailedCheck[];
  readonly history: CheckHistorySummary;
  /** Column profiles of the latest version; null when there is none or it could not be read (see profileError). */
  readonly profiles: readonly ColumnProfile[] | null;
  readonly profileError: string | null;
}

export interface LatestVersion {
  readonly version: number;
  readonly createdAt: string;
  readonly runId: string;
  readonly rowCount: number;
  readonly bytes: number;
  readonly partitionColumn: string | null;
  readonly partitions: number;
  readonly firstPartition: string | null;
  readonly lastPartition: string | null;
}

/** One run's check results, or those of every run of one backfill (`kind`), counted in the catalog. */
export interface CheckRunSummary {
  readonly kind: 'run' | 'backfill';
  /** The run id, or the backfill id. */
  readonly runId: string;
  /** Runs in the entry (1 for a run). */
  readonly runs: number;
  readonly firstCheckedAt: string;
  /** When the entry's last check result was recorded. */
  readonly checkedAt: string;
  readonly partitions: number;
  readonly passed: number;
  readonly failed: number;
  /** Failed checks of severity `error` (the rest of `failed` are warnings). */
  readonly failedErrors: number;
  /** Partitions with a failed `error` check: blocked, nothing published for them by that run. */
  readonly blockedPartitions: number;
  readonly warnedPartitions: number;
}

/** Every check result of the asset in the report's range, and the caps of the lists shown beside the totals. */
export interface CheckHistorySummary {
  /** ISO-8601 start of the range; null: the whole history. */
  readonly since: string | null;
  readonly results: number;
  readonly passed: number;
  readonly failed: number;
  readonly failedErrors: number;
  /** Runs in the range, and entries (a backfill's runs counting once). */
  readonly runCount: number;
  readonly entryCount: number;
  /** Entries with a failed check, oldest first: the `runLimit` most recent of `failingEntryCount`. */
  readonly failingRuns: readonly CheckRunSummary[];
  readonly failingEntryCount: number;
  /** Most entries listed (`--runs`), and failed checks of the latest entry listed (`--failures`). */
  readonly runLimit: number;
  readonly failureLimit: number;
}

export interface FailedCheck {
  readonly runId: string;
  readonly partition: string;
  readonly index: number;
  readonly expectationType: string;
  readonly column: string | null;
  readonly severity: 'error' | 'warn';
  readonly unexpectedCount: number | null;
  readonly unexpectedPercent: number | null;
  readonly observedValue: unknown;
  /** GX's partial_unexpected_list: a sample of the failing values. */
  readonly sample: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  /** Why the expectation could not be evaluated, when it could not. */
  readonly exceptionMessage: string | null;
  readonly checkedAt: string;
}

/** The report's view of a check history: entries as run summaries, the latest entry's failures, the asset's status. */
export function summariseHistory(history: CheckHistory, range: { since: string | null; runLimit: number; failureLimit: number }): {
  runs: CheckRunSummary[]; failures: FailedCheck[]; status: AssetStatus; history: CheckHistorySummary;
} {
  const latest = history.entries.at(-1);
  const status: AssetStatus = latest === undefined ? 'unchecked' : latest.failedErrors > 0 ? 'failing' : latest.failed > 0 ? 'warning' : 'passing';
  const t = history.totals;
  return {
    runs: history.entries.map(toRunSummary),
    failures: history.latestFailures.map(toFailedCheck),
    status,
    history: {
      since: range.since, results: t.results, passed: t.passed, failed: t.failed, failedErrors: t.failedErrors, runCount: t.runs,
      entryCount: t.entries, failingRuns: history.failingEntries.map(toRunSummary), failingEntryCount: t.failingEntries,
      runLimit: range.runLimit, failureLimit: range.failureLimit,
    },
  };
}

function toRunSummary({ id, ...entry }: CheckHistoryEntry): CheckRunSummary {
  return { ...entry, runId: id };
}

function toFailedCheck(record: CheckRecord): FailedCheck {
  const result = record.result;
  const sample = result['partial_unexpected_list'];
  const exception = result['exception_message'];
  return {
    runId: record.runId,
    partition: record.partition,
    index: record.index,
    expectationType: record.expectationType,
    column: record.column,
    severity: record.severity,
    unexpectedCount: record.unexpectedCount,
    unexpectedPercent: record.unexpectedPercent,
    observedValue: result['observed_value'] ?? null,
    sample: Array.isArray(sample) ? sample : [],
    kwargs: record.kwargs,
    exceptionMessage: typeof exception === 'string' ? exception : null,
    checkedAt: record.createdAt,
  };
}
