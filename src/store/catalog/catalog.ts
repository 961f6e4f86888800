// The catalog: the record of runs, steps, table versions and lineage. One interface, implemented once
// with Kysely over SQLite (embedded default) and PostgreSQL (shared by many processes and machines).
import type { ColumnSource } from '../../sql/column-lineage.ts';

export type RunStatus = 'running' | 'success' | 'failed' | 'partial';
export type StepStatus = 'pending' | 'running' | 'success' | 'skipped' | 'failed' | 'upstream_failed';

export interface RunRecord {
  readonly id: string;
  readonly project: string;
  readonly status: RunStatus;
  readonly startedAt: string; // ISO-8601 UTC
  readonly endedAt: string | null;
  /** The command line or API arguments that started the run (selection, partitions, force). */
  readonly args: Record<string, unknown>;
  readonly error: string | null;
  /** `host:pid` of the process that runs it; null for runs recorded before owners were. */
  readonly owner: string | null;
  /** Epoch milliseconds of the run's last heartbeat (every few seconds while it runs). */
  readonly heartbeatAtMs: number | null;
}

export interface StepRecord {
  readonly id: string;
  readonly runId: string;
  readonly asset: string;
  /** Partition key such as 2026-11-25, or '' for an unpartitioned asset. */
  readonly partition: string;
  readonly status: StepStatus;
  readonly attempts: number;
  readonly startedAt: string | null;
  readonly endedAt: string | null;
  readonly rowsIn: number | null;
  readonly rowsOut: number | null;
  readonly bytesWritten: number | null;
  /** Records sent to the dead-letter store by this step. */
  readonly badRecords: number | null;
  /** Table version committed by this step, if any. */
  readonly version: number | null;
  readonly error: string | null;
}

export interface VersionRecord {
  readonly asset: string;
  readonly version: number;
  readonly runId: string;
  readonly stepId: string | null;
  readonly createdAt: string;
  /** Partitions rewritten by this version ('' for an unpartitioned asset). */
  readonly partitions: readonly string[];
  readonly rowCount: number;
  readonly bytes: number;
  /** Path of the manifest, relative to the state directory. */
  readonly manifestPath: string;
}

export type LineageDirection = 'read' | 'write';

export interface LineageEdge {
  readonly runId: string;
  readonly stepId: string;
  readonly direction: LineageDirection;
  /** An asset or a source name. */
  readonly dataset: string;
  readonly kind: 'asset' | 'source';
  /** Table version read or written; null for a source. */
  readonly version: number | null;
  readonly partition: string;
  /** Content fingerprint of what was read (source files' size and mtime, or file hashes). */
  readonly fingerprint: string | null;
}

/** Where one output column of a committed table version came from (sql/column-lineage.ts); no inputs: a constant. */
export interface ColumnLineageRecord {
  readonly asset: string;
  readonly version: number;
  readonly runId: string;
  readonly column: string;
  readonly inputs: readonly ColumnSource[];
}

/** A step as it is first recorded; a step decided before it runs (skipped) carries its outcome. */
export interface NewStep extends Omit<StepUpdate, 'startedAt' | 'endedAt' | 'rowsIn' | 'bytesWritten' | 'badRecords'> {
  readonly id: string;
  readonly runId: string;
  readonly asset: string;
  readonly partition: string;
}

export interface StepUpdate {
  readonly status: StepStatus;
  readonly attempts?: number;
  readonly startedAt?: string | null;
  readonly endedAt?: string | null;
  readonly rowsIn?: number | null;
  readonly rowsOut?: number | null;
  readonly bytesWritten?: number | null;
  readonly badRecords?: number | null;
  readonly version?: number | null;
  readonly error?: string | null;
}

/** One expectation's outcome for one step (an asset partition) or one standalone validation. */
export interface CheckRecord {
  readonly runId: string;
  /** The step that produced the validated data; null for `sluice validate` on a file. */
  readonly stepId: string | null;
  /** Asset name, or the validated file's path for a standalone validation. */
  readonly target: string;
  readonly partition: string;
  /** Position of the expectation in its suite. */
  readonly index: number;
  readonly expectationType: string;
  readonly column: string | null;
  readonly severity: 'error' | 'warn';
  readonly success: boolean;
  readonly unexpectedCount: number | null;
  readonly unexpectedPercent: number | null;
  /** The expectation's kwargs, and GX's whole result object, as stored JSON. */
  readonly kwargs: Record<string, unknown>;
  readonly result: Record<string, unknown>;
  readonly createdAt: string;
}

