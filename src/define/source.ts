// File sources: where raw data comes from. Parquet, CSV or NDJSON; globs; `{date}`-templated paths for
// inputs that arrive one folder per day. Plain frozen data: nothing here touches the filesystem.
import { firstKey, splitKey, type Partitions } from './partitions.ts';
import { protectionsOf, type ColumnPiiOptions, type ColumnProtection } from './pii.ts';

export type FileFormat = 'parquet' | 'csv' | 'ndjson';
export type BadRecordPolicy = 'fail' | 'dead-letter';
/** What an undeclared column of a file does: left out (default), kept as the file has it, or refused. */
export type ExtraColumnPolicy = 'ignore' | 'keep' | 'refuse';

/** A declared column: its DuckDB type, and whether a file may lack it (read as NULL of that type). */
export interface SourceColumnOptions {
  readonly type: string;
  readonly optional?: boolean;
  /** Personal data: its class (`'email'`, `'phone'`, ...), protected by `policy` as it is read. */
  readonly pii?: ColumnPiiOptions['pii'];
  readonly policy?: ColumnPiiOptions['policy'];
}

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
  readonly partitions: Partitions | undefined;
  /** Declared columns and DuckDB types, found in each file by name; values are cast and checked against them. */
  readonly columns: Readonly<Record<string, string>> | undefined;
  /** Declared columns a file may lack: read as NULL of their type there. */
  readonly optionalColumns: readonly string[];
  /** With declared columns: what a file's undeclared column does (default 'ignore'). */
  readonly extraColumns: ExtraColumnPolicy;
  /** `fail` (default): a bad record stops the step. `dead-letter`: it is set aside with its reason. */
  readonly badRecords: BadRecordPolicy;
  readonly csv: CsvOptions;
  readonly description: string | undefined;
  /** Accept an empty (0-byte) file; by default one fails the step, so it never replaces good data. */
  readonly allowEmpty: boolean;
  /** Parquet: check page checksums and the footer's statistics against the data before use (default true). */
  readonly verifyIntegrity: boolean;
  /** Partitions found in a column of the files rather than in their paths. */
  readonly partitionBy: { readonly column: string } | undefined;
  /** Declared columns holding personal data: their class and the policy applied as they are read. */
  readonly protect: Readonly<Record<string, ColumnProtection>>;
}

export interface FileSourceOptions {
  readonly format: FileFormat;
  readonly path: string;
  readonly partitions?: Partitions;
  /**
   * Columns by name: `{ id: 'BIGINT', humidity: { type: 'DOUBLE', optional: true } }`. Each file must have every
   * column that is not optional, in any order; an optional one reads as NULL where a file lacks it.
   */
  readonly columns?: Readonly<Record<string, string | SourceColumnOptions>>;
  /**
   * With declared columns, what a file's undeclared column does: 'ignore' (default: left out, as a reader of
   * the declared columns expects), 'keep' (read as the file has it: Parquet's type, text in CSV and NDJSON;
   * NULL in files without it), or 'refuse' (the step fails, naming the column and file).
   */
  readonly extraColumns?: ExtraColumnPolicy;
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
  /**
   * With `partitions` and a path without placeholders: the files hold every partition, told apart by this
   * column (a DATE or TIMESTAMP for time partitions, the key for static ones). A partition reads the rows of
   * its window; DuckDB prunes Parquet row groups by their statistics.
   */
  readonly partitionBy?: { readonly column: string };
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
    columns: options.columns === undefined ? undefined
      : Object.freeze(Object.fromEntries(Object.entries(options.columns).map(([column, spec]) => [column, typeof spec === 'string' ? spec : spec.type]))),
    optionalColumns: Object.freeze(Object.entries(options.columns ?? {}).filter(([, spec]) => typeof spec === 'object' && spec.optional === true).map(([column]) => column)),
    extraColumns: options.extraColumns ?? 'ignore',
    badRecords: options.badRecords ?? 'fail',
    csv: Object.freeze({ delimiter: ',', header: true, quote: '"', ...options.csv }),
    description: options.description,
    allowEmpty: options.allowEmpty ?? false,
    verifyIntegrity: options.verifyIntegrity ?? true,
    partitionBy: options.partitionBy === undefined ? undefined : Object.freeze({ ...options.partitionBy }),
    protect: protectionsOf(Object.fromEntries(Object.entries(options.columns ?? {}).flatMap(([column, spec]) =>
      typeof spec === 'object' && spec.pii !== undefined ? [[column, { pii: spec.pii, ...(spec.policy === undefined ? {} : { policy: spec.policy }) }]] : [])), `source "${name}"`),
  });
}

/** The placeholders a partitioned path may use: `{date}` (daily, hourly), `{hour}` (hourly, HH), `{<column>}` (the whole key, unless the column is named date or hour). */
export function templateTokens(partitions: Partitions, key: string): Record<string, string> {
  if (partitions.kind === 'daily') return { [partitions.column]: key, date: key };
  if (partitions.kind === 'hourly') return { [partitions.column]: key, date: key.slice(0, 10), hour: key.slice(11, 13) };
  if (partitions.kind === 'multi') {
    const parts = splitKey(key) ?? { time: key, static: '' };
    return { ...templateTokens(partitions.time, parts.time), ...templateTokens(partitions.static, parts.static) };
  }
  return { [partitions.column]: key };
}

/** The path of one partition's files. */
export function expandTemplate(pathTemplate: string, partitions: Partitions, key: string): string {
  let expanded = pathTemplate;
  for (const [token, value] of Object.entries(templateTokens(partitions, key))) expanded = expanded.replaceAll(`{${token}}`, value);
  return expanded;
}

export function isTemplated(source: FileSource): boolean {
  const tokens = source.partitions === undefined ? ['date'] : Object.keys(templateTokens(source.partitions, firstKey(source.partitions)));
  return tokens.some((token) => source.path.includes(`{${token}}`));
}
