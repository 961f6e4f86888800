// SQL of an extract step: typed rows from the spooled raw records, the first value that does not cast, and the
// upsert of fetched rows into the asset's current version (latest cursor per key wins). Pure text.
import { quoteIdent, quoteLiteral } from './identifiers.ts';

export interface ExtractColumn {
  readonly name: string;
  /** DuckDB type. */
  readonly type: string;
}

/** Row number of each spooled record (1-based, in fetch order): messages name it, ties resolve to the later fetch. */
export const ROW_COLUMN = '__sluice_row';

/** A temp table of raw text values, one VARCHAR column per extracted column plus the row number. */
export function createRawTableSql(table: string, columns: readonly ExtractColumn[]): string {
  const defs = [`${quoteIdent(ROW_COLUMN)} BIGINT`, ...columns.map((c) => `${quoteIdent(c.name)} VARCHAR`)];
  return `CREATE OR REPLACE TEMP TABLE ${quoteIdent(table)} (${defs.join(', ')})`;
}

/** Append an NDJSON spool (objects of column -> JSON value) to the raw table; nested values arrive as JSON text. */
export function loadRawSql(table: string, file: string, columns: readonly ExtractColumn[]): string {
  const spec = [ROW_COLUMN, ...columns.map((c) => c.name)].map((name) => `${quoteLiteral(name)}: ${quoteLiteral(name === ROW_COLUMN ? 'BIGINT' : 'VARCHAR')}`);
  return `INSERT INTO ${quoteIdent(table)} BY NAME SELECT * FROM read_json(${quoteLiteral(file)}, format = 'newline_delimited', columns = {${spec.join(', ')}}, maximum_object_size = 67108864)`;
}

/** The first value (by row) that does not cast to its column's type, if any: row, column, value. */
export function firstBadValueSql(table: string, columns: readonly ExtractColumn[]): string {
  const parts = columns.map((c) => `SELECT ${quoteIdent(ROW_COLUMN)} AS row, ${quoteLiteral(c.name)} AS column_name, ${quoteLiteral(c.type)} AS column_type, ${quoteIdent(c.name)} AS value
    FROM ${quoteIdent(table)} WHERE ${quoteIdent(c.name)} IS NOT NULL AND TRY_CAST(${quoteIdent(c.name)} AS ${c.type}) IS NULL`);
  return `SELECT * FROM (${parts.join(' UNION ALL ')}) ORDER BY row, column_name LIMIT 1`;
}

/** The raw table cast to the declared types, keeping the row number. */
export function typedTableSql(target: string, raw: string, columns: readonly ExtractColumn[]): string {
  const casts = columns.map((c) => `CAST(${quoteIdent(c.name)} AS ${c.type}) AS ${quoteIdent(c.name)}`);
  return `CREATE OR REPLACE TEMP TABLE ${quoteIdent(target)} AS SELECT ${quoteIdent(ROW_COLUMN)}, ${casts.join(', ')} FROM ${quoteIdent(raw)}`;
}

/**
 * The cursor's lower bound for a run: the mark minus the lookback, as the cursor's type (NULL: no mark, read all).
 * A duration lookback subtracts milliseconds (time cursors), a number subtracts itself (numeric cursors).
 */
export function lowerBoundSql(mark: string | null, cursorType: string, lookback: { readonly ms: number } | { readonly amount: number } | undefined): string {
  if (mark === null) return `CAST(NULL AS ${cursorType})`;
  const value = `CAST(${quoteLiteral(mark)} AS ${cursorType})`;
  if (lookback === undefined) return value;
  return 'ms' in lookback ? `${value} - INTERVAL (${lookback.ms}) MILLISECOND` : `${value} - ${lookback.amount}`;
}

/**
 * The new version of the table: the current rows and the fetched ones, one per key, the greatest cursor winning
 * (on a tie the fetched row, then the later fetched). Without a key the fetched rows replace the table.
 */
export function mergeSql(current: string | null, fetched: string, key: readonly string[], cursor: string | undefined): string {
  const fresh = `SELECT * EXCLUDE (${quoteIdent(ROW_COLUMN)}), ${quoteIdent(ROW_COLUMN)} AS __sluice_seq FROM ${quoteIdent(fetched)}`;
  if (key.length === 0) return `SELECT * EXCLUDE (__sluice_seq) FROM (${fresh})`;
  const union = current === null ? fresh : `SELECT *, 0::BIGINT AS __sluice_seq FROM (${current}) UNION ALL BY NAME ${fresh}`;
  const order = [...(cursor === undefined ? [] : [`${quoteIdent(cursor)} DESC NULLS LAST`]), '__sluice_seq DESC'];
  return `SELECT * EXCLUDE (__sluice_seq) FROM (${union})
    QUALIFY row_number() OVER (PARTITION BY ${key.map(quoteIdent).join(', ')} ORDER BY ${order.join(', ')}) = 1`;
}

/** Rows in one relation and not the other, either way (multiset): 0 means the same table. */
export function differenceCountSql(a: string, b: string): string {
  return `SELECT count(*) AS n FROM ((SELECT * FROM (${a}) EXCEPT ALL SELECT * FROM (${b})) UNION ALL (SELECT * FROM (${b}) EXCEPT ALL SELECT * FROM (${a})))`;
}
