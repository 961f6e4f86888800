// What a data-quality report shows, as plain serialisable data, and the pure summaries of an asset's stored
// check results (a pass/fail count per run, the latest run's failures) that the report is built from.
import type { CheckRecord } from '../store/catalog/catalog.ts';
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
  /** Runs that checked the asset, oldest first (at most the report's `maxRuns` most recent). */
  readonly runs: readonly CheckRunSummary[];
  /** Failed expectations of the latest checked run, by partition and suite position. */
  readonly failures: readonly FailedCheck[];
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

export interface CheckRunSummary {
  readonly runId: string;
  /** When the run's last check result was recorded. */
  readonly checkedAt: string;
  readonly passed: number;
  readonly failed: number;
  /** Failed checks of severity `error` (the rest of `failed` are warnings). */
  readonly failedErrors: number;
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

/** Group check records (any order) into runs and pick the latest run's failures. */
export function summariseChecks(records: readonly CheckRecord[], maxRuns: number): { runs: CheckRunSummary[]; failures: FailedCheck[]; status: AssetStatus } {
  const byRun = new Map<string, CheckRecord[]>();
  for (const record of records) {
    const list = byRun.get(record.runId) ?? [];
    list.push(record);
    byRun.set(record.runId, list);
  }
  const runs = [...byRun.entries()].map(([runId, list]): CheckRunSummary & { records: CheckRecord[] } => {
    const failed = list.filter((r) => !r.success);
    return {
      runId,
      checkedAt: list.reduce((latest, r) => (r.createdAt > latest ? r.createdAt : latest), ''),
      passed: list.length - failed.length,
      failed: failed.length,
      failedErrors: failed.filter((r) => r.severity === 'error').length,
      records: list,
    };
  });
  runs.sort((a, b) => (a.checkedAt === b.checkedAt ? a.runId.localeCompare(b.runId) : a.checkedAt.localeCompare(b.checkedAt)));
  const latest = runs.at(-1);
  const failures = (latest?.records ?? [])
    .filter((r) => !r.success)
    .sort((a, b) => a.partition.localeCompare(b.partition) || a.index - b.index)
    .map(toFailedCheck);
  const status: AssetStatus = latest === undefined ? 'unchecked' : latest.failedErrors > 0 ? 'failing' : latest.failed > 0 ? 'warning' : 'passing';
  return { runs: runs.slice(-maxRuns).map(({ records: _records, ...run }) => run), failures, status };
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
