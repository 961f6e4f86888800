// SQL text that reads a file source: declared columns are cast and checked; bad records are routed to a
// rejects relation with file, line, column and reason, so a run can fail precisely or set them aside.
import type { FileSource } from '../define/source.ts';
import { quoteIdent, quoteList, quoteLiteral } from './identifiers.ts';

/**
 * Every rejects query returns these columns, ordered by file and line. `hint` is a byte offset near the
 * start of the record when `line` is only approximate (CSV), and null when `line` is exact (NDJSON).
 */
export interface RejectRow {
  readonly file: string;
  readonly line: bigint | null;
  readonly hint: bigint | null;
  readonly column: string | null;
  readonly reason: string | null;
  readonly raw: string | null;
}

const INTEGER_TYPES = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'INT', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'UHUGEINT']);

export function isIntegerType(type: string): boolean {
  return INTEGER_TYPES.has(type.trim().toUpperCase());
}

function columnsStruct(columns: readonly (readonly [string, string])[]): string {
  return `{${columns.map(([name, type]) => `${quoteLiteral(name)}: ${quoteLiteral(type)}`).join(', ')}}`;
}

/** Which columns the files being read have (checked beforehand against the declared ones). */
export interface FileColumns {
  /** Declared columns that some file has; the others (optional ones) are NULL of their type. */
  readonly present: ReadonlySet<string>;
  /** Undeclared columns to keep (extraColumns: 'keep'), in first-seen order. */
  readonly kept: readonly string[];
}

/** The declared columns, each cast to its type, or NULL of its type where no file has it; then the kept extras. */
function declaredSelect(source: FileSource, columns: FileColumns): string[] {
  return [
    ...Object.entries(source.columns ?? {}).map(([name, type]) => `CAST(${columns.present.has(name) ? quoteIdent(name) : 'NULL'} AS ${type}) AS ${quoteIdent(name)}`),
    ...columns.kept.map(quoteIdent),
  ];
}

/** A Parquet source: declared columns by name, cast to their declared types (checked beforehand against each file's schema). */
export function parquetRelation(source: FileSource, files: readonly string[], columns: FileColumns): string {
  const read = `read_parquet(${quoteList(files)}, union_by_name = true, hive_partitioning = false)`;
  if (source.columns === undefined) return `SELECT * FROM ${read}`;
  return `SELECT ${declaredSelect(source, columns).join(', ')} FROM ${read}`;
}

/**
 * Rows of one Parquet file whose `column` (of file type `actual`) does not survive the cast to the declared
 * `type`: out of range, or, for an integer type, a fractional value that the cast would round.
 */
export function parquetBadValuesQuery(file: string, column: string, actual: string, type: string): string {
  const value = quoteIdent(column);
  const cast = `TRY_CAST(${value} AS ${type})`;
  const lossy = isIntegerType(type) && !isIntegerType(actual) ? ` OR ${cast} <> ${value}` : '';
  return `SELECT file_row_number + 1 AS row_number, ${value}::VARCHAR AS value
    FROM read_parquet(${quoteLiteral(file)}, file_row_number = true, hive_partitioning = false)
    WHERE ${value} IS NOT NULL AND (${cast} IS NULL${lossy})`;
}

/** The rejects tables of one CSV read: a pair per file (see csvRelation). */
export interface CsvRejectTables {
  readonly table: string;
  readonly scan: string;
}

/** One CSV file to read, with its header's fields when the source has declared columns and a header. */
export interface CsvFile {
  readonly file: string;
  readonly header?: readonly string[] | undefined;
}

/**
 * A CSV read that keeps rejected lines in rejects tables instead of failing at the first one: one read_csv
 * per file, each with its own pair of rejects tables (`<table>_<i>`, `<scan>_<i>`), stacked by name. One
 * read over several files would be faster to plan, but DuckDB's parallel multi-file reader can give two
 * files the same `file_id` in its rejects tables, which then attributes every rejected line to every file.
 * With declared columns the dialect is fully given, so DuckDB's sniffer is off: a sniffer fails the whole
 * file on one bad line (an unterminated quote), where the reader sets that line aside. With a header, each
 * file's columns are given in its own header's order (declared ones typed, others as text), so columns are
 * matched by name, never by position; a declared column a file lacks is NULL of its type.
 */
