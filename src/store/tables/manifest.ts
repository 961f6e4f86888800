// The version manifest: the single source of truth for what a table version contains. A manifest is
// immutable once written; `_versions/<n>.json` under the table's folder. Readers go through a manifest,
// never by listing data folders, so files of older or unfinished writes are never seen.

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
}

export interface Manifest {
  readonly format: 1;
  readonly asset: string;
  readonly version: number;
  readonly parent: number | null;
  readonly createdAt: string;
  readonly runId: string;
  /** Hive partition column, e.g. `date`; null when unpartitioned. */
  readonly partitionColumn: string | null;
  readonly schema: readonly ColumnSchema[];
  /** Partitions rewritten by this version. */
  readonly changed: readonly string[];
  /** Every partition of the table as of this version, by key. */
  readonly partitions: Readonly<Record<string, PartitionEntry>>;
  readonly rowCount: number;
  readonly bytes: number;
}
