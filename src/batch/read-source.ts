// Reading a file source inside a step: resolve its files, check them against the declared columns, and
// expose the good records as a temp relation. Bad records fail the step with their location, or go to
// the dead-letter store when the source says `badRecords: 'dead-letter'`.
import fs from 'node:fs';
import type { FileSource } from '../define/source.ts';
import type { Session } from '../engine/engine.ts';
import { errorMessage, SluiceError } from '../errors.ts';
import { quoteIdent, quoteList, quoteLiteral } from '../sql/identifiers.ts';
import { csvRejectsQuery, csvRelation, ndjsonCheckedRelation, parquetRelation } from '../sql/source-sql.ts';
import { writeDeadLetters } from '../store/dead-letter.ts';
import { resolveSourceFiles } from './files.ts';

export interface SourceWindow {
  readonly anchor: string | null;
  readonly lookback: number;
  readonly lookahead: number;
}

export interface PreparedSource {
  readonly partitions: readonly string[];
  readonly fingerprint: string;
  readonly files: readonly string[];
  readonly rows: number;
  readonly badRecords: number;
  readonly deadLetterFile: string | null;
}

interface Reject {
  file: string;
  line: bigint | number | null;
  column: string | null;
  reason: string | null;
  raw: string | null;
}

const INTEGER = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'UHUGEINT']);
const NUMERIC = new Set([...INTEGER, 'FLOAT', 'DOUBLE', 'REAL']);

function family(type: string): string {
  const base = type.toUpperCase().replace(/\(.*\)$/, '').trim();
  if (NUMERIC.has(base) || base === 'DECIMAL') return 'number';
  if (base.startsWith('TIMESTAMP') || base === 'DATE') return 'time';
  if (base === 'VARCHAR' || base === 'TEXT' || base === 'STRING') return 'text';
  return base;
}

/** Whether a file column of type `actual` can stand for the declared `declared` without losing meaning. */
function compatible(actual: string, declared: string): boolean {
  if (actual.toUpperCase() === declared.toUpperCase()) return true;
  const a = family(actual);
  const d = family(declared);
  if (a === d) return true;
  return d === 'text'; // anything can be read as text
}

// Parquet footers are immutable for a given path, size and mtime: check each file once per process.
const checkedParquet = new Map<string, string>();

async function checkParquetSchemas(session: Session, source: FileSource, files: readonly string[]): Promise<void> {
  const columns = source.columns;
  for (const file of files) {
    const stat = fs.statSync(file);
    const key = `${file}\t${stat.size}\t${stat.mtimeMs}`;
    if (checkedParquet.has(key)) continue;
    let described;
    try {
      described = await session.describe(`SELECT * FROM read_parquet(${quoteLiteral(file)}, hive_partitioning = false)`);
    } catch (error) {
      throw new SluiceError('SOURCE_READ', `source "${source.name}": cannot read Parquet file ${file}: ${errorMessage(error)}`, { source: source.name, file }, { cause: error });
    }
    if (columns !== undefined) {
      const types = new Map(described.map((c) => [c.name, c.type]));
      for (const [name, declared] of Object.entries(columns)) {
        const actual = types.get(name);
        if (actual === undefined) {
          throw new SluiceError('SOURCE_SCHEMA', `source "${source.name}": file ${file} has no column "${name}" (declared ${declared}); it has ${[...types.keys()].join(', ')}`, { source: source.name, file, column: name });
        }
        if (!compatible(actual, declared)) {
          throw new SluiceError('SOURCE_SCHEMA', `source "${source.name}": column "${name}" in file ${file} is ${actual}, but the source declares ${declared}`, { source: source.name, file, column: name });
        }
      }
    }
    checkedParquet.set(key, file);
  }
}

/** The header fields of a CSV file: its first line, split on the delimiter, honouring quotes. */
function readCsvHeader(file: string, delimiter: string, quote: string): string[] {
  const handle = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(65_536);
    const read = fs.readSync(handle, buffer, 0, buffer.length, 0);
    const text = buffer.subarray(0, read).toString('utf8').replace(/^\uFEFF/, '');
    const line = text.split(/\r?\n/, 1)[0] ?? '';
    const fields: string[] = [];
    let current = '';
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i] ?? '';
      if (quote !== '' && ch === quote) {
        if (quoted && line[i + 1] === quote) { current += quote; i++; } else quoted = !quoted;
      } else if (ch === delimiter && !quoted) { fields.push(current.trim()); current = ''; }
      else current += ch;
    }
    fields.push(current.trim());
    return fields;
  } finally {
    fs.closeSync(handle);
  }
}

function checkCsvHeaders(source: FileSource, files: readonly string[]): void {
  if (source.columns === undefined || !source.csv.header) return;
  const declared = Object.keys(source.columns);
  for (const file of files) {
    let header: string[];
    try {
      header = readCsvHeader(file, source.csv.delimiter, source.csv.quote);
    } catch (error) {
      throw new SluiceError('SOURCE_READ', `source "${source.name}": cannot read CSV file ${file}: ${errorMessage(error)}`, { source: source.name, file }, { cause: error });
    }
    const missing = declared.filter((name) => !header.includes(name));
    if (missing.length > 0) {
      throw new SluiceError('SOURCE_SCHEMA', `source "${source.name}": file ${file} has no column "${missing[0]}" in its header (line 1: ${header.join(',')})`, { source: source.name, file, row: 1, column: missing[0] });
    }
    if (header.join('\u0000') !== declared.join('\u0000')) {
      throw new SluiceError('SOURCE_SCHEMA', `source "${source.name}": the header of ${file} is ${header.join(',')}, but the declared columns are ${declared.join(',')} in that order`, { source: source.name, file, row: 1 });
    }
  }
}