/** Run ids of ad-hoc validations (`sluice validate <asset>`), kept apart from the pipeline's checks. */
export const AD_HOC_RUN_PREFIX = 'validate-';

export interface CheckFilter {
  readonly runId?: string;
  readonly target?: string;
  /**
   * pipeline (default): results of runs only, what status, reports and anomaly history read; ad-hoc: those of
   * `sluice validate` tried by hand; all: both. A runId filter reads that run whatever its origin.
   */
  readonly origin?: 'pipeline' | 'ad-hoc' | 'all';
  /** Newest first, at most this many. */
  readonly limit?: number;
}

/** Failing checks of one severity, expectation and column, over the latest outcomes of an asset's partitions. */
export interface CheckGroup {
  readonly severity: 'error' | 'warn';
  readonly expectationType: string;
  readonly column: string | null;
  /** Partitions whose latest build failed this check. */
  readonly partitions: number;
  /** The first of them, in key order (at most the sample size asked for). */
  readonly keys: readonly string[];
}

/**
 * The latest outcome of every partition of an asset: each partition's latest build attempt (its newest step that
 * succeeded or failed; skipped and upstream-failed steps attempted nothing) and that step's check results.
 */
export interface PartitionOutcomes {
  readonly asset: string;
  /** Partitions with at least one build attempt. */
  readonly attempted: number;
  /** Partitions whose latest attempt failed, so it published nothing: by a failed `error` check or another error. */
  readonly blocked: number;
  /** Every blocked partition, in key order. */
  readonly blockedKeys: readonly string[];
  /** Partitions whose latest attempt failed a `warn` check. */
  readonly warned: number;
  /** Failing checks of the latest attempts, `error` groups first, then `warn`. */
  readonly failingChecks: readonly CheckGroup[];
  /** Blocked partitions whose latest attempt failed without a failed `error` check (a source or SQL error, ...). */
  readonly otherFailures: { readonly partitions: number; readonly keys: readonly string[]; readonly firstError: string } | null;
  /** Check results of every partition's latest attempt. */
  readonly checks: { readonly passed: number; readonly failed: number; readonly lastAt: string | null };
}

/** What a report reads of a target's check history: a range, and how many rows of each detail list it shows. */
export interface CheckHistoryFilter {
  readonly target: string;
  /** Only results recorded at or after this ISO-8601 instant (default: all). */
  readonly since?: string | undefined;
  /** Most recent entries (a run, or a backfill counted once) listed, and failing ones listed. */
  readonly entries: number;
  /** Failed results of the latest entry returned. */
  readonly failures: number;
}

/** The check results of one run, or of every run of one backfill (its runs carry `args.backfill`). */
export interface CheckHistoryEntry {
  readonly kind: 'run' | 'backfill';
  /** The run id, or the backfill id (`<job>:<from>:<to>`). */
  readonly id: string;
  readonly runs: number;
  readonly firstCheckedAt: string;
  readonly checkedAt: string;
  readonly partitions: number;
  readonly passed: number;
  readonly failed: number;
  /** Failed results of severity `error`; the rest of `failed` are warnings. */
  readonly failedErrors: number;
  /** Partitions with a failed `error` check in some run of the entry (blocked when that run built them). */
  readonly blockedPartitions: number;
  /** Partitions with a failed `warn` check. */
  readonly warnedPartitions: number;
}

/** A target's check history in a range, aggregated in the catalog: totals over every result, capped lists beside them. */
export interface CheckHistory {
  readonly totals: { readonly results: number; readonly passed: number; readonly failed: number; readonly failedErrors: number; readonly runs: number; readonly entries: number; readonly failingEntries: number };
  /** The most recent entries, oldest first (at most `entries`; `totals.entries` in all). */
  readonly entries: readonly CheckHistoryEntry[];
  /** The most recent entries with a failed result, oldest first (at most `entries`; `totals.failingEntries` in all). */
  readonly failingEntries: readonly CheckHistoryEntry[];
  /** Failed results of the latest entry by partition and suite position (at most `failures`; its `failed` in all). */
  readonly latestFailures: readonly CheckRecord[];
}

