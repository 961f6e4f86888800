// Column type names: DuckDB's canonical names and the synonyms users write (PostgreSQL, SQLAlchemy, SQL standard),
// so `type_: "DOUBLE_PRECISION"` or `"TEXT"` matches a DuckDB DOUBLE or VARCHAR column.

const SYNONYMS: Readonly<Record<string, readonly string[]>> = {
  BOOLEAN: ['BOOL', 'LOGICAL'],
  TINYINT: ['INT1'],
  SMALLINT: ['INT2', 'SHORT', 'SMALLINTEGER'],
  INTEGER: ['INT', 'INT4', 'SIGNED'],
  BIGINT: ['INT8', 'LONG'],
  HUGEINT: ['INT128'],
  UTINYINT: [],
  USMALLINT: [],
  UINTEGER: [],
  UBIGINT: [],
  UHUGEINT: [],
  FLOAT: ['FLOAT4', 'REAL'],
  DOUBLE: ['FLOAT8', 'DOUBLE_PRECISION', 'DOUBLE PRECISION'],
  DECIMAL: ['NUMERIC'],
  VARCHAR: ['TEXT', 'STRING', 'CHAR', 'BPCHAR', 'NVARCHAR', 'CHARACTER VARYING', 'CHARACTER', 'UNICODE', 'UNICODETEXT'],
  BLOB: ['BYTEA', 'BINARY', 'VARBINARY', 'LARGEBINARY'],
  DATE: [],
  TIME: ['TIME WITHOUT TIME ZONE'],
  TIMESTAMP: ['DATETIME', 'TIMESTAMP WITHOUT TIME ZONE'],
  'TIMESTAMP WITH TIME ZONE': ['TIMESTAMPTZ'],
  INTERVAL: [],
  UUID: [],
  JSON: [],
};

const CANONICAL = new Map<string, string>();
for (const [canonical, synonyms] of Object.entries(SYNONYMS)) {
  for (const name of [canonical, ...synonyms]) CANONICAL.set(normalise(name), canonical);
}

function normalise(name: string): string {
  return name.trim().toUpperCase().replace(/[\s_]+/g, ' ');
}

/** The canonical DuckDB name for a type name, keeping parameters: 'numeric(18, 2)' -> 'DECIMAL(18,2)', 'text' -> 'VARCHAR'. */
export function canonicalType(name: string): string {
  const match = /^([^(]*?)\s*(\(.*\))?\s*$/.exec(name.trim());
  const base = normalise(match?.[1] ?? name);
  const params = (match?.[2] ?? '').replace(/\s+/g, '');
  return `${CANONICAL.get(base) ?? base}${params}`;
}

/** The type without parameters: 'DECIMAL(18,2)' -> 'DECIMAL'. */
export function baseType(name: string): string {
  return canonicalType(name).replace(/\(.*$/, '');
}

/** Whether a column of DuckDB type `actual` is of the named type (a synonym, or the same type with or without parameters). */
export function typeMatches(actual: string, expected: string): boolean {
  const want = canonicalType(expected);
  const have = canonicalType(actual);
  return want === have || (!want.includes('(') && want === baseType(have));
}

export function isStringType(type: string): boolean {
  return baseType(type) === 'VARCHAR';
}

export function isIntegerType(type: string): boolean {
  return ['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'UHUGEINT'].includes(baseType(type));
}

export function isTemporalType(type: string): boolean {
  const base = baseType(type);
  return base === 'DATE' || base.startsWith('TIMESTAMP');
}

// Widenings: a column of the first type can be read as the second with no value changed, so a table may go
// from one to the other (schema evolution) and older files are read with a cast. DOUBLE holds every integer
// up to 2^53, so only integers of at most 32 bits widen to it.
const WIDER: Readonly<Record<string, readonly string[]>> = {
  TINYINT: ['SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'FLOAT', 'DOUBLE'],
  SMALLINT: ['INTEGER', 'BIGINT', 'HUGEINT', 'FLOAT', 'DOUBLE'],
  INTEGER: ['BIGINT', 'HUGEINT', 'DOUBLE'],
  BIGINT: ['HUGEINT'],
  UTINYINT: ['USMALLINT', 'UINTEGER', 'UBIGINT', 'UHUGEINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'FLOAT', 'DOUBLE'],
  USMALLINT: ['UINTEGER', 'UBIGINT', 'UHUGEINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'FLOAT', 'DOUBLE'],
  UINTEGER: ['UBIGINT', 'UHUGEINT', 'BIGINT', 'HUGEINT', 'DOUBLE'],
  UBIGINT: ['UHUGEINT', 'HUGEINT'],
  FLOAT: ['DOUBLE'],
};

/** Whether every value of type `from` is exactly representable in type `to` (equal types included). */
export function widensTo(from: string, to: string): boolean {
  const a = canonicalType(from);
  const b = canonicalType(to);
  if (a === b) return true;
  const decimal = /^DECIMAL\((\d+),(\d+)\)$/;
  const da = decimal.exec(a);
  const db = decimal.exec(b);
  if (da !== null && db !== null) {
    const [pa, sa, pb, sb] = [da[1], da[2], db[1], db[2]].map(Number) as [number, number, number, number];
    return sb >= sa && pb - sb >= pa - sa;
  }
  // An integer fits a DECIMAL with as many digits before the point (BIGINT partitions of a DECIMAL(38,0) table).
  const digits = INTEGER_DIGITS[a];
  if (digits !== undefined && db !== null) return Number(db[1]) - Number(db[2]) >= digits;
  return WIDER[a]?.includes(b) ?? false;
}

/** Decimal digits of each integer type's largest value. */
const INTEGER_DIGITS: Readonly<Record<string, number>> = {
  TINYINT: 3, SMALLINT: 5, INTEGER: 10, BIGINT: 19, HUGEINT: 39, UTINYINT: 3, USMALLINT: 5, UINTEGER: 10, UBIGINT: 20, UHUGEINT: 39,
};
