// Reading a PostgreSQL table or query incrementally: rows with cursor > (mark - lookback), in keyset pages
// (ORDER BY cursor, key LIMIT n) inside one REPEATABLE READ snapshot, as text, into a spool for DuckDB.
import pg from 'pg';
import { parseDuration } from '../define/duration.ts';
import type { PostgresSource } from '../define/extract.ts';
import { errorMessage, isTransient, redactUrl, SluiceError } from '../errors.ts';
import type { ExtractColumn } from '../sql/extract-sql.ts';
import type { RecordSpool } from './record-spool.ts';

export interface PostgresFetchRequest {
  readonly source: PostgresSource;
  /** The resolved connection URL (secrets included: never put it in a message). */
  readonly url: string;
  readonly key: readonly string[];
  /** The high-water mark (the cursor's text), or null to read every row. */
  readonly mark: string | null;
  readonly spool: RecordSpool;
}

export interface PostgresFetchResult {
  readonly rows: number;
  readonly pages: number;
  /** Extracted columns with DuckDB types (declared, or mapped from PostgreSQL's). */
  readonly columns: readonly ExtractColumn[];
}

/** Every value as PostgreSQL's text output: exact (microseconds, numerics), and DuckDB casts it. */
const textTypes = { getTypeParser: () => (value: string) => value };

function pgIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** DuckDB's type for a PostgreSQL type name (format_type); unknown types are kept as text. */
export function duckTypeOf(pgType: string): string {
  const t = pgType.toLowerCase();
  const numeric = /^numeric\((\d+),(\d+)\)$/.exec(t);
  if (numeric !== null) return Number(numeric[1]) <= 38 ? `DECIMAL(${numeric[1]},${numeric[2]})` : 'DOUBLE';
  if (t.endsWith('[]')) return 'VARCHAR';
  if (t.startsWith('timestamp') && t.endsWith('with time zone') && !t.includes('without')) return 'TIMESTAMPTZ';
  if (t.startsWith('timestamp')) return 'TIMESTAMP';
  if (t.startsWith('time') && !t.includes('with time zone')) return 'TIME';
  const simple: Record<string, string> = {
    smallint: 'SMALLINT', integer: 'INTEGER', bigint: 'BIGINT', real: 'FLOAT', 'double precision': 'DOUBLE', numeric: 'DOUBLE',
    boolean: 'BOOLEAN', date: 'DATE', uuid: 'UUID', json: 'JSON', jsonb: 'JSON',
  };
  return simple[t] ?? 'VARCHAR';
}

function isTimeType(pgType: string): boolean {
  return /^(timestamp|date)/.test(pgType.toLowerCase());
}