export interface RunFilter {
  readonly limit?: number;
  /** Skip this many of the newest first (a page of a list). */
  readonly offset?: number;
  readonly status?: RunStatus;
  /** Runs with a step of this asset. */
  readonly asset?: string;
  /** Runs launched for this job (a schedule tick, sensor or backfill: `args.job`). */
  readonly job?: string;
  /** Runs started at or after this ISO-8601 instant. */
  readonly since?: string;
}

/** A feature view written to an online store for event times in [fromMicros, toMicros]. */
export interface MaterializationRecord {
  readonly view: string;
  /** The online store's location (materialisation state is per store). */
  readonly store: string;
  /** Epoch microseconds; null means from the beginning. */
  readonly fromMicros: number | null;
  /** The end of the requested range, epoch microseconds. */
  readonly toMicros: number;
  /**
   * The latest event time this view's materialisations into the store have read, up to and including this
   * one (null: no row yet): where `--incremental` resumes, so history loaded after a run is picked up.
   */
  readonly resumeMicros: number | null;
  /** The version of the view's asset this materialisation read (null: recorded before versions were kept). */
  readonly assetVersion: number | null;
  readonly rowsWritten: number;
  readonly rowsStale: number;
  readonly startedAt: string;
  readonly endedAt: string;
}

/** Where a stream job partition got to: the last source sequence applied, and its state at that point. */
export interface StreamCheckpoint {
  readonly job: string;
  readonly partition: string;
  readonly sequence: number;
  readonly state: unknown;
  /** Keyed state saved with this and earlier checkpoints of the partition, less the keys deleted since; by key. */
  readonly entries: readonly StreamStateEntry[];
  readonly updatedAt: string;
}

/** One key's part of a stream checkpoint (e.g. an entity's window state), saved only when it changed. */
export interface StreamStateEntry {
  readonly key: string;
  readonly state: unknown;
}

/**
 * A checkpoint to save: position and state, plus the keyed entries changed since the previous checkpoint
 * (`put`) and the keys whose state is gone (`delete`), all in one transaction.
 */
export interface StreamCheckpointSave {
  readonly job: string;
  readonly partition: string;
  readonly sequence: number;
  readonly state: unknown;
  readonly put?: readonly StreamStateEntry[];
  readonly delete?: readonly string[];
}

/** How a run was launched, for idempotency: a run key names one launch (a schedule tick, a sensor event). */
export interface RunKeyClaim {
  readonly key: string;
  readonly runId: string;
  readonly job: string;
  readonly partition: string;
  readonly origin: 'schedule' | 'sensor' | 'backfill' | 'manual';
}

export interface RunKeyRecord extends RunKeyClaim {
  readonly createdAt: string;
}

/** A time-limited exclusive claim on a resource (an asset partition being written). */
export interface LeaseRecord {
  readonly resource: string;
  readonly holder: string;
  readonly acquiredAt: string;
  /** Epoch milliseconds after which the lease is stale and anyone may take it. */
  readonly expiresAtMs: number;
  /** The process holding it, `host:pid`, when the holder said. */
  readonly owner: string | null;
}

export interface LeaseOptions {
  /** The process taking the lease (`host:pid`), recorded so that others can tell when it died. */
  readonly owner?: string;
  /** Also take the lease from this owner, known to be dead, before the lease expires. */
  readonly takeOverFrom?: string;
}

/** A named position: a sensor's cursor, a schedule's last tick, a source's high-water mark. */
export interface CursorRecord {
  readonly name: string;
  readonly value: string;
  readonly updatedAt: string;
}

export type BackfillPartitionStatus = 'pending' | 'running' | 'success' | 'failed';

export interface BackfillRecord {
  /** Deterministic for a job and range, so invoking the same backfill again continues it. */
  readonly id: string;
  readonly job: string;
  readonly from: string;
  readonly to: string;
  readonly createdAt: string;
}

/** A backfill with how many of its partitions are in each state, and when one last changed. */
export interface BackfillOverview extends BackfillRecord {
  readonly partitions: Readonly<Record<BackfillPartitionStatus, number>>;
  readonly updatedAt: string;
}

export interface BackfillPartitionRecord {
  readonly backfillId: string;
  readonly partition: string;
  readonly status: BackfillPartitionStatus;
  readonly runId: string | null;
  readonly attempts: number;
  readonly updatedAt: string;
  readonly error: string | null;
}

