// What a table version contains. A version is recorded as one immutable log entry (the partitions it put or
// removed) with periodic snapshots of the whole partition map (see table-log.ts); a Manifest is the full
// state of one version, rebuilt from them. Readers go through a manifest, never by listing data folders,
// so files of older or unfinished writes are never seen.

export interface ColumnSchema {
  readonly name: string;
  readonly type: string;
}

export interface ManifestFile {
  /** Relative to the table folder, e.g. `date=2026-11-25/part-<sha256>.parquet`. */
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly rows: number;
}

/** What a partition was computed from: enough to tell whether a rerun would produce the same bytes. */
export interface InputRef {
  readonly dataset: string;
  readonly kind: 'asset' | 'source';
  /** Table version read, for an asset; null for a source. */
  readonly version: number | null;
  readonly partitions: readonly string[];
  readonly fingerprint: string;
}

export interface PartitionEntry {
  /** Partition key, e.g. `2026-11-25`, or '' for an unpartitioned table. */
  readonly key: string;
  readonly files: readonly ManifestFile[];
  readonly rows: number;
  readonly bytes: number;
  /** Hash of the SQL and the inputs' fingerprints; equal fingerprints mean the partition is up to date. */
  readonly fingerprint: string;
  readonly runId: string;
  readonly committedAt: string;
  readonly inputs: readonly InputRef[];
  /** The columns of this partition's files (with the partition column), as written: reads project them by name. */
  readonly schema: readonly ColumnSchema[];
}

/** One difference between a table's schema and a commit's, and whether the asset's policy let it through. */
export interface SchemaChange {
  readonly column: string;
  /**
   * added: a new column (older partitions read it as NULL); widened: a type every old value fits (INT ->
   * BIGINT); narrowed: the commit's type fits the table's (read with a cast, the table keeps its type);
   * removed: the commit lacks a column (the table keeps it, NULL in that partition); retyped: neither fits.
   */
  readonly change: 'added' | 'widened' | 'narrowed' | 'removed' | 'retyped';
  readonly from: string | null;
  readonly to: string | null;
  /** A change the default policy refuses, accepted with --allow-schema-change. */
  readonly breaking: boolean;
}

/** What every version says of itself, in its log entry and in its manifest alike. */
export interface VersionHeader {
  readonly format: 2;
  readonly asset: string;
  readonly version: number;
  readonly parent: number | null;
  readonly createdAt: string;
  readonly runId: string;
  /** Hive partition column, e.g. `date`; null when unpartitioned. */
  readonly partitionColumn: string | null;
  /** The table's schema as of this version: every column any kept partition has, in first-seen order. */
  readonly schema: readonly ColumnSchema[];
  /** Changes this version made to the table's schema. */
  readonly schemaChanges: readonly SchemaChange[];
  readonly rowCount: number;
  readonly bytes: number;
}

export interface Manifest extends VersionHeader {
  /** Partitions this version put or removed. */
  readonly changed: readonly string[];
  /** Partitions this version removed (`sluice delete`). */
  readonly removed: readonly string[];
  /** Every partition of the table as of this version, by key. */
  readonly partitions: Readonly<Record<string, PartitionEntry>>;
}

/** A version without its partition map: what the log entry alone says (for histories). */
export type VersionSummary = Omit<Manifest, 'partitions'> & { readonly partitionCount: number };
