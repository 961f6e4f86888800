// The types an asset's output is written to Parquet with. Parquet has no 128-bit or arbitrary-precision
// integers, and DuckDB 1.5 writes HUGEINT and UHUGEINT (what sum() of integers returns) as DOUBLE and BIGNUM as
// VARCHAR, silently. Such a column is written as the nearest type that holds its values instead, chosen from
// the values' range: BIGINT (UBIGINT for UHUGEINT) when they fit, else DECIMAL(38,0); DOUBLE (or text) only when
// even that cannot hold them, with a warning.
import type { Session } from '../engine/engine.ts';
import { quoteIdent } from '../sql/identifiers.ts';
import { canonicalType } from '../sql/types.ts';
import type { ColumnSchema } from '../store/tables/manifest.ts';

/** Top-level types whose Parquet type depends on the values' range. */
const RANGED: Readonly<Record<string, readonly string[]>> = {
  HUGEINT: ['BIGINT', 'DECIMAL(38,0)'],
  UHUGEINT: ['UBIGINT', 'DECIMAL(38,0)'],
  BIGNUM: ['BIGINT', 'DECIMAL(38,0)'],
  VARINT: ['BIGINT', 'DECIMAL(38,0)'],
};

const LIMITS: Readonly<Record<string, readonly [bigint, bigint]>> = {
  BIGINT: [-(2n ** 63n), 2n ** 63n - 1n],
  UBIGINT: [0n, 2n ** 64n - 1n],
  HUGEINT: [-(2n ** 127n), 2n ** 127n - 1n],
  'DECIMAL(38,0)': [-(10n ** 38n) + 1n, 10n ** 38n - 1n],
};

/** A column type with every nested HUGEINT or UHUGEINT (inside a list, struct or map) as DECIMAL(38,0); quoted field names kept. */
function nestedWithoutHugeint(type: string): string {
  return type.split(/("(?:[^"]|"")*")/).map((part, i) => (i % 2 === 1 ? part : part.replace(/\bU?HUGEINT\b/g, 'DECIMAL(38,0)'))).join('');
}

export interface OutputColumn {
  readonly name: string;
  /** The DuckDB type of the column as the relation gives it. */
  readonly type: string;
}

export interface TypeWarning {
  readonly column: string;
  readonly message: string;
}

export interface OutputTypes {
  /** The type to cast each column to before writing; columns that Parquet holds as they are are absent. */
  readonly casts: ReadonlyMap<string, string>;
  readonly warnings: readonly TypeWarning[];
}

/** Whether writing these columns needs their values' range (a pass over the output) to choose their types. */
export function needsRange(columns: readonly OutputColumn[]): boolean {
  return columns.some((c) => Object.hasOwn(RANGED, canonicalType(c.type)));
}

/**
 * The Parquet types for `columns` of `relation` (a table: its range-checked columns are aggregated in one
 * pass). `table` is the asset's current schema: where it already holds a column in a type that fits the
 * values, that type is kept, so partitions do not differ; a column the table holds as DOUBLE or VARCHAR
 * (written so before sluice kept these types) stays so, with a warning, since changing it is a schema change.
 */
export async function chooseOutputTypes(
  session: Session,
  relation: string,
  columns: readonly OutputColumn[],
  table: readonly ColumnSchema[] | undefined,
  where: string,
): Promise<OutputTypes> {
  const casts = new Map<string, string>();
  const warnings: TypeWarning[] = [];
  const ranged = columns.filter((c) => Object.hasOwn(RANGED, canonicalType(c.type)));
  const bounds = new Map<string, { min: bigint | null; max: bigint | null }>();
  if (ranged.length > 0) {
    const select = ranged.flatMap((c, i) => [`min(${quoteIdent(c.name)})::VARCHAR AS min${i}`, `max(${quoteIdent(c.name)})::VARCHAR AS max${i}`]);
    const [row] = await session.query<Record<string, string | null>>(`SELECT ${select.join(', ')} FROM ${relation}`);
    ranged.forEach((c, i) => {
      const min = row?.[`min${i}`] ?? null;
      const max = row?.[`max${i}`] ?? null;
      bounds.set(c.name, { min: min === null ? null : BigInt(min), max: max === null ? null : BigInt(max) });
    });
  }
  const tableTypes = new Map((table ?? []).map((c) => [c.name, canonicalType(c.type)]));
  for (const column of columns) {
    const type = canonicalType(column.type);
    const candidates = RANGED[type];
    if (candidates === undefined) {
      const nested = nestedWithoutHugeint(column.type);
      if (nested !== column.type) casts.set(column.name, nested);
      continue;
    }
    const { min, max } = bounds.get(column.name) ?? { min: null, max: null };
    const fits = (target: string): boolean => {
      const limits = LIMITS[target];
      return limits !== undefined && (min === null || min >= limits[0]) && (max === null || max <= limits[1]);
    };
    const held = tableTypes.get(column.name);
    if (held === 'DOUBLE' || held === 'VARCHAR') {
      casts.set(column.name, held);
      warnings.push({
        column: column.name,
        message: `${where}: column "${column.name}" is ${type}, which Parquet cannot hold, and the table holds it as ${held} (written so before sluice kept integer types)${held === 'DOUBLE' ? ', so values beyond 2^53 lose precision' : ''}; it is written as ${held} to match. To store it exactly, cast it in the SQL (e.g. CAST(sum(x) AS BIGINT), or DECIMAL(38,0)) and run once with --allow-schema-change`,
      });
      continue;
    }
    const target = (held !== undefined && fits(held) ? held : undefined) ?? candidates.find(fits);
    if (target !== undefined) {
      casts.set(column.name, target);
      continue;
    }
    const fallback = type === 'HUGEINT' || type === 'UHUGEINT' ? 'DOUBLE' : 'VARCHAR';
    casts.set(column.name, fallback);
    warnings.push({
      column: column.name,
      message: fallback === 'DOUBLE'
        ? `${where}: column "${column.name}" is ${type} with values beyond DECIMAL(38,0) (from ${String(min)} to ${String(max)}), which no Parquet number type holds exactly; it is written as DOUBLE, losing precision (about 16 significant digits kept). Scale the values down in the SQL, or cast them to VARCHAR to keep every digit`
        : `${where}: column "${column.name}" is ${type} with values beyond DECIMAL(38,0) (from ${String(min)} to ${String(max)}); it is written as VARCHAR (every digit kept, as text). Cast it in the SQL to choose otherwise`,
    });
  }
  return { casts, warnings };
}