/** A training set as built (`sluice features training-set`): enough to rebuild it exactly. */
export interface TrainingSetRecord {
  readonly id: string;
  readonly project: string;
  readonly service: string;
  /** A hash of the service's definitions (views, entities, on-demand functions). */
  readonly definitionsHash: string;
  /** The spine: its file (or `sql:<hash>` for a relation), content hash and row count. */
  readonly spine: { readonly source: string; readonly sha256: string; readonly rows: number; readonly timestampColumn: string };
  /** The table version of every asset the service's views read. */
  readonly versions: Readonly<Record<string, number>>;
  readonly sluiceVersion: string;
  readonly output: { readonly path: string; readonly sha256: string; readonly bytes: number; readonly rows: number };
  readonly tags: Readonly<Record<string, string>>;
  readonly createdAt: string;
  /** While pinned, `sluice vacuum` keeps the versions it read. */
  readonly pinned: boolean;
}

/** A tokenised value in the vault: sealed with AES-256-GCM by the caller; the catalog never sees the plain value. */
export interface VaultEntry {
  readonly token: string;
  readonly pii: string;
  readonly sealed: string;
}

/**
 * What the audit log records. Counted per principal, key and minute: `read` (a feature service), `ingest` (an event
 * stream), `denied` (a request refused with 401 or 403). One entry each: `run`, `backfill`, `delete`, `vacuum`, and
 * the PII actions `forget` and `detokenize`.
 */
export type AuditAction = 'read' | 'ingest' | 'denied' | 'run' | 'backfill' | 'delete' | 'vacuum' | 'forget' | 'detokenize';

export interface AuditEntry {
  /** Counted entries have an id made of their principal, key, action, target and minute, so their counts add up. */
  readonly id: string;
  /** When; for counted entries, the start of their minute. */
  readonly at: string;
  /** Who: an access principal, the OS user (or SLUICE_PRINCIPAL) of a command, or `anonymous`. */
  readonly principal: string;
  /** Which of the principal's keys (a short fingerprint of its hash), for requests; null for commands. */
  readonly keyId: string | null;
  readonly action: AuditAction;
  /** What: `service:<name>`, `stream:<name>`, `asset:<name>`, `job:<name>`, or the refused route. */
  readonly target: string;
  readonly count: number;
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface AuditFilter {
  /** Entries at or after this ISO time. */
  readonly since?: string | undefined;
  readonly principal?: string | undefined;
  readonly action?: AuditAction | undefined;
  readonly limit?: number | undefined;
}

export interface Catalog {
  /** Which backend this is, for messages: 'sqlite' | 'postgres'. */
  readonly dialect: 'sqlite' | 'postgres';

  createRun(run: { id: string; project: string; startedAt: string; args: Record<string, unknown>; owner?: string }): Promise<void>;
  /** A running run says it is alive. */
  heartbeatRun(id: string, atMs: number): Promise<void>;
  finishRun(id: string, status: RunStatus, endedAt: string, error: string | null): Promise<void>;
  getRun(id: string): Promise<RunRecord | undefined>;
  /** Newest first. */
  listRuns(filter?: RunFilter): Promise<RunRecord[]>;

  /** Record steps in one transaction, in order: pending ones, or ones already settled (a skipped step's rows and version). */
  createSteps(steps: readonly NewStep[]): Promise<void>;
  updateStep(id: string, update: StepUpdate): Promise<void>;
  /** Steps of a run, in creation order. */
  listSteps(runId: string): Promise<StepRecord[]>;

  recordVersion(version: VersionRecord): Promise<void>;
  /** Newest first; `after` keeps the versions above it, `limit` the newest few. */
  listVersions(asset: string, filter?: { readonly after?: number; readonly limit?: number }): Promise<VersionRecord[]>;

  recordLineage(edges: readonly LineageEdge[]): Promise<void>;
  /** Edges of a run (both directions), or of every run that wrote or read a dataset. */
  listLineage(filter: { runId?: string; dataset?: string }): Promise<LineageEdge[]>;

  /** Record the column lineage of versions, replacing what a version had (so recording again is harmless). */
  recordColumnLineage(columns: readonly ColumnLineageRecord[]): Promise<void>;
  /** An asset's column lineage at a version, or at the latest version that has some; in output column order. */
  listColumnLineage(asset: string, options?: { readonly version?: number }): Promise<ColumnLineageRecord[]>;

