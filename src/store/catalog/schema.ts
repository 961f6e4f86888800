// The catalog's tables as Kysely sees them: one row type per table, shared by SQLite and PostgreSQL.
// Timestamps are ISO-8601 text, JSON is text, counts are 64-bit integers; enums are text typed as their unions.
import type { ColumnType } from 'kysely';
import type { ColumnLineageKind } from '../../sql/column-lineage.ts';
import type { AuditAction, CheckRecord, LineageDirection, LineageEdge, RunStatus, StepStatus } from './catalog.ts';

/** A 64-bit integer: written as a number; PostgreSQL's `pg` driver reads `bigint` back as a string. */
export type Int64 = ColumnType<number | string, number, number>;
export type NullableInt64 = ColumnType<number | string | null, number | null, number | null>;

/** An auto-assigned key that orders rows by insertion (bigserial in PostgreSQL, rowid in SQLite). */
export type Sequence = ColumnType<number | string, never, never>;

export interface MigrationsTable {
  version: number;
  applied_at: string;
}

export interface RunsTable {
  id: string;
  project: string;
  status: RunStatus;
  started_at: string;
  ended_at: string | null;
  /** JSON object. */
  args: string;
  error: string | null;
  /** `host:pid` of the process running it (migration 9). */
  owner: string | null;
  /** Epoch milliseconds of its last heartbeat. */
  heartbeat_at_ms: NullableInt64;
}

export interface StepsTable {
  seq: Sequence;
  id: string;
  run_id: string;
  asset: string;
  partition_key: string;
  status: StepStatus;
  attempts: number;
  started_at: string | null;
  ended_at: string | null;
  rows_in: NullableInt64;
  rows_out: NullableInt64;
  bytes_written: NullableInt64;
  bad_records: NullableInt64;
  version: number | null;
  error: string | null;
}

export interface TableVersionsTable {
  asset: string;
  version: number;
  run_id: string;
  step_id: string | null;
  created_at: string;
  /** JSON array of partition keys. */
  partitions: string;
  row_count: Int64;
  bytes: Int64;
  manifest_path: string;
}

export interface LineageTable {
  seq: Sequence;
  run_id: string;
  step_id: string;
  direction: LineageDirection;
  dataset: string;
  kind: LineageEdge['kind'];
  version: number | null;
  partition_key: string;
  fingerprint: string | null;
}

/** One input of one output column of a table version; input_dataset null: the column reads no input (a constant). */
export interface ColumnLineageTable {
  asset: string;
  version: Int64;
  run_id: string;
  column_name: string;
  /** The column's place in the output. */
  position: number;
  input_dataset: string | null;
  input_column: string | null;
  kind: ColumnLineageKind | null;
}

/** One expectation's outcome. Booleans are 0/1 integers: the one representation both dialects share. */
export interface CheckResultsTable {
  seq: Sequence;
  run_id: string;
  step_id: string | null;
  target: string;
  partition_key: string;
  expectation_index: number;
  expectation_type: string;
  column_name: string | null;
  severity: CheckRecord['severity'];
  success: number;
  unexpected_count: NullableInt64;
  unexpected_percent: number | null;
  /** JSON object. */
  kwargs: string;
  /** JSON object: GX's result. */
  result: string;
  created_at: string;
}

/** One materialisation of a feature view into an online store (the state of `--incremental`). */
export interface MaterializationsTable {
  seq: Sequence;
  view_name: string;
  store: string;
  from_micros: NullableInt64;
  to_micros: Int64;
  resume_micros: NullableInt64;
  asset_version: NullableInt64;
  rows_written: Int64;
  rows_stale: Int64;
  started_at: string;
  ended_at: string;
}

/** A stream job's checkpoint for one partition: the source position and the operator state, together. */
export interface StreamCheckpointsTable {
  job: string;
  partition_key: string;
  sequence: Int64;
  /** JSON. */
  state: string;
  updated_at: string;
}

/** Keyed state of a stream job partition (one row per key), saved incrementally with its checkpoint row. */
export interface StreamKeyStateTable {
  job: string;
  partition_key: string;
  entity_key: string;
  /** JSON. */
  state: string;
}

/** One launch of a job partition (a schedule tick, a sensor event, a backfill partition): the key is unique. */
export interface RunKeysTable {
  run_key: string;
  run_id: string;
  job: string;
  partition_key: string;
  origin: string;
  created_at: string;
}

/** Who may write a resource (an asset partition) until when. */
export interface LeasesTable {
  resource: string;
  holder: string;
  acquired_at: string;
  expires_at_ms: Int64;
  /** `host:pid` of the process holding it (migration 7); null for leases taken before. */
  owner: string | null;
}

/** Named positions: sensors' cursors, schedules' last ticks, sources' high-water marks. */
export interface CursorsTable {
  name: string;
  value: string;
  updated_at: string;
}

/** A training set as built: what it read (table versions, spine, definitions) and what it wrote. */
/** Tokenised values: token -> the value, encrypted (AES-256-GCM under the vault key); never the plain value. */
export interface PiiVaultTable {
  token: string;
  /** The class of the column the value came from ('email', ...). */
  pii: string;
  /** base64 of IV (12 bytes) | tag (16 bytes) | ciphertext. */
  sealed: string;
  created_at: string;
}

export interface TrainingSetsTable {
  id: string;
  project: string;
  service: string;
  definitions_hash: string;
  spine_source: string;
  spine_sha256: string;
  spine_rows: Int64;
  timestamp_column: string;
  /** JSON: { asset: version } for every asset the service's views read. */
  versions: string;
  sluice_version: string;
  output_path: string;
  output_sha256: string;
  output_bytes: Int64;
  /** JSON: { key: value }. */
  tags: string;
  created_at: string;
  /** 1 while the versions it read are kept by vacuum; 0 once unpinned. */
  pinned: Int64;
}

/** Who read, ingested, ran, backfilled, deleted, forgot or detokenized what (migration 14). */
export interface AuditLogTable {
  id: string;
  at: string;
  principal: string;
  key_id: string | null;
  action: AuditAction;
  target: string;
  count: Int64;
  /** JSON object. */
  detail: string;
}

export interface BackfillsTable {
  id: string;
  job: string;
  from_key: string;
  to_key: string;
  created_at: string;
}

export interface BackfillPartitionsTable {
  backfill_id: string;
  partition_key: string;
  status: string;
  run_id: string | null;
  attempts: number;
  updated_at: string;
  error: string | null;
}

export interface Database {
  sluice_migrations: MigrationsTable;
  runs: RunsTable;
  steps: StepsTable;
  table_versions: TableVersionsTable;
  lineage: LineageTable;
  check_results: CheckResultsTable;
  materializations: MaterializationsTable;
  stream_checkpoints: StreamCheckpointsTable;
  stream_key_state: StreamKeyStateTable;
  run_keys: RunKeysTable;
  leases: LeasesTable;
  cursors: CursorsTable;
  backfills: BackfillsTable;
  backfill_partitions: BackfillPartitionsTable;
  training_sets: TrainingSetsTable;
  pii_vault: PiiVaultTable;
  column_lineage: ColumnLineageTable;
  audit_log: AuditLogTable;
}