export function csvRelation(source: FileSource, files: readonly CsvFile[], rejects: CsvRejectTables, keep: 'ignore' | 'keep'): string {
  const options = [
    `header = ${source.csv.header}`,
    `delim = ${quoteLiteral(source.csv.delimiter)}`,
    `quote = ${quoteLiteral(source.csv.quote)}`,
    'store_rejects = true',
  ];
  const declared = source.columns;
  if (declared !== undefined) options.push('auto_detect = false', `escape = ${quoteLiteral(source.csv.quote)}`);
  return files
    .map(({ file, header }, i) => {
      const own = [...options, `rejects_table = ${quoteLiteral(`${rejects.table}_${i}`)}`, `rejects_scan = ${quoteLiteral(`${rejects.scan}_${i}`)}`];
      if (declared === undefined) return `SELECT * FROM read_csv(${quoteLiteral(file)}, ${own.join(', ')})`;
      if (header === undefined) return `SELECT * FROM read_csv(${quoteLiteral(file)}, ${[...own, `columns = ${columnsStruct(Object.entries(declared))}`].join(', ')})`;
      const struct = columnsStruct(header.map((name) => [name, declared[name] ?? 'VARCHAR'] as const));
      const select = declaredSelect(source, { present: new Set(header), kept: keep === 'keep' ? header.filter((name) => !Object.hasOwn(declared, name)) : [] });
      return `SELECT ${select.join(', ')} FROM read_csv(${quoteLiteral(file)}, ${[...own, `columns = ${struct}`].join(', ')})`;
    })
    .join(' UNION ALL BY NAME ');
}

const NEWLINES = `chr(13) || chr(10)`;

/**
 * One row per rejected CSV record (see RejectRow): every error of the record joined into one reason.
 * DuckDB's `line` counts records, not physical lines, so the reader refines it from `hint` and `raw`.
 */
export function csvRejectsQuery(rejects: CsvRejectTables, files: readonly string[]): string {
  const perFile = files.map((file, i) => `SELECT ${quoteLiteral(file)} AS file, e.line::BIGINT AS line, min(e.line_byte_position)::BIGINT AS hint,
      nullif(array_to_string(list_sort(list(DISTINCT e.column_name) FILTER (WHERE e.column_name IS NOT NULL)), ', '), '') AS "column",
      array_to_string(list_sort(list(DISTINCT lower(e.error_type::VARCHAR) || ': ' || e.error_message)), '; ') AS reason,
      trim(any_value(e.csv_line), ${NEWLINES}) AS raw
    FROM ${quoteIdent(`${rejects.table}_${i}`)} e
    GROUP BY e.line`);
  return `SELECT * FROM (${perFile.join(' UNION ALL ')}) ORDER BY file, line`;
}

/**
 * NDJSON lines with their file and 1-based physical line number (blank lines counted, CRLF endings and a
 * byte-order mark removed), each declared column extracted and cast with TRY_CAST, and a reason and the
 * failing columns for every line that is not a JSON object or has a value that does not cast.
 */
