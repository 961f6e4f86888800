// `sluice inspect <file|glob>`: what a data file holds before a source is written for it: columns and DuckDB
// types, rows, nulls per column, a sample, and the `columns` block to paste into fileSource(...).
import path from 'node:path';
import type { Engine, Session } from '../engine/engine.ts';
import { errorMessage, SluiceError } from '../errors.ts';
import { quoteIdent, quoteLiteral } from '../sql/identifiers.ts';

export interface FileInspection {
  readonly path: string;
  readonly format: 'parquet' | 'csv' | 'ndjson';
  readonly files: number;
  readonly rows: number;
  /** Each column of the files, read by name (union_by_name): its type and NULL count. */
  readonly columns: readonly { readonly name: string; readonly type: string; readonly nulls: number }[];
  /** Columns some of the files lack (NULL there): `optional: true` in the columns block. */
  readonly optionalColumns: readonly string[];
  readonly sample: readonly Record<string, unknown>[];
  /** TypeScript to paste into a fileSource: `columns: { ... }`. */
  readonly columnsBlock: string;
}

function formatOf(pattern: string): FileInspection['format'] {
  if (/\.parquet$/i.test(pattern)) return 'parquet';
  if (/\.(csv|tsv)(\.gz)?$/i.test(pattern)) return 'csv';
  if (/\.(ndjson|jsonl|json)(\.gz)?$/i.test(pattern)) return 'ndjson';
  throw new SluiceError('CONFIG_INVALID', `cannot tell the format of ${pattern}: name a .parquet, .csv, .ndjson/.jsonl or .json file (or a glob of them)`, { file: pattern });
}

export async function inspectFiles(engine: Engine, pattern: string, options: { sample?: number } = {}): Promise<FileInspection> {
  const full = path.resolve(pattern);
  const format = formatOf(full);
  const literal = quoteLiteral(full);
  // By name: files whose columns differ (a column added later, another order) are read as one table.
  const relation = format === 'parquet' ? `read_parquet(${literal}, union_by_name = true)` : format === 'csv' ? `read_csv(${literal}, union_by_name = true)` : `read_json(${literal}, format = 'newline_delimited', union_by_name = true)`;
  return engine.withSession(async (session) => {
    let described;
    try {
      described = await session.describe(`SELECT * FROM ${relation}`);
    } catch (error) {
      throw new SluiceError('SOURCE_READ', `cannot read ${full}: ${errorMessage(error)}`, { file: full }, { cause: error });
    }
    const counts = described.map((c, i) => `count(*) FILTER (WHERE ${quoteIdent(c.name)} IS NULL) AS n${i}`);
    const [summary] = await session.query<Record<string, bigint>>(`SELECT count(*) AS __rows, count(DISTINCT filename) AS __files${counts.length > 0 ? `, ${counts.join(', ')}` : ''} FROM ${relation.replace(/\)$/, ', filename = true)')}`);
    const sample = await session.queryJson(`SELECT * FROM ${relation} LIMIT ${Math.max(0, Math.floor(options.sample ?? 5))}`);
    const files = Number(summary?.['__files'] ?? 0n);
    const inFiles = await filesPerColumn(session, format, literal, files);
    const columns = described.map((c, i) => ({ name: c.name, type: c.type, nulls: Number(summary?.[`n${i}`] ?? 0n) }));
    const optionalColumns = columns.filter((c) => (inFiles.get(c.name) ?? files) < files).map((c) => c.name);
    const quote = (text: string): string => `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
    const key = (name: string): string => (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : quote(name));
    // A column some files lack is optional: they read it as NULL.
    const spec = (c: (typeof columns)[number]): string => (optionalColumns.includes(c.name) ? `{ type: ${quote(c.type)}, optional: true }` : quote(c.type));
    const columnsBlock = `columns: {\n${columns.map((c) => `  ${key(c.name)}: ${spec(c)},`).join('\n')}\n},`;
    return { path: full, format, files, rows: Number(summary?.['__rows'] ?? 0n), columns, optionalColumns, sample, columnsBlock };
  });
}

/** How many of the files have each column (by name), when there are several. */
async function filesPerColumn(session: Session, format: FileInspection['format'], literal: string, files: number): Promise<Map<string, number>> {
  if (files <= 1) return new Map();
  let rows: { name: string; n: bigint }[];
  if (format === 'parquet') {
    // Top-level columns: the first element of each leaf's path (a struct's fields share their column's).
    rows = await session.query(`SELECT split_part(path_in_schema, ', ', 1) AS name, count(DISTINCT file_name) AS n FROM parquet_metadata(${literal}) GROUP BY ALL`);
  } else if (format === 'ndjson') {
    rows = await session.query(`SELECT key AS name, count(DISTINCT filename) AS n FROM (SELECT filename, unnest(json_keys(json)) AS key FROM read_json_objects(${literal}, format = 'newline_delimited', filename = true)) GROUP BY ALL`);
  } else {
    // Each CSV file's own columns, as DuckDB's sniffer finds them (header, dialect) for that file alone.
    const paths = await session.query<{ file: string }>(`SELECT file FROM glob(${literal}) ORDER BY file`);
    const counts = new Map<string, number>();
    for (const { file } of paths) {
      for (const c of await session.describe(`SELECT * FROM read_csv(${quoteLiteral(file)})`)) counts.set(c.name, (counts.get(c.name) ?? 0) + 1);
    }
    return counts;
  }
  return new Map(rows.map((r) => [r.name, Number(r.n)]));
}
