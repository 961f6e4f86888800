// CSV records holding a NUL byte. DuckDB's CSV reader keeps a NUL inside a text value, where the NDJSON
// reader rejects the line as invalid JSON; sluice treats both alike: such a record is a bad record. Files
// are searched for a NUL byte first (a native byte search); only a file that has one is walked record by
// record, to name each record's first line and column exactly.
import fs from 'node:fs';
import type { DeadLetterRecord } from '../store/dead-letter.ts';

const CHUNK = 1 << 20;
const NUL = 0x00;
const LF = 0x0a;
const CR = 0x0d;

function hasNul(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(CHUNK);
    for (let position = 0; ; ) {
      const read = fs.readSync(fd, buffer, 0, CHUNK, position);
      if (read === 0) return false;
      const at = buffer.indexOf(NUL);
      if (at >= 0 && at < read) return true;
      position += read;
    }
  } finally {
    fs.closeSync(fd);
  }
}

interface CsvDialect {
  readonly delimiter: string;
  readonly quote: string;
  readonly header: boolean;
  /** Column names in file order (the declared ones), or undefined to take them from the header. */
  readonly columns: readonly string[] | undefined;
}

/** One record per CSV record (not per NUL) that holds a NUL byte, in file order. */
export function csvNulRecords(file: string, dialect: CsvDialect): DeadLetterRecord[] {
  if (!hasNul(file)) return [];
  const bytes = fs.readFileSync(file);
  const delimiter = Buffer.from(dialect.delimiter)[0] ?? 0x2c;
  const quote = Buffer.from(dialect.quote)[0] ?? 0x22;
  const records: DeadLetterRecord[] = [];
  let names = dialect.columns;
  let line = 1;
  let recordLine = 1;
  let recordStart = 0;
  let field = 0;
  let fieldStart = 0;
  let quoted = false;
  let nul: { field: number; offset: number } | undefined;
  const headerFields: string[] = [];
  let first = true;
  const endRecord = (end: number): void => {
    if (first && dialect.header) {
      headerFields.push(bytes.subarray(fieldStart, end).toString('utf8').replace(/^"|"$/g, ''));
      names ??= headerFields;
    } else if (nul !== undefined) {
      const raw = bytes.subarray(recordStart, end).toString('utf8');
      const column = names?.[nul.field] ?? `column${nul.field}`;
      records.push({
        file,
        line: recordLine,
        column,
        reason: `a NUL byte (0x00) at byte ${nul.offset - recordStart + 1} of the record, in column ${column}: text values may not hold NUL (an NDJSON line with one is invalid JSON); remove it from the file`,
        raw,
      });
    }
    first = false;
    nul = undefined;
    field = 0;
  };
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    if (byte === quote) quoted = !quoted;
    else if (byte === NUL) nul ??= { field, offset: i };
    else if (byte === LF) {
      line++;
      if (!quoted) {
        endRecord(i > recordStart && bytes[i - 1] === CR ? i - 1 : i);
        recordStart = i + 1;
        fieldStart = i + 1;
        recordLine = line;
      }
    } else if (byte === delimiter && !quoted) {
      if (first && dialect.header) headerFields.push(bytes.subarray(fieldStart, i).toString('utf8').replace(/^"|"$/g, ''));
      field++;
      fieldStart = i + 1;
    }
  }
  if (recordStart < bytes.length) endRecord(bytes.length);
  return records;
}
