// Reading a file source inside a step: resolve its files, check them against the declared columns, and
// expose the good records as a temp relation. Bad records fail the step with their location, or go to
// the dead-letter store when the source says `badRecords: 'dead-letter'`.
import fs from 'node:fs';
import type { FileSource } from '../define/source.ts';
import { timeRange, timestampLiteral, type Partitions } from '../define/partitions.ts';
import type { Row, Session } from '../engine/engine.ts';
import { errorMessage, isTransient, SluiceError } from '../errors.ts';
import { quoteIdent, quoteList, quoteLiteral } from '../sql/identifiers.ts';
import {
  csvRejectsQuery, csvRelation, ndjsonCheckedRelation, ndjsonKeysQuery, ndjsonRecordsRelation, ndjsonRejectsQuery, parquetBadValuesQuery,
  parquetRelation, type CsvFile, type FileColumns, type RejectRow,
} from '../sql/source-sql.ts';
import { type DeadLetterRecord, replaceDeadLetters } from '../store/dead-letter.ts';
import { csvNulRecords } from './csv-nul.ts';
import { type ParquetDamage, verifyFooterStatistics, verifyPageChecksums } from './parquet-integrity.ts';
import { resolveSourceFiles, type ResolvedFiles } from './files.ts';

export interface SourceWindow {
  readonly anchor: string | null;
  readonly lookback: number;
  readonly lookahead: number;
  /** The reading asset's partitions, when they differ from the source's (a daily asset over hourly files). */
  readonly consumer?: Partitions | undefined;
}

export interface PreparedSource {
  readonly partitions: readonly string[];
  readonly fingerprint: string;
  readonly files: readonly string[];
  readonly rows: number;
  readonly badRecords: number;
  /** Dead-letter files holding this read's bad records, one per input file that had any. */
  readonly deadLetterFiles: readonly string[];
}

const SIGNED = ['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT'];
const NUMERIC = new Set([...SIGNED, 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'UHUGEINT', 'FLOAT', 'DOUBLE']);

function family(type: string): string {
  const base = type.toUpperCase().replace(/\(.*\)$/, '').trim();
  if (NUMERIC.has(base) || base === 'DECIMAL') return 'number';
  if (base.startsWith('TIMESTAMP') || base === 'DATE') return 'time';
  if (base === 'VARCHAR') return 'text';
  return base;
}

/** Whether a file column of type `actual` can stand for the declared type at all (values are checked after). */
function compatible(actual: string, declared: string): boolean {
  return actual === declared || family(actual) === family(declared) || family(declared) === 'text'; // anything reads as text
}

/** Casts that can never fail or lose information, so the file's values need no check. */
function lossless(actual: string, declared: string): boolean {
  if (actual === declared || family(declared) === 'text') return true;
  const from = SIGNED.indexOf(actual);
  return from >= 0 && SIGNED.indexOf(declared) >= from;
}

// DuckDB's own name for a declared type ('INT' is INTEGER, 'TEXT' is VARCHAR), so equal types compare equal.
const canonicalTypes = new Map<string, string>();

async function canonicalType(session: Session, source: FileSource, column: string, declared: string): Promise<string> {
  const known = canonicalTypes.get(declared);
  if (known !== undefined) return known;
  let described;
  try {
    described = await session.describe(`SELECT CAST(NULL AS ${declared}) AS c`);
  } catch (error) {
    throw new SluiceError('SOURCE_SCHEMA', `source "${source.name}" declares column "${column}" as ${declared}, which is not a DuckDB type: ${errorMessage(error)}`, { source: source.name, column }, { cause: error });
  }
  const type = described[0]?.type ?? declared;
  canonicalTypes.set(declared, type);
  return type;
}

/**
 * One file's columns against the declared ones, by name: a declared column the file lacks must be optional, an
 * undeclared one is refused under extraColumns: 'refuse'. `where` says where in the file the column was seen
 * (a CSV header's line 1, an NDJSON line), `typeOf` the type to suggest when declaring it. Returns the
 * file's undeclared columns.
 */
