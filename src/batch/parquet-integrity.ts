// Finding Parquet source files whose bytes changed after they were written. DuckDB neither writes nor checks
// page checksums, and decodes a damaged page into wrong values without an error. Two checks run on each file
// (once per process for a given size and mtime):
// - pages that carry a CRC32 (written by Spark/parquet-java, or pyarrow with write_page_checksum) are checked
//   against it: any changed byte of such a page is found;
// - the values read back are compared, per row group and column, with the footer's statistics: row count,
//   null count, and min and max (exact for numbers and times; for text, within the bounds when the writer
//   may have truncated them). A damaged page whose values stay within the recorded bounds and keep their
//   null count is not found by this check: only checksums find those.
import fs from 'node:fs';
import zlib from 'node:zlib';
import { parquetHeader } from 'hyparquet/src/column.js';
import type { Session } from '../engine/engine.ts';
import { quoteIdent, quoteLiteral } from '../sql/identifiers.ts';

export interface ParquetDamage {
  readonly rowGroup: number;
  readonly column: string;
  /** What disagrees, for the message: "page 2 fails its CRC32 checksum ...", "the footer records max 1, the data has 9". */
  readonly detail: string;
}

interface ColumnChunk {
  readonly row_group_id: bigint;
  readonly path_in_schema: string;
  readonly dictionary_page_offset: bigint | null;
  readonly data_page_offset: bigint;
  readonly total_compressed_size: bigint;
}

/** The column chunks of a file, from its footer. */
async function columnChunks(session: Session, file: string): Promise<ColumnChunk[]> {
  return session.query<ColumnChunk & Record<string, unknown>>(
    `SELECT row_group_id, path_in_schema, dictionary_page_offset, data_page_offset, total_compressed_size
     FROM parquet_metadata(${quoteLiteral(file)}) ORDER BY row_group_id, column_id`,
  );
}

