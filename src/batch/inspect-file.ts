// `sluice inspect <file|glob>`: what a data file holds before a source is written for it: columns and DuckDB
// types, rows, nulls per column, a sample, and the `columns` block to paste into fileSource(...).
import path from 'node:path';
import type { Engine } from '../engine/engine.ts';
import { errorMessage, SluiceError } from '../errors.ts';
import { quoteIdent, quoteLiteral } from '../sql/identifiers.ts';

export interface FileInspection {
  readonly path: string;
  readonly format: 'parquet' | 'csv' | 'ndjson';
  readonly files: number;
  readonly rows: number;
  readonly columns: readonly { readonly name: string; readonly type: string; readonly nulls: number }[];
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
  const relation = format === 'parquet' ? `read_parquet(${literal})` : format === 'csv' ? `read_csv(${literal})` : `read_json(${literal}, format = 'newline_delimited')`;
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
    const columns = described.map((c, i) => ({ name: c.name, type: c.type, nulls: Number(summary?.[`n${i}`] ?? 0n) }));
    const quote = (text: string): string => `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
    const key = (name: string): string => (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : quote(name));
    const columnsBlock = `columns: {\n${columns.map((c) => `  ${key(c.name)}: ${quote(c.type)},`).join('\n')}\n},`;
    return { path: full, format, files: Number(summary?.['__files'] ?? 0n), rows: Number(summary?.['__rows'] ?? 0n), columns, sample, columnsBlock };
  });
}