function badRecordError(source: FileSource, reject: Reject, total: number): SluiceError {
  const line = reject.line === null ? undefined : Number(reject.line);
  const where = `${reject.file}${line === undefined ? '' : ` line ${line}`}${reject.column === null ? '' : ` column ${reject.column}`}`;
  const more = total > 1 ? ` (and ${total - 1} more bad record${total > 2 ? 's' : ''})` : '';
  return new SluiceError(
    'BAD_RECORD',
    `source "${source.name}": bad record at ${where}: ${reject.reason ?? 'unreadable'}${more}. Fix the file, or set badRecords: 'dead-letter' on the source to set such records aside`,
    { source: source.name, file: reject.file, ...(line === undefined ? {} : { row: line }), ...(reject.column === null ? {} : { column: reject.column }) },
  );
}

async function handleRejects(
  session: Session,
  stateDir: string,
  source: FileSource,
  partition: string,
  fingerprint: string,
  rejectsQuery: string,
): Promise<{ count: number; file: string | null }> {
  const [counted] = await session.query<{ n: bigint }>(`SELECT count(*) AS n FROM (${rejectsQuery})`);
  const count = Number(counted?.n ?? 0n);
  if (count === 0) return { count, file: null };
  if (source.badRecords === 'fail') {
    const [first] = await session.query<Reject & Record<string, unknown>>(`SELECT * FROM (${rejectsQuery}) LIMIT 1`);
    throw badRecordError(source, first as Reject, count);
  }
  const file = await writeDeadLetters(session, stateDir, { source: source.name, partition, fingerprint, query: rejectsQuery });
  return { count, file };
}

/** Create temp relation `view` holding the source's good records for the window. */
export async function prepareSource(
  session: Session,
  paths: { projectDir: string; stateDir: string },
  source: FileSource,
  window: SourceWindow,
  view: string,
): Promise<PreparedSource> {
  const resolved = await resolveSourceFiles(session, paths.projectDir, source, window);
  const partitionLabel = window.anchor === null || source.partitions === undefined ? '' : window.anchor;
  const target = quoteIdent(view);
  const wrap = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof SluiceError) throw error;
      throw new SluiceError('SOURCE_READ', `source "${source.name}": ${what}: ${errorMessage(error)}`, { source: source.name }, { cause: error });
    }
  };

  if (source.format === 'parquet') {
    await checkParquetSchemas(session, source, resolved.files);
    await wrap('reading Parquet', () => session.run(`CREATE OR REPLACE TEMP VIEW ${target} AS ${parquetRelation(source, resolved.files)}`));
    const [meta] = await session.query<{ n: bigint | null }>(`SELECT sum(num_rows)::BIGINT AS n FROM parquet_file_metadata(${quoteList(resolved.files)})`);
    return { ...resolved, rows: Number(meta?.n ?? 0n), badRecords: 0, deadLetterFile: null };
  }

  if (source.format === 'csv') {
    checkCsvHeaders(source, resolved.files);
    const rejects = { table: `__rejects_${view}`, scan: `__scans_${view}` };
    await wrap('reading CSV', () => session.run(`CREATE OR REPLACE TEMP TABLE ${target} AS ${csvRelation(source, resolved.files, rejects)}`));
    const bad = await handleRejects(session, paths.stateDir, source, partitionLabel, resolved.fingerprint, csvRejectsQuery(rejects));
    const [counted] = await session.query<{ n: bigint }>(`SELECT count(*) AS n FROM ${target}`);
    return { ...resolved, rows: Number(counted?.n ?? 0n), badRecords: bad.count, deadLetterFile: bad.file };
  }

  const checked = quoteIdent(`__checked_${view}`);
  await wrap('reading NDJSON', () => session.run(`CREATE OR REPLACE TEMP TABLE ${checked} AS ${ndjsonCheckedRelation(source, resolved.files)}`));
  const rejectsQuery = `SELECT file, line_no::BIGINT AS line, NULL::VARCHAR AS "column", __reason AS reason, line AS raw FROM ${checked} WHERE __reason IS NOT NULL ORDER BY file, line_no`;
  const bad = await handleRejects(session, paths.stateDir, source, partitionLabel, resolved.fingerprint, rejectsQuery);
  const columns = source.columns === undefined ? 'record' : Object.keys(source.columns).map(quoteIdent).join(', ');
  await session.run(`CREATE OR REPLACE TEMP VIEW ${target} AS SELECT ${columns} FROM ${checked} WHERE __reason IS NULL`);
  const [counted] = await session.query<{ n: bigint }>(`SELECT count(*) AS n FROM ${target}`);
  return { ...resolved, rows: Number(counted?.n ?? 0n), badRecords: bad.count, deadLetterFile: bad.file };
}
