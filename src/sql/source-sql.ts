// SQL text that reads a file source: declared columns are cast and checked; bad records are routed to a
// rejects relation with file, line, column and reason, so a run can fail precisely or set them aside.
import type { FileSource } from '../define/source.ts';
import { quoteIdent, quoteList, quoteLiteral } from './identifiers.ts';

function columnsStruct(columns: Readonly<Record<string, string>>): string {
  return `{${Object.entries(columns).map(([name, type]) => `${quoteLiteral(name)}: ${quoteLiteral(type)}`).join(', ')}}`;
}

/** A Parquet source: columns cast to their declared types (checked beforehand against each file's schema). */
export function parquetRelation(source: FileSource, files: readonly string[]): string {
  if (source.columns === undefined) return `SELECT * FROM read_parquet(${quoteList(files)}, union_by_name = true)`;
  const select = Object.entries(source.columns).map(([name, type]) => `CAST(${quoteIdent(name)} AS ${type}) AS ${quoteIdent(name)}`);
  return `SELECT ${select.join(', ')} FROM read_parquet(${quoteList(files)}, union_by_name = true, hive_partitioning = false)`;
}

/** A CSV read that keeps rejected lines in the named rejects tables instead of failing at the first one. */
export function csvRelation(source: FileSource, files: readonly string[], rejects: { table: string; scan: string }): string {
  const options = [
    `header = ${source.csv.header}`,
    `delim = ${quoteLiteral(source.csv.delimiter)}`,
    `quote = ${quoteLiteral(source.csv.quote)}`,
    'store_rejects = true',
    `rejects_table = ${quoteLiteral(rejects.table)}`,
    `rejects_scan = ${quoteLiteral(rejects.scan)}`,
  ];
  if (source.columns !== undefined) options.push(`columns = ${columnsStruct(source.columns)}`);
  return `SELECT * FROM read_csv(${quoteList(files)}, ${options.join(', ')})`;
}

/** One row per rejected CSV line: every error of the line joined into one reason. */
export function csvRejectsQuery(rejects: { table: string; scan: string }): string {
  return `SELECT s.file_path AS file, e.line::BIGINT AS line,
      string_agg(DISTINCT e.column_name, ', ' ORDER BY e.column_name) AS "column",
      string_agg(DISTINCT e.error_type, ', ') AS error_type,
      string_agg(DISTINCT e.error_message, '; ') AS reason,
      any_value(e.csv_line) AS raw
    FROM ${quoteIdent(rejects.table)} e JOIN ${quoteIdent(rejects.scan)} s USING (scan_id, file_id)
    GROUP BY s.file_path, e.line ORDER BY s.file_path, e.line`;
}

/**
 * NDJSON lines with their file and line number, each declared column extracted and cast with TRY_CAST,
 * and a reason for every line that is not valid JSON or has a value that does not cast.
 */
export function ndjsonCheckedRelation(source: FileSource, files: readonly string[]): string {
  const columns = source.columns ?? {};
  const extracted = Object.keys(columns).map((name) => `json_extract_string(line, ${quoteLiteral(`$.${name}`)}) AS ${quoteIdent(`__raw_${name}`)}`);
  const casts = Object.entries(columns).map(([name, type]) => `TRY_CAST(${quoteIdent(`__raw_${name}`)} AS ${type}) AS ${quoteIdent(name)}`);
  const reasons = Object.entries(columns).map(([name, type]) =>
    `CASE WHEN ${quoteIdent(`__raw_${name}`)} IS NOT NULL AND TRY_CAST(${quoteIdent(`__raw_${name}`)} AS ${type}) IS NULL
      THEN ${quoteLiteral(`${name}: could not convert `)} || ${quoteIdent(`__raw_${name}`)}::VARCHAR || ${quoteLiteral(` to ${type}`)} END`);
  const lines = `SELECT filename AS file, unnest(string_split(content, chr(10))) AS line,
      unnest(generate_series(1, len(string_split(content, chr(10))))) AS line_no
    FROM read_text(${quoteList(files)})`;
  const parsed = `SELECT file, line_no, line, json_valid(line) AS __valid${extracted.length > 0 ? ', ' : ''}${extracted.join(', ')}
    FROM (${lines}) WHERE trim(line) <> ''`;
  const reason = reasons.length === 0
    ? `CASE WHEN NOT __valid THEN 'invalid JSON' END`
    : `CASE WHEN NOT __valid THEN 'invalid JSON' ELSE nullif(concat_ws('; ', ${reasons.join(', ')}), '') END`;
  const bad = `SELECT bad_columns.*, ${reason} AS __reason FROM (${parsed}) bad_columns`;
  const selected = casts.length === 0 ? 'line::JSON AS record' : casts.join(', ');
  return `SELECT file, line_no, line, __reason, ${selected} FROM (${bad})`;
}