  recordChecks(checks: readonly CheckRecord[]): Promise<void>;
  /** Newest first (by createdAt, then index). */
  listChecks(filter: CheckFilter): Promise<CheckRecord[]>;
  /** Every pipeline check result of a target in a range, aggregated per run and per backfill. */
  checkHistory(filter: CheckHistoryFilter): Promise<CheckHistory>;
  /** Per asset (in the order given), the latest outcome of every partition; at most `sampleKeys` keys per list (default 5). */
  partitionOutcomes(assets: readonly string[], options?: { sampleKeys?: number }): Promise<PartitionOutcomes[]>;

  recordTrainingSet(record: TrainingSetRecord): Promise<void>;
  /** Newest first; one by id, or those pinned. */
  listTrainingSets(filter?: { readonly id?: string; readonly pinned?: boolean }): Promise<TrainingSetRecord[]>;
  /** Pin or unpin a training set's versions; throws when there is no such training set. */
  setTrainingSetPinned(id: string, pinned: boolean): Promise<void>;

  /** Add vault entries; a token already there is left as it is. */
  putVaultEntries(entries: readonly VaultEntry[]): Promise<void>;
  /** The entries of these tokens that the vault holds. */
  vaultEntries(tokens: readonly string[]): Promise<VaultEntry[]>;
  /** Remove these tokens (erasure); how many were there. */
  deleteVaultEntries(tokens: readonly string[]): Promise<number>;
  /** Append audit entries in one transaction; an entry whose id exists adds its count to it (and keeps its detail). */
  recordAudit(entries: readonly AuditEntry[]): Promise<void>;
  /** Newest first (by time, then id). */
  listAudit(filter?: AuditFilter): Promise<AuditEntry[]>;

  recordMaterialization(record: MaterializationRecord): Promise<void>;
  /** The materialisation of a view into a store that reached furthest, if any. */
  lastMaterialization(view: string, store: string): Promise<MaterializationRecord | undefined>;

  /**
   * Save a checkpoint, replacing the previous one of the job partition only if `sequence` is not behind it, so
   * a stale worker cannot roll a partition back. Returns whether it was saved.
   */
  saveCheckpoint(checkpoint: StreamCheckpointSave): Promise<boolean>;
  loadCheckpoint(job: string, partition: string): Promise<StreamCheckpoint | undefined>;

  /**
   * Claim a run key for a run. Exactly one claimant wins a key, across processes and restarts: the result says
   * whether this call did, and which run holds the key.
   */
  claimRunKey(claim: RunKeyClaim): Promise<{ claimed: boolean; runId: string }>;
  getRunKey(key: string): Promise<RunKeyRecord | undefined>;
  /** Keys with this prefix, oldest first. */
  listRunKeys(prefix: string): Promise<RunKeyRecord[]>;

  /**
   * Take the lease on `resource` for `ttlMs`, if it is free, stale (expired) or already held by `holder` (a
   * renewal). Returns whether `holder` now holds it.
   */
  acquireLease(resource: string, holder: string, ttlMs: number, options?: LeaseOptions): Promise<boolean>;
  /** Give the lease up; only its holder can. */
  releaseLease(resource: string, holder: string): Promise<void>;
  getLease(resource: string): Promise<LeaseRecord | undefined>;

  getCursor(name: string): Promise<CursorRecord | undefined>;
  /**
   * Set a cursor. With `expected` (null: the cursor must not exist yet) it is a compare-and-set: nothing is
   * written unless the stored value is `expected`. Returns whether the value was written.
   */
  setCursor(name: string, value: string, options?: { expected?: string | null }): Promise<boolean>;
  /** Cursors whose names start with this prefix, by name. */
  listCursors(prefix: string): Promise<CursorRecord[]>;

  /** Create the backfill and its partitions (pending) unless it exists; partitions already recorded keep their state. */
  openBackfill(backfill: Omit<BackfillRecord, 'createdAt'>, partitions: readonly string[]): Promise<BackfillRecord>;
  listBackfillPartitions(backfillId: string): Promise<BackfillPartitionRecord[]>;
  /** Backfills, newest first, with their partitions counted by state. */
  listBackfills(filter?: { readonly limit?: number }): Promise<BackfillOverview[]>;
  updateBackfillPartition(backfillId: string, partition: string, update: { status: BackfillPartitionStatus; runId?: string | null; error?: string | null; attempts?: number }): Promise<void>;

  close(): Promise<void>;
}