export function ndjsonCheckedRelation(source: FileSource, files: readonly string[]): string {
  const columns = Object.entries(source.columns ?? {});
  const raw = (name: string): string => quoteIdent(`__raw_${name}`);
  const bad = (name: string): string => quoteIdent(`__bad_${name}`);

  // Internal columns start with `__`, which user names cannot, so a declared column may be called `line` or `file`.
  const lines = `SELECT __file, __line_no,
      CASE WHEN __line_no = 1 THEN ltrim(rtrim(__text, chr(13)), chr(65279)) ELSE rtrim(__text, chr(13)) END AS __line
    FROM (
      SELECT __file, unnest(__lines) AS __text, unnest(range(1, len(__lines) + 1)) AS __line_no
      FROM (SELECT filename AS __file, string_split(content, chr(10)) AS __lines FROM read_text(${quoteList(files)}))
    )`;
  const parsed = `SELECT __file, __line_no, __line, json_valid(__line) AS __valid,
      CASE WHEN json_valid(__line) THEN json_type(__line) = 'OBJECT' ELSE false END AS __object
      ${columns.map(([name]) => `, CASE WHEN json_valid(__line) THEN json_extract_string(__line, ${quoteLiteral(`$.${name}`)}) END AS ${raw(name)}`).join('')}
    FROM (${lines}) WHERE trim(__line) <> ''`;
  const cast = `SELECT *
      ${columns.map(([name, type]) => `, TRY_CAST(${raw(name)} AS ${type}) AS ${quoteIdent(name)}`).join('')}
      ${columns.map(([name, type]) => `, ${raw(name)} IS NOT NULL AND TRY_CAST(${raw(name)} AS ${type}) IS NULL AS ${bad(name)}`).join('')}
    FROM (${parsed})`;
  const reasons = columns.map(([name, type]) =>
    `CASE WHEN ${bad(name)} THEN ${quoteLiteral(`${name}: could not convert `)} || ${raw(name)} || ${quoteLiteral(` to ${type}`)} END`);
  const failing = columns.map(([name]) => `CASE WHEN ${bad(name)} THEN ${quoteLiteral(name)} END`);
  const reason = columns.length === 0
    ? `CASE WHEN NOT __valid THEN 'invalid JSON' END`
    : `CASE WHEN NOT __valid THEN 'invalid JSON'
        WHEN NOT __object THEN 'not a JSON object: each line must hold one record {...}'
        ELSE nullif(concat_ws('; ', ${reasons.join(', ')}), '') END`;
  const column = columns.length === 0 ? 'NULL::VARCHAR' : `CASE WHEN __object THEN nullif(concat_ws(', ', ${failing.join(', ')}), '') END`;
  const selected = columns.length === 0 ? 'CASE WHEN __valid THEN __line::JSON END AS record' : columns.map(([name]) => quoteIdent(name)).join(', ');
  return `SELECT __file, __line_no, __line, __object, ${reason} AS __reason, ${column} AS __column, ${selected} FROM (${cast})`;
}

/** Per file of a relation built by ndjsonCheckedRelation, each key its JSON objects have and the first line with it. */
export function ndjsonKeysQuery(checked: string): string {
  return `SELECT __file AS file, __key AS key, min(__line_no)::BIGINT AS line
    FROM (SELECT __file, __line_no, unnest(json_keys(__line)) AS __key FROM ${quoteIdent(checked)} WHERE __object)
    GROUP BY ALL ORDER BY file, line, key`;
}

/** The good records of a relation built by ndjsonCheckedRelation: the declared columns, then `kept` keys as text. */
export function ndjsonRecordsRelation(source: FileSource, checked: string, kept: readonly string[]): string {
  const columns = source.columns === undefined ? ['record']
    : [...Object.keys(source.columns).map(quoteIdent), ...kept.map((key) => `json_extract_string(__line, [${quoteLiteral(key)}])[1] AS ${quoteIdent(key)}`)];
  return `SELECT ${columns.join(', ')} FROM ${quoteIdent(checked)} WHERE __reason IS NULL`;
}

/** The rejects of a relation built by ndjsonCheckedRelation (see RejectRow); line numbers are exact. */
export function ndjsonRejectsQuery(checked: string): string {
  return `SELECT __file AS file, __line_no::BIGINT AS line, NULL::BIGINT AS hint, __column AS "column", __reason AS reason, __line AS raw
    FROM ${quoteIdent(checked)} WHERE __reason IS NOT NULL ORDER BY __file, __line_no`;
}
