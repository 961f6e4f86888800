// Entity keys as strings, the same whether they come from a DuckDB row (BIGINT as bigint), an HTTP request
// (JSON numbers or strings) or a stream record: a JSON array of the key values in the entity's key order,
// integers as JSON numbers (or digit strings beyond 2^53), strings as JSON strings.
import type { KeyType } from '../define/features.ts';
import { SluiceError } from '../errors.ts';

export interface KeyColumn {
  readonly name: string;
  readonly type: KeyType;
}

/** Normalise one key value to its type, or return a reason it does not fit. */
export function normaliseKeyValue(value: unknown, type: KeyType): { ok: true; value: number | string } | { ok: false; reason: string } {
  if (type === 'string') {
    return typeof value === 'string' ? { ok: true, value } : { ok: false, reason: `expected a string, got ${describe(value)}` };
  }
  if (typeof value === 'bigint') return { ok: true, value: Number.isSafeInteger(Number(value)) ? Number(value) : value.toString() };
  if (typeof value === 'number' && Number.isInteger(value)) {
    return Number.isSafeInteger(value) ? { ok: true, value } : { ok: false, reason: `integer ${value} is beyond 2^53; send it as a string of digits` };
  }
  // JSON cannot carry integers beyond 2^53 exactly, so those alone may come as strings of digits.
  if (typeof value === 'string' && /^-?\d+$/.test(value) && !Number.isSafeInteger(Number(value))) return { ok: true, value: BigInt(value).toString() };
  return { ok: false, reason: `expected an integer, got ${describe(value)}` };
}

/** Encode key values (in key order); throws FEATURE_REQUEST naming the column when a value does not fit. */
export function encodeKey(keys: readonly KeyColumn[], values: readonly unknown[]): string {
  const parts = keys.map((key, i) => {
    const normalised = normaliseKeyValue(values[i], key.type);
    if (!normalised.ok) throw new SluiceError('FEATURE_REQUEST', `entity key "${key.name}": ${normalised.reason}`, { column: key.name });
    return normalised.value;
  });
  return JSON.stringify(parts);
}

/** Encode the key columns of a record (an HTTP entity object or a DuckDB row). */
export function encodeKeyOf(keys: readonly KeyColumn[], record: Readonly<Record<string, unknown>>): string {
  for (const key of keys) {
    if (record[key.name] === undefined || record[key.name] === null) {
      throw new SluiceError('FEATURE_REQUEST', `entity key "${key.name}" is missing`, { column: key.name });
    }
  }
  return encodeKey(keys, keys.map((k) => record[k.name]));
}

/** The key values back from an encoded key, as an object by key name. */
export function decodeKey(keys: readonly KeyColumn[], encoded: string): Record<string, number | string> {
  const parts = JSON.parse(encoded) as (number | string)[];
  return Object.fromEntries(keys.map((key, i) => [key.name, parts[i] as number | string]));
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  if (typeof value === 'number') return `the number ${value}`;
  return `a ${typeof value}`;
}