function checkFileColumns(
  source: FileSource,
  file: string,
  have: readonly string[],
  where: (column: string) => { readonly text: string; readonly row?: number },
  typeOf: (column: string) => string,
): string[] {
  const declared = source.columns ?? {};
  const names = new Set(have);
  for (const [name, type] of Object.entries(declared)) {
    if (names.has(name) || source.optionalColumns.includes(name)) continue;
    const row = where(name).row;
    throw new SluiceError(
      'SOURCE_SCHEMA',
      `source "${source.name}": column "${name}" is missing and not optional: ${file} has no such column (it has ${have.join(', ') || 'none'}). ` +
        `If older files lack it, declare it as ${name}: { type: '${type}', optional: true } (read as NULL there); otherwise fix the file, or remove the column from the source's columns`,
      { source: source.name, file, column: name, ...(row === undefined ? {} : { row }) },
    );
  }
  const extras = have.filter((name) => !Object.hasOwn(declared, name));
  const extra = extras[0];
  if (extra !== undefined && source.extraColumns === 'refuse') {
    const seen = where(extra);
    throw new SluiceError(
      'SOURCE_SCHEMA',
      `source "${source.name}": column "${extra}" is not declared: ${file} has it${seen.text}${extras.length > 1 ? ` (and ${extras.slice(1).map((c) => `"${c}"`).join(', ')})` : ''}. ` +
        `Declare it in columns (${extra}: { type: '${typeOf(extra)}', optional: true } if older files lack it), or set extraColumns: 'ignore' (leave it out) or 'keep' on the source`,
      { source: source.name, file, column: extra, ...(seen.row === undefined ? {} : { row: seen.row }) },
    );
  }
  return extras;
}

/** The columns a read of several files has: declared ones that some file has, and the extras to keep, in first-seen order. */
function fileColumns(source: FileSource, perFile: readonly { readonly have: readonly string[]; readonly extras: readonly string[] }[]): FileColumns {
  const present = new Set(perFile.flatMap((f) => f.have));
  const kept = source.extraColumns === 'keep' ? [...new Set(perFile.flatMap((f) => f.extras))] : [];
  return { present, kept };
}

// A Parquet file is immutable for a given path, size and mtime: check each (file, declared columns) once per
// process, keeping its column names and types.
const checkedParquet = new Map<string, readonly { readonly name: string; readonly type: string }[]>();