export async function fetchPostgres(request: PostgresFetchRequest): Promise<PostgresFetchResult> {
  const { source, key } = request;
  const where = `postgres source "${source.name}" (${redactUrl(request.url)})`;
  const fail = (message: string, error?: unknown): SluiceError =>
    new SluiceError('SOURCE_READ', `${where}: ${message}${error === undefined ? '' : `: ${errorMessage(error)}`}`, { source: source.name }, { cause: error, transient: error !== undefined && isTransient(error) });
  const client = new pg.Client({ connectionString: request.url, types: textTypes, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined); // a dropped connection fails the pending query, which reports it
  try {
    await client.connect();
  } catch (error) {
    throw fail('cannot connect', error);
  }
  try {
    // One snapshot for every page, so keyset pages see one consistent table; text times in UTC.
    await client.query(`SET TimeZone = 'UTC'`);
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const relation = source.table !== undefined ? source.table.split('.').map(pgIdent).join('.') : `(${source.query ?? ''})`;
    let described: pg.QueryResult;
    try {
      described = await client.query(`SELECT * FROM ${relation} AS s LIMIT 0`);
    } catch (error) {
      throw fail(source.table !== undefined ? `cannot read table ${source.table}` : 'its query failed', error);
    }
    // Type names with their modifiers (numeric(10,2)), in field order.
    const typeRows = await client.query<{ name: string }>(
      'SELECT format_type(t.oid, t.mod) AS name FROM unnest($1::oid[], $2::int[]) WITH ORDINALITY AS t(oid, mod, n) ORDER BY n',
      [described.fields.map((f) => f.dataTypeID), described.fields.map((f) => (f.dataTypeModifier < 0 ? null : f.dataTypeModifier))],
    );
    const pgTypes = new Map(described.fields.map((f, i) => [f.name, typeRows.rows[i]?.name ?? 'text']));
    const available = [...pgTypes.keys()];
    for (const column of [source.cursor, ...key, ...Object.keys(source.columns ?? {})]) {
      if (!pgTypes.has(column)) throw fail(`column "${column}" does not exist; it has ${available.join(', ')}`);
    }
    const columns: ExtractColumn[] = source.columns !== undefined
      ? Object.entries(source.columns).map(([name, type]) => ({ name, type }))
      : available.map((name) => ({ name, type: duckTypeOf(pgTypes.get(name) ?? 'text') }));
    const typeOf = (column: string): string => pgTypes.get(column) ?? 'text';
    const cursorType = typeOf(source.cursor);
    if (source.lookback !== undefined && (typeof source.lookback === 'string') !== isTimeType(cursorType)) {
      throw fail(`lookback ${JSON.stringify(source.lookback)} does not fit cursor "${source.cursor}" of type ${cursorType}: use a duration such as '10m' for a time cursor, a number for a numeric one`);
    }
    const params: unknown[] = [];
    const param = (value: unknown, type: string): string => {
      params.push(value);
      return `$${params.length}::${type}`;
    };
    const bound: string[] = [`s.${pgIdent(source.cursor)} IS NOT NULL`];
    if (request.mark !== null) {
      const mark = param(request.mark, cursorType);
      const lookback = source.lookback === undefined ? mark
        : typeof source.lookback === 'string' ? `${mark} - ${param(`${parseDuration(source.lookback, `source "${source.name}" lookback`)} milliseconds`, 'interval')}` : `${mark} - ${param(source.lookback, cursorType)}`;
      bound.push(`s.${pgIdent(source.cursor)} > ${lookback}`);
    }
    const order = [source.cursor, ...key];
    const select = columns.map((c) => `s.${pgIdent(c.name)}`);
    // The order columns ride along at the end (as text) to build the next page's keyset condition.
    const orderSelect = order.map((c, i) => `s.${pgIdent(c)} AS __k${i}`);
    const fixedParams = params.length;
    let last: readonly unknown[] | null = null;
    let rows = 0;
    let pages = 0;
    for (;;) {
      params.length = fixedParams;
      const conditions = [...bound];
      if (last !== null) {
        const values = last;
        conditions.push(`(${order.map((c) => `s.${pgIdent(c)}`).join(', ')}) > (${order.map((c, i) => param(values[i], typeOf(c))).join(', ')})`);
      }
      const text = `SELECT ${[...select, ...orderSelect].join(', ')} FROM ${relation} AS s WHERE ${conditions.join(' AND ')} ORDER BY ${order.map((c) => `s.${pgIdent(c)}`).join(', ')} LIMIT ${source.batchSize}`;
      let page: pg.QueryArrayResult<unknown[]>;
      try {
        page = await client.query({ text, values: params, rowMode: 'array' });
      } catch (error) {
        throw fail(`reading page ${pages + 1} (after ${rows} rows) failed`, error);
      }
      pages += 1;
      await request.spool.write(page.rows.map((row) => Object.fromEntries(columns.map((c, i) => [c.name, row[i] ?? null]))));
      rows += page.rows.length;
      if (page.rows.length < source.batchSize) break;
      last = (page.rows.at(-1) ?? []).slice(columns.length);
    }
    await client.query('COMMIT');
    return { rows, pages, columns };
  } finally {
    await client.end().catch(() => undefined);
  }
}