/** Check every page that carries a CRC32; the pages counted, how many had one, and the first damaged page. */
export async function verifyPageChecksums(session: Session, file: string): Promise<{ pages: number; checksummed: number; damage?: ParquetDamage }> {
  const chunks = await columnChunks(session, file);
  let pages = 0;
  let checksummed = 0;
  const fd = fs.openSync(file, 'r');
  try {
    for (const chunk of chunks) {
      const dictionary = chunk.dictionary_page_offset === null ? undefined : Number(chunk.dictionary_page_offset);
      const data = Number(chunk.data_page_offset);
      const start = dictionary !== undefined && dictionary > 0 && dictionary < data ? dictionary : data;
      const length = Number(chunk.total_compressed_size);
      const bytes = Buffer.alloc(length);
      fs.readSync(fd, bytes, 0, length, start);
      const damaged = (page: number, detail: string): ParquetDamage => ({ rowGroup: Number(chunk.row_group_id), column: chunk.path_in_schema, detail: `page ${page} ${detail}` });
      const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
      for (let page = 1; reader.offset < length; page++) {
        let header;
        try {
          header = parquetHeader(reader);
        } catch (error) {
          return { pages, checksummed, damage: damaged(page, `has an unreadable header (${error instanceof Error ? error.message : String(error)})`) };
        }
        const begin = reader.offset;
        const end = begin + header.compressed_page_size;
        if (end > length) return { pages, checksummed, damage: damaged(page, `runs past the end of its column chunk (${end - length} bytes over)`) };
        pages++;
        if (header.crc !== undefined) {
          checksummed++;
          const stored = header.crc >>> 0;
          const computed = zlib.crc32(bytes.subarray(begin, end)) >>> 0;
          if (stored !== computed) {
            return { pages, checksummed, damage: damaged(page, `fails its CRC32 checksum (stored ${hex(stored)}, the bytes give ${hex(computed)})`) };
          }
        }
        reader.offset = end;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return { pages, checksummed };
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

/**
 * The row group of `file_row_number`, as SQL: a division when every row group but the last has the same size
 * (as writers do), a CASE over the boundaries otherwise. A range join would do too, at several times the cost.
 */
function rowGroupOf(sizes: readonly number[]): string {
  const first = sizes[0] ?? 1;
  if (sizes.slice(0, -1).every((size) => size === first)) return `file_row_number // ${Math.max(1, first)}`;
  let start = 0;
  const bounds = sizes.slice(0, -1).map((size, group) => `WHEN file_row_number < ${(start += size)} THEN ${group}`);
  return `CASE ${bounds.join(' ')} ELSE ${sizes.length - 1} END`;
}

const EXACT_TYPES = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL\(\d+,\s*\d+\)|DATE|TIME|TIMESTAMP(_S|_MS|_NS)?|TIMESTAMP WITH TIME ZONE|BOOLEAN)$/;
const FLOAT_TYPES = new Set(['FLOAT', 'DOUBLE']);

/**
 * Compare what DuckDB reads from each row group with the footer's statistics for it (see the top of the file);
 * the first disagreement, or undefined. `columns` are the file's top-level columns with their DuckDB types.
 */
export async function verifyFooterStatistics(session: Session, file: string, columns: readonly { readonly name: string; readonly type: string }[]): Promise<ParquetDamage | undefined> {
  const checked = columns.filter((c) => EXACT_TYPES.test(c.type) || c.type === 'VARCHAR');
  const name = `__integrity_${Math.random().toString(36).slice(2)}`;
  const table = quoteIdent(name);
  // The footer is read once into a temp table; each column's comparison joins it.
  const metadata = quoteIdent(`${name}_footer`);
  const value = (c: { name: string; type: string }): string => FLOAT_TYPES.has(c.type) ? `${quoteIdent(c.name)}) FILTER (WHERE NOT isnan(${quoteIdent(c.name)})` : quoteIdent(c.name);
  const aggregates = checked.map((c, i) => `min(${value(c)}) AS min_${i}, max(${value(c)}) AS max_${i}, count(*) - count(${quoteIdent(c.name)}) AS nulls_${i}`);
  try {
    await session.run(`CREATE TEMP TABLE ${metadata} AS SELECT * FROM parquet_metadata(${quoteLiteral(file)})`);
    const groups = await session.query<{ row_group_id: bigint; row_group_num_rows: bigint }>(`SELECT DISTINCT row_group_id, row_group_num_rows FROM ${metadata} ORDER BY row_group_id`);
    await session.run(`CREATE TEMP TABLE ${table} AS
      SELECT ${rowGroupOf(groups.map((g) => Number(g.row_group_num_rows)))} AS __group, count(*) AS __rows${aggregates.map((a) => `, ${a}`).join('')}
      FROM read_parquet(${quoteLiteral(file)}, file_row_number = true, hive_partitioning = false)
      GROUP BY __group`);
    const [rows] = await session.query<{ row_group: bigint; rows: bigint; footer_rows: bigint }>(
      `SELECT s.__group AS row_group, s.__rows AS rows, m.row_group_num_rows AS footer_rows
       FROM ${table} s JOIN (SELECT DISTINCT row_group_id, row_group_num_rows FROM ${metadata}) m ON m.row_group_id = s.__group
       WHERE s.__rows <> m.row_group_num_rows ORDER BY s.__group LIMIT 1`,
    );
    if (rows !== undefined) return { rowGroup: Number(rows.row_group), column: '(all)', detail: `the footer records ${rows.footer_rows} rows, the data has ${rows.rows}` };
    for (const [i, c] of checked.entries()) {
      const exact = EXACT_TYPES.test(c.type);
      const footerMin = `TRY_CAST(m.stats_min_value AS ${c.type})`;
      const footerMax = `TRY_CAST(m.stats_max_value AS ${c.type})`;
      const minWrong = exact ? `s.min_${i} IS DISTINCT FROM ${footerMin}` : `(CASE WHEN m.min_is_exact THEN s.min_${i} IS DISTINCT FROM ${footerMin} ELSE s.min_${i} < ${footerMin} END)`;
      const maxWrong = exact ? `s.max_${i} IS DISTINCT FROM ${footerMax}` : `(CASE WHEN m.max_is_exact THEN s.max_${i} IS DISTINCT FROM ${footerMax} ELSE s.max_${i} > ${footerMax} END)`;
      const [wrong] = await session.query<{ row_group: bigint; what: string; footer: string | null; data: string | null }>(
        `SELECT row_group, what, footer, data FROM (
           SELECT s.__group AS row_group,
             CASE WHEN m.stats_null_count IS NOT NULL AND s.nulls_${i} <> m.stats_null_count THEN 'null count'
                  WHEN ${footerMin} IS NOT NULL AND ${minWrong} THEN 'min'
                  WHEN ${footerMax} IS NOT NULL AND ${maxWrong} THEN 'max' END AS what,
             CASE what WHEN 'null count' THEN m.stats_null_count::VARCHAR WHEN 'min' THEN m.stats_min_value ELSE m.stats_max_value END AS footer,
             CASE what WHEN 'null count' THEN s.nulls_${i}::VARCHAR WHEN 'min' THEN s.min_${i}::VARCHAR ELSE s.max_${i}::VARCHAR END AS data
           FROM ${table} s JOIN ${metadata} m ON m.row_group_id = s.__group AND m.path_in_schema = ${quoteLiteral(c.name)}
         ) WHERE what IS NOT NULL ORDER BY row_group LIMIT 1`,
      );
      if (wrong !== undefined) {
        return { rowGroup: Number(wrong.row_group), column: c.name, detail: `the footer records ${wrong.what} ${wrong.footer ?? 'NULL'}, the data read has ${wrong.what} ${wrong.data ?? 'NULL'}` };
      }
    }
    return undefined;
  } finally {
    await session.run(`DROP TABLE IF EXISTS ${table}`);
    await session.run(`DROP TABLE IF EXISTS ${metadata}`);
  }
}