async function checkParquetFiles(session: Session, source: FileSource, files: readonly string[]): Promise<FileColumns> {
  const columns = Object.entries(source.columns ?? {});
  const perFile: { have: string[]; extras: string[] }[] = [];
  const checkNames = (file: string, described: readonly { readonly name: string; readonly type: string }[]): void => {
    const types = new Map(described.map((c) => [c.name, c.type]));
    const have = described.map((c) => c.name);
    perFile.push({ have, extras: checkFileColumns(source, file, have, () => ({ text: '' }), (c) => types.get(c) ?? 'VARCHAR') });
  };
  for (const file of files) {
    const stat = fs.statSync(file);
    const key = `${file}\t${stat.size}\t${stat.mtimeMs}\t${JSON.stringify(columns)}`;
    const known = checkedParquet.get(key);
    if (known !== undefined) {
      checkNames(file, known);
      continue;
    }
    const unreadable = (error: unknown): SluiceError => new SluiceError(
      'SOURCE_READ',
      `source "${source.name}": cannot read Parquet file ${file}: ${errorMessage(error)}. Replace it with a complete Parquet file, or remove it`,
      { source: source.name, file },
      { cause: error },
    );
    let described;
    try {
      described = await session.describe(`SELECT * FROM read_parquet(${quoteLiteral(file)}, hive_partitioning = false)`);
    } catch (error) {
      throw unreadable(error);
    }
    const types = new Map(described.map((c) => [c.name, c.type]));
    checkNames(file, described);
    for (const [name, declared] of columns) {
      const actual = types.get(name);
      if (actual === undefined) continue; // optional (checkNames refused it otherwise)
      const type = await canonicalType(session, source, name, declared);
      if (!compatible(actual, type)) {
        throw new SluiceError('SOURCE_SCHEMA', `source "${source.name}": column "${name}" in file ${file} is ${actual}, but the source declares ${declared}; fix the file or the declared type`, { source: source.name, file, column: name });
      }
      if (lossless(actual, type)) continue;
      let bad;
      try {
        [bad] = await session.query<{ n: bigint; row: bigint | null; value: string | null }>(
          `SELECT count(*) AS n, min(row_number) AS row, arg_min(value, row_number) AS value FROM (${parquetBadValuesQuery(file, name, actual, type)})`,
        );
      } catch (error) {
        throw unreadable(error);
      }
      if (bad !== undefined && bad.n > 0n) {
        const row = Number(bad.row);
        const more = bad.n > 1n ? ` (and ${bad.n - 1n} more row${bad.n > 2n ? 's' : ''})` : '';
        throw new SluiceError(
          'BAD_RECORD',
          `source "${source.name}": bad value at ${file} row ${row} column ${name}: ${bad.value ?? 'NULL'} (${actual} in the file) does not convert to ${declared} without loss${more}. Fix the file, or declare the column as ${actual}`,
          { source: source.name, file, row, column: name },
        );
      }
    }
    let damage: ParquetDamage | undefined;
    if (source.verifyIntegrity) {
      const used = source.columns === undefined ? described : described.filter((c) => c.name in (source.columns ?? {}));
      try {
        damage = (await verifyPageChecksums(session, file)).damage ?? await verifyFooterStatistics(session, file, used);
      } catch (error) {
        throw unreadable(error);
      }
    }
    if (damage !== undefined) {
      throw new SluiceError(
        'SOURCE_CORRUPT',
        `source "${source.name}": Parquet file ${file} is damaged: row group ${damage.rowGroup}, column ${damage.column}: ${damage.detail}. Its bytes changed after it was written; replace it with a good copy, then run again (nothing was published)`,
        { source: source.name, file, ...(damage.column === '(all)' ? {} : { column: damage.column }) },
      );
    }
    checkedParquet.set(key, described.map((c) => ({ name: c.name, type: c.type })));
  }
  return fileColumns(source, perFile);
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

/** Each CSV file with its header, checked against the declared columns by name (any order). */
function checkCsvHeaders(source: FileSource, files: readonly string[]): { files: CsvFile[]; columns: FileColumns } {
  if (source.columns === undefined || !source.csv.header) return { files: files.map((file) => ({ file })), columns: { present: new Set(), kept: [] } };
  const perFile: { have: string[]; extras: string[] }[] = [];
  const read: CsvFile[] = [];
  for (const file of files) {
    let header: string[];
    try {
      header = readCsvHeader(file, source.csv.delimiter, source.csv.quote);
    } catch (error) {
      throw new SluiceError('SOURCE_READ', `source "${source.name}": cannot read CSV file ${file}: ${errorMessage(error)}`, { source: source.name, file }, { cause: error });
    }
    const twice = header.find((name, i) => header.indexOf(name) !== i);
    if (twice !== undefined) {
      throw new SluiceError('SOURCE_SCHEMA', `source "${source.name}": ${file} has the column "${twice}" twice in its header (line 1: ${header.join(source.csv.delimiter)}), so it cannot be read by name; rename one in the file`, { source: source.name, file, row: 1, column: twice });
    }
    const extras = checkFileColumns(source, file, header, () => ({ text: ` (header, line 1: ${header.join(source.csv.delimiter)})`, row: 1 }), () => 'VARCHAR');
    perFile.push({ have: header, extras });
    read.push({ file, header });
  }
  return { files: read, columns: fileColumns(source, perFile) };
}

// How far from DuckDB's byte offset a rejected CSV record may start (observed: a byte or two either way).
const SLACK = 256;
const CHUNK = 1 << 20;

/**
 * Physical line numbers of rejected CSV records. DuckDB reports a record count (a quoted field spanning
 * lines counts once) and a byte offset that can be off by a byte or two; the record's first line of text,
 * found at a line start nearest that offset, pins it down. Records must be located in file order.
 */
class LineLocator {
  readonly #fd: number;
  #scanned = 0;
  #newlines = 0;
  #last = -1;

  constructor(file: string) {
    this.#fd = fs.openSync(file, 'r');
  }

  locate(hint: number, raw: string | null): number | null {
    const first = (raw ?? '').replace(/^[\r\n]+/, '').split(/\r\n|\n|\r/, 1)[0] ?? '';
    if (first === '') return null;
    const needle = Buffer.from(first, 'utf8');
    const from = Math.max(this.#last + 1, hint - SLACK, 0);
    const windowStart = Math.max(from - 1, 0);
    const windowEnd = hint + SLACK + needle.length;
    if (windowEnd <= windowStart) return null;
    const window = Buffer.alloc(windowEnd - windowStart);
    const read = fs.readSync(this.#fd, window, 0, window.length, windowStart);
    let best = -1;
    for (let i = window.indexOf(needle, from - windowStart); i >= 0 && i < read; i = window.indexOf(needle, i + 1)) {
      const at = windowStart + i;
      if (i + needle.length > read) break;
      if (at !== 0 && window[i - 1] !== 0x0a) continue;
      if (best < 0 || Math.abs(at - hint) < Math.abs(best - hint)) best = at;
    }
    if (best < 0) return null;
    this.#last = best;
    return this.#countNewlinesBefore(best) + 1;
  }

  #countNewlinesBefore(position: number): number {
    if (position < this.#scanned) { this.#scanned = 0; this.#newlines = 0; }
    const buffer = Buffer.alloc(CHUNK);
    while (this.#scanned < position) {
      const read = fs.readSync(this.#fd, buffer, 0, Math.min(CHUNK, position - this.#scanned), this.#scanned);
      if (read === 0) break;
      for (let i = buffer.indexOf(0x0a); i >= 0 && i < read; i = buffer.indexOf(0x0a, i + 1)) this.#newlines++;
      this.#scanned += read;
    }
    return this.#newlines;
  }

  close(): void {
    fs.closeSync(this.#fd);
  }
}

function toRecord(row: RejectRow, locator: LineLocator | undefined): DeadLetterRecord {
  const counted = row.line === null ? null : Number(row.line);
  const line = locator !== undefined && row.hint !== null ? locator.locate(Number(row.hint), row.raw) ?? counted : counted;
  return { file: row.file, line, column: row.column, reason: row.reason ?? 'unreadable', raw: row.raw };
}

function badRecordError(source: FileSource, record: DeadLetterRecord, total: number): SluiceError {
  const where = `${record.file}${record.line === null ? '' : ` line ${record.line}`}${record.column === null ? '' : ` column ${record.column}`}`;
  const more = total > 1 ? ` (and ${total - 1} more bad record${total > 2 ? 's' : ''})` : '';
  return new SluiceError(
    'BAD_RECORD',
    `source "${source.name}": bad record at ${where}: ${record.reason}${more}. Fix the file, or set badRecords: 'dead-letter' on the source to set such records aside`,
    { source: source.name, file: record.file, ...(record.line === null ? {} : { row: record.line }), ...(record.column === null ? {} : { column: record.column }) },
  );
}

async function* located(rows: AsyncIterable<Row[]>, locator: LineLocator | undefined): AsyncGenerator<DeadLetterRecord> {
  for await (const chunk of rows) for (const row of chunk) yield toRecord(row as unknown as RejectRow, locator);
}

/**
 * Fail on the first bad record, or (dead-letter) replace the dead-letter file of every input file read,
 * removing those of files that now have no bad records.
 */
async function handleRejects(
  session: Session,
  stateDir: string,
  source: FileSource,
  files: readonly string[],
  rejectsQuery: string,
  approximateLines: boolean,
  /** Bad records the reader accepted and sluice refuses (CSV records with a NUL byte), and how many of them were read as rows (the rest the reader rejected too). */
  refused: { readonly records: readonly DeadLetterRecord[]; readonly rows: number } = { records: [], rows: 0 },
): Promise<{ count: number; deadLetterFiles: string[] }> {
  const [counted] = await session.query<{ n: bigint }>(`SELECT count(*) AS n FROM (${rejectsQuery})`);
  const rejected = Number(counted?.n ?? 0n);
  if (source.badRecords === 'fail') {
    const count = rejected + refused.rows;
    if (count === 0) return { count, deadLetterFiles: [] };
    const [first] = rejected === 0 ? [] : await session.query<RejectRow & Row>(`SELECT * FROM (${rejectsQuery}) LIMIT 1`);
    let record: DeadLetterRecord | undefined;
    if (first !== undefined) {
      const locator = approximateLines ? new LineLocator(first.file) : undefined;
      try {
        record = toRecord(first, locator);
      } finally {
        locator?.close();
      }
    }
    const earliest = [record, refused.records[0]].filter((r): r is DeadLetterRecord => r !== undefined)
      .sort((a, b) => files.indexOf(a.file) - files.indexOf(b.file) || (a.line ?? 0) - (b.line ?? 0))[0];
    if (earliest === undefined) return { count: 0, deadLetterFiles: [] };
    throw badRecordError(source, earliest, count);
  }
  const withRejects = rejected === 0 ? [] : (await session.query<{ file: string }>(`SELECT DISTINCT file FROM (${rejectsQuery}) ORDER BY file`)).map((r) => r.file);
  const deadLetterFiles: string[] = [];
  let count = 0;
  for (const file of files) {
    const extra = refused.records.filter((r) => r.file === file);
    if (!withRejects.includes(file) && extra.length === 0) {
      await replaceDeadLetters(stateDir, source.name, file, []);
      continue;
    }
    const locator = approximateLines && withRejects.includes(file) ? new LineLocator(file) : undefined;
    try {
      const rows = withRejects.includes(file) ? session.stream(`SELECT * FROM (${rejectsQuery}) WHERE file = ${quoteLiteral(file)} ORDER BY line`) : undefined;
      const records = counting(merged(rows === undefined ? [] : located(rows, locator), extra), () => count++);
      const written = await replaceDeadLetters(stateDir, source.name, file, records);
      if (written !== null) deadLetterFiles.push(written);
    } finally {
      locator?.close();
    }
  }
  return { count, deadLetterFiles };
}

/** Records of one file in line order: the reader's rejects, and the refused ones it did not reject already (same first line). */
async function* merged(rejects: AsyncIterable<DeadLetterRecord> | Iterable<DeadLetterRecord>, refused: readonly DeadLetterRecord[]): AsyncGenerator<DeadLetterRecord> {
  let next = 0;
  for await (const record of rejects) {
    while (next < refused.length && (refused[next]?.line ?? 0) < (record.line ?? 0)) yield refused[next++] as DeadLetterRecord;
    if (next < refused.length && refused[next]?.line === record.line) next++;
    yield record;
  }
  while (next < refused.length) yield refused[next++] as DeadLetterRecord;
}

async function* counting<T>(items: AsyncIterable<T>, onItem: () => void): AsyncGenerator<T> {
  for await (const item of items) {
    onItem();
    yield item;
  }
}

/** Remove the rows with a NUL byte in a text column from a CSV read's table; how many there were. */
async function dropNulRows(session: Session, table: string): Promise<number> {
  const columns = await session.query<{ column_name: string; column_type: string }>(`DESCRIBE ${table}`);
  const text = columns.filter((c) => c.column_type === 'VARCHAR').map((c) => `contains(${quoteIdent(c.column_name)}, chr(0))`);
  if (text.length === 0) return 0;
  const [deleted] = await session.query<{ n: bigint }>(`SELECT count(*) AS n FROM ${table} WHERE ${text.join(' OR ')}`);
  await session.run(`DELETE FROM ${table} WHERE ${text.join(' OR ')}`);
  return Number(deleted?.n ?? 0n);
}

/** SQL keeping the rows of `keys` (a window of partitions) by the column that holds the partition. */
function partitionFilter(partitions: Partitions, column: string, keys: readonly string[]): string {
  if (keys.length === 0) return 'false';
  if (partitions.kind === 'static') return `${quoteIdent(column)}::VARCHAR IN (${keys.map(quoteLiteral).join(', ')})`;
  const first = timeRange(partitions, keys[0] as string);
  const last = timeRange(partitions, keys.at(-1) as string);
  return `${quoteIdent(column)} >= ${timestampLiteral(first?.start ?? 0)} AND ${quoteIdent(column)} < ${timestampLiteral(last?.end ?? 0)}`;
}

/**
 * The keys of each NDJSON file's records against the declared columns: a declared key that no record of a file
 * has is missing (unless optional; a record without a key that others have reads NULL, as JSON means);
 * undeclared keys follow extraColumns. Files without a single JSON object are left to the bad-record handling.
 * Returns the extra keys to keep.
 */
async function checkNdjsonKeys(session: Session, source: FileSource, checked: string): Promise<string[]> {
  const rows = await session.query<{ file: string; key: string; line: bigint }>(ndjsonKeysQuery(checked));
  const byFile = new Map<string, { key: string; line: number }[]>();
  for (const row of rows) byFile.set(row.file, [...(byFile.get(row.file) ?? []), { key: row.key, line: Number(row.line) }]);
  const perFile = [...byFile].map(([file, keys]) => {
    const have = keys.map((k) => k.key);
    const lineOf = (column: string): number | undefined => keys.find((k) => k.key === column)?.line;
    const extras = checkFileColumns(source, file, have, (column) => {
      const line = lineOf(column);
      return line === undefined ? { text: '' } : { text: ` (line ${line})`, row: line };
    }, () => 'VARCHAR');
    return { have, extras };
  });
  return [...fileColumns(source, perFile).kept];
}

/** Create temp relation `view` holding the source's good records for the window. */
export async function prepareSource(
  session: Session,
  paths: { projectDir: string; stateDir: string },
  source: FileSource,
  window: SourceWindow,
  view: string,
  alreadyResolved?: ResolvedFiles,
): Promise<PreparedSource> {
  const resolved = alreadyResolved ?? await resolveSourceFiles(session, paths.projectDir, source, window);
  if (source.partitionBy !== undefined && source.partitions !== undefined) {
    // Every partition's rows are in the same files: read them whole, then keep the window's rows by the column.
    const whole = await prepareSource(session, paths, { ...source, partitionBy: undefined }, window, `${view}__whole`, resolved);
    const condition = partitionFilter(source.partitions, source.partitionBy.column, resolved.partitions);
    await session.run(`CREATE OR REPLACE TEMP VIEW ${quoteIdent(view)} AS SELECT * FROM ${quoteIdent(`${view}__whole`)} WHERE ${condition}`);
    const [counted] = await session.query<{ n: bigint }>(`SELECT count(*) AS n FROM ${quoteIdent(view)}`);
    return { ...whole, rows: Number(counted?.n ?? 0n) };
  }
  const target = quoteIdent(view);
  const wrap = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof SluiceError) throw error;
      throw new SluiceError('SOURCE_READ', `source "${source.name}": ${what}: ${errorMessage(error)}`, { source: source.name }, { cause: error, transient: isTransient(error) });
    }
  };
  const countRows = async (relation: string): Promise<number> => {
    const [counted] = await session.query<{ n: bigint }>(`SELECT count(*) AS n FROM ${relation}`);
    return Number(counted?.n ?? 0n);
  };

  if (source.format === 'parquet') {
    const columns = await checkParquetFiles(session, source, resolved.files);
    await wrap('reading Parquet', () => session.run(`CREATE OR REPLACE TEMP VIEW ${target} AS ${parquetRelation(source, resolved.files, columns)}`));
    const [meta] = await session.query<{ n: bigint | null }>(`SELECT sum(num_rows)::BIGINT AS n FROM parquet_file_metadata(${quoteList(resolved.files)})`);
    return { ...resolved, rows: Number(meta?.n ?? 0n), badRecords: 0, deadLetterFiles: [] };
  }

  if (source.format === 'csv') {
    const checked = checkCsvHeaders(source, resolved.files);
    const rejects = { table: `__rejects_${view}`, scan: `__scans_${view}` };
    await wrap('reading CSV', () => session.run(`CREATE OR REPLACE TEMP TABLE ${target} AS ${csvRelation(source, checked.files, rejects, source.extraColumns === 'keep' ? 'keep' : 'ignore')}`));
    // Column names in file order: the header's (declared columns are found by name), or the declared ones without a header.
    const dialect = { ...source.csv, columns: source.columns === undefined || source.csv.header ? undefined : Object.keys(source.columns) };
    const nulRecords = resolved.files.flatMap((file) => csvNulRecords(file, dialect));
    const nulRows = nulRecords.length === 0 ? 0 : await dropNulRows(session, target);
    const bad = await handleRejects(session, paths.stateDir, source, resolved.files, csvRejectsQuery(rejects, resolved.files), true, { records: nulRecords, rows: nulRows });
    return { ...resolved, rows: await countRows(target), badRecords: bad.count, deadLetterFiles: bad.deadLetterFiles };
  }

  const checked = `__checked_${view}`;
  await wrap('reading NDJSON', () => session.run(`CREATE OR REPLACE TEMP TABLE ${quoteIdent(checked)} AS ${ndjsonCheckedRelation(source, resolved.files)}`));
  const kept = source.columns === undefined ? [] : await checkNdjsonKeys(session, source, checked);
  const bad = await handleRejects(session, paths.stateDir, source, resolved.files, ndjsonRejectsQuery(checked), false);
  await session.run(`CREATE OR REPLACE TEMP VIEW ${target} AS ${ndjsonRecordsRelation(source, checked, kept)}`);
  return { ...resolved, rows: await countRows(target), badRecords: bad.count, deadLetterFiles: bad.deadLetterFiles };
}

