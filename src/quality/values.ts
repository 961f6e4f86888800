// Values crossing the SQL boundary: JS values rendered as DuckDB literals (always through quoteLiteral),
// and DuckDB results turned into the JSON values GX reports (numbers, ISO date strings, lists, dicts).
import { quoteIdent, quoteLiteral } from '../sql/identifiers.ts';

/** A DuckDB literal for a JSON-ish value; non-integral numbers are DOUBLE so comparisons are float comparisons. */
export function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return `'nan'::DOUBLE`;
    if (value === Infinity) return `'inf'::DOUBLE`;
    if (value === -Infinity) return `'-inf'::DOUBLE`;
    if (Number.isInteger(value) && Math.abs(value) <= Number.MAX_SAFE_INTEGER) return String(value);
    return `(${String(value)})::DOUBLE`;
  }
  if (value instanceof Date) return `TIMESTAMP ${quoteLiteral(naiveIso(value))}`;
  if (typeof value === 'string') return quoteLiteral(value);
  return quoteLiteral(JSON.stringify(value));
}

/** `col IN (...)` for a list of values; an empty list is FALSE (DuckDB has no empty IN list). Nulls never match. */
export function inList(expression: string, values: readonly unknown[], render: (value: unknown) => string = sqlLiteral): string {
  const present = values.filter((v) => v !== null && v !== undefined);
  return present.length === 0 ? 'FALSE' : `${expression} IN (${present.map(render).join(', ')})`;
}

export { quoteIdent, quoteLiteral };

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** Python's `datetime.isoformat()` for a naive timestamp held as a UTC Date. */
export function naiveIso(date: Date): string {
  const base = `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}T${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
  const ms = date.getUTCMilliseconds();
  return ms === 0 ? base : `${base}.${pad(ms, 3)}000`;
}

/**
 * A DuckDB value (from getRowObjectsJS) as GX reports it: BIGINT as a number (a string beyond 2^53), dates
 * as ISO strings shaped by the column type, nested lists and structs recursively.
 */
export function toJsonValue(value: unknown, type?: string): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  if (value instanceof Date) {
    const upper = (type ?? '').toUpperCase();
    if (upper === 'DATE') return naiveIso(value).slice(0, 10);
    if (upper.includes('WITH TIME ZONE') || upper === 'TIMESTAMPTZ') return `${naiveIso(value)}+00:00`;
    return naiveIso(value);
  }
  if (Array.isArray(value)) return value.map((v) => toJsonValue(v));
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, toJsonValue(v)]));
  }
  return value;
}

/** A number from an aggregate result (BIGINT, HUGEINT, DECIMAL, DOUBLE), or null. */
export function toNumber(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  const n = Number(value);
  return Number.isNaN(n) ? null : n;
}

const TYPE_ORDER = ['boolean', 'number', 'string', 'object'];

/** A total order over JSON values for sorted observed values (numbers numerically, strings by code point). */
export function compareValues(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  const ta = TYPE_ORDER.indexOf(typeof a);
  const tb = TYPE_ORDER.indexOf(typeof b);
  if (ta !== tb) return ta - tb;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const sa = typeof a === 'string' ? a : JSON.stringify(a);
  const sb = typeof b === 'string' ? b : JSON.stringify(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** Equality of two reported values (1 and 1.0 are equal, as in Python). */
export function sameValue(a: unknown, b: unknown): boolean {
  return compareValues(a, b) === 0 && (typeof a === typeof b || (a === null) === (b === null));
}

/** A DuckDB error message without the echoed SQL (`LINE 1: ...`) that follows it. */
export function cleanError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split(/\n\s*\nLINE \d+:|\nLINE \d+:/)[0]?.trim() ?? message;
}
