// File sources: where raw data comes from. Parquet, CSV or NDJSON; globs; `{date}`-templated paths for
// inputs that arrive one folder per day. Plain frozen data: nothing here touches the filesystem.
import type { DailyPartitions } from './partitions.ts';

export type FileFormat = 'parquet' | 'csv' | 'ndjson';
export type BadRecordPolicy = 'fail' | 'dead-letter';

export interface CsvOptions {
  readonly delimiter: string;
  readonly header: boolean;
  readonly quote: string;
}

export interface FileSource<N extends string = string> {
  readonly kind: 'source';
  readonly type: 'file';
  readonly name: N;
  readonly format: FileFormat;
  /** Path or glob, relative to the project directory; `{date}` is replaced by a partition key. */
  readonly path: string;
  /** Present when the path is `{date}`-templated: which dates exist. */
  readonly partitions: DailyPartitions | undefined;
  /** Declared columns and DuckDB types; values are cast and checked against them. */
  readonly columns: Readonly<Record<string, string>> | undefined;
  /** `fail` (default): a bad record stops the step. `dead-letter`: it is set aside with its reason. */
  readonly badRecords: BadRecordPolicy;
  readonly csv: CsvOptions;
  readonly description: string | undefined;
  /** Accept an empty (0-byte) file; by default one fails the step, so it never replaces good data. */
  readonly allowEmpty: boolean;
  /** Parquet: check page checksums and the footer's statistics against the data before use (default true). */
  readonly verifyIntegrity: boolean;
}

export interface FileSourceOptions {
  readonly format: FileFormat;
  readonly path: string;
  readonly partitions?: DailyPartitions;
  readonly columns?: Record<string, string>;
  readonly badRecords?: BadRecordPolicy;
  readonly csv?: Partial<CsvOptions>;
  readonly description?: string;
  /** Accept an empty (0-byte) file (default false: an empty file is an error). */
  readonly allowEmpty?: boolean;
  /**
   * Parquet only: before a file is first used, check the CRC32 of every page that carries one and compare the
   * values read with the footer's per-row-group statistics, so a damaged file fails the step with
   * SOURCE_CORRUPT (default true). It reads the declared columns (or all) once more per file change.
   */
  readonly verifyIntegrity?: boolean;
}

/** Declare a file source. Validation of the options happens when the project is loaded. */
export function fileSource<const N extends string>(name: N, options: FileSourceOptions): FileSource<N> {
  return Object.freeze({
    kind: 'source',
    type: 'file',
    name,
    format: options.format,
    path: options.path,
    partitions: options.partitions,
    columns: options.columns === undefined ? undefined : Object.freeze({ ...options.columns }),
    badRecords: options.badRecords ?? 'fail',
    csv: Object.freeze({ delimiter: ',', header: true, quote: '"', ...options.csv }),
    description: options.description,
    allowEmpty: options.allowEmpty ?? false,
    verifyIntegrity: options.verifyIntegrity ?? true,
  });
}

export function isTemplated(source: FileSource): boolean {
  return source.path.includes('{date}');
}
